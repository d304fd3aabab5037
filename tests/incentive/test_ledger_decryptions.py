"""The ledger's decryption record: which coalition sums of an open round may be decrypted.

Runs on the embedded chain and on anvil (the ``chain`` fixture).
"""

from __future__ import annotations

import pytest
from ledger_helpers import revert_message as revert

from incentive.errors import LedgerRevert
from incentive.ledger import DecryptionRecorded, keccak


def _sum(i: int) -> bytes:
    return keccak(text=f"encrypted sum {i}")


def test_evaluator_records_sums_and_anyone_reads_them(env) -> None:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])

    receipt = env.ledger.record_decryptions(env.evaluator, round_id, [_sum(1), _sum(2)], [0b111, 0b011])

    assert [(e.round_id, e.sum_hash, e.coalition) for e in receipt.events_of(DecryptionRecorded)] == [
        (round_id, "0x" + _sum(1).hex(), 0b111), (round_id, "0x" + _sum(2).hex(), 0b011)
    ]
    assert env.ledger.decryption_of(round_id, _sum(2)) == 0b011
    assert env.ledger.decryption_of(round_id, _sum(3)) == 0
    assert env.ledger.decryption_count(round_id) == 2
    assert [e.coalition for e in env.ledger.decryptions()] == [0b111, 0b011]


def test_record_rejects_bad_batches_and_changes_nothing(env) -> None:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    env.ledger.record_decryptions(env.evaluator, round_id, [_sum(1)], [0b001])
    cases = [
        (env.aggregator, round_id, [_sum(2)], [1], "AccessControlUnauthorizedAccount"),
        (env.evaluator, round_id, [], [], "InvalidDecryptionBatch"),
        (env.evaluator, round_id, [_sum(2)], [1, 2], "InvalidDecryptionBatch"),
        (env.evaluator, round_id, [_sum(2)], [0], "InvalidCoalition"),
        (env.evaluator, round_id, [_sum(2)], [0b1000], "InvalidCoalition"),
        (env.evaluator, round_id, [_sum(2), _sum(1)], [1, 2], "DecryptionAlreadyRecorded"),
        (env.evaluator, round_id, [bytes(32)], [1], "EmptyHash"),
        (env.evaluator, round_id + 1, [_sum(2)], [1], "UnknownRound"),
    ]
    for sender, rid, hashes, coalitions, error in cases:
        with pytest.raises(LedgerRevert) as excinfo:
            env.ledger.record_decryptions(sender, rid, hashes, coalitions)
        assert revert(excinfo)[0] == error
    assert env.ledger.decryption_count(round_id) == 1
    assert env.ledger.decryption_of(round_id, _sum(2)) == 0


def test_nothing_is_recorded_for_a_closed_round(env) -> None:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:2])
    env.ledger.cancel_round(env.aggregator, round_id, "test")
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.record_decryptions(env.evaluator, round_id, [_sum(1)], [1])
    assert revert(excinfo)[0] == "RoundIsCancelled"
