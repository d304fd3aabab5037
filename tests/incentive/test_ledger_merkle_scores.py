"""A ledger deployed with Merkle scores: finalize emits each score and stores the root of the
tree the ledger builds over them; each participant's score and reward are settled later with a
proof. Runs on the embedded chain and on anvil (the ``chain`` fixture).
"""

from __future__ import annotations

import pytest
from ledger_helpers import MEMBER_COUNT, REWARD, LedgerEnv, deploy_env
from ledger_helpers import revert_message as revert

from incentive.chain import Chain
from incentive.errors import LedgerRevert
from incentive.ledger import (
    ExclusionReason,
    ParticipantDropped,
    ParticipantScored,
    RoundFinalized,
    ScoreCommitted,
    ScoresCommitted,
    keccak,
)
from incentive.ledger.score_tree import ScoreTree
from incentive.rewards import PROPORTIONAL

SCORES = [400_000, -50_000, 250_000, 0, 350_000, 125_000]


@pytest.fixture(scope="module")
def merkle_env(chain: Chain) -> LedgerEnv:
    return deploy_env(chain, merkle_scores=True)


@pytest.fixture
def env(merkle_env: LedgerEnv) -> LedgerEnv:
    yield merkle_env
    merkle_env.chain.revert(merkle_env.snapshot)


def _finalized(env: LedgerEnv, n: int, dropped: list[bool] | None = None) -> tuple[int, object]:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:n])
    receipt = env.ledger.finalize(env.evaluator, round_id, keccak(text="aggregate"), 900_000, SCORES[:n], dropped)
    return round_id, receipt


@pytest.mark.parametrize("n", [5, MEMBER_COUNT])
def test_finalize_emits_scores_and_the_root_of_their_tree_and_writes_no_member(env, n) -> None:
    round_id, receipt = _finalized(env, n)

    emitted = receipt.events_of(ScoreCommitted)
    assert [(e.round_id, e.index, e.score) for e in emitted] == [(round_id, i, s) for i, s in enumerate(SCORES[:n])]
    tree = ScoreTree(round_id, SCORES[:n], [False] * n)
    assert receipt.event(ScoresCommitted).scores_root == "0x" + tree.root.hex() == env.ledger.scores_root(round_id)
    split = PROPORTIONAL.split(REWARD, SCORES[:n], [False] * n)
    finalized = receipt.event(RoundFinalized)
    assert (finalized.rewarded, finalized.dust) == (sum(split.rewards), REWARD - sum(split.rewards))
    assert not receipt.events_of(ParticipantScored)
    for member in env.members[:n]:
        record = env.ledger.member(member.address)
        assert (record.cumulative_score, record.pending_reward, record.open_commitments) == (0, 0, 1)
    records = env.ledger.participants(round_id)
    assert [(r.score, r.reward, r.settled) for r in records] == [
        (s, reward, False) for s, reward in zip(SCORES[:n], split.rewards, strict=True)
    ]


def test_each_settlement_credits_the_policy_reward_once_and_claims_mint_it(env) -> None:
    round_id, _ = _finalized(env, MEMBER_COUNT)
    split = PROPORTIONAL.split(REWARD, SCORES, [False] * MEMBER_COUNT)

    receipts = env.ledger.settle_round(env.outsider, round_id)

    assert [r.event(ParticipantScored).reward for r in receipts] == list(split.rewards)
    for member, score, reward in zip(env.members, SCORES, split.rewards, strict=True):
        record = env.ledger.member(member.address)
        assert (record.cumulative_score, record.pending_reward, record.open_commitments) == (score, reward, 0)
    assert all(r.settled for r in env.ledger.participants(round_id))
    assert env.ledger.expected_split(round_id).rewards == split.rewards
    assert env.ledger.claim(env.members[0]).gas_used > 0
    assert env.ledger.token_balance(env.members[0].address) == split.rewards[0]
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.settle(env.members[0], round_id, env.members[0].address)
    assert revert(excinfo) == ("AlreadySettled", (round_id, env.members[0].address))


