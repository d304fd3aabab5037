"""The null ledger: the coordinator's ledger methods, recorded in memory, with rounds numbered in the task."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from fl_node.errors import FlNodeError
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from incentive.audit import finalized_rounds
from incentive.ledger import ExclusionReason, RoundOpened, RoundStatus, to_bytes32

AGGREGATOR, EVALUATOR = NullAccount("aggregator"), NullAccount("evaluator")
A, B, C, D = (NullAccount(f"node-{i}") for i in range(4))


def open_round(ledger: NullLedger, model: bytes = b"global") -> int:
    return ledger.open_round(AGGREGATOR, 1, keccak(model), duration_s=60).event(RoundOpened).round_id


def test_a_round_records_commitments_and_its_result() -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    for account, blob in zip((A, B, C, D), (b"blob a", b"blob b", b"blob c", b"blob d")):
        ledger.commit(account, round_id, keccak(blob))

    committed = ledger.participants(round_id)
    ledger.finalize(
        EVALUATOR, round_id, keccak(b"new"), 950_000, [7, 0, 1, 2], dropped=[False, True, False, False],
        participants=["node-0", "node-1", "node-2", "node-3"],
    )

    assert round_id == 1
    assert [(p.account, to_bytes32(p.commitment)) for p in committed[:2]] == [("node-0", keccak(b"blob a")), ("node-1", keccak(b"blob b"))]
    (done,) = finalized_rounds(ledger, 1)
    assert done.status == RoundStatus.FINALIZED and to_bytes32(done.aggregated_model_hash) == keccak(b"new")
    assert to_bytes32(done.global_model_hash) == keccak(b"global") and done.performance == 950_000
    assert [(p.score, p.dropped, p.reward) for p in done.participants][:2] == [(7, False, 0), (0, True, 0)]
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


def test_a_round_below_the_minimum_cohort_is_not_finalized() -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    for account in (A, B, C):
        ledger.commit(account, round_id, keccak(account.address.encode()))

    with pytest.raises(FlNodeError, match="CohortTooSmall: 2 included, fewer than the minimum cohort 3"):
        ledger.finalize(EVALUATOR, round_id, keccak(b"m"), 0, [1, 1, 0], [False, False, True], ["node-0", "node-1", "node-2"])

    assert [r.status for r in ledger.rounds()] == [RoundStatus.OPEN]


def test_an_excluded_participant_is_recorded_and_must_be_dropped() -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    for account in (A, B, C, D):
        ledger.commit(account, round_id, keccak(account.address.encode()))
    names = ["node-0", "node-1", "node-2", "node-3"]

    ledger.exclude(EVALUATOR, round_id, "node-1", ExclusionReason.INVALID_UPDATE)
    with pytest.raises(FlNodeError, match="ExcludedNotDropped: node-1"):
        ledger.finalize(EVALUATOR, round_id, keccak(b"m"), 0, [1, 1, 1, 1], [False] * 4, names)
    with pytest.raises(FlNodeError, match="AlreadyExcluded"):
        ledger.exclude(EVALUATOR, round_id, "node-1", ExclusionReason.GATED)
    ledger.finalize(EVALUATOR, round_id, keccak(b"m"), 0, [1, 0, 1, 1], [False, True, False, False], names)

    (done,) = finalized_rounds(ledger, 1)
    assert [p.exclusion for p in done.participants] == [ExclusionReason.NONE, ExclusionReason.INVALID_UPDATE, ExclusionReason.NONE, ExclusionReason.NONE]


def test_a_finalized_round_takes_no_more_commitments() -> None:
    ledger = NullLedger()
    round_id = open_round(ledger)
    for account in (B, C, D):
        ledger.commit(account, round_id, keccak(account.address.encode()))
    ledger.finalize(EVALUATOR, round_id, keccak(b"m"), 0, [0, 0, 0], [False] * 3, ["node-1", "node-2", "node-3"])

    with pytest.raises(FlNodeError, match="finalized, not open"):
        ledger.commit(A, round_id, keccak(b"late"))
    with pytest.raises(FlNodeError, match="finalized, not open"):
        ledger.cancel_round(AGGREGATOR, round_id)
