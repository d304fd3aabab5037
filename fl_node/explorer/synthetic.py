"""A large ledger built fast on the embedded chain: direct ledger transactions, one block per round.

The explorer's benchmark needs a ledger of hundreds of rounds with dozens of participants each;
running real federated rounds for it would take hours. Here every member, commitment and
finalization is a real signed ledger transaction, but each round's transactions (open, every
commit, finalize) are mined together in one block instead of one block each.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from incentive.chain import PRIORITY_FEE_WEI, Chain, embedded_chain
from incentive.errors import LedgerTransactionError
from incentive.ledger import (
    FINALIZE_GAS_BASE,
    FINALIZE_GAS_PER_PARTICIPANT,
    GAS,
    LedgerClient,
    node_key_hash,
)
from incentive.rewards import dropped_bitmap

TOKEN = 10**18


@dataclass(frozen=True)
class SyntheticLedger:
    """A ledger built by :func:`build_synthetic_ledger` and the chain it lives on."""

    chain: Chain
    ledger: LedgerClient
    task_id: int
    rounds: int
    participants: int


class _Batch:
    """Signed transactions queued for one block, mined together by py-evm; every receipt checked.

    eth-tester applies each sent transaction to its pending block and rebuilds the block's
    tries every time, which is quadratic in the block's size; py-evm's ``mine_all`` applies a
    whole block's transactions once.
    """

    def __init__(self, chain: Chain):
        self.chain = chain
        self.nonces: dict[str, int] = {}
        self.transactions: list[Any] = []
        self.base_fee: int | None = None

    def send(self, account: LocalAccount, to: str, data: str, gas: int, value: int = 0) -> None:
        w3 = self.chain.w3
        nonce = self.nonces.get(account.address)
        if nonce is None:
            nonce = w3.eth.get_transaction_count(account.address, "pending")
        self.nonces[account.address] = nonce + 1
        if self.base_fee is None:
            self.base_fee = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        tx = {
            "to": to,
            "data": data,
            "value": value,
            "gas": gas,
            "nonce": nonce,
            "chainId": self.chain.chain_id,
            "maxPriorityFeePerGas": PRIORITY_FEE_WEI,
            "maxFeePerGas": 4 * self.base_fee + PRIORITY_FEE_WEI,
        }
        raw = bytes(account.sign_transaction(tx).raw_transaction)
        self.transactions.append(self._evm_chain.get_vm().get_transaction_builder().decode(raw))

    @property
    def _evm_chain(self) -> Any:
        return self.chain.tester.backend.chain

    def mine(self) -> None:
        """Mine the queued transactions into one block; raise if any of them reverted."""
        evm = self._evm_chain
        _, receipts, _ = evm.mine_all(self.transactions, mix_hash=os.urandom(32))
        failed = sum(1 for r in receipts if r.state_root != b"\x01")
        if failed:
            raise LedgerTransactionError(f"{failed} of {len(receipts)} synthetic ledger transactions reverted")
        self.transactions = []
        self.base_fee = None


def synthetic_scores(round_id: int, n: int) -> list[int]:
    """Deterministic fixed-point scores: most positive, a few zero (free riders) and negative."""
    scores = []
    for i in range(n):
        kind = (i + round_id) % 10
        scores.append(0 if kind == 3 else -(5_000 + 13 * i) if kind == 7 else 20_000 + 1_777 * ((i * 7 + round_id) % 23))
    return scores


def build_synthetic_ledger(
    rounds: int,
    participants: int,
    chain: Chain | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyntheticLedger:
    """Deploy a ledger and record ``rounds`` finalized rounds of ``participants`` members each.

    Every tenth participant of every fifth round drops out; one member is slashed with evidence.

    Parameters
    ----------
    rounds : int
    participants : int
    chain : Chain | None (default: a fresh embedded chain)
        Must be an embedded chain (blocks are mined on demand).
    progress : Callable[[int, int], None] | None (default: silent)
        Called as ``progress(rounds_done, rounds)``.
    """
    chain = chain or embedded_chain()
    if chain.tester is None:
        raise ValueError("the synthetic ledger is built on the embedded chain")
    admin, aggregator, evaluator = (chain.new_account(10**20) for _ in range(3))
    ledger = LedgerClient.deploy(chain, admin, aggregator=aggregator.address, evaluator=evaluator.address)
    stake = ledger.min_stake()
    members = [chain.new_account(stake + 10**18) for _ in range(participants)]
    contract = ledger.contract
    address = ledger.address
    batch = _Batch(chain)
    for i, member in enumerate(members):
        data = contract.encode_abi("join", args=[f"Institution {i + 1:03d}", node_key_hash(member)])
        batch.send(member, address, data, GAS["join"], value=stake)
    data = contract.encode_abi("createTask", args=[keccak(text="model"), keccak(text="validation"), 100 * TOKEN, 2])
    batch.send(admin, address, data, GAS["createTask"])
    batch.mine()
    task_id = 1
    previous = keccak(text="initial model")
    for round_id in range(1, rounds + 1):
        deadline = chain.timestamp() + 3600
        batch.send(aggregator, address, contract.encode_abi("openRound", args=[task_id, previous, deadline]), GAS["openRound"])
        for i, member in enumerate(members):
            update = keccak(text=f"update {round_id} {i}")
            batch.send(member, address, contract.encode_abi("commit", args=[round_id, update]), GAS["commit"])
        aggregated = keccak(text=f"aggregate {round_id}")
        performance = 600_000 + (390_000 * round_id) // (rounds + 4)
        dropped = [round_id % 5 == 0 and i % 10 == 9 for i in range(participants)]
        scores = [0 if d else s for d, s in zip(dropped, synthetic_scores(round_id, participants))]
        args = [round_id, aggregated, performance, [m.address for m in members], scores, dropped_bitmap(dropped)]
        gas = FINALIZE_GAS_BASE + FINALIZE_GAS_PER_PARTICIPANT * participants
        batch.send(evaluator, address, contract.encode_abi("finalizeRound", args=args), gas)
        batch.mine()
        previous = aggregated
        if progress is not None:
            progress(round_id, rounds)
    evidence = keccak(text="evidence: stale update in every round")
    batch.send(admin, address, contract.encode_abi("slash", args=[members[3 % participants].address, stake // 4, evidence]), GAS["slash"])
    for member in members[: participants // 2]:
        batch.send(member, address, contract.encode_abi("claim", args=[]), GAS["claim"])
    batch.mine()
    return SyntheticLedger(chain, ledger, task_id, rounds, participants)
