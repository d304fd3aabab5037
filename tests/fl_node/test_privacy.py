"""Client-level DP: clipping, the distributed noise's scale, and ε from Opacus's RDP accountant."""

from __future__ import annotations

import numpy as np
import pytest
from opacus.accountants import RDPAccountant

from fl_node.errors import FlNodeError
from fl_node.privacy import ClientDp, epsilon_spent, noise_multiplier_for


def test_epsilon_matches_an_independent_call_of_the_accountant() -> None:
    sigma = noise_multiplier_for(8.0, 1e-5, rounds=10)
    independent = RDPAccountant()
    for _ in range(10):
        independent.step(noise_multiplier=sigma, sample_rate=1.0)

    spent = epsilon_spent(sigma, 1e-5, rounds=10)

    assert spent == pytest.approx(independent.get_epsilon(1e-5), rel=1e-12)
    assert 7.5 < spent <= 8.0 + 1e-6
    assert epsilon_spent(sigma, 1e-5, rounds=20) > spent
    assert noise_multiplier_for(1.0, 1e-5, 10) > noise_multiplier_for(8.0, 1e-5, 10)


def test_updates_are_clipped_weighed_equally_and_the_summed_noise_has_the_calibrated_scale() -> None:
    dp = ClientDp(clip=1.0, noise_multiplier=2.0)
    rng = np.random.default_rng(0)
    n = 4
    big = np.full(50_000, 10.0)
    small = np.full(50_000, 1e-4)

    noiseless = ClientDp(clip=1.0, noise_multiplier=0.0)
    summed = sum(dp.privatize(np.zeros(50_000), n, rng) for _ in range(n))

    # a node's contribution to the sum is its clipped update over n: the sensitivity is clip / n
    assert np.linalg.norm(noiseless.privatize(big, n, rng)) == pytest.approx(1.0 / n)
    np.testing.assert_allclose(noiseless.privatize(small, n, rng), small / n)
    assert np.std(summed) == pytest.approx(2.0 * 1.0 / n, rel=0.02)


def test_bad_budgets_are_refused() -> None:
    with pytest.raises(FlNodeError, match="epsilon"):
        noise_multiplier_for(0.0, 1e-5, 10)
    with pytest.raises(FlNodeError, match="delta"):
        noise_multiplier_for(8.0, 1.5, 10)
