"""A consortium task over raw hospital CSVs: the spec publishes the columns, the label list and the
federated standardization; each node prepares its own file from them; the federation trains to
within one point of the same data pooled; a node with other columns is refused by name; a node
of a task with client-level DP privatizes its update as the in-process participant does, with
noise nobody can redraw from its seed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from eth_hash.auto import keccak

from fl_node.artifacts import ArtifactStore
from fl_node.clinical import FEATURES, ID_COLUMN, LABEL_COLUMN, write_clinical_csv
from fl_node.data import ArraySplit, load_csv, map_labels
from fl_node.errors import PlanRejected
from fl_node.hfl.aggregator import Collected
from fl_node.hfl.coordinator import Coordinator
from fl_node.hfl.envelope import SignedBlob, ledger_binding
from fl_node.hfl.participant import Participant, RoundPlan, Submission
from fl_node.hfl.runner import initial_params, run_federation
from fl_node.hfl.spec import model_to_bytes
from fl_node.models import unflatten
from fl_node.replay import load_published
from fl_node.task import CustodyConfig, DataConfig, PrivacyConfig, RewardConfig, ScoringConfig, TaskConfig, bootstrap_ledger
from fl_node.training import evaluate, train_centralized
from fl_node.transport.flower_server import ServeConfig, create_task
from fl_node.transport.node import NodeRuntime, node_split
from incentive.chain import embedded_chain, write_key_file

ROWS = (260, 200, 140)


class RuntimeTransport:
    """Hands each round's plan to the nodes' runtimes, as the ClientApp's worker does, minus Flower."""

    def __init__(self, runtimes: list[NodeRuntime], task_id: int, spec_bytes: bytes) -> None:
        self.runtimes, self.task_id, self.spec_bytes = runtimes, task_id, spec_bytes

    def collect(self, plan: RoundPlan) -> Collected:
        header = {"task": self.task_id, "round": plan.round, "sample-counts": json.dumps(dict(plan.sample_counts))}
        submissions = []
        for runtime in self.runtimes:
            reply, binary = runtime.train(header, {"spec": self.spec_bytes, "params": model_to_bytes(plan.global_params)})
            blob = binary["blob"]
            submissions.append(Submission(reply["address"], reply["n-samples"], blob, keccak(blob), len(blob)))
        return Collected(tuple(submissions), ())


def _runtime(chain, ledger, path: Path, k: int) -> NodeRuntime:
    account = chain.new_account(3 * 10**18)
    ledger.join(account, f"hospital-{k}", keccak(bytes([k])), stake_wei=10**18)
    table = load_csv(path, LABEL_COLUMN, id_columns=[ID_COLUMN])
    return NodeRuntime(f"hospital-{k}", account, ledger, node_split(table, path), seed=k, table=table)


def _role_keys(roles, folder: Path) -> dict[str, Path]:
    keys = {}
    for name in ("admin", "aggregator", "evaluator"):
        keys[name] = folder / f"{name}.key"
        write_key_file(keys[name], getattr(roles, name))
    return keys


def _member_infos(runtimes: list[NodeRuntime]) -> dict[int, dict]:
    return {k: r.info() for k, r in enumerate(runtimes)}


