"""Fuzzing replayed blobs: a real signed blob of one round, task and sender, offered to another (as is,
re-signed, re-headered or mangled), is refused with a named one-line error and never opened as an update."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fl_node.demo import DemoConfig, setup_federation
from fl_node.errors import BlobRefused, CryptoError, UpdateFormatError
from fl_node.hfl.aggregator import Aggregator
from fl_node.hfl.envelope import SignedBlob, seal, sign_blob
from fl_node.hfl.participant import RoundPlan, Submission
from fl_node.models import flatten
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.transport.inprocess import InProcessTransport
from incentive.chain import embedded_chain
from incentive.ledger import to_bytes32

SMALL = DemoConfig(
    TaskConfig(data=DataConfig(nodes=3), custody=CustodyConfig(key_bits=1024), scoring=ScoringConfig(scorer="loo"), rounds=1),
    free_riders=0,
    label_flippers=0,
)


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One finished round: its plan, each sender's stored blob, the senders' keys, the aggregator."""

    plan: RoundPlan
    blobs: dict[str, bytes]
    accounts: dict[str, object]
    aggregator: Aggregator


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Recorded:
    federation = setup_federation(SMALL, embedded_chain(), tmp_path_factory.mktemp("replay"))
    params = flatten(federation.model.build(0))
    outcome = federation.coordinator.run_round(params, InProcessTransport(federation.nodes))
    blobs = {
        n.participant_id: federation.store.get(to_bytes32(federation.ledger.score_of(outcome.round_id, n.participant_id).commitment))
        for n in federation.nodes
    }
    header = SignedBlob.parse(next(iter(blobs.values()))).header
    counts = {n.participant_id: n.n_samples for n in federation.nodes}
    plan = RoundPlan(outcome.round_id, params, counts, header.chain_id, header.ledger, header.task_id)
    aggregator = Aggregator(federation.coordinator.spec.scheme())
    for sender, blob in blobs.items():  # each blob opens in its own round, for its own sender
        aggregator.open(plan, sender, blob)
    return Recorded(plan, blobs, {n.participant_id: n.account for n in federation.nodes}, aggregator)


def _refused(recorded: Recorded, plan: RoundPlan, sender: str, blob: bytes) -> Exception:
    with pytest.raises((BlobRefused, UpdateFormatError, CryptoError)) as raised:
        recorded.aggregator.open(plan, sender, blob)
    message = str(raised.value)
    assert message and "\n" not in message
    verified = recorded.aggregator.verify(plan, [_submission(plan, sender, blob)], {sender: keccak(blob)})
    assert sender not in verified.updates and [e.participant_id for e in verified.excluded] == [sender]
    return raised.value


def _submission(plan: RoundPlan, sender: str, blob: bytes) -> Submission:
    return Submission(sender, plan.sample_counts[sender], blob, keccak(blob), len(blob))


#: Where a blob is replayed: another round, another task, another sender, another ledger or chain (or several).
CONTEXTS = st.fixed_dictionaries({
    "round": st.integers(0, 3),
    "task": st.integers(0, 2),
    "sender": st.booleans(),
    "ledger": st.booleans(),
    "chain": st.booleans(),
}).filter(lambda c: c["round"] or c["task"] or c["sender"] or c["ledger"] or c["chain"])


def _context(recorded: Recorded, owner: str, change: dict) -> tuple[RoundPlan, str]:
    plan = recorded.plan
    others = [a for a in recorded.blobs if a != owner]
    sender = others[0] if change["sender"] else owner
    target = dataclasses.replace(
        plan,
        round=plan.round + change["round"],
        task_id=plan.task_id + change["task"],
        ledger=("0x" + "11" * 20) if change["ledger"] else plan.ledger,
        chain_id=plan.chain_id + 1 if change["chain"] else plan.chain_id,
    )
    return target, sender


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owner=st.integers(0, 2), change=CONTEXTS)
def test_a_blob_replayed_as_is_into_another_round_task_or_sender_is_refused_naming_its_binding(recorded, owner, change) -> None:
    owner_id = list(recorded.blobs)[owner]
    plan, sender = _context(recorded, owner_id, change)

    error = _refused(recorded, plan, sender, recorded.blobs[owner_id])

    assert isinstance(error, BlobRefused)
    assert "blob bound to" in str(error) and f"round {plan.round}" in str(error)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owner=st.integers(0, 2), change=CONTEXTS, how=st.sampled_from(["resign", "reheader", "reheader-resign"]))
def test_a_replayed_blob_re_signed_or_re_headered_by_the_replayer_is_refused(recorded, owner, change, how) -> None:
    owner_id = list(recorded.blobs)[owner]
    plan, sender = _context(recorded, owner_id, change)
    original = SignedBlob.parse(recorded.blobs[owner_id])
    replayer = recorded.accounts.get(sender) or Account.create()
    header = plan.header_for(sender) if how.startswith("reheader") else original.header
    blob = seal(header, original.payload, original.proof)
    if how.endswith("resign"):
        blob = sign_blob(blob, replayer)

    error = _refused(recorded, plan, sender, blob)

    if how == "resign":  # the original binding, now under the replayer's signature: still another round's blob
        assert isinstance(error, BlobRefused) and "blob bound to" in str(error)
    elif how == "reheader":  # the right header with no signature
        assert isinstance(error, BlobRefused) and "not signed by its sender" in str(error)
    else:  # the right header, signed by the replayer: the update's proof is bound to the original header
        assert isinstance(error, (CryptoError, UpdateFormatError)) and "proof" in str(error)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owner=st.integers(0, 2), change=CONTEXTS, data=st.data())
def test_a_mangled_replayed_blob_is_refused_with_a_named_error(recorded, owner, change, data) -> None:
    owner_id = list(recorded.blobs)[owner]
    plan, sender = _context(recorded, owner_id, change)
    blob = bytearray(recorded.blobs[owner_id])
    mutation = data.draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if mutation == "flip":
        position = data.draw(st.integers(0, 8 * len(blob) - 1))
        blob[position // 8] ^= 1 << (position % 8)
    elif mutation == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif mutation == "extend":
        blob += data.draw(st.binary(min_size=1, max_size=64))
    else:  # another sender's payload under this blob's header and signature
        other = SignedBlob.parse(recorded.blobs[list(recorded.blobs)[(owner + 1) % 3]])
        mine = SignedBlob.parse(bytes(blob))
        blob = bytearray(seal(mine.header, other.payload, other.proof)[:-1] + bytes([len(mine.signature)]) + mine.signature)

    _refused(recorded, plan, sender, bytes(blob))
