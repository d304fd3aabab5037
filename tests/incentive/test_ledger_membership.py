"""Membership on the ledger: joining, approval, leaving, slashing, re-entrancy, stake accounting.

Runs on the embedded chain and on anvil (the ``chain`` fixture).
"""

from __future__ import annotations

import pytest
from ledger_helpers import MIN_STAKE, leave_now, revert_message as revert, update_hash
from web3 import Web3

from incentive.errors import LedgerRevert
from incentive.ledger import (
    DEFAULT_ADMIN_ROLE,
    MemberApproved,
    MemberJoined,
    MemberLeft,
    MembershipRequested,
    MemberSlashed,
    MemberStatus,
    SlashedFundsWithdrawn,
    deploy_contract,
    keccak,
)

EVIDENCE = keccak(text="evidence")


def test_join_records_the_member_and_emits_an_event(env):
    newcomer = env.chain.new_account()

    receipt = env.ledger.join(newcomer, "Clinic Z", keccak(text="z"), stake_wei=MIN_STAKE + 5)

    joined = receipt.event(MemberJoined)
    assert (joined.account, joined.stake, joined.name) == (newcomer.address, MIN_STAKE + 5, "Clinic Z")
    assert joined.node_key_hash == "0x" + keccak(text="z").hex()
    member = env.ledger.member(newcomer.address)
    assert member.status is MemberStatus.ACTIVE and member.stake == MIN_STAKE + 5 and member.name == "Clinic Z"
    assert newcomer.address in env.ledger.member_addresses()


def test_join_below_the_minimum_stake_is_rejected(env):
    newcomer = env.chain.new_account()

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.join(newcomer, "Cheap", keccak(text="c"), stake_wei=MIN_STAKE - 1)

    assert revert(excinfo) == ("InsufficientStake", (newcomer.address, MIN_STAKE - 1, MIN_STAKE))
    assert str(excinfo.value) == f"InsufficientStake(account={newcomer.address}, sent={MIN_STAKE - 1}, required={MIN_STAKE})"
    assert env.ledger.member(newcomer.address).status is MemberStatus.NONE


def test_joining_twice_is_rejected(env):
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.join(env.members[0], "Again", keccak(text="a"), stake_wei=MIN_STAKE)

    assert revert(excinfo) == ("AlreadyMember", (env.members[0].address,))


@pytest.mark.parametrize(
    ("name", "key", "error"),
    [("", keccak(text="k"), ("InvalidName", (0,))), ("x" * 65, keccak(text="k"), ("InvalidName", (65,))), ("ok", b"\0" * 32, None)],
)
def test_join_rejects_bad_metadata(env, name, key, error):
    newcomer = env.chain.new_account()

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.join(newcomer, name, key, stake_wei=MIN_STAKE)

    assert revert(excinfo) == (error or ("EmptyNodeKeyHash", (newcomer.address,)))


def test_admin_approves_a_member_without_stake(env):
    applicant = env.chain.new_account()

    requested = env.ledger.request_membership(applicant, "Lab Q", keccak(text="q")).event(MembershipRequested)
    assert env.ledger.member(applicant.address).status is MemberStatus.PENDING
    with pytest.raises(LedgerRevert) as excinfo:  # a pending member cannot commit yet
        env.ledger.commit(applicant, env.open_round(), update_hash(0, 0))
    assert revert(excinfo) == ("NotMember", (applicant.address,))
    approved = env.ledger.approve(env.admin, applicant.address).event(MemberApproved)

    assert requested.account == approved.account == applicant.address and approved.approver == env.admin.address
    member = env.ledger.member(applicant.address)
    assert member.status is MemberStatus.ACTIVE and member.stake == 0


