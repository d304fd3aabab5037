"""Blobs bound to chain, ledger, task, round and sender: replays, copies and impersonations are refused, and
only a blob signed by its sender is slashing evidence."""

from __future__ import annotations

import dataclasses

import gmpy2
import pytest
from eth_hash.auto import keccak

from fl_node.demo import DemoConfig, Federation, setup_federation
from fl_node.hfl.aggregator import Collected
from fl_node.hfl.envelope import SignedBlob, seal, sign_blob
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.participant import RoundPlan, Submission
from fl_node.crypto.codec import EncryptedUpdate
from fl_node.models import flatten
from fl_node.replay import audit_federation
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.transport.inprocess import InProcessTransport
from incentive.chain import embedded_chain
from incentive.ledger import MemberSlashed, to_bytes32

SMALL = DemoConfig(
    TaskConfig(data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=1024), scoring=ScoringConfig(scorer="loo"), rounds=2),
    free_riders=0,
    label_flippers=0,
)


@dataclasses.dataclass
class Finished:
    """A federation and its first finished round (its blobs are in the store for the copiers below)."""

    federation: Federation
    first: object

    def __getattr__(self, name: str):
        return getattr(self.federation, name)


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> Finished:
    federation = setup_federation(SMALL, embedded_chain(), tmp_path_factory.mktemp("signed"))
    return Finished(federation, federation.coordinator.run_round(flatten(federation.model.build(0)), InProcessTransport(federation.nodes)))


def stored_blob(federation: Federation, round_id: int, address: str) -> bytes:
    record = federation.ledger.score_of(round_id, address)
    return federation.store.get(to_bytes32(record.commitment))


class Sends:
    """A node that commits and sends ``make(plan)`` instead of its own update (the copier)."""

    def __init__(self, node: LedgerNode, make) -> None:
        self.node, self.make = node, make

    @property
    def participant_id(self) -> str:
        return self.node.participant_id

    def submit(self, plan: RoundPlan) -> Submission:
        honest = self.node.participant.submit(plan)
        blob = self.make(plan)
        self.node.ledger.commit(self.node.account, plan.round, keccak(blob))
        return dataclasses.replace(honest, blob=blob, blob_hash=keccak(blob), bytes_up=len(blob))


def run_with(federation: Federation, replaced: dict[str, object]):
    nodes = [replaced.get(n.participant_id, n) for n in federation.nodes]
    return federation.coordinator.run_round(federation.first.global_params, InProcessTransport(nodes))


def excluded_reason(outcome, address: str) -> str:
    return next(d.reason for d in outcome.dropped if d.participant_id == address)


def test_blob_of_another_sender_and_round_is_refused(federation):
    b, c = federation.nodes[1], federation.nodes[2]
    replayed = stored_blob(federation, federation.first.round_id, b.participant_id)

    outcome = run_with(federation, {c.participant_id: Sends(c, lambda plan: replayed)})

    assert c.participant_id not in outcome.included
    assert b.participant_id in outcome.included
    assert "round" in excluded_reason(outcome, c.participant_id)
    assert federation.ledger.score_of(outcome.round_id, c.participant_id).dropped
    assert outcome.slashed == ()


def test_rerandomized_copy_under_the_copiers_own_signed_header_is_refused(federation):
    b, c = federation.nodes[1], federation.nodes[2]
    original = SignedBlob.parse(stored_blob(federation, federation.first.round_id, b.participant_id))
    public_key = federation.coordinator.spec.paillier_public_key()
    n = public_key.n

    def copy(plan: RoundPlan) -> bytes:
        update = EncryptedUpdate.from_bytes(original.payload, public_key)
        modulus = n ** (update.degree + 1)
        fresh = [int(c_i * gmpy2.powmod(7 + i, n**update.degree, modulus) % modulus) for i, c_i in enumerate(update.ciphertexts)]
        payload = dataclasses.replace(update, ciphertexts=tuple(fresh)).to_bytes()
        return sign_blob(seal(plan.header_for(c.participant_id), payload, original.proof), c.account)

    outcome = run_with(federation, {c.participant_id: Sends(c, copy)})

    assert c.participant_id not in outcome.included
    assert "proof" in excluded_reason(outcome, c.participant_id)
    assert outcome.slashed == ()


class Impersonates:
    """A node that sends its own update but claims in its reply to be ``victim``."""

    def __init__(self, node: LedgerNode, victim: str) -> None:
        self.node, self.victim = node, victim

    @property
    def participant_id(self) -> str:
        return self.node.participant_id

    def submit(self, plan: RoundPlan) -> Submission:
        return dataclasses.replace(self.node.submit(plan), participant_id=self.victim)


def test_reply_claiming_another_members_address_is_refused_and_nobody_is_slashed(federation):
    victim, rogue = federation.nodes[0], federation.nodes[3]
    slashes_before = sum(isinstance(e, MemberSlashed) for e in federation.ledger.events())

    outcome = run_with(federation, {rogue.participant_id: Impersonates(rogue, victim.participant_id)})

    assert outcome.slashed == ()
    assert sum(isinstance(e, MemberSlashed) for e in federation.ledger.events()) == slashes_before
    assert victim.participant_id in outcome.included
    assert "claims to come from" in excluded_reason(outcome, rogue.participant_id)


class Flips:
    """A transport that flips one byte of one node's blob in transit (after its commitment)."""

    def __init__(self, nodes, victim: str) -> None:
        self.inner, self.victim = InProcessTransport(nodes), victim

    def collect(self, plan: RoundPlan) -> Collected:
        collected = self.inner.collect(plan)
        altered = tuple(
            dataclasses.replace(s, blob=s.blob[:40] + bytes([s.blob[40] ^ 1]) + s.blob[41:]) if s.participant_id == self.victim else s
            for s in collected.submissions
        )
        return Collected(altered, collected.dropped)


def test_blob_not_signed_by_its_sender_is_no_slashing_evidence(federation):
    victim = federation.nodes[1].participant_id
    stake = federation.ledger.member(victim).stake

    outcome = federation.coordinator.run_round(federation.first.global_params, Flips(federation.nodes, victim))

    assert outcome.slashed == ()
    assert federation.ledger.member(victim).stake == stake
    assert victim not in outcome.included


def test_audit_verifies_blob_signatures(federation):
    report = audit_federation(federation.ledger, federation.store, federation.task_id)
    checks = {c.name: c for c in report.checks}
    assert checks["signed blobs"].ok and checks["slashing evidence"].ok, report.to_json()

    record = federation.ledger.participants(federation.first.round_id)[0]
    path = federation.store.path_for(to_bytes32(record.commitment))
    original = path.read_bytes()
    signed = SignedBlob.parse(original)
    forged = signed.body + bytes([65]) + bytes(65)  # same body, not its sender's signature
    path.write_bytes(forged)
    try:
        report = audit_federation(federation.ledger, federation.store, federation.task_id)
    finally:
        path.write_bytes(original)
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert "signed blobs" in failed