def test_raw_clinical_csvs_federate_to_within_one_point_of_pooled_training(tmp_path: Path) -> None:
    chain = embedded_chain()
    roles = bootstrap_ledger(chain, RewardConfig())
    paths = [write_clinical_csv(tmp_path / f"hospital-{k}.csv", n, seed=10 + k, id_offset=1000 * k) for k, n in enumerate(ROWS)]
    runtimes = [_runtime(chain, roles.ledger, p, k) for k, p in enumerate(paths)]
    keys = _role_keys(roles, tmp_path)
    task = TaskConfig(
        data=DataConfig(nodes=3, label=LABEL_COLUMN, id_columns=(ID_COLUMN,)),
        custody=CustodyConfig(encrypt=False),
        scoring=ScoringConfig(scorer="loo"),
        rounds=8,
    )
    config = ServeConfig(
        rpc="", ledger=roles.ledger.address, artifacts=str(tmp_path / "artifacts"), keys_dir=str(tmp_path / "keys"),
        aggregator_key=str(keys["aggregator"]), evaluator_key=str(keys["evaluator"]), admin_key=str(keys["admin"]),
        task=task, validation=str(write_clinical_csv(tmp_path / "validation.csv", 150, seed=7, id_offset=90000)),
    )
    store = ArtifactStore(config.artifacts)

    task_id = create_task(config, roles.ledger, store, _member_infos(runtimes))
    published = load_published(roles.ledger, store, task_id)
    spec = published.spec

    assert spec.features == FEATURES and spec.labels == ("diabetic", "healthy")
    pooled_raw = np.concatenate([load_csv(p, LABEL_COLUMN, id_columns=[ID_COLUMN]).X for p in paths])
    np.testing.assert_allclose(spec.standardization.mean, pooled_raw.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(spec.standardization.std, pooled_raw.std(axis=0), rtol=1e-9)
    assert abs(float(published.validation.X.mean())) < 0.2  # the validation file is standardized with the same statistics

    coordinator = Coordinator(spec, roles.ledger, task_id, roles.aggregator, roles.evaluator, None, published.validation, store)
    run = run_federation(coordinator, RuntimeTransport(runtimes, task_id, spec.to_bytes()), task.rounds)

    test_table = load_csv(write_clinical_csv(tmp_path / "test.csv", 600, seed=99, id_offset=50000), LABEL_COLUMN, id_columns=[ID_COLUMN])
    test = ArraySplit(spec.standardization.apply(test_table.X), map_labels("test", [test_table.class_names[k] for k in test_table.y], spec.labels))
    federated = spec.model.build()
    unflatten(federated, run.final_params)
    pooled = ArraySplit(spec.standardization.apply(pooled_raw), np.concatenate([r._task_data(task_id, spec).y for r in runtimes]))
    centralized = train_centralized(spec.model.build(), pooled, spec.train, task.rounds, 0, test)[-1]

    accuracy = evaluate(federated, test).accuracy
    majority = float(np.bincount(test.y).max() / len(test.y))
    assert accuracy >= centralized.accuracy - 0.01, (accuracy, centralized.accuracy)
    assert min(accuracy, centralized.accuracy) > majority, (accuracy, centralized.accuracy, majority)  # both learned more than the base rate


def test_a_node_with_other_columns_is_left_out_and_refuses_the_plan_naming_them(tmp_path: Path) -> None:
    chain = embedded_chain()
    roles = bootstrap_ledger(chain, RewardConfig())
    paths = [write_clinical_csv(tmp_path / f"hospital-{k}.csv", 60, seed=k, id_offset=1000 * k) for k in range(4)]
    text = paths[3].read_text().splitlines()
    paths[3].write_text("\n".join(line.replace("insulin", "insulin_uU") for line in text) + "\n")
    runtimes = [_runtime(chain, roles.ledger, p, k) for k, p in enumerate(paths)]
    keys = _role_keys(roles, tmp_path)
    config = ServeConfig(
        rpc="", ledger=roles.ledger.address, artifacts=str(tmp_path / "artifacts"), keys_dir=str(tmp_path / "keys"),
        aggregator_key=str(keys["aggregator"]), evaluator_key=str(keys["evaluator"]), admin_key=str(keys["admin"]),
        task=TaskConfig(data=DataConfig(nodes=4, label=LABEL_COLUMN, id_columns=(ID_COLUMN,), labels=("healthy", "diabetic")),
                        custody=CustodyConfig(encrypt=False)),
        validation=str(write_clinical_csv(tmp_path / "validation.csv", 50, seed=7)),
    )
    store = ArtifactStore(config.artifacts)

    task_id = create_task(config, roles.ledger, store, _member_infos(runtimes))
    spec = load_published(roles.ledger, store, task_id).spec

    assert set(spec.sample_counts) == {runtimes[0].address, runtimes[1].address, runtimes[2].address}
    assert spec.labels == ("healthy", "diabetic")  # the task file's order, not the sorted one
    assert list(runtimes[0]._task_data(task_id, spec).y) == [
        0 if row.endswith(",healthy") else 1 for row in paths[0].read_text().splitlines()[1:]
    ]
    with pytest.raises(PlanRejected, match=r"feature columns do not match the task's spec: missing insulin; unexpected insulin_uU") as refused:
        runtimes[3].spec_for(task_id, spec.to_bytes())
    assert "\n" not in str(refused.value)


def _dp_round(tmp_path: Path, privacy: PrivacyConfig):
    """A plaintext consortium task with ``privacy`` over three hospitals; node 0 trains its first round.

    Returns the spec, the round's plan, node 0's runtime and the update it sent.
    """
    chain = embedded_chain()
    roles = bootstrap_ledger(chain, RewardConfig())
    paths = [write_clinical_csv(tmp_path / f"hospital-{k}.csv", n, seed=k, id_offset=1000 * k) for k, n in enumerate(ROWS)]
    runtimes = [_runtime(chain, roles.ledger, p, k) for k, p in enumerate(paths)]
    keys = _role_keys(roles, tmp_path)
    config = ServeConfig(
        rpc="", ledger=roles.ledger.address, artifacts=str(tmp_path / "artifacts"), keys_dir=str(tmp_path / "keys"),
        aggregator_key=str(keys["aggregator"]), evaluator_key=str(keys["evaluator"]), admin_key=str(keys["admin"]),
        task=TaskConfig(data=DataConfig(nodes=3, label=LABEL_COLUMN, id_columns=(ID_COLUMN,)), custody=CustodyConfig(encrypt=False),
                        privacy=privacy),
        validation=str(write_clinical_csv(tmp_path / "validation.csv", 50, seed=7, id_offset=90000)),
    )
    store = ArtifactStore(config.artifacts)
    task_id = create_task(config, roles.ledger, store, _member_infos(runtimes))
    published = load_published(roles.ledger, store, task_id)
    spec = published.spec
    coordinator = Coordinator(spec, roles.ledger, task_id, roles.aggregator, roles.evaluator, None, published.validation, store)
    params = initial_params(spec)
    round_id = coordinator.open_round(params)
    plan = RoundPlan(round_id, params, dict(spec.sample_counts), *ledger_binding(roles.ledger), task_id)
    node = runtimes[0]
    _, binary = node.train(
        {"task": task_id, "round": round_id, "sample-counts": json.dumps(dict(plan.sample_counts))},
        {"spec": spec.to_bytes(), "params": model_to_bytes(plan.global_params)},
    )
    return spec, plan, node, spec.scheme().parse(SignedBlob.parse(binary["blob"]).payload)


def test_a_node_of_a_dp_task_clips_weighs_equally_and_adds_a_secret_noise_share(tmp_path: Path) -> None:
    # a budget this large keeps the noise small next to what clipping and equal weights change, so the test tells them apart
    spec, plan, node, sent = _dp_round(tmp_path, PrivacyConfig(epsilon=200.0, clip=0.05))
    assert spec.client_dp() is not None

    # the same node in process, its noise drawn from its (public) seed: the updates differ by the two noise draws alone
    data = node._task_data(plan.task_id, spec)
    private = Participant(node.address, data, spec.model.factory(), spec.train, spec.scheme(), seed=node.seed, privacy=spec.client_dp())
    difference = sent - spec.scheme().parse(SignedBlob.parse(private.submit(plan).blob).payload)
    n = len(spec.sample_counts)
    share = spec.dp_noise_multiplier * spec.dp_clip / n / np.sqrt(n)
    assert np.std(difference) == pytest.approx(np.sqrt(2) * share, rel=0.15)
    assert abs(np.mean(difference)) < 4 * np.sqrt(2) * share / np.sqrt(difference.size)


def test_a_node_of_a_dp_sgd_task_trains_by_dp_sgd_and_logs_the_epsilon_it_spent(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="fl_node.transport.node"):
        spec, _, _, _ = _dp_round(tmp_path, PrivacyConfig(sgd_epsilon=8.0))

    assert spec.record_dp() is not None
    (line,) = [r.getMessage() for r in caplog.records if "DP-SGD has spent" in r.getMessage()]
    assert 0 < float(line.split("epsilon ")[1].split()[0]) < 8
