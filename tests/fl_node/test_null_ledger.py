"""The null ledger: the coordinator's ledger methods, recorded in memory, with rounds numbered in the task."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from fl_node.errors import FlNodeError
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from incentive.audit import finalized_rounds
from incentive.ledger import RoundOpened, RoundStatus, to_bytes32

AGGREGATOR, EVALUATOR = NullAccount("aggregator"), NullAccount("evaluator")
A, B = NullAccount("node-0"), NullAccount("node-1")


def open_round(ledger: NullLedger, model: bytes = b"global") -> int:
    return ledger.open_round(AGGREGATOR, 1, keccak(model), duration_s=60).event(RoundOpened).round_id


def test_a_round_records_commitments_and_its_result() -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    ledger.commit(A, round_id, keccak(b"blob a"))
    ledger.commit(B, round_id, keccak(b"blob b"))

    committed = ledger.participants(round_id)
    ledger.finalize(EVALUATOR, round_id, keccak(b"new"), 950_000, [7, 0], dropped=[False, True], participants=["node-0", "node-1"])

    assert round_id == 1
    assert [(p.account, to_bytes32(p.commitment)) for p in committed] == [("node-0", keccak(b"blob a")), ("node-1", keccak(b"blob b"))]
    (done,) = finalized_rounds(ledger, 1)
    assert done.status == RoundStatus.FINALIZED and to_bytes32(done.aggregated_model_hash) == keccak(b"new")
    assert to_bytes32(done.global_model_hash) == keccak(b"global") and done.performance == 950_000
    assert [(p.score, p.dropped, p.reward) for p in done.participants] == [(7, False, 0), (0, True, 0)]
    assert done.dropped_count == 1 and ledger.member("node-0").stake == 0
    assert open_round(ledger) == 2


def test_a_cancelled_round_number_is_opened_again() -> None:
    ledger = NullLedger()
    first = open_round(ledger)
    ledger.commit(A, first, keccak(b"blob"))

    ledger.cancel_round(AGGREGATOR, first, "too few usable submissions")
    again = open_round(ledger)

    assert again == first == 1 and ledger.cancellations == [(1, "too few usable submissions")]
    assert ledger.participants(again) == [] and [r.status for r in ledger.rounds()] == [RoundStatus.OPEN]


@pytest.mark.parametrize(
    "misuse, message",
    [
        (lambda ledger, r: ledger.commit(A, r + 1, keccak(b"x")), "no round 2"),
        (lambda ledger, r: ledger.commit(A, r, keccak(b"again")), "already committed"),
        (lambda ledger, r: open_round(ledger), "already open"),
        (lambda ledger, r: ledger.finalize(EVALUATOR, r, keccak(b"m"), 0, [0], [False], ["node-1"]), "finalize names"),
    ],
)
def test_misuse_is_refused_and_changes_nothing(misuse, message: str) -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    ledger.commit(A, round_id, keccak(b"x"))
    before = ledger.rounds()

    with pytest.raises(FlNodeError, match=message):
        misuse(ledger, round_id)

    assert ledger.rounds() == before


def test_a_finalized_round_takes_no_more_commitments() -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    ledger.finalize(EVALUATOR, round_id, keccak(b"m"), 0, [], [], [])

    with pytest.raises(FlNodeError, match="finalized, not open"):
        ledger.commit(A, round_id, keccak(b"late"))
    with pytest.raises(FlNodeError, match="finalized, not open"):
        ledger.cancel_round(AGGREGATOR, round_id)