def test_only_the_admin_approves_and_only_pending_members(env):
    applicant = env.chain.new_account()
    env.ledger.request_membership(applicant, "Lab Q", keccak(text="q"))

    with pytest.raises(LedgerRevert) as not_admin:
        env.ledger.approve(env.evaluator, applicant.address)
    with pytest.raises(LedgerRevert) as not_pending:
        env.ledger.approve(env.admin, env.members[0].address)

    assert revert(not_admin) == ("AccessControlUnauthorizedAccount", (env.evaluator.address, "0x" + DEFAULT_ADMIN_ROLE.hex()))
    assert revert(not_pending) == ("NotPending", (env.members[0].address,))


def test_leave_returns_the_stake_after_unbonding(env):
    member = env.members[0]
    request = env.ledger.request_leave(member)
    env.chain.increase_time(env.ledger.unbonding_period())
    before = env.chain.balance(member.address)

    receipt = env.ledger.withdraw_stake(member)

    left = receipt.event(MemberLeft)
    assert (left.account, left.stake_returned) == (member.address, MIN_STAKE)
    tx = env.chain.w3.eth.get_transaction_receipt(receipt.tx_hash)
    assert env.chain.balance(member.address) == before + MIN_STAKE - tx["gasUsed"] * tx["effectiveGasPrice"]
    assert request.events_of(MemberLeft) == []
    assert env.ledger.member(member.address).status is MemberStatus.LEFT
    assert env.ledger.member(member.address).stake == 0
    assert env.ledger.stake_totals().returned == MIN_STAKE


def test_leaving_while_committed_in_an_open_round_is_rejected(env):
    member = env.members[0]
    round_id = env.open_round()
    env.ledger.commit(member, round_id, update_hash(round_id, 0))

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.leave(member)

    assert revert(excinfo) == ("CommittedInOpenRound", (member.address, 1))
    env.ledger.cancel_round(env.aggregator, round_id)
    assert leave_now(env, member).event(MemberLeft).stake_returned == MIN_STAKE


def test_a_member_who_left_cannot_commit_or_leave_again_but_may_rejoin(env):
    member = env.members[1]
    leave_now(env, member)
    round_id = env.open_round()

    with pytest.raises(LedgerRevert) as commit_error:
        env.ledger.commit(member, round_id, update_hash(round_id, 0))
    with pytest.raises(LedgerRevert) as leave_error:
        env.ledger.leave(member)
    env.ledger.join(member, "Back", keccak(text="b"), stake_wei=MIN_STAKE)

    assert revert(commit_error) == revert(leave_error) == ("NotMember", (member.address,))
    assert env.ledger.member(member.address).status is MemberStatus.ACTIVE
    assert env.ledger.member_addresses().count(member.address) == 1


def test_evaluator_and_admin_slash_with_evidence(env):
    target = env.members[2]

    by_evaluator = env.ledger.slash(env.evaluator, target.address, 3, EVIDENCE).event(MemberSlashed)
    by_admin = env.ledger.slash(env.admin, target.address, MIN_STAKE - 3, EVIDENCE).event(MemberSlashed)

    assert (by_evaluator.slasher, by_evaluator.amount, by_evaluator.remaining_stake) == (env.evaluator.address, 3, MIN_STAKE - 3)
    assert by_evaluator.evidence_hash == "0x" + EVIDENCE.hex()
    assert (by_admin.slasher, by_admin.remaining_stake) == (env.admin.address, 0)
    assert env.ledger.member(target.address).stake == 0
    assert env.ledger.stake_totals().slashed == MIN_STAKE


@pytest.mark.parametrize(
    ("who", "amount", "evidence", "expected"),
    [
        ("evaluator", MIN_STAKE + 1, EVIDENCE, ("SlashExceedsStake", ("target", MIN_STAKE + 1, MIN_STAKE))),
        ("evaluator", 0, EVIDENCE, ("ZeroAmount", ())),
        ("evaluator", 1, b"\0" * 32, ("MissingEvidence", ("target",))),
        ("aggregator", 1, EVIDENCE, ("NotSlasher", ("aggregator",))),
        ("outsider", 1, EVIDENCE, ("NotSlasher", ("outsider",))),
    ],
)
def test_bad_slashes_are_rejected(env, who, amount, evidence, expected):
    target = env.members[2]
    names = {"target": target.address, "aggregator": env.aggregator.address, "outsider": env.outsider.address}

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.slash(getattr(env, who), target.address, amount, evidence)

    name, args = expected
    assert revert(excinfo) == (name, tuple(names.get(a, a) if isinstance(a, str) else a for a in args))
    assert env.ledger.member(target.address).stake == MIN_STAKE


