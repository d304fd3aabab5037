"""The incentives the ledger itself enforces: the minimum stake to commit, unbonding before a stake
returns (slashable meanwhile), top-ups, and cancellations that say why.

The first two tests reproduce the two holes of the first release with its own calls (a member
slashed to zero could still commit; ``leave()`` returned the stake at once, before an audit could
slash it); they failed on that contract. Runs on the embedded chain and on anvil.
"""

from __future__ import annotations

import pytest
from ledger_helpers import MIN_STAKE, revert_message as revert, update_hash

from incentive.errors import LedgerRevert
from incentive.ledger import (
    LeaveRequested,
    MemberLeft,
    MemberSlashed,
    MemberStatus,
    RoundCancelled,
    StakeToppedUp,
    UnbondingPeriodChanged,
    keccak,
)

EVIDENCE = keccak(text="audit report")
WEEK = 7 * 24 * 3600


def test_a_member_slashed_below_the_minimum_stake_cannot_commit(env):
    member = env.members[0]
    env.ledger.slash(env.evaluator, member.address, MIN_STAKE, EVIDENCE)
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.commit(member, round_id, update_hash(round_id, 0))

    assert revert(excinfo) == ("StakeBelowMinimum", (member.address, 0, MIN_STAKE))
    assert env.ledger.participant_addresses(round_id) == []


def test_leaving_keeps_the_stake_slashable_until_the_unbonding_period_ends(env):
    member = env.members[0]
    before = env.chain.balance(member.address)

    receipt = env.ledger.leave(member)
    slashed = env.ledger.slash(env.evaluator, member.address, MIN_STAKE // 4, EVIDENCE).event(MemberSlashed)

    assert receipt.events_of(MemberLeft) == []
    tx = env.chain.w3.eth.get_transaction_receipt(receipt.tx_hash)
    assert env.chain.balance(member.address) == before - tx["gasUsed"] * tx["effectiveGasPrice"]
    assert slashed.remaining_stake == MIN_STAKE - MIN_STAKE // 4
    assert env.ledger.member(member.address).status is MemberStatus.LEAVING


def test_the_stake_returns_after_the_unbonding_period_and_not_before(env):
    member = env.members[1]
    requested = env.ledger.request_leave(member).event(LeaveRequested)
    assert env.ledger.unbonding_period() == WEEK
    assert requested.unlock_at == env.chain.timestamp() + WEEK

    with pytest.raises(LedgerRevert) as early:
        env.ledger.withdraw_stake(member)
    env.chain.increase_time(WEEK)
    left = env.ledger.withdraw_stake(member).event(MemberLeft)

    assert revert(early)[0] == "StakeStillBonded"
    assert (left.account, left.stake_returned) == (member.address, MIN_STAKE)
    assert env.ledger.member(member.address).status is MemberStatus.LEFT
    assert env.ledger.stake_totals().returned == MIN_STAKE


def test_a_leaving_member_cannot_commit_join_again_or_top_up(env):
    member = env.members[2]
    env.ledger.request_leave(member)
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as commit_error:
        env.ledger.commit(member, round_id, update_hash(round_id, 0))
    with pytest.raises(LedgerRevert) as join_error:
        env.ledger.join(member, "Again", keccak(text="k"), stake_wei=MIN_STAKE)
    with pytest.raises(LedgerRevert) as top_up_error:
        env.ledger.top_up(member, MIN_STAKE)

    assert revert(commit_error) == ("NotMember", (member.address,))
    assert revert(join_error) == ("AlreadyMember", (member.address,))
    assert revert(top_up_error) == ("NotMember", (member.address,))


def test_a_top_up_restores_the_right_to_commit(env):
    member = env.members[0]
    env.ledger.slash(env.evaluator, member.address, MIN_STAKE // 2, EVIDENCE)
    round_id = env.open_round()

    topped = env.ledger.top_up(member, MIN_STAKE // 2).event(StakeToppedUp)
    env.ledger.commit(member, round_id, update_hash(round_id, 0))

    assert (topped.amount, topped.stake) == (MIN_STAKE // 2, MIN_STAKE)
    assert env.ledger.participant_addresses(round_id) == [member.address]
    totals = env.ledger.stake_totals()
    assert totals.staked == len(env.members) * MIN_STAKE + MIN_STAKE // 2


def test_a_raised_minimum_stake_stops_commits_until_members_top_up(env):
    member = env.members[0]
    env.ledger.set_min_stake(env.admin, 2 * MIN_STAKE)
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.commit(member, round_id, update_hash(round_id, 0))
    env.ledger.top_up(member, MIN_STAKE)
    env.ledger.commit(member, round_id, update_hash(round_id, 0))

    assert revert(excinfo) == ("StakeBelowMinimum", (member.address, MIN_STAKE, 2 * MIN_STAKE))


def test_a_member_approved_without_a_stake_commits_without_one(env):
    newcomer = env.chain.new_account()
    env.ledger.request_membership(newcomer, "Vouched-for clinic", keccak(text="node"))
    env.ledger.approve(env.admin, newcomer.address)
    round_id = env.open_round()

    env.ledger.commit(newcomer, round_id, update_hash(round_id, 0))

    record = env.ledger.member(newcomer.address)
    assert (record.stake, record.stake_exempt) == (0, True)


def test_only_the_admin_sets_the_unbonding_period_within_its_limit(env):
    changed = env.ledger.set_unbonding_period(env.admin, 3600).event(UnbondingPeriodChanged)

    with pytest.raises(LedgerRevert) as not_admin:
        env.ledger.set_unbonding_period(env.members[0], 0)
    with pytest.raises(LedgerRevert) as too_long:
        env.ledger.set_unbonding_period(env.admin, 366 * 24 * 3600)

    assert (changed.previous_period, changed.new_period) == (WEEK, 3600)
    assert revert(not_admin)[0] == "AccessControlUnauthorizedAccount"
    assert revert(too_long) == ("UnbondingPeriodTooLong", (366 * 24 * 3600, 365 * 24 * 3600))


def test_a_cancelled_round_records_its_reason(env):
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:1])

    cancelled = env.ledger.cancel_round(env.aggregator, round_id, "1 usable submission, fewer than 3").event(RoundCancelled)
    with pytest.raises(LedgerRevert) as empty:
        env.ledger.cancel_round(env.aggregator, env.open_round(), "")

    assert (cancelled.round_id, cancelled.reason) == (round_id, "1 usable submission, fewer than 3")
    assert revert(empty) == ("InvalidReason", (0,))