def test_an_excluded_participant_settles_as_a_dropout_with_no_reward(env) -> None:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:4])
    env.ledger.exclude(env.evaluator, round_id, env.members[2].address, ExclusionReason.GATED)
    dropped = [False, False, True, False]
    env.ledger.finalize(env.evaluator, round_id, keccak(text="aggregate"), 900_000, SCORES[:4], dropped)

    receipt = env.ledger.settle(env.outsider, round_id, env.members[2].address)

    assert receipt.event(ParticipantDropped).score == SCORES[2]
    record = env.ledger.score_of(round_id, env.members[2].address)
    assert (record.dropped, record.reward, record.exclusion, record.settled) == (True, 0, ExclusionReason.GATED, True)
    assert env.ledger.member(env.members[2].address).pending_reward == 0


def test_a_settlement_with_a_false_score_or_proof_is_rejected_and_changes_nothing(env) -> None:
    round_id, _ = _finalized(env, 4)
    member = env.members[1].address
    tree = env.ledger.score_tree(round_id)
    contract = env.ledger.contract
    forged = [
        (round_id, member, 900_000, False, tree.proof(1)),  # a higher score
        (round_id, member, SCORES[1], True, tree.proof(1)),  # the dropout flag flipped
        (round_id, member, SCORES[1], False, tree.proof(2)),  # another leaf's proof
        (round_id, member, SCORES[0], False, tree.proof(0)),  # another participant's leaf
    ]
    for args in forged:
        with pytest.raises(LedgerRevert) as excinfo:
            env.ledger.transact(env.members[1], contract, "settle", list(args))
        assert revert(excinfo) == ("InvalidScoreProof", (round_id, member))
    assert env.ledger.member(member).open_commitments == 1
    assert not env.ledger.score_of(round_id, member).settled


def test_settle_rejects_open_rounds_strangers_and_a_participant_list_at_finalize(env) -> None:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    proof_args = [round_id, env.members[0].address, SCORES[0], False, []]
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.transact(env.outsider, env.ledger.contract, "settle", proof_args)
    assert revert(excinfo) == ("RoundNotFinalized", (round_id,))
    listed = [m.address for m in env.members[:3]]
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.transact(
            env.evaluator, env.ledger.contract, "finalizeRound", [round_id, keccak(text="a"), 1, listed, SCORES[:3], []]
        )
    assert revert(excinfo) == ("ParticipantCountMismatch", (round_id, 0, 3))
    env.ledger.finalize(env.evaluator, round_id, keccak(text="a"), 1, SCORES[:3])
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.transact(env.outsider, env.ledger.contract, "settle", [round_id, env.outsider.address, 1, False, []])
    assert revert(excinfo) == ("NotParticipant", (round_id, env.outsider.address))


def test_a_member_leaves_once_its_rounds_are_settled(env) -> None:
    round_id, _ = _finalized(env, 3)
    member = env.members[0]
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.request_leave(member)
    assert revert(excinfo) == ("CommittedInOpenRound", (member.address, 1))
    env.ledger.settle(member, round_id, member.address)
    env.ledger.request_leave(member)


def test_an_eager_ledger_has_no_settlement(chain: Chain) -> None:
    eager = deploy_env(chain)
    try:
        round_id = eager.open_round()
        eager.commit_all(round_id, eager.members[:3])
        eager.ledger.finalize(eager.evaluator, round_id, keccak(text="a"), 1, SCORES[:3])
        assert not eager.ledger.merkle_scores
        assert all(r.settled for r in eager.ledger.participants(round_id))
        with pytest.raises(LedgerRevert) as excinfo:
            eager.ledger.transact(eager.outsider, eager.ledger.contract, "settle", [round_id, eager.members[0].address, SCORES[0], False, []])
        assert revert(excinfo) == ("MerkleScoresOff", ())
    finally:
        chain.revert(eager.snapshot)
