"""Tasks, rounds, commitments, finalization, rewards, claims and the event history.

Runs on the embedded chain and on anvil (the ``chain`` fixture).
"""

from __future__ import annotations

import dataclasses

import pytest
from ledger_helpers import REWARD, revert_message as revert, update_hash

from incentive.audit import check_exclusions, finalized_rounds
from incentive.errors import LedgerNotFound, LedgerRevert
from incentive.ledger import (
    AGGREGATOR_ROLE,
    DEFAULT_ADMIN_ROLE,
    EVALUATOR_ROLE,
    MIN_COHORT,
    ExclusionReason,
    LedgerClient,
    MemberJoined,
    ParticipantDropped,
    ParticipantExcluded,
    ParticipantScored,
    RewardClaimed,
    RoleGranted,
    RoundCancelled,
    RoundFinalized,
    RoundOpened,
    RoundStatus,
    TaskCreated,
    UpdateCommitted,
    keccak,
)
from incentive.rewards import split_rewards

AGGREGATED = keccak(text="aggregated model")
PERFORMANCE = 934_500


def hex32(value: bytes) -> str:
    return "0x" + value.hex()


# ---------------------------------------------------------------- tasks and opening rounds


def test_create_task_records_it(env):
    receipt = env.ledger.create_task(env.admin, keccak(text="m2"), keccak(text="v2"), 12345, 3)

    created = receipt.event(TaskCreated)
    task = env.ledger.task(created.task_id)
    assert created.task_id == 2 == env.ledger.task_count()
    assert (task.model_spec_hash, task.validation_spec_hash) == (hex32(keccak(text="m2")), hex32(keccak(text="v2")))
    assert (task.reward_per_round, task.required_participants) == (12345, 3)


@pytest.mark.parametrize(
    ("signer", "required", "model", "expected"),
    [
        ("aggregator", 1, keccak(text="m"), ("AccessControlUnauthorizedAccount", ("aggregator", hex32(DEFAULT_ADMIN_ROLE)))),
        ("admin", 0, keccak(text="m"), ("CohortBelowMinimum", (0, 3))),
        ("admin", 2, keccak(text="m"), ("CohortBelowMinimum", (2, 3))),
        ("admin", 513, keccak(text="m"), ("InvalidRequiredParticipants", (513, 512))),
        ("admin", 1, b"\0" * 32, ("EmptyHash", ())),
    ],
)
def test_bad_tasks_are_rejected(env, signer, required, model, expected):
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.create_task(getattr(env, signer), model, keccak(text="v"), 1, required)

    name, args = expected
    assert revert(excinfo) == (name, tuple(env.aggregator.address if a == "aggregator" else a for a in args))


def test_unknown_task_is_rejected(env):
    with pytest.raises(LedgerRevert) as read_error:
        env.ledger.task(99)
    with pytest.raises(LedgerRevert) as open_error:
        env.ledger.open_round(env.aggregator, 99, keccak(text="g"))

    assert revert(read_error) == revert(open_error) == ("UnknownTask", (99,))


def test_open_round_records_it(env):
    receipt = env.ledger.open_round(env.aggregator, env.task_id, keccak(text="g"), duration_s=600)

    opened = receipt.event(RoundOpened)
    record = env.ledger.round(opened.round_id)
    assert (opened.round_id, opened.task_id, opened.budget) == (1, env.task_id, REWARD)
    assert record.status is RoundStatus.OPEN and record.global_model_hash == hex32(keccak(text="g"))
    assert record.deadline == opened.deadline  # the last block's time + 600 s, so a little under opened_at + 600
    assert record.opened_at < record.deadline <= record.opened_at + 600
    assert record.participants == ()


def test_only_aggregators_open_rounds_and_deadlines_lie_ahead(env):
    with pytest.raises(LedgerRevert) as not_aggregator:
        env.ledger.open_round(env.evaluator, env.task_id, keccak(text="g"))
    now = env.chain.timestamp()
    with pytest.raises(LedgerRevert) as past:
        env.ledger.open_round(env.aggregator, env.task_id, keccak(text="g"), deadline=now - 10)

    assert revert(not_aggregator) == ("AccessControlUnauthorizedAccount", (env.evaluator.address, hex32(AGGREGATOR_ROLE)))
    assert past.value.error_name == "DeadlineNotInFuture" and past.value.args[0] == now - 10


