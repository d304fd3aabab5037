"""Gas of the ledger's hot paths, measured on the embedded chain (gas is identical on anvil).

Finalizing rounds of 10, 50 and 100 participants gives the marginal finalize cost per extra
participant, ``(finalize(100) - finalize(10)) / 90``; the commit and join costs are the medians
over the members of the 100-participant round. Recording decryptions is measured in the
smallest round: one alone, then a batch of :data:`DECRYPTION_BATCH`.

The same rounds are then finalized on a ledger deployed with Merkle scores (finalize emits each
score and stores one root; each participant is settled later with a proof), with every
participant settled and every member's claim measured, so both settlements are compared on the
whole cost of a round, not on finalize alone.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from incentive.chain import Chain, embedded_chain
from incentive.errors import IncentiveError
from incentive.ledger import LedgerClient, RoundOpened, TaskCreated, keccak
from incentive.rewards import PROPORTIONAL, RewardPolicy

DEFAULT_SIZES = (10, 50, 100)
#: Decryptions recorded in one transaction for the marginal per-decryption gas.
DECRYPTION_BATCH = 16


@dataclass(frozen=True)
class GasFigures:
    """What ``fedledger bench gas`` reports.

    Attributes
    ----------
    per_participant_gas : int
        Marginal finalize gas per extra participant (between the smallest and largest round).
    finalize_gas : dict[str, int]
        Round size (as a string) -> gas of its one finalize transaction.
    commit_gas : int
        Median gas of one commitment.
    join_gas : int
        Median gas of one join with a stake.
    reward_policy : str
        The reward policy the ledger split the rounds by (checked against its mirror).
    record_decryption_gas : int
        Gas of recording one decryption in its own transaction (as the evaluator does before each).
    per_decryption_gas : int
        Marginal gas of one more decryption in a batch of :data:`DECRYPTION_BATCH`.
    settlement : str
        The settlement a ledger is deployed with by default ("eager"; "merkle" on request).
    merkle_per_participant_gas : int
        Merkle scores: marginal finalize gas per extra participant.
    merkle_finalize_gas : dict[str, int]
        Merkle scores: round size -> gas of its finalize transaction.
    merkle_settle_gas : dict[str, int]
        Merkle scores: round size -> median gas of one participant's settlement (proof included).
    claim_gas : int
        Median gas of a member's claim (the same function in both settlements).
    merkle_claim_with_proof_gas : dict[str, int]
        Merkle scores: round size -> median settlement plus median claim, what a member pays to
        be paid for one round.
    round_gas_per_participant : dict[str, dict[str, int]]
        Settlement -> round size -> (finalize + every settlement) / participants: what a round
        costs the consortium per participant, claims aside.
    """

    per_participant_gas: int
    finalize_gas: dict[str, int]
    commit_gas: int
    join_gas: int
    reward_policy: str
    record_decryption_gas: int
    per_decryption_gas: int
    settlement: str
    merkle_per_participant_gas: int
    merkle_finalize_gas: dict[str, int]
    merkle_settle_gas: dict[str, int]
    claim_gas: int
    merkle_claim_with_proof_gas: dict[str, int]
    round_gas_per_participant: dict[str, dict[str, int]]

    def as_json(self) -> dict[str, object]:
        """The figures with exactly the keys of the JSON report."""
        return {
            "per_participant_gas": self.per_participant_gas,
            "finalize_gas": dict(self.finalize_gas),
            "commit_gas": self.commit_gas,
            "join_gas": self.join_gas,
            "reward_policy": self.reward_policy,
            "record_decryption_gas": self.record_decryption_gas,
            "per_decryption_gas": self.per_decryption_gas,
            "settlement": self.settlement,
            "merkle_per_participant_gas": self.merkle_per_participant_gas,
            "merkle_finalize_gas": dict(self.merkle_finalize_gas),
            "merkle_settle_gas": dict(self.merkle_settle_gas),
            "claim_gas": self.claim_gas,
            "merkle_claim_with_proof_gas": dict(self.merkle_claim_with_proof_gas),
            "round_gas_per_participant": {k: dict(v) for k, v in self.round_gas_per_participant.items()},
        }


def bench_scores(n: int) -> list[int]:
    """Deterministic fixed-point scores for ``n`` participants: mostly positive, some negative and zero."""
    scores = []
    for i in range(n):
        if i % 10 == 3:
            scores.append(-(12_345 + 17 * i))
        elif i % 10 == 7:
            scores.append(0)
        else:
            scores.append(50_000 + 7_919 * i)
    return scores


def run_gas_bench(
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    chain: Chain | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    policy: RewardPolicy = PROPORTIONAL,
) -> GasFigures:
    """Deploy a ledger, join ``max(sizes)`` members, and finalize one round per size.

    Parameters
    ----------
    sizes : tuple[int, ...] (default: (10, 50, 100))
        Participants per round; at least two distinct sizes.
    chain : Chain | None (default: a fresh embedded chain)
        Where to measure.
    progress : Callable[[str, int, int], None] | None (default: silent)
        Called as ``progress(phase, done, total)``.
    policy : RewardPolicy (default: :data:`~incentive.rewards.PROPORTIONAL`)
        The reward policy the ledger must be composed with; every measured round's rewards are
        checked against its mirror.

    Raises
    ------
    IncentiveError
        The ledger pays by another policy, or a round's rewards differ from the mirror's split.
    """
    sizes = tuple(sorted(set(sizes)))
    if len(sizes) < 2:
        raise ValueError("the gas bench needs at least two round sizes")
    small_round = sizes[0]
    report = progress or (lambda phase, done, total: None)
    chain = chain or embedded_chain()
    admin, aggregator, evaluator = (chain.new_account() for _ in range(3))
    ledger = LedgerClient.deploy(chain, admin, aggregator=aggregator.address, evaluator=evaluator.address)
    if ledger.reward_policy.contract_name != policy.contract_name:
        raise IncentiveError(f"the ledger pays by {ledger.reward_policy.contract_name}, not {policy.contract_name}")
    stake = ledger.min_stake()
    members = []
    join_gas = []
    for i in range(sizes[-1]):
        member = chain.new_account(balance_wei=stake + 10**18)
        receipt = ledger.join(member, f"Institution {i:03d}", keccak(text=f"node-key-{i}"), stake_wei=stake)
        members.append(member)
        join_gas.append(receipt.gas_used)
        report("join", i + 1, sizes[-1])
    task_id = ledger.create_task(admin, keccak(text="model"), keccak(text="validation"), 10**18, 3).event(TaskCreated).task_id

    finalize_gas: dict[str, int] = {}
    commit_gas: list[int] = []
    decryption_gas: tuple[int, int] = (0, 0)
    for size in sizes:
        round_id = ledger.open_round(aggregator, task_id, keccak(text=f"global-{size}")).event(RoundOpened).round_id
        commit_gas = []
        for i, member in enumerate(members[:size]):
            commit_gas.append(ledger.commit(member, round_id, keccak(text=f"update-{size}-{i}")).gas_used)
        if size == small_round:
            decryption_gas = _decryption_gas(ledger, evaluator, round_id, size)
        receipt = ledger.finalize(evaluator, round_id, keccak(text=f"aggregate-{size}"), 900_000, bench_scores(size))
        finalize_gas[str(size)] = receipt.gas_used
        recorded = tuple(p.reward for p in ledger.participants(round_id))
        if recorded != ledger.expected_split(round_id, policy).rewards:
            raise IncentiveError(f"round {round_id}: rewards {recorded} differ from {policy.contract_name}'s split")
        report("finalize", len(finalize_gas), len(sizes))
    claim_gas = [ledger.claim(member).gas_used for member in _paid(ledger, members)]
    merkle = _merkle_gas(chain, sizes, policy, report)
    return GasFigures(
        per_participant_gas=_marginal(finalize_gas),
        finalize_gas=finalize_gas,
        commit_gas=int(statistics.median(commit_gas)),
        join_gas=int(statistics.median(join_gas)),
        reward_policy=policy.contract_name,
        record_decryption_gas=decryption_gas[0],
        per_decryption_gas=decryption_gas[1],
        settlement="eager",
        merkle_per_participant_gas=_marginal(merkle.finalize_gas),
        merkle_finalize_gas=merkle.finalize_gas,
        merkle_settle_gas={k: int(statistics.median(v)) for k, v in merkle.settle_gas.items()},
        claim_gas=int(statistics.median(claim_gas)),
        merkle_claim_with_proof_gas={
            k: int(statistics.median(v) + statistics.median(merkle.claim_gas)) for k, v in merkle.settle_gas.items()
        },
        round_gas_per_participant={
            "eager": {k: round(g / int(k)) for k, g in finalize_gas.items()},
            "merkle": {k: round((g + sum(merkle.settle_gas[k])) / int(k)) for k, g in merkle.finalize_gas.items()},
        },
    )


@dataclass(frozen=True)
class _MerkleGas:
    finalize_gas: dict[str, int]
    settle_gas: dict[str, list[int]]
    claim_gas: list[int]


def _marginal(finalize_gas: dict[str, int]) -> int:
    """Finalize gas per extra participant between the smallest and the largest round."""
    sizes = sorted(int(k) for k in finalize_gas)
    small, large = sizes[0], sizes[-1]
    return round((finalize_gas[str(large)] - finalize_gas[str(small)]) / (large - small))


def _paid(ledger: LedgerClient, members: list) -> list:
    """The members with a pending reward (the others have nothing to claim)."""
    return [m for m in members if ledger.member(m.address).pending_reward > 0]


def _merkle_gas(
    chain: Chain, sizes: tuple[int, ...], policy: RewardPolicy, report: Callable[[str, int, int], None]
) -> _MerkleGas:
    """The same rounds on a ledger with Merkle scores: finalize, settle everyone, claim."""
    admin, aggregator, evaluator, settler = (chain.new_account() for _ in range(4))
    ledger = LedgerClient.deploy(
        chain, admin, aggregator=aggregator.address, evaluator=evaluator.address, merkle_scores=True
    )
    stake = ledger.min_stake()
    members = []
    for i in range(sizes[-1]):
        member = chain.new_account(balance_wei=stake + 10**18)
        ledger.join(member, f"Institution {i:03d}", keccak(text=f"node-key-{i}"), stake_wei=stake)
        members.append(member)
        report("join (Merkle scores)", i + 1, sizes[-1])
    task_id = ledger.create_task(admin, keccak(text="model"), keccak(text="validation"), 10**18, 3).event(TaskCreated).task_id
    finalize_gas: dict[str, int] = {}
    settle_gas: dict[str, list[int]] = {}
    for size in sizes:
        round_id = ledger.open_round(aggregator, task_id, keccak(text=f"global-{size}")).event(RoundOpened).round_id
        for i, member in enumerate(members[:size]):
            ledger.commit(member, round_id, keccak(text=f"update-{size}-{i}"))
        receipt = ledger.finalize(evaluator, round_id, keccak(text=f"aggregate-{size}"), 900_000, bench_scores(size))
        finalize_gas[str(size)] = receipt.gas_used
        settle_gas[str(size)] = [r.gas_used for r in ledger.settle_round(settler, round_id)]
        recorded = tuple(p.reward for p in ledger.participants(round_id))
        if recorded != ledger.expected_split(round_id, policy).rewards:
            raise IncentiveError(f"round {round_id}: settled rewards {recorded} differ from {policy.contract_name}'s split")
        report("finalize and settle (Merkle scores)", len(finalize_gas), len(sizes))
    claim_gas = [ledger.claim(member).gas_used for member in _paid(ledger, members)]
    return _MerkleGas(finalize_gas, settle_gas, claim_gas)


def _decryption_gas(ledger: LedgerClient, evaluator, round_id: int, size: int) -> tuple[int, int]:
    """Gas of one decryption recorded alone, and the marginal gas per decryption in a batch (distinct coalitions)."""
    full = (1 << min(size, 256)) - 1
    one = ledger.record_decryptions(evaluator, round_id, [keccak(text="sum-0")], [full]).gas_used
    hashes = [keccak(text=f"sum-{i}") for i in range(1, DECRYPTION_BATCH + 1)]
    coalitions = [full & ~(1 << (i % size)) for i in range(DECRYPTION_BATCH)]
    batch = ledger.record_decryptions(evaluator, round_id, hashes, coalitions).gas_used
    return one, round((batch - one) / (DECRYPTION_BATCH - 1))
