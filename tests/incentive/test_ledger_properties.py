"""Property tests on the chain: finalize with random score vectors agrees with the Python mirror to
the unit, and the rewards plus the dust are the budget (or, below the minimum cohort, is refused and
changes nothing); stakes in = stakes out + slashed + held.

Rounds of several sizes and budgets are opened and committed once per module; each example reverts
the chain to that state, finalizes one of them and checks every participant.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import MIN_STAKE, deploy_env, leave_now, update_hash

from incentive.errors import LedgerRevert
from incentive.ledger import MIN_COHORT, RoundFinalized, RoundStatus, TaskCreated, keccak
from incentive.rewards import MAX_ABS_SCORE, MAX_BUDGET, split_rewards

SIZES = (3, 4, 6)
BUDGETS = (1, 999_999_937, 10**18, MAX_BUDGET)
EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)


@pytest.fixture(scope="module")
def rounds_env(chain):
    env = deploy_env(chain)
    rounds = {}
    for budget in BUDGETS:
        task_id = env.ledger.create_task(env.admin, keccak(text="m"), keccak(text="v"), budget, MIN_COHORT).event(TaskCreated).task_id
        for size in SIZES:
            round_id = env.open_round(task_id=task_id)
            env.commit_all(round_id, env.members[:size])
            rounds[budget, size] = round_id
    free = chain.new_account(balance_wei=MIN_STAKE * 2)  # a member outside every round: free to leave
    env.ledger.join(free, "Free", keccak(text="free"), stake_wei=MIN_STAKE)
    env.members.append(free)
    env.snapshot = chain.snapshot()
    return env, rounds


score = st.one_of(st.integers(-(10**6), 10**6), st.integers(-MAX_ABS_SCORE, MAX_ABS_SCORE), st.just(0))


@st.composite
def finalizations(draw):
    size = draw(st.sampled_from(SIZES))
    budget = draw(st.sampled_from(BUDGETS))
    scores = draw(st.lists(score, min_size=size, max_size=size))
    dropped = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    return budget, size, scores, dropped


@EXAMPLES
@given(case=finalizations())
def test_finalize_matches_the_python_mirror_to_the_unit(rounds_env, case):
    env, rounds = rounds_env
    budget, size, scores, dropped = case
    env.chain.revert(env.snapshot)
    round_id = rounds[budget, size]
    included = size - sum(dropped)

    if included < MIN_COHORT:
        with pytest.raises(LedgerRevert) as excinfo:
            env.ledger.finalize(env.evaluator, round_id, keccak(text="agg"), 1, scores, dropped)
        assert (excinfo.value.error_name, excinfo.value.args) == ("CohortTooSmall", (round_id, included, MIN_COHORT))
        assert env.ledger.round(round_id).status == RoundStatus.OPEN
        assert all(env.ledger.member(m.address).pending_reward == 0 for m in env.members)
        return
    receipt = env.ledger.finalize(env.evaluator, round_id, keccak(text="agg"), 1, scores, dropped)

    expected = split_rewards(budget, scores, dropped)
    final = receipt.event(RoundFinalized)
    assert final.rewarded + final.dust == budget
    assert (final.rewarded, final.dust) == (expected.paid, expected.dust)
    record = env.ledger.round(round_id)
    assert tuple(p.reward for p in record.participants) == expected.rewards
    assert [p.score for p in record.participants] == scores
    assert record.positive_score_sum == expected.positive_sum
    for member, reward, s in zip(env.members, expected.rewards, scores):
        info = env.ledger.member(member.address)
        assert (info.pending_reward, info.cumulative_score) == (reward, s)


actions = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(["slash", "leave", "withdraw"]), st.integers(1, MIN_STAKE)), max_size=8
)


@EXAMPLES
@given(steps=actions)
def test_stakes_in_equal_stakes_out_plus_slashed_plus_held(rounds_env, steps):
    env, _ = rounds_env
    env.chain.revert(env.snapshot)
    stakes = {m.address: MIN_STAKE for m in env.members}
    accounts = [*env.members[:5], env.members[-1]]  # the first five sit in open rounds: they cannot leave
    free = env.members[-1]
    slashed_held = returned = 0
    for index, action, amount in steps:
        member = accounts[index]
        if action == "slash" and amount <= stakes[member.address]:
            env.ledger.slash(env.evaluator, member.address, amount, keccak(text="evidence"))
            stakes[member.address] -= amount
            slashed_held += amount
        elif action == "leave" and member is free and stakes[free.address]:
            leave_now(env, free)
            returned += stakes[free.address]
            stakes[free.address] = 0
        elif action == "withdraw" and amount <= slashed_held:
            env.ledger.withdraw_slashed(env.admin, env.admin.address, amount)
            slashed_held -= amount

    totals = env.ledger.stake_totals()
    held = sum(m.stake for m in env.ledger.members())
    assert totals.staked == totals.returned + totals.slashed + held
    assert (held, totals.returned, totals.slashed_held) == (sum(stakes.values()), returned, slashed_held)
    assert env.chain.balance(env.ledger.address) == held + totals.slashed_held


def test_commitments_stay_bound_to_their_round(rounds_env):
    env, rounds = rounds_env
    env.chain.revert(env.snapshot)
    round_id = rounds[BUDGETS[0], SIZES[-1]]

    commitments = [p.commitment for p in env.ledger.participants(round_id)]

    assert commitments == ["0x" + update_hash(round_id, i).hex() for i in range(SIZES[-1])]