# ---------------------------------------------------------------- commitments


def test_commit_records_the_commitment_in_order(env):
    round_id = env.open_round()

    receipts = [env.ledger.commit(m, round_id, update_hash(round_id, i)) for i, m in enumerate(env.members[:3])]

    events = [r.event(UpdateCommitted) for r in receipts]
    assert [e.index for e in events] == [0, 1, 2]
    assert [e.member for e in events] == [m.address for m in env.members[:3]]
    assert env.ledger.participant_addresses(round_id) == [m.address for m in env.members[:3]]
    record = env.ledger.score_of(round_id, env.members[1].address)
    assert (record.index, record.commitment, record.score, record.reward) == (1, hex32(update_hash(round_id, 1)), 0, 0)
    assert env.ledger.member(env.members[0].address).open_commitments == 1


def test_non_member_commit_is_rejected(env):
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.commit(env.outsider, round_id, update_hash(round_id, 0))

    assert revert(excinfo) == ("NotMember", (env.outsider.address,))
    assert str(excinfo.value) == f"NotMember(account={env.outsider.address})"


def test_double_commit_is_rejected(env):
    round_id = env.open_round()
    env.ledger.commit(env.members[0], round_id, update_hash(round_id, 0))

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.commit(env.members[0], round_id, keccak(text="another update"))

    assert revert(excinfo) == ("AlreadyCommitted", (round_id, env.members[0].address))
    assert env.ledger.score_of(round_id, env.members[0].address).commitment == hex32(update_hash(round_id, 0))


def test_commit_after_the_deadline_is_rejected(env):
    round_id = env.open_round(duration_s=60)
    deadline = env.ledger.round(round_id).deadline
    env.chain.increase_time(120)

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.commit(env.members[0], round_id, update_hash(round_id, 0))

    name, (rid, recorded_deadline, timestamp) = revert(excinfo)
    assert (name, rid, recorded_deadline) == ("CommitAfterDeadline", round_id, deadline)
    assert timestamp > deadline


def test_commits_after_finalization_or_cancellation_or_to_unknown_rounds_are_rejected(env):
    finalized = env.open_round()
    env.commit_all(finalized, env.members[:3])
    env.ledger.finalize(env.evaluator, finalized, AGGREGATED, PERFORMANCE, [1, 1, 1])
    cancelled = env.open_round()
    env.ledger.cancel_round(env.aggregator, cancelled)

    errors = []
    for round_id in (finalized, cancelled, 77):
        with pytest.raises(LedgerRevert) as excinfo:
            env.ledger.commit(env.members[3], round_id, update_hash(round_id, 3))
        errors.append(revert(excinfo))

    assert errors == [("RoundAlreadyFinalized", (finalized,)), ("RoundIsCancelled", (cancelled,)), ("UnknownRound", (77,))]


def test_empty_commitment_is_rejected(env):
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.commit(env.members[0], round_id, b"\0" * 32)

    assert revert(excinfo) == ("EmptyHash", ())


# ---------------------------------------------------------------- finalization and rewards


def test_finalize_records_scores_rewards_and_dust(env):
    round_id = env.open_round()
    members = env.commit_all(round_id, env.members[:5])
    scores = [333_333, -50_000, 0, 666_666, 1]
    dropped = [False, False, False, False, True]

    receipt = env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, scores, dropped)

    expected = split_rewards(REWARD, scores, dropped)
    scored = receipt.events_of(ParticipantScored)
    assert [(e.member, e.score, e.reward) for e in scored] == [
        (m.address, s, r) for m, s, r, d in zip(members, scores, expected.rewards, dropped) if not d
    ]
    assert [(e.member, e.score) for e in receipt.events_of(ParticipantDropped)] == [(members[4].address, 1)]
    final = receipt.event(RoundFinalized)
    assert (final.participants, final.dropped, final.rewarded, final.dust) == (5, 1, expected.paid, expected.dust)
    assert final.rewarded + final.dust == REWARD and final.dust > 0
    record = env.ledger.round(round_id)
    assert record.status is RoundStatus.FINALIZED
    assert (record.aggregated_model_hash, record.performance) == (hex32(AGGREGATED), PERFORMANCE)
    assert (record.rewarded, record.dust, record.positive_score_sum) == (expected.paid, expected.dust, 999_999)
    assert [p.reward for p in record.participants] == list(expected.rewards)
    assert [p.dropped for p in record.participants] == dropped
    assert env.ledger.expected_split(round_id) == expected
    for member, score, reward in zip(members, scores, expected.rewards):
        info = env.ledger.member(member.address)
        assert (info.cumulative_score, info.pending_reward, info.open_commitments) == (score, reward, 0)


