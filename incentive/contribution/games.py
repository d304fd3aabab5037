"""Synthetic cooperative games with known structure, for testing and benchmarking the scorers.

They stand in for "validation accuracy of the model built from a coalition's updates" where a
real federation would be too slow or too opaque to check a scorer against.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from incentive.contribution.base import Utility


def additive_game(weights: Mapping[int, float], *, base: float = 0.0) -> Utility:
    """``U(S) = base + sum of weights[i] for i in S``: participant i's Shapley value is exactly ``weights[i]``."""
    table = dict(weights)

    def utility(coalition: frozenset[int]) -> float:
        return base + sum(table[i] for i in coalition)

    return utility


@dataclass(frozen=True)
class FederatedGame:
    """A round of horizontal FL in miniature: diminishing returns, free riders, harmful participants.

    Honest participants push the model forward in proportion to their data, harmful ones (label
    flippers) push it back, free riders add nothing; accuracy saturates::

        progress(S) = sum(data of honest in S) - harm * sum(data of harmful in S)
        U(S) = clip(base + gain * tanh(progress(S) / saturation) + noise * z_S, 0, 1)

    with ``z_S`` a standard normal fixed per coalition (so the game is a function of S), and U
    rounded to multiples of ``1 / validation_size`` like an accuracy measured on that many samples.

    Parameters
    ----------
    data_sizes : Mapping[int, float]
        Participant id -> share of the data it trains on.
    free_riders, harmful : frozenset[int] (default: empty)
    base : float (default: 0.5)
        U(empty): the previous global model's accuracy.
    gain : float (default: 0.45)
        How far above ``base`` the model can get.
    saturation : float (default: 0.3)
        Data share at which the returns start to diminish.
    harm : float (default: 1.0)
    noise : float (default: 0.0)
    validation_size : int | None (default: None)
        None: no rounding.
    seed : int (default: 0)
        Seeds the per-coalition noise.
    """

    data_sizes: Mapping[int, float]
    free_riders: frozenset[int] = frozenset()
    harmful: frozenset[int] = frozenset()
    base: float = 0.5
    gain: float = 0.45
    saturation: float = 0.3
    harm: float = 1.0
    noise: float = 0.0
    validation_size: int | None = None
    seed: int = 0

    @classmethod
    def typical(
        cls, n: int = 10, *, free_riders: int = 2, harmful: int = 1, seed: int = 0, **options: object
    ) -> FederatedGame:
        """``n`` participants 0..n-1 with unequal data (log-normal shares summing to 1), the last
        ``harmful`` of them harmful and the ``free_riders`` before those free riders; accuracy on
        143 validation samples with noise 0.01 unless ``options`` say otherwise."""
        rng = np.random.default_rng(seed)
        shares = rng.lognormal(sigma=0.5, size=n)
        shares /= shares.sum()
        settings: dict[str, object] = {"noise": 0.01, "validation_size": 143, "seed": seed, **options}
        return cls(
            data_sizes={i: float(s) for i, s in enumerate(shares)},
            free_riders=frozenset(range(n - harmful - free_riders, n - harmful)),
            harmful=frozenset(range(n - harmful, n)),
            **settings,  # type: ignore[arg-type]
        )

    def __call__(self, coalition: frozenset[int]) -> float:
        progress = sum(
            -self.harm * self.data_sizes[i] if i in self.harmful else self.data_sizes[i]
            for i in coalition
            if i not in self.free_riders
        )
        value = self.base + self.gain * math.tanh(progress / self.saturation)
        if self.noise and coalition:
            value += self.noise * self._normal(coalition)
        value = min(max(value, 0.0), 1.0)
        if self.validation_size:
            value = round(value * self.validation_size) / self.validation_size
        return value

    def _normal(self, coalition: frozenset[int]) -> float:
        key = repr((self.seed, sorted(coalition))).encode()
        return float(np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8])).standard_normal())


@dataclass(frozen=True)
class WeightedMajorityGame:
    """``U(S) = 1`` when the integer weights in S reach ``quota``, else 0: a weighted voting game.

    Its Shapley values (Shapley–Shubik power) are exact by counting, without enumerating
    coalitions: :meth:`shapley_values`.

    Parameters
    ----------
    weights : tuple[int, ...]
        Participant i (0..N-1) has weight ``weights[i]`` (positive integers).
    quota : int
    """

    weights: tuple[int, ...]
    quota: int

    def __post_init__(self) -> None:
        if not self.weights or min(self.weights) < 1:
            raise ValueError("a weighted majority game needs positive integer weights")
        if not 0 < self.quota <= sum(self.weights):
            raise ValueError(f"quota must be in 1..{sum(self.weights)}, got {self.quota}")

    @classmethod
    def random(cls, n: int, *, seed: int = 0, max_weight: int = 20, quota_share: float = 0.5) -> WeightedMajorityGame:
        """``n`` participants with uniform weights in 1..``max_weight`` and a quota just above ``quota_share`` of the total."""
        weights = tuple(int(w) for w in np.random.default_rng(seed).integers(1, max_weight + 1, size=n))
        return cls(weights, int(quota_share * sum(weights)) + 1)

    def __call__(self, coalition: frozenset[int]) -> float:
        return 1.0 if sum(self.weights[i] for i in coalition) >= self.quota else 0.0

    def shapley_values(self) -> dict[int, float]:
        """Exact Shapley values: ``φ_i = Σ_s s!(N-1-s)!/N! · #{S ∌ i, |S| = s, quota - w_i <= w(S) < quota}``.

        The counts come from a table of coalitions of the others by size and total weight
        (N·Σw entries, float64: counts up to C(N, N/2) are exact to 1e-16 relative).
        """
        n, total = len(self.weights), sum(self.weights)
        # s!(N-1-s)!/N! = 1 / (N · C(N-1, s))
        position_weight = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
        values: dict[int, float] = {}
        for i, w_i in enumerate(self.weights):
            counts = np.zeros((n, total + 1))  # counts[s, w]: coalitions of the others with s members and weight w
            counts[0, 0] = 1.0
            for j, w_j in enumerate(self.weights):
                if j != i:
                    counts[1:, w_j:] += counts[:-1, : total + 1 - w_j].copy()
            swings = counts[:, max(0, self.quota - w_i) : self.quota].sum(axis=1)
            values[i] = float(np.dot(position_weight, swings))
        return values
