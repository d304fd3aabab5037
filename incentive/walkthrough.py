"""A scripted tour of the ledger: deploy, five members, one round, rewards, a claim and a slash.

It shows every part of the incentive ledger on one chain, checks the on-chain reward split
against :mod:`incentive.rewards` to the unit, and returns a JSON-ready record of what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from incentive.chain import Chain
from incentive.fixedpoint import to_fixed
from incentive.ledger import (
    LedgerClient,
    Member,
    ParticipantRecord,
    Round,
    RoundOpened,
    StakeTotals,
    TaskCreated,
    keccak,
)
from incentive.rewards import split_rewards

#: The five institutions, their contribution scores (natural units) and whether their blob arrived.
MEMBERS = (
    ("Hospital A", 0.041, False),
    ("Hospital B", 0.027, False),
    ("Bank C", 0.013, False),
    ("Firm D (free rider)", -0.006, False),
    ("Hospital E (dropped)", 0.0, True),
)
REWARD_PER_ROUND = 1_000 * 10**18
PERFORMANCE = 0.9474


@dataclass(frozen=True)
class WalkthroughResult:
    """What the walk-through did and read back."""

    chain_id: int
    backend: str
    ledger: str
    token: str
    round: Round
    members: tuple[Member, ...]
    claimed: dict[str, int]
    slashed: dict[str, Any]
    stake_totals: StakeTotals
    mirror_matches: bool
    gas: dict[str, int]


def run_walkthrough(chain: Chain, admin: LocalAccount | None = None) -> WalkthroughResult:
    """Deploy a ledger on ``chain`` and take it through one complete round.

    Parameters
    ----------
    chain : Chain
        A development chain (its funder pays for the fresh keys).
    admin : LocalAccount | None (default: a fresh funded key)
        Deployer and consortium admin.
    """
    admin = admin or chain.new_account()
    aggregator, evaluator = chain.new_account(), chain.new_account()
    ledger = LedgerClient.deploy(chain, admin, aggregator=aggregator.address, evaluator=evaluator.address)
    gas: dict[str, int] = {}
    stake = ledger.min_stake()

    accounts = [chain.new_account(balance_wei=stake + 10**18) for _ in MEMBERS]
    for i, ((name, _, _), account) in enumerate(zip(MEMBERS, accounts)):
        node_key_hash = keccak(text=f"node public key of {name}")
        if i == len(MEMBERS) - 1:  # the last one is admitted by the admin instead of staking
            ledger.request_membership(account, name, node_key_hash)
            ledger.approve(admin, account.address)
        else:
            gas["join"] = ledger.join(account, name, node_key_hash, stake_wei=stake).gas_used

    task_id = ledger.create_task(
        admin, keccak(text="model: MLP 30-32-2"), keccak(text="validation: breast_cancer hold-out"),
        REWARD_PER_ROUND, len(MEMBERS) - 1,
    ).event(TaskCreated).task_id
    round_id = ledger.open_round(aggregator, task_id, keccak(text="global model, round 0")).event(RoundOpened).round_id
    for name, account in zip((m[0] for m in MEMBERS), accounts):
        gas["commit"] = ledger.commit(account, round_id, keccak(text=f"encrypted update of {name}")).gas_used

    scores = [to_fixed(score) for _, score, _ in MEMBERS]
    dropped = [flag for _, _, flag in MEMBERS]
    receipt = ledger.finalize(evaluator, round_id, keccak(text="aggregated model, round 1"), to_fixed(PERFORMANCE), scores, dropped)
    gas["finalize"] = receipt.gas_used

    claimed: dict[str, int] = {}
    for account in accounts:
        if ledger.member(account.address).pending_reward:
            gas["claim"] = ledger.claim(account).gas_used
            claimed[account.address] = ledger.token_balance(account.address)

    free_rider = accounts[3]
    slash_amount = stake // 2
    evidence = keccak(text="scoring report: negative contribution in round 1")
    gas["slash"] = ledger.slash(evaluator, free_rider.address, slash_amount, evidence).gas_used

    record = ledger.round(round_id)
    expected = split_rewards(record.budget, scores, dropped)
    on_chain = tuple(p.reward for p in record.participants)
    return WalkthroughResult(
        chain_id=chain.chain_id,
        backend=chain.backend,
        ledger=ledger.address,
        token=ledger.token,
        round=record,
        members=tuple(ledger.member(a.address) for a in accounts),
        claimed=claimed,
        slashed={"account": free_rider.address, "amount": slash_amount, "evidence_hash": "0x" + evidence.hex()},
        stake_totals=ledger.stake_totals(),
        mirror_matches=expected.rewards == on_chain and expected.dust == record.dust,
        gas=gas,
    )


def participant_name(result: WalkthroughResult, record: ParticipantRecord) -> str:
    """The display name of a round participant."""
    for member in result.members:
        if member.address == record.account:
            return member.name
    return record.account