def test_slashing_a_non_member_is_rejected(env):
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.slash(env.evaluator, env.outsider.address, 1, EVIDENCE)

    assert revert(excinfo) == ("NotMember", (env.outsider.address,))


def test_admin_withdraws_slashed_funds_and_never_more(env):
    env.ledger.slash(env.evaluator, env.members[0].address, 1000, EVIDENCE)
    treasury = env.chain.new_account(balance_wei=0)

    with pytest.raises(LedgerRevert) as too_much:
        env.ledger.withdraw_slashed(env.admin, treasury.address, 1001)
    withdrawn = env.ledger.withdraw_slashed(env.admin, treasury.address, 1000).event(SlashedFundsWithdrawn)

    assert revert(too_much) == ("WithdrawExceedsSlashed", (1001, 1000))
    assert (withdrawn.to, withdrawn.amount) == (treasury.address, 1000)
    assert env.chain.balance(treasury.address) == 1000
    assert env.ledger.stake_totals().slashed_held == 0


def test_stake_accounting_balances(env):
    env.ledger.slash(env.evaluator, env.members[0].address, 7, EVIDENCE)
    leave_now(env, env.members[1])
    env.ledger.slash(env.admin, env.members[2].address, MIN_STAKE // 3, EVIDENCE)
    env.ledger.withdraw_slashed(env.admin, env.admin.address, 5)

    totals = env.ledger.stake_totals()
    held = sum(m.stake for m in env.ledger.members())

    assert totals.staked == totals.returned + totals.slashed + held
    assert env.chain.balance(env.ledger.address) == held + totals.slashed_held
    assert totals.slashed == 7 + MIN_STAKE // 3 and totals.slashed_held == totals.slashed - 5


def _attacker(env):
    artifact = env.ledger.artifacts["ReentrantMember"]
    address = deploy_contract(env.chain, env.outsider, artifact, [env.ledger.address])
    attacker = env.chain.w3.eth.contract(address=address, abi=artifact.abi)
    env.ledger.transact(env.outsider, attacker, "join", ["Attacker", keccak(text="evil")], value=MIN_STAKE, gas=400_000)
    env.ledger.transact(env.outsider, attacker, "requestLeave", [], gas=200_000)
    env.chain.increase_time(env.ledger.unbonding_period())
    return attacker


def test_reentrant_withdrawal_is_rejected_and_pays_once(env):
    attacker = _attacker(env)
    ledger_balance = env.chain.balance(env.ledger.address)

    env.ledger.transact(env.outsider, attacker, "attack", [False], gas=400_000)

    selector = Web3.keccak(text="ReentrancyGuardReentrantCall()")[:4]
    assert attacker.functions.reentryAttempts().call() == 1
    assert attacker.functions.reentryError().call() == selector
    assert env.chain.balance(attacker.address) == MIN_STAKE
    assert env.chain.balance(env.ledger.address) == ledger_balance - MIN_STAKE
    assert env.ledger.member(attacker.address).status is MemberStatus.LEFT


def test_a_failed_stake_transfer_reverts_the_withdrawal(env):
    attacker = _attacker(env)

    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.transact(env.outsider, attacker, "attack", [True], gas=400_000)

    assert revert(excinfo) == ("StakeTransferFailed", (attacker.address, MIN_STAKE))
    member = env.ledger.member(attacker.address)
    assert member.status is MemberStatus.LEAVING and member.stake == MIN_STAKE
