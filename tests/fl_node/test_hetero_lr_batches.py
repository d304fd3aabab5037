"""Hetero-LR batch sizes: a batch no larger than a party's gradient lets it solve for the other's values; such batches are refused."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fl_node.errors import BatchSizeError
from fl_node.twoparty.channel import LocalHub
from fl_node.twoparty.runner import run_threads
from fl_node.twoparty.tables import Standardizer
from fl_node.vfl.data import breast_cancer_vertical
from fl_node.vfl.demo import run_vfl
from fl_node.vfl.hetero_lr import ARBITER, GUEST, HOST, HeteroLRArbiter, HeteroLRConfig, HeteroLRGuest, HeteroLRHost, quantize
from fl_node.vfl.parties import VFLConfig

MARGIN = 64


@pytest.fixture(scope="module")
def aligned() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    split = breast_cancer_vertical(0.8, seed=0)
    ids = sorted(set(split.guest.ids) & set(split.host.ids))
    guest_x, labels = split.guest.select(ids)
    host_x, _ = split.host.select(ids)
    return Standardizer.fit(guest_x).transform(guest_x), Standardizer.fit(host_x).transform(host_x), labels


class _Fit:
    def __init__(self, model) -> None:
        self.model, self.role = model, model.role

    def run(self, channel, progress=None):
        return self.model.fit(channel)


class CuriousHost(HeteroLRHost):
    """A semi-honest host that keeps every gradient it is given."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gradients: list[np.ndarray] = []

    def _step(self, iteration: int, gradient_sums: np.ndarray, rows: int) -> None:
        self.gradients.append(gradient_sums)
        super()._step(iteration, gradient_sums, rows)


class CuriousGuest(HeteroLRGuest):
    """A semi-honest guest that keeps every gradient it is given."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gradients: list[np.ndarray] = []

    def _step(self, iteration: int, gradient_sums: np.ndarray, rows: int) -> None:
        self.gradients.append(gradient_sums)
        super()._step(iteration, gradient_sums, rows)


def _first_batch(rows: int, total: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(total)[:rows]


@pytest.mark.parametrize("extra", [0, MARGIN])
def test_host_solves_its_gradient_for_the_guest_labels_only_when_the_batch_is_no_larger_than_its_features(aligned, extra: int) -> None:
    guest_x, host_x, labels = aligned
    floor = max(guest_x.shape[1] + 1, host_x.shape[1])
    rows = _first_batch(host_x.shape[1] + extra if extra == 0 else floor + extra, len(labels))
    x = quantize(host_x[rows], 16)[1]
    s = 2.0 * labels[rows] - 1.0
    residual = -2.0 * s  # u = wx_A + wx_B - 2s, and both weight vectors start at 0
    gradient = x.T @ residual  # what the host decrypts for its first batch

    solved = np.linalg.lstsq(x.T, gradient, rcond=None)[0]

    if extra == 0:
        np.testing.assert_allclose(solved, residual, atol=1e-6)  # u exactly, so every label: s = -u/2
        assert np.array_equal(np.sign(-solved), s)
    else:
        assert np.max(np.abs(solved - residual)) > 0.5  # u is not determined


@pytest.mark.parametrize("extra", [0, MARGIN])
def test_guest_solves_its_gradient_for_the_host_predictors_only_when_the_batch_is_no_larger_than_its_features_plus_one(aligned, extra: int) -> None:
    guest_x, host_x, labels = aligned
    floor = max(guest_x.shape[1] + 1, host_x.shape[1])
    rows = _first_batch(guest_x.shape[1] + 1 if extra == 0 else floor + extra, len(labels), seed=1)
    x = quantize(np.hstack([guest_x[rows], np.ones((len(rows), 1))]), 16)[1]
    host_weights = np.random.default_rng(2).normal(scale=0.3, size=host_x.shape[1])
    h = quantize(host_x[rows], 16)[1] @ host_weights  # the host's partial predictions wx_B
    gradient = x.T @ h  # the part of the guest's gradient it cannot compute itself: it knows wx_A and s

    solved = np.linalg.lstsq(x.T, gradient, rcond=None)[0]

    if extra == 0:
        np.testing.assert_allclose(solved, h, atol=1e-6)
    else:
        assert np.max(np.abs(solved - h)) > 0.5


def _run(aligned, config: HeteroLRConfig, rows: np.ndarray | None = None):
    guest_x, host_x, labels = aligned
    if rows is not None:
        guest_x, host_x, labels = guest_x[rows], host_x[rows], labels[rows]
    guest = CuriousGuest(config, guest_x, labels, rng=random.Random(1))
    host = CuriousHost(config, host_x, rng=random.Random(2))
    hub = LocalHub([GUEST, HOST, ARBITER])
    return guest, host, lambda: run_threads({GUEST: _Fit(guest), HOST: _Fit(host), ARBITER: _Fit(HeteroLRArbiter(config))}, hub=hub)


def test_a_batch_no_larger_than_the_host_features_is_refused_before_any_gradient_is_decrypted(aligned) -> None:
    host_features = aligned[1].shape[1]
    guest, host, run = _run(aligned, HeteroLRConfig(key_bits=1024, max_iter=1, tol=0.0, batch_size=host_features))

    with pytest.raises(BatchSizeError, match=f"batch of {host_features} rows") as refused:
        run()

    assert "host 20 features" in str(refused.value) and "at least 84 rows" in str(refused.value)
    assert len(str(refused.value).splitlines()) == 1
    assert host.gradients == [] and guest.gradients == []


def test_a_batch_no_larger_than_the_guest_features_plus_one_is_refused(aligned) -> None:
    guest_features = aligned[0].shape[1]
    guest, host, run = _run(aligned, HeteroLRConfig(key_bits=1024, max_iter=1, tol=0.0, batch_size=guest_features + 1))

    with pytest.raises(BatchSizeError, match=f"batch of {guest_features + 1} rows"):
        run()

    assert host.gradients == [] and guest.gradients == []


def test_one_batch_of_too_few_rows_is_refused(aligned) -> None:
    guest, host, run = _run(aligned, HeteroLRConfig(key_bits=1024, max_iter=1, tol=0.0), rows=np.arange(60))

    with pytest.raises(BatchSizeError, match="batch of 60 rows"):
        run()

    assert host.gradients == [] and guest.gradients == []


def test_the_smallest_allowed_batch_trains_and_a_short_last_batch_joins_the_one_before(aligned) -> None:
    floor = max(aligned[0].shape[1] + 1, aligned[1].shape[1]) + MARGIN
    config = HeteroLRConfig(key_bits=1024, max_iter=1, tol=0.0, batch_size=floor)

    guest, host, run = _run(aligned, config)
    run()

    sizes = [len(b) for b in config.batches(len(aligned[2]), 0)]
    assert sizes == [floor] * 4 + [len(aligned[2]) - 4 * floor] and min(sizes) >= floor
    assert len(host.gradients) == len(guest.gradients) == len(sizes)


def test_run_vfl_refuses_a_small_batch_size_before_starting_the_parties() -> None:
    split = breast_cancer_vertical(0.8, seed=0)

    with pytest.raises(BatchSizeError, match="batch of 30 rows .* at least 84 rows"):
        run_vfl(split.guest, split.host, VFLConfig(lr=HeteroLRConfig(key_bits=1024, batch_size=30)))
