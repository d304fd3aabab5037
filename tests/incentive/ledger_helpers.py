"""What the ledger tests share: the consortium they deploy and small helpers."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from incentive.chain import Chain
from incentive.ledger import LedgerClient, RoundOpened, TaskCreated, keccak

MEMBER_COUNT = 6
REWARD = 10**18
MIN_STAKE = 10**17


@dataclass
class LedgerEnv:
    """A ledger with an admin, an aggregator, an evaluator, joined members and one outsider."""

    chain: Chain
    ledger: LedgerClient
    admin: LocalAccount
    aggregator: LocalAccount
    evaluator: LocalAccount
    members: list[LocalAccount]
    outsider: LocalAccount
    task_id: int
    snapshot: int = 0

    def open_round(self, duration_s: int = 3600, task_id: int | None = None) -> int:
        """Open a round of the default task; return its id."""
        receipt = self.ledger.open_round(
            self.aggregator, task_id or self.task_id, keccak(text="global model"), duration_s=duration_s
        )
        return receipt.event(RoundOpened).round_id

    def commit_all(self, round_id: int, members: list[LocalAccount] | None = None) -> list[LocalAccount]:
        """Commit for ``members`` (default: all) in order; return them."""
        members = self.members if members is None else members
        for i, member in enumerate(members):
            self.ledger.commit(member, round_id, update_hash(round_id, i))
        return members


def update_hash(round_id: int, index: int) -> bytes:
    """A distinct commitment per round and participant."""
    return keccak(text=f"encrypted update {round_id}/{index}")




def deploy_env(chain: Chain, merkle_scores: bool = False) -> LedgerEnv:
    """Deploy a ledger, join MEMBER_COUNT members, create one task; snapshot that state."""
    admin, aggregator, evaluator, outsider = (chain.new_account(balance_wei=10**20) for _ in range(4))
    ledger = LedgerClient.deploy(
        chain,
        admin,
        min_stake_wei=MIN_STAKE,
        aggregator=aggregator.address,
        evaluator=evaluator.address,
        merkle_scores=merkle_scores,
    )
    members = []
    for i in range(MEMBER_COUNT):
        member = chain.new_account(balance_wei=10**20)
        ledger.join(member, f"Member {i}", keccak(text=f"node key {i}"), stake_wei=MIN_STAKE)
        members.append(member)
    task_id = ledger.create_task(admin, keccak(text="model"), keccak(text="validation"), REWARD, 3).event(TaskCreated).task_id
    env = LedgerEnv(chain, ledger, admin, aggregator, evaluator, members, outsider, task_id)
    env.snapshot = chain.snapshot()
    return env


def leave_now(env: LedgerEnv, member: LocalAccount):
    """Ask to leave, let the unbonding period pass, withdraw the stake; the withdrawal's receipt."""
    env.ledger.request_leave(member)
    env.chain.increase_time(env.ledger.unbonding_period())
    return env.ledger.withdraw_stake(member)


def revert_message(excinfo) -> tuple[str, tuple]:
    """``(error_name, args)`` of a raised LedgerRevert."""
    return excinfo.value.error_name, excinfo.value.args
