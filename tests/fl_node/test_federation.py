"""The round loop on the ledger: commitments, dropouts, slashing, scoring, rewards, and the audit that replays it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from eth_hash.auto import keccak

from fl_node.crypto.keys import generate_keypair, load_private_key
from fl_node.demo import DemoConfig, Federation, run_demo, setup_federation
from fl_node.errors import FlNodeError, KeyMismatch, RoundAborted
from fl_node.hfl.coordinator import Coordinator
from fl_node.hfl.spec import FederationSpec, model_to_bytes
from fl_node.transport.inprocess import InProcessTransport
from fl_node.hfl.aggregator import Collected, Exclusion
from fl_node.hfl.envelope import SignedBlob, sign_blob
from fl_node.hfl.participant import RoundPlan
from fl_node.models import flatten, model_hash, unflatten
from fl_node.replay import audit_federation
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.training import evaluate
from incentive.chain import embedded_chain
from incentive.fixedpoint import to_fixed
from incentive.ledger import MemberSlashed, RoundStatus, to_bytes32
from incentive.rewards import split_rewards

SMALL = DemoConfig(
    TaskConfig(data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=1024), scoring=ScoringConfig(scorer="exact"), rounds=2),
    free_riders=1,
    label_flippers=0,
)


def build(tmp_path: Path, config: DemoConfig = SMALL) -> Federation:
    return setup_federation(config, embedded_chain(), tmp_path)


def initial_params(federation: Federation) -> np.ndarray:
    return flatten(federation.model.build(0))


def test_round_records_commitments_scores_and_rewards(tmp_path):
    federation = build(tmp_path)
    transport = InProcessTransport(federation.nodes)

    outcome = federation.coordinator.run_round(initial_params(federation), transport)

    record = federation.ledger.round(outcome.round_id)
    assert record.status == RoundStatus.FINALIZED
    assert [p.account for p in record.participants] == [n.participant_id for n in federation.nodes]
    for p in record.participants:
        blob = federation.store.get(to_bytes32(p.commitment))
        assert keccak(blob) == to_bytes32(p.commitment)
        assert p.score == to_fixed(outcome.scores[p.account])
        assert not p.dropped
    split = split_rewards(record.budget, [p.score for p in record.participants])
    assert tuple(p.reward for p in record.participants) == split.rewards
    assert record.rewarded + record.dust == record.budget
    assert record.performance == to_fixed(outcome.accuracy)
    assert federation.store.has(to_bytes32(record.aggregated_model_hash))


def test_exact_scores_add_up_to_the_round_gain(tmp_path):
    """Efficiency of Shapley values: the scores sum to U(all) - U(empty)."""
    federation = build(tmp_path)
    params = initial_params(federation)
    coordinator = federation.coordinator

    outcome = coordinator.run_round(params, InProcessTransport(federation.nodes))

    def loss(p):
        return evaluate(unflatten(federation.model.build(), p), federation.data.validation).loss

    gain = loss(params) - loss(outcome.global_params)
    assert sum(outcome.scores.values()) == pytest.approx(gain, abs=1e-9)


class FailingTransport(InProcessTransport):
    """Loses the blob of some committed nodes, or lets some nodes fail before committing."""

    def __init__(self, nodes, lose_blob_of=(), fail=()):
        super().__init__(nodes)
        self.lose_blob_of = set(lose_blob_of)
        self.fail = set(fail)

    def collect(self, plan: RoundPlan) -> Collected:
        working = [n for n in self.nodes if n.participant_id not in self.fail]
        collected = InProcessTransport(working).collect(plan)
        kept = tuple(s for s in collected.submissions if s.participant_id not in self.lose_blob_of)
        failed = tuple(Exclusion(pid, "failed: node crashed") for pid in self.fail)
        return Collected(kept, collected.dropped + failed)


def test_dropouts_are_recorded_and_earn_nothing(tmp_path):
    federation = build(tmp_path, dataclasses.replace(SMALL, task=dataclasses.replace(SMALL.task, data=DataConfig(nodes=5))))
    a, b, c, d, _ = (n.participant_id for n in federation.nodes)
    transport = FailingTransport(federation.nodes, lose_blob_of=[b], fail=[c])

    outcome = federation.coordinator.run_round(initial_params(federation), transport)

    records = {p.account: p for p in federation.ledger.participants(outcome.round_id)}
    assert c not in records  # failed before committing: never on chain
    assert records[b].dropped and records[b].score == 0 and records[b].reward == 0
    assert not records[a].dropped and not records[d].dropped
    assert {e.participant_id for e in outcome.dropped} == {b, c}


def test_a_straggler_committing_after_collection_is_finalized_as_a_dropout(tmp_path):
    federation = build(tmp_path, dataclasses.replace(SMALL, task=dataclasses.replace(SMALL.task, data=DataConfig(nodes=5))))
    straggler = federation.nodes[4]

    def commit_late(round_id, utility) -> None:  # the coordinator has read the commitments and is scoring
        federation.ledger.commit(straggler.account, round_id, keccak(b"a straggler's update"))

    outcome = federation.coordinator.run_round(
        initial_params(federation), FailingTransport(federation.nodes, fail=[straggler.participant_id]), on_utility=commit_late
    )

    record = federation.ledger.score_of(outcome.round_id, straggler.participant_id)
    assert federation.ledger.round(outcome.round_id).status == RoundStatus.FINALIZED
    assert record.dropped and record.score == 0 and record.reward == 0
    assert "committed on chain after the aggregator stopped collecting" in {e.reason for e in outcome.dropped}
    assert audit_federation(federation.ledger, federation.store, federation.task_id, load_private_key(federation.key_path)).ok


def test_round_below_min_participants_is_cancelled_on_chain(tmp_path):
    federation = build(tmp_path, dataclasses.replace(SMALL, task=dataclasses.replace(SMALL.task, min_participants=3)))
    ids = [n.participant_id for n in federation.nodes]
    transport = FailingTransport(federation.nodes, fail=ids[:2])

    with pytest.raises(RoundAborted, match="min_participants=3"):
        federation.coordinator.run_round(initial_params(federation), transport)

    assert federation.ledger.round(federation.ledger.round_count()).status == RoundStatus.CANCELLED


class SwappingTransport(InProcessTransport):
    """One node sends a blob other than the one it committed to, signed with its own key."""

    def __init__(self, nodes, cheater):
        super().__init__(nodes)
        self.cheater = cheater
        self.account = next(n.account for n in nodes if n.participant_id == cheater)

    def collect(self, plan: RoundPlan) -> Collected:
        collected = super().collect(plan)

        def swap(blob: bytes) -> bytes:
            body = SignedBlob.parse(blob).body
            return sign_blob(body[:-1] + bytes([body[-1] ^ 1]) + b"\x00", self.account)

        swapped = tuple(
            dataclasses.replace(s, blob=swap(s.blob)) if s.participant_id == self.cheater else s
            for s in collected.submissions
        )
        return Collected(swapped, collected.dropped)


def test_blob_differing_from_commitment_is_excluded_and_slashed(tmp_path):
    federation = build(tmp_path)
    cheater = federation.nodes[0].participant_id
    stake_before = federation.ledger.member(cheater).stake

    outcome = federation.coordinator.run_round(initial_params(federation), SwappingTransport(federation.nodes, cheater))

    assert outcome.slashed == (cheater,)
    record = federation.ledger.score_of(outcome.round_id, cheater)
    assert record.dropped and record.reward == 0
    assert federation.ledger.member(cheater).stake == stake_before - federation.coordinator.slash_wei
    slash = next(e for e in federation.ledger.events() if isinstance(e, MemberSlashed))
    evidence = federation.store.get(to_bytes32(slash.evidence_hash))
    assert keccak(evidence) != to_bytes32(record.commitment)


def test_demo_federation_passes_its_audit_and_pays_honest_nodes_most(tmp_path):
    config = DemoConfig(TaskConfig(data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=1024), rounds=3), 1, 1)
    federation = build(tmp_path, config)

    result = run_demo(federation)

    assert result.audit.ok, result.audit.to_json()
    assert {c.name for c in result.audit.checks} >= {"commitments", "aggregation", "scores", "performance"}
    totals = {n.behaviour_name + str(i): federation.ledger.member(n.participant_id) for i, n in enumerate(federation.nodes)}
    honest = [m for k, m in totals.items() if k.startswith("honest")]
    cheats = [m for k, m in totals.items() if not k.startswith("honest")]
    assert max(m.cumulative_score for m in cheats) < min(m.cumulative_score for m in honest)
    assert max(m.total_reward for m in cheats) <= min(m.total_reward for m in honest)
    for m in totals.values():
        assert federation.ledger.token_balance(m.address) == m.claimed_reward == m.total_reward


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """One finished two-round federation shared by the tamper tests (each copies what it alters)."""
    tmp = tmp_path_factory.mktemp("audited")
    federation = setup_federation(SMALL, embedded_chain(), tmp)
    run_demo(federation)
    return federation


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _failed(report) -> dict[str, str]:
    return {c.name: c.detail for c in report.checks if not c.ok}


def test_audit_names_a_tampered_blob(audited):
    record = audited.ledger.participants(1)[1]
    path = audited.store.path_for(to_bytes32(record.commitment))
    original = path.read_bytes()
    _flip_byte(path)
    try:
        report = audit_federation(audited.ledger, audited.store, audited.task_id, load_private_key(audited.key_path))
    finally:
        path.write_bytes(original)

    failed = _failed(report)
    assert not report.ok
    assert "commitments" in failed and record.account in failed["commitments"] and "round 1" in failed["commitments"]
    assert "aggregation" in failed


def test_audit_names_a_tampered_model(audited):
    path = audited.store.path_for(to_bytes32(audited.ledger.round(2).aggregated_model_hash))
    original = path.read_bytes()
    _flip_byte(path)
    try:
        report = audit_federation(audited.ledger, audited.store, audited.task_id)
    finally:
        path.write_bytes(original)

    failed = _failed(report)
    assert "model chain" in failed and "round 2" in failed["model chain"]
    assert "performance" in failed


def test_audit_without_key_skips_only_the_decrypting_checks(audited):
    report = audit_federation(audited.ledger, audited.store, audited.task_id)

    assert report.ok
    assert {c.name for c in report.checks if c.skipped} == {"aggregation", "scores"}


def test_audit_rejects_a_key_of_another_federation(audited):
    _, other = generate_keypair(1024)

    with pytest.raises(KeyMismatch):
        audit_federation(audited.ledger, audited.store, audited.task_id, other)


class InflatingCoordinator(Coordinator):
    """An evaluator that records a better score than its scorer gave one participant."""

    def score(self, round_id, utility):
        values, evaluations = super().score(round_id, utility)
        first = sorted(values)[0]
        return {**values, first: values[first] + 0.01}, evaluations


def test_audit_catches_a_score_the_evaluator_inflated(tmp_path):
    federation = build(tmp_path, dataclasses.replace(SMALL, task=dataclasses.replace(SMALL.task, rounds=1)))
    c = federation.coordinator
    federation.coordinator = InflatingCoordinator(
        c.spec, c.ledger, c.task_id, c.aggregator_account, c.evaluator_account,
        load_private_key(federation.key_path), c.validation, c.store,
    )

    report = run_demo(federation).audit

    failed = _failed(report)
    assert set(failed) == {"scores"}
    assert "round 1" in failed["scores"]


def test_spec_round_trips_and_rejects_garbage(tmp_path):
    federation = build(tmp_path)
    spec = federation.coordinator.spec

    assert FederationSpec.from_bytes(spec.to_bytes()) == spec
    with pytest.raises(FlNodeError, match="not a federation spec"):
        FederationSpec.from_bytes(b"{}")


def test_model_bytes_hash_is_the_model_hash():
    params = np.linspace(-1, 1, 17, dtype=np.float32)

    assert keccak(model_to_bytes(params)) == model_hash(params)