def test_rewards_accumulate_and_are_claimed_as_tokens(env):
    for scores in ([3, 1, 0], [1, 1, 0]):
        round_id = env.open_round()
        env.commit_all(round_id, env.members[:3])
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, scores)
    first = env.members[0]
    owed = REWARD * 3 // 4 + REWARD // 2

    claimed = env.ledger.claim(first).event(RewardClaimed)
    with pytest.raises(LedgerRevert) as again:
        env.ledger.claim(first)

    assert (claimed.member, claimed.amount) == (first.address, owed)
    assert env.ledger.token_balance(first.address) == owed
    info = env.ledger.member(first.address)
    assert (info.pending_reward, info.claimed_reward, info.total_reward, info.cumulative_score) == (0, owed, owed, 4)
    assert revert(again) == ("NothingToClaim", (first.address,))


def test_a_round_where_nobody_scores_positive_leaves_the_whole_budget_as_dust(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])

    final = env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [0, -5, -(2**63 - 1)]).event(RoundFinalized)

    assert (final.rewarded, final.dust) == (0, REWARD)
    assert all(p.reward == 0 for p in env.ledger.participants(round_id))


def test_finalizing_twice_is_rejected(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 2, 0])

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 2, 0])

    assert revert(excinfo) == ("RoundAlreadyFinalized", (round_id,))


def test_only_the_evaluator_finalizes(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:2])

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.finalize(env.aggregator, round_id, AGGREGATED, PERFORMANCE, [1, 2])

    assert revert(excinfo) == ("AccessControlUnauthorizedAccount", (env.aggregator.address, hex32(EVALUATOR_ROLE)))
    assert env.ledger.round(round_id).status is RoundStatus.OPEN


def test_score_lists_must_match_the_participants_in_length_and_order(env):
    round_id = env.open_round()
    members = env.commit_all(round_id, env.members[:3])
    addresses = [m.address for m in members]

    cases = {
        "short scores": dict(scores=[1, 2]),
        "long scores": dict(scores=[1, 2, 3, 4]),
        "swapped": dict(scores=[1, 2, 3], participants=[addresses[1], addresses[0], addresses[2]]),
        "missing participant": dict(scores=[1, 2, 3], participants=addresses[:2]),
    }
    errors = {}
    for case, kwargs in cases.items():
        with pytest.raises(LedgerRevert) as excinfo:
            env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, **kwargs)
        errors[case] = revert(excinfo)

    assert errors == {
        "short scores": ("ScoreCountMismatch", (round_id, 3, 2)),
        "long scores": ("ScoreCountMismatch", (round_id, 3, 4)),
        "swapped": ("ParticipantOrderMismatch", (round_id, 0, addresses[0], addresses[1])),
        "missing participant": ("ParticipantCountMismatch", (round_id, 3, 2)),
    }


def test_a_round_below_the_required_participants_cannot_be_finalized(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:2])

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 1])

    assert revert(excinfo) == ("NotEnoughParticipants", (round_id, 2, 3))


def test_a_round_with_fewer_included_than_the_minimum_cohort_cannot_be_finalized(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 1, 0], dropped=[False, False, True])

    assert revert(excinfo) == ("CohortTooSmall", (round_id, 2, MIN_COHORT))
    assert env.ledger.round(round_id).status is RoundStatus.OPEN
    assert env.ledger.member(env.members[0].address).pending_reward == 0


def test_a_task_can_raise_its_minimum_cohort(env):
    task_id = env.ledger.create_task(env.admin, keccak(text="m4"), keccak(text="v4"), REWARD, 4).event(TaskCreated).task_id
    round_id = env.open_round(task_id=task_id)
    env.commit_all(round_id, env.members[:5])

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1] * 5, dropped=[True, True] + [False] * 3)
    env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1] * 5, dropped=[True] + [False] * 4)

    assert revert(excinfo) == ("CohortTooSmall", (round_id, 3, 4))
    assert env.ledger.round(round_id).status is RoundStatus.FINALIZED


