"""Record-level DP: nodes train by DP-SGD through Opacus; the ε a node spends is what an independent accountant says, within the task's budget."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from opacus.accountants import RDPAccountant

from fl_node.data import federate, load_builtin
from fl_node.dp_sgd import PrivateTrainer, RecordDp, noise_multiplier_for_records, sample_rate, steps_per_epoch
from fl_node.errors import FlNodeError, ModelError
from fl_node.hfl.envelope import SignedBlob
from fl_node.hfl.participant import Participant, RoundPlan
from fl_node.hfl.runner import initial_params
from fl_node.hfl.spec import FederationSpec
from fl_node.task import CustodyConfig, DataConfig, PrivacyConfig, TaskConfig, build_task
from fl_node.task_file import load_task_file
from fl_node.training import TrainConfig

ROUNDS = 3


def _task(epsilon: float = 3.0, **training: float) -> tuple[TaskConfig, object]:
    task = TaskConfig(
        data=DataConfig(nodes=4), custody=CustodyConfig(encrypt=False), rounds=ROUNDS,
        training=dataclasses.replace(TaskConfig().training, **training), privacy=PrivacyConfig(sgd_epsilon=epsilon),
    )
    return task, federate(load_builtin("breast_cancer"), 4, "dirichlet:0.5", seed=0)


def _spec(task: TaskConfig, data) -> FederationSpec:
    return build_task(task, data.n_features, data.n_classes, {f"node-{k}": len(p) for k, p in enumerate(data.nodes)})


@pytest.fixture(scope="module")
def spec() -> FederationSpec:
    """The task at ε = 3 (calibrating σ takes Opacus a few seconds, so once)."""
    return _spec(*_task(epsilon=3.0))


@pytest.fixture(scope="module")
def data():
    return _task()[1]


def _node(spec: FederationSpec, data, k: int, **kwargs) -> Participant:
    return Participant(f"node-{k}", data.nodes[k], spec.model.factory(), spec.train, spec.scheme(), seed=k, **kwargs)


def _update(spec: FederationSpec, node: Participant, params: np.ndarray, round_id: int = 1) -> np.ndarray:
    plan = RoundPlan(round_id, params, dict(spec.sample_counts))
    return spec.scheme().parse(SignedBlob.parse(node.submit(plan).blob).payload)


def test_each_node_spends_what_an_independent_accountant_says_and_no_more_than_the_budget(spec: FederationSpec, data) -> None:
    assert spec.record_dp() == RecordDp(1.0, spec.dp_sgd_noise_multiplier) and spec.dp_sgd_delta == 1e-5
    params = initial_params(spec)
    spent = []
    for k, part in enumerate(data.nodes):
        node = _node(spec, data, k, private_training=spec.private_trainer())
        for r in range(1, ROUNDS + 1):
            _update(spec, node, params, r)
        independent = RDPAccountant()
        steps = ROUNDS * spec.train.epochs * steps_per_epoch(len(part), spec.train.batch_size)
        for _ in range(steps):
            independent.step(noise_multiplier=spec.dp_sgd_noise_multiplier, sample_rate=sample_rate(len(part), spec.train.batch_size))
        spent.append(node.private_training.epsilon_spent(1e-5))
        assert spent[-1] == pytest.approx(independent.get_epsilon(1e-5), rel=1e-9)
    # σ is set for the member that spends the most: it reaches the budget, nobody passes it
    assert max(spent) <= 3.0
    assert max(spent) > 2.9


def test_dp_sgd_clips_each_record_and_is_deterministic_under_the_seed_unless_its_noise_is_secret(spec: FederationSpec, data) -> None:
    params = initial_params(spec)
    private = [_update(spec, _node(spec, data, 0, private_training=spec.private_trainer()), params) for _ in range(2)]
    plain = _update(spec, _node(spec, data, 0), params)
    tight = PrivateTrainer(RecordDp(clip=1e-6, noise_multiplier=0.0))

    secret = [_update(spec, _node(spec, data, 0, private_training=spec.private_trainer(), secret_noise=True), params) for _ in range(2)]

    np.testing.assert_array_equal(private[0], private[1])
    assert not np.array_equal(secret[0], secret[1])  # a consortium node's batches and noise are not its seed's
    assert not np.array_equal(private[0], plain)
    # each record's gradient clipped to 1e-6 (and no noise): the model barely moves, where plain SGD moves it
    assert np.linalg.norm(_update(spec, _node(spec, data, 0, private_training=tight), params)) < 1e-4
    assert np.linalg.norm(plain) > 1e-2


def test_the_spec_carries_dp_sgd_only_when_set_and_reads_back(spec: FederationSpec, data) -> None:
    off = _spec(dataclasses.replace(_task()[0], privacy=PrivacyConfig()), data)

    assert FederationSpec.from_bytes(spec.to_bytes()) == spec
    assert b"dp_sgd" not in off.to_bytes() and off.private_trainer() is None


def test_dp_sgd_with_a_fedprox_term_or_a_bad_budget_is_refused(spec: FederationSpec, data) -> None:
    with pytest.raises(FlNodeError, match="FedProx"):
        dataclasses.replace(spec, train=TrainConfig(prox_mu=0.1))
    with pytest.raises(ModelError, match="FedProx"):
        PrivateTrainer(RecordDp(1.0, 1.0)).fit(spec.model.build(), data.nodes[0], TrainConfig(prox_mu=0.1), seed=0)
    with pytest.raises(FlNodeError, match="epsilon"):
        noise_multiplier_for_records(0.0, 1e-5, [100], 16, 5, 3)


def test_a_task_file_sets_dp_sgd(tmp_path: Path) -> None:
    path = tmp_path / "task.toml"
    path.write_text("rounds = 3\n[privacy]\nsgd_epsilon = 3.0\nsgd_clip = 0.5\n")
    task = load_task_file(path)

    assert task.privacy == PrivacyConfig(sgd_epsilon=3.0, sgd_clip=0.5)
