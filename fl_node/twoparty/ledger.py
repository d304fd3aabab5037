"""Recording a multi-party training run (vertical FL, transfer learning) on the FederationLedger.

A run of a few parties that train one joint model (guest and host in vertical FL, source and
target in transfer learning) is one task with one round on the same ledger as horizontal FL:

* every party joins the consortium with its own key and stake;
* the task is a party task (each party keeps its model share and no aggregate of updates is
  published, so every party is included rather than a minimum cohort of three);
* the task's model-spec hash is the keccak256 of the run's canonical JSON description and its
  validation-spec hash that of the evaluation split's description;
* the aggregator opens the round on the spec's hash; each party commits the keccak256 of its
  own final model share (which stays with the party: the commitment binds it without showing it);
* the evaluator finalizes with the joint model's performance and each party's contribution
  (both in the ledger's 1e6 fixed point); the ledger splits the reward and each party claims it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak

from fl_node.errors import FlNodeError
from fl_node.task import LedgerRoles, RewardConfig, bootstrap_ledger
from incentive.chain import Chain
from incentive.errors import ChainError
from incentive.contribution import ExactShapley
from incentive.fixedpoint import to_fixed
from incentive.ledger import MemberStatus, RoundOpened, TaskCreated, node_key_hash

TOKEN = 10**18


@dataclass(frozen=True)
class PartyRun:
    """What a finished multi-party run puts on the ledger.

    Attributes
    ----------
    spec : Mapping[str, Any]
        JSON-able description of the run (protocol, data split, hyperparameters, key size).
    validation : Mapping[str, Any]
        JSON-able description of the evaluation split (e.g. the held-out row IDs).
    performance : float
        The joint model's performance (e.g. AUC).
    contributions : Mapping[str, float]
        Each party's contribution, by party name.
    model_hashes : Mapping[str, bytes]
        Each party's commitment: keccak256 of its final model share, by party name.
    """

    spec: Mapping[str, Any]
    validation: Mapping[str, Any]
    performance: float
    contributions: Mapping[str, float]
    model_hashes: Mapping[str, bytes]


@dataclass(frozen=True)
class RecordedRun:
    """Where a run was recorded and what the ledger paid."""

    address: str
    chain_id: int
    task_id: int
    round_id: int
    accounts: dict[str, str]
    rewards: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"address", "chain_id", "task_id", "round_id", "accounts", "rewards"}``."""
        return {
            "address": self.address,
            "chain_id": self.chain_id,
            "task_id": self.task_id,
            "round_id": self.round_id,
            "accounts": self.accounts,
            "rewards": self.rewards,
        }


def _party_accounts(chain: Chain, roles: LedgerRoles, parties: list[str], stake_wei: int) -> dict[str, LocalAccount]:
    """Each party's account, joined to the ledger and allowed to commit."""
    unknown = sorted(set(roles.parties) - set(parties))
    if unknown:
        raise FlNodeError(f"--party-key names {', '.join(unknown)}, but the run's parties are {', '.join(parties)}")
    ledger, min_stake = roles.ledger, roles.ledger.min_stake()
    accounts = {}
    for name in parties:
        account = roles.parties.get(name)
        if account is None:
            try:
                account = chain.new_account(stake_wei + 10**19)
            except ChainError as exc:
                raise FlNodeError(f"party {name!r} has no key: pass --party-key {name}=FILE with a funded key ({exc})") from exc
        member = ledger.member(account.address)
        if member.status == MemberStatus.NONE:
            ledger.join(account, name, node_key_hash(account), stake_wei=stake_wei)
        elif not member.may_commit(min_stake):
            raise FlNodeError(
                f"party {name!r}: {account.address} is a {member.status.name.lower()} member with stake {member.stake} wei "
                f"(minimum {min_stake}) and may not commit; top up or use another key"
            )
        accounts[name] = account
    return accounts


def two_party_shapley(
    first: str, second: str, *, first_alone: float, second_alone: float, joint: float, empty: float
) -> dict[str, float]:
    """Exact Shapley values of two parties from the utilities of every coalition (e.g. AUCs, ``empty`` = chance)."""
    utilities = {
        frozenset(): empty,
        frozenset({0}): float(first_alone),
        frozenset({1}): float(second_alone),
        frozenset({0, 1}): float(joint),
    }
    result = ExactShapley().score([0, 1], utilities.__getitem__, rng=np.random.default_rng(0))
    return {first: float(result.values[0]), second: float(result.values[1])}


def canonical_hash(payload: Mapping[str, Any]) -> bytes:
    """keccak256 of the sorted, compact JSON of ``payload``."""
    return keccak(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())


def record_party_run(
    run: PartyRun,
    chain: Chain,
    *,
    reward_per_round: int = 100 * TOKEN,
    stake_wei: int = 10**18,
    roles: LedgerRoles | None = None,
) -> RecordedRun:
    """Deploy a ledger on ``chain`` (or use ``roles.ledger``), let each party join, commit and claim; finalize the run.

    Parameters
    ----------
    run : PartyRun
    chain : Chain
        The chain: on a development chain (embedded or anvil) fresh keys are funded for the
        roles and for every party without its own key in ``roles.parties``.
    reward_per_round : int (default: 100 tokens)
    stake_wei : int (default: 1 ETH)
        Each party's stake (at least the minimum of an existing ledger).
    roles : LedgerRoles | None (default: deploy a fresh ledger)
        An existing ledger and the accounts holding its admin, aggregator and evaluator roles:
        the run becomes one more task on it. A party whose key is in ``roles.parties`` joins
        with it (or, already an active member, commits as it is).

    Raises
    ------
    FlNodeError
        A key named for a party the run does not have, a party key that is a member who may not
        commit (pending, leaving, left or below the minimum stake), or a party without a key on a
        chain with no development account.
    """
    parties = list(run.model_hashes)
    if set(parties) != set(run.contributions):
        raise FlNodeError(f"contributions name {sorted(run.contributions)}, commitments name {sorted(parties)}")
    if roles is None:
        roles = bootstrap_ledger(chain, RewardConfig(stake_wei=stake_wei))
    else:
        stake_wei = max(stake_wei, roles.ledger.min_stake())
    ledger, admin, aggregator, evaluator = roles.ledger, roles.admin, roles.aggregator, roles.evaluator
    accounts = _party_accounts(chain, roles, parties, stake_wei)
    spec_hash = canonical_hash(run.spec)
    task_id = ledger.create_party_task(
        admin, spec_hash, canonical_hash(run.validation), reward_per_round, len(parties)
    ).event(TaskCreated).task_id
    round_id = ledger.open_round(aggregator, task_id, spec_hash).event(RoundOpened).round_id
    for name in parties:
        ledger.commit(accounts[name], round_id, run.model_hashes[name])
    ledger.finalize(
        evaluator,
        round_id,
        canonical_hash({"parties": {name: "0x" + run.model_hashes[name].hex() for name in parties}}),
        to_fixed(run.performance),
        [to_fixed(run.contributions[name]) for name in parties],
    )
    rewards = {}
    for name, account in accounts.items():
        rewards[name] = ledger.member(account.address).pending_reward / TOKEN
        if rewards[name] > 0:
            ledger.claim(account)
    return RecordedRun(
        address=ledger.address,
        chain_id=chain.chain_id,
        task_id=task_id,
        round_id=round_id,
        accounts={name: a.address for name, a in accounts.items()},
        rewards=rewards,
    )