def test_a_party_task_finalizes_with_all_its_parties(env):
    task_id = env.ledger.create_party_task(env.admin, keccak(text="vfl"), keccak(text="v"), REWARD, 2).event(TaskCreated).task_id
    round_id = env.open_round(task_id=task_id)
    env.commit_all(round_id, env.members[:2])

    with pytest.raises(LedgerRevert) as one_party:
        env.ledger.create_party_task(env.admin, keccak(text="vfl"), keccak(text="v"), REWARD, 1)
    with pytest.raises(LedgerRevert) as party_missing:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 1], dropped=[False, True])
    env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 1])

    assert env.ledger.task(task_id).party_task and not env.ledger.task(env.task_id).party_task
    assert revert(one_party) == ("CohortBelowMinimum", (1, 2))
    assert revert(party_missing) == ("CohortTooSmall", (round_id, 1, 2))
    assert env.ledger.round(round_id).status is RoundStatus.FINALIZED


# ---------------------------------------------------------------- exclusions


def test_an_excluded_participant_is_recorded_with_its_reason_and_not_rewarded(env):
    round_id = env.open_round()
    members = env.commit_all(round_id, env.members[:4])

    excluded = env.ledger.exclude(env.evaluator, round_id, members[1].address, ExclusionReason.INVALID_UPDATE)
    env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 0, 1, 2], dropped=[False, True, False, False])

    event = excluded.event(ParticipantExcluded)
    assert (event.round_id, event.member, event.reason) == (round_id, members[1].address, ExclusionReason.INVALID_UPDATE)
    records = env.ledger.participants(round_id)
    assert [p.exclusion for p in records] == [ExclusionReason.NONE, ExclusionReason.INVALID_UPDATE, ExclusionReason.NONE, ExclusionReason.NONE]
    assert (records[1].dropped, records[1].reward) == (True, 0)
    assert env.ledger.round(round_id).dropped_count == 1
    rounds = finalized_rounds(env.ledger)
    assert check_exclusions(rounds, env.ledger.events()).ok
    paid = dataclasses.replace(rounds[-1], participants=tuple(
        dataclasses.replace(p, reward=7) if p.exclusion else p for p in rounds[-1].participants
    ))
    tampered = check_exclusions([paid], env.ledger.events())
    assert not tampered.ok and f"{members[1].address} was excluded (INVALID_UPDATE) but dropped=True, reward=7" in tampered.detail


def test_exclusions_are_checked(env):
    round_id = env.open_round()
    members = env.commit_all(round_id, env.members[:4])
    env.ledger.exclude(env.evaluator, round_id, members[0].address, ExclusionReason.GATED)

    errors = {}
    for case, call in {
        "not evaluator": lambda: env.ledger.exclude(env.aggregator, round_id, members[1].address, ExclusionReason.GATED),
        "no reason": lambda: env.ledger.exclude(env.evaluator, round_id, members[1].address, ExclusionReason.NONE),
        "twice": lambda: env.ledger.exclude(env.evaluator, round_id, members[0].address, ExclusionReason.INVALID_UPDATE),
        "not committed": lambda: env.ledger.exclude(env.evaluator, round_id, env.outsider.address, ExclusionReason.GATED),
        "rewarded anyway": lambda: env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 1, 1, 1]),
    }.items():
        with pytest.raises(LedgerRevert) as excinfo:
            call()
        errors[case] = revert(excinfo)

    assert errors == {
        "not evaluator": ("AccessControlUnauthorizedAccount", (env.aggregator.address, hex32(EVALUATOR_ROLE))),
        "no reason": ("InvalidExclusionReason", ()),
        "twice": ("AlreadyExcluded", (round_id, members[0].address, ExclusionReason.GATED)),
        "not committed": ("NotParticipant", (round_id, env.outsider.address)),
        "rewarded anyway": ("ExcludedNotDropped", (round_id, 0, members[0].address)),
    }


