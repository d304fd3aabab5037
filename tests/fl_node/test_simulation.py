"""The in-process federation behind `fedledger train`: determinism, baseline, encrypted vs plaintext."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fl_node.crypto.keys import generate_keypair
from fl_node.data import load_builtin
from fl_node.errors import FlNodeError
from fl_node.simulation import SimulationConfig, default_train_task, run_seed
from fl_node.task import CustodyConfig, DataConfig, ModelChoice
from fl_node.training import TrainConfig

CONFIG = SimulationConfig(
    replace(
        default_train_task(),
        data=DataConfig(partition="dirichlet:0.5", nodes=4),
        model=ModelChoice("logreg", 32),
        training=TrainConfig(epochs=2),
        rounds=3,
    )
)
PLAINTEXT = replace(CONFIG, task=replace(CONFIG.task, custody=CustodyConfig(encrypt=False)))


@pytest.fixture(scope="module")
def cancer():
    return load_builtin("breast_cancer")


def test_plaintext_runs_are_reproducible_and_report_every_round(cancer) -> None:
    config = PLAINTEXT
    seen = []

    a = run_seed(config, cancer, seed=3, on_round=seen.append)
    b = run_seed(config, cancer, seed=3)

    np.testing.assert_array_equal(a.final_params, b.final_params)
    assert seen == a.rounds and [r.round for r in seen] == [1, 2, 3]
    assert [r.accuracy for r in a.rounds] == [r.accuracy for r in b.rounds]
    assert len(a.centralized) == 3 and a.centralized_accuracy == a.rounds[-1].centralized_accuracy
    assert a.final_accuracy > 0.85 and a.test_samples == 114
    # each of the 4 blobs: the float32 update plus its envelope (header, lengths; no proof in plaintext)
    assert all(r.included == 4 and 0 < r.bytes_up - 4 * 4 * a.n_params <= 4 * 200 for r in a.rounds)


def test_encrypted_run_tracks_the_plaintext_one_within_the_bounds(cancer) -> None:
    keypair = generate_keypair(1024)
    plain = run_seed(PLAINTEXT, cancer, seed=1)

    sized = replace(CONFIG.task, custody=replace(CONFIG.task.custody, key_bits=1024))
    enc = run_seed(replace(CONFIG, task=sized, check_exact=True), cancer, seed=1, keypair=keypair)

    for record in enc.rounds:
        assert 0 < record.exact_deviation <= record.error_bound + 1e-6
    assert abs(enc.final_accuracy - plain.final_accuracy) * enc.test_samples <= 1
    assert np.max(np.abs(enc.final_params - plain.final_params)) <= sum(r.error_bound for r in enc.rounds)
    assert enc.centralized_accuracy == plain.centralized_accuracy


def test_encrypted_run_needs_a_key(cancer) -> None:
    with pytest.raises(FlNodeError, match="key pair"):
        run_seed(CONFIG, cancer, seed=0)