def test_out_of_range_scores_and_dropout_bits_are_rejected(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    participants = env.ledger.participant_addresses(round_id)

    with pytest.raises(LedgerRevert) as score_error:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 2**63, 0])
    with pytest.raises(LedgerRevert) as bit_error:
        env.ledger.transact(
            env.evaluator, env.ledger.contract, "finalizeRound",
            [round_id, AGGREGATED, PERFORMANCE, participants, [1, 1, 1], [0b1000]], gas=400_000,
        )
    with pytest.raises(LedgerRevert) as length_error:
        env.ledger.transact(
            env.evaluator, env.ledger.contract, "finalizeRound",
            [round_id, AGGREGATED, PERFORMANCE, participants, [1, 1, 1], [0, 0]], gas=400_000,
        )

    assert revert(score_error) == ("ScoreOutOfRange", (1, 2**63))
    assert revert(bit_error) == ("DroppedIndexOutOfRange", (round_id, 3))
    assert revert(length_error) == ("DroppedBitmapTooLong", (2, 1))


def test_cancel_round_releases_the_commitments(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:2])

    with pytest.raises(LedgerRevert) as not_manager:
        env.ledger.cancel_round(env.evaluator, round_id)
    cancelled = env.ledger.cancel_round(env.admin, round_id).event(RoundCancelled)
    with pytest.raises(LedgerRevert) as finalize_error:
        env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 1])

    assert revert(not_manager) == ("NotRoundManager", (env.evaluator.address,))
    assert (cancelled.round_id, cancelled.by) == (round_id, env.admin.address)
    assert env.ledger.round(round_id).status is RoundStatus.CANCELLED
    assert env.ledger.member(env.members[0].address).open_commitments == 0
    assert revert(finalize_error) == ("RoundIsCancelled", (round_id,))


def test_views_reject_unknown_rounds_and_non_participants(env):
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as unknown:
        env.ledger.round(42)
    with pytest.raises(LedgerRevert) as absent:
        env.ledger.score_of(round_id, env.outsider.address)

    assert revert(unknown) == ("UnknownRound", (42,))
    assert revert(absent) == ("NotParticipant", (round_id, env.outsider.address))


# ---------------------------------------------------------------- history and attaching


def test_event_history_tells_the_whole_story(env):
    start = env.chain.w3.eth.block_number + 1
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [2, 1, 0])

    recent = env.ledger.events(from_block=start)
    everything = env.ledger.events()

    assert [type(e).__name__ for e in recent] == [
        "RoundOpened", *["UpdateCommitted"] * 3, *["ParticipantScored"] * 3, "RoundFinalized",
    ]
    assert [e.block_number for e in recent] == sorted(e.block_number for e in recent)
    granted = {(e.role, e.account) for e in everything if isinstance(e, RoleGranted)}
    assert ("EVALUATOR_ROLE", env.evaluator.address) in granted and ("AGGREGATOR_ROLE", env.aggregator.address) in granted
    assert sum(isinstance(e, MemberJoined) for e in everything) == len(env.members)
    assert env.ledger.events(from_block=start, to_block=start) == recent[:1]


def test_attaching_checks_for_ledger_code(env):
    attached = LedgerClient.at(env.chain, env.ledger.address.lower())

    with pytest.raises(LedgerNotFound, match="no contract code"):
        LedgerClient.at(env.chain, env.outsider.address)
    with pytest.raises(LedgerNotFound, match="not a FederationLedger"):
        LedgerClient.at(env.chain, env.ledger.token)
    with pytest.raises(LedgerNotFound, match="not an address"):
        LedgerClient.at(env.chain, "0x1234")

    assert attached.address == env.ledger.address and attached.round_count() == 0


def test_the_embedded_log_reader_agrees_with_eth_get_logs(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    env.ledger.finalize(env.evaluator, round_id, AGGREGATED, PERFORMANCE, [1, 0, 2])
    start, end = env.ledger.deployment_block, env.chain.w3.eth.block_number

    fast = env.chain.get_logs(env.ledger.address, start, end)
    reference = env.chain.w3.eth.get_logs({"address": env.ledger.address, "fromBlock": start, "toBlock": end})

    assert [env.ledger.event_decoder.decode_log(log) for log in fast] == [env.ledger.event_decoder.decode_log(log) for log in reference]
    assert len(fast) == len(env.ledger.events()) == 19  # 4 at deployment, 6 joins, task, round, 3 + 3 + 1
