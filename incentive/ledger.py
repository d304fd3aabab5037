"""Typed web3 client of the FederationLedger contract.

One :class:`LedgerClient` is bound to one deployed ledger on one :class:`~incentive.chain.Chain`.
Every state-changing method takes the signer (an eth-account ``LocalAccount``) first, signs
locally and returns a :class:`Receipt` with the decoded ledger events. Every read returns frozen
dataclasses. A rejected call raises :class:`~incentive.errors.LedgerRevert` naming the
contract's custom error and its arguments, e.g. ``NotMember(account=0x...)``, on every backend.

A round, as the federation drives it::

    chain = connect()
    ledger = LedgerClient.deploy(chain, admin, aggregator=agg.address, evaluator=ev.address)
    task_id = ledger.create_task(admin, model_spec_hash, validation_spec_hash,
                                 reward_per_round=10**18, required_participants=3
                                 ).event(TaskCreated).task_id
    ledger.join(alice, "Hospital A", node_key_hash, stake_wei=ledger.min_stake())
    round_id = ledger.open_round(agg, task_id, global_model_hash).event(RoundOpened).round_id
    ledger.commit(alice, round_id, keccak(blob))               # once per participant
    ledger.finalize(ev, round_id, aggregated_hash, performance, scores)  # scores in commit order
    ledger.claim(alice)                                         # rewards minted as RewardToken
    history = ledger.events()                                   # typed event history

Scores and performance are ledger fixed point (``incentive.fixedpoint.to_fixed``); hashes are
32 bytes (``bytes`` or ``0x`` hex).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from functools import cached_property
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.events import get_event_data
from web3.types import TxReceipt

from incentive.chain import Chain
from incentive.errors import LedgerNotFound, LedgerRevert, LedgerTransactionError
from incentive.rewards import RewardSplit, dropped_bitmap, split_rewards
from incentive.solidity import ContractArtifact, ledger_artifacts

DEFAULT_ADMIN_ROLE = b"\x00" * 32
AGGREGATOR_ROLE = keccak(text="AGGREGATOR_ROLE")
EVALUATOR_ROLE = keccak(text="EVALUATOR_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")
ROLE_NAMES = {
    DEFAULT_ADMIN_ROLE: "DEFAULT_ADMIN_ROLE",
    AGGREGATOR_ROLE: "AGGREGATOR_ROLE",
    EVALUATOR_ROLE: "EVALUATOR_ROLE",
    MINTER_ROLE: "MINTER_ROLE",
}

#: Fixed gas limits of the ledger's transactions on development chains (measured with margin).
GAS = {
    "join": 300_000,
    "requestMembership": 250_000,
    "approveMember": 80_000,
    "leave": 120_000,
    "slash": 120_000,
    "withdrawSlashed": 100_000,
    "setMinStake": 60_000,
    "grantRole": 120_000,
    "revokeRole": 80_000,
    "createTask": 200_000,
    "openRound": 220_000,
    "commit": 250_000,
    "claim": 150_000,
}
FINALIZE_GAS_BASE = 300_000
FINALIZE_GAS_PER_PARTICIPANT = 40_000
CANCEL_GAS_BASE = 120_000
CANCEL_GAS_PER_PARTICIPANT = 20_000
#: Block span of one ``eth_getLogs`` request when reading the event history.
LOG_CHUNK_BLOCKS = 2_000


# ====================================================================== records


class MemberStatus(IntEnum):
    """Life cycle of a member (mirrors ``FederationLedger.MemberStatus``)."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    LEFT = 3


class RoundStatus(IntEnum):
    """Life cycle of a round (mirrors ``FederationLedger.RoundStatus``)."""

    NONE = 0
    OPEN = 1
    FINALIZED = 2
    CANCELLED = 3


@dataclass(frozen=True)
class Member:
    """A member as the ledger records it (stake in wei; score fixed point; rewards in token units)."""

    address: str
    status: MemberStatus
    stake: int
    joined_at: int
    name: str
    node_key_hash: str
    cumulative_score: int
    pending_reward: int
    claimed_reward: int
    open_commitments: int

    @property
    def total_reward(self) -> int:
        """Every reward ever credited: pending plus claimed."""
        return self.pending_reward + self.claimed_reward


@dataclass(frozen=True)
class Task:
    """A federation task."""

    task_id: int
    model_spec_hash: str
    validation_spec_hash: str
    reward_per_round: int
    required_participants: int
    created_at: int


@dataclass(frozen=True)
class ParticipantRecord:
    """One participant of one round: its commitment, and once finalized its score and reward."""

    round_id: int
    index: int
    account: str
    commitment: str
    score: int
    reward: int
    dropped: bool


@dataclass(frozen=True)
class Round:
    """A round as an auditor reads it; ``rewarded + dust == budget`` once finalized."""

    round_id: int
    task_id: int
    status: RoundStatus
    opened_at: int
    deadline: int
    global_model_hash: str
    aggregated_model_hash: str
    performance: int
    budget: int
    rewarded: int
    dust: int
    positive_score_sum: int
    participant_count: int
    dropped_count: int
    participants: tuple[ParticipantRecord, ...]


@dataclass(frozen=True)
class StakeTotals:
    """Stake accounting: ``staked == returned + slashed + held by members``."""

    staked: int
    returned: int
    slashed: int
    slashed_held: int


# ====================================================================== events


@dataclass(frozen=True, kw_only=True)
class LedgerEvent:
    """Where an event was emitted. Subclasses carry the event's arguments (snake_case)."""

    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True, kw_only=True)
class MemberJoined(LedgerEvent):
    account: str
    stake: int
    node_key_hash: str
    name: str


@dataclass(frozen=True, kw_only=True)
class MembershipRequested(LedgerEvent):
    account: str
    node_key_hash: str
    name: str


@dataclass(frozen=True, kw_only=True)
class MemberApproved(LedgerEvent):
    account: str
    approver: str


@dataclass(frozen=True, kw_only=True)
class MemberLeft(LedgerEvent):
    account: str
    stake_returned: int


@dataclass(frozen=True, kw_only=True)
class MemberSlashed(LedgerEvent):
    account: str
    slasher: str
    amount: int
    remaining_stake: int
    evidence_hash: str


@dataclass(frozen=True, kw_only=True)
class SlashedFundsWithdrawn(LedgerEvent):
    to: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class MinStakeChanged(LedgerEvent):
    previous_min_stake: int
    new_min_stake: int


@dataclass(frozen=True, kw_only=True)
class TaskCreated(LedgerEvent):
    task_id: int
    model_spec_hash: str
    validation_spec_hash: str
    reward_per_round: int
    required_participants: int


@dataclass(frozen=True, kw_only=True)
class RoundOpened(LedgerEvent):
    round_id: int
    task_id: int
    global_model_hash: str
    deadline: int
    budget: int


@dataclass(frozen=True, kw_only=True)
class UpdateCommitted(LedgerEvent):
    round_id: int
    member: str
    index: int
    update_hash: str


@dataclass(frozen=True, kw_only=True)
class ParticipantScored(LedgerEvent):
    round_id: int
    member: str
    score: int
    reward: int


@dataclass(frozen=True, kw_only=True)
class ParticipantDropped(LedgerEvent):
    round_id: int
    member: str
    score: int


@dataclass(frozen=True, kw_only=True)
class RoundFinalized(LedgerEvent):
    round_id: int
    task_id: int
    aggregated_model_hash: str
    performance: int
    participants: int
    dropped: int
    rewarded: int
    dust: int


@dataclass(frozen=True, kw_only=True)
class RoundCancelled(LedgerEvent):
    round_id: int
    task_id: int
    by: str


@dataclass(frozen=True, kw_only=True)
class RewardClaimed(LedgerEvent):
    member: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class RoleGranted(LedgerEvent):
    role: str
    account: str
    sender: str


@dataclass(frozen=True, kw_only=True)
class RoleRevoked(LedgerEvent):
    role: str
    account: str
    sender: str


@dataclass(frozen=True, kw_only=True)
class RoleAdminChanged(LedgerEvent):
    role: str
    previous_admin_role: str
    new_admin_role: str


EVENT_TYPES: dict[str, type[LedgerEvent]] = {
    cls.__name__: cls
    for cls in (
        MemberJoined,
        MembershipRequested,
        MemberApproved,
        MemberLeft,
        MemberSlashed,
        SlashedFundsWithdrawn,
        MinStakeChanged,
        TaskCreated,
        RoundOpened,
        UpdateCommitted,
        ParticipantScored,
        ParticipantDropped,
        RoundFinalized,
        RoundCancelled,
        RewardClaimed,
        RoleGranted,
        RoleRevoked,
        RoleAdminChanged,
    )
}

E = TypeVar("E", bound=LedgerEvent)


@dataclass(frozen=True)
class Receipt:
    """A mined ledger transaction and the ledger events it emitted."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[LedgerEvent, ...]

    def event(self, kind: type[E]) -> E:
        """The first event of type ``kind`` (raises ``LookupError`` when there is none)."""
        for ev in self.events:
            if isinstance(ev, kind):
                return ev
        raise LookupError(f"transaction {self.tx_hash} emitted no {kind.__name__}")

    def events_of(self, kind: type[E]) -> list[E]:
        """Every event of type ``kind``, in log order."""
        return [ev for ev in self.events if isinstance(ev, kind)]


# ====================================================================== helpers


def node_key_hash(account: LocalAccount) -> bytes:
    """keccak256 of the account's uncompressed secp256k1 public key: the ledger's node-key metadata."""
    return keccak(account._key_obj.public_key.to_bytes())


def to_bytes32(value: bytes | str) -> bytes:
    """A 32-byte value from ``bytes`` or ``0x`` hex (a hash, an evidence digest)."""
    raw = HexBytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}: {value!r}")
    return bytes(raw)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return _hex(value)
    return value


class _ErrorDecoder:
    """Revert data (selector + ABI-encoded arguments) -> :class:`LedgerRevert`."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]):
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {}
        builtin = [
            {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
            {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
        ]
        for abi in [builtin, *abis]:
            for entry in abi:
                if entry.get("type") != "error":
                    continue
                types = [inp["type"] for inp in entry["inputs"]]
                names = [inp["name"] or f"arg{i}" for i, inp in enumerate(entry["inputs"])]
                selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
                self._by_selector[selector] = (entry["name"], types, names)

    def decode(self, data: bytes) -> LedgerRevert:
        entry = self._by_selector.get(bytes(data[:4]))
        if entry is None:
            return LedgerRevert("UnknownRevert", {"data": _hex(data)})
        name, types, names = entry
        try:
            values = abi_decode(types, bytes(data[4:]))
        except Exception:
            return LedgerRevert(name, {"data": _hex(data)})
        named = {n: (Web3.to_checksum_address(v) if t == "address" else _plain(v)) for n, t, v in zip(names, types, values)}
        return LedgerRevert(name, named)

    def from_exception(self, exc: BaseException) -> LedgerRevert | None:
        """The revert carried by a web3 exception (``ContractLogicError.data``, or a node's error
        response) or by an eth-tester ``TransactionFailed``; ``None`` for anything else."""
        data = getattr(exc, "data", None)
        if data is None:  # Hardhat node rejects at send: Web3RPCError with the revert in rpc_response
            error = (getattr(exc, "rpc_response", None) or {}).get("error")
            data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return self.decode(bytes.fromhex(data[2:]))
        message = str(exc.args[0]) if exc.args else ""
        if not message.startswith("execution reverted"):
            return None
        reason = message.partition(": ")[2]
        if reason.startswith(("b'", 'b"')):
            try:
                raw = ast.literal_eval(reason)
            except (ValueError, SyntaxError):
                return None
            return self.decode(raw) if len(raw) >= 4 else LedgerRevert("Revert", {})
        return LedgerRevert("Error", {"message": reason}) if reason else LedgerRevert("Revert", {})


# ====================================================================== client


class LedgerClient:
    """A deployed FederationLedger on one chain.

    Parameters
    ----------
    chain : Chain
        The chain the ledger lives on.
    address : str
        The ledger's address (use :meth:`at` to check that code is there first).
    artifacts : dict[str, ContractArtifact] | None (default: the compiled repository contracts)
        Compiled contracts (``FederationLedger``, ``RewardToken``).
    """

    def __init__(self, chain: Chain, address: str, artifacts: dict[str, ContractArtifact] | None = None):
        self.chain = chain
        self.w3 = chain.w3
        self.artifacts = artifacts or ledger_artifacts()
        self.address = Web3.to_checksum_address(address)
        ledger_abi = self.artifacts["FederationLedger"].abi
        token_abi = self.artifacts["RewardToken"].abi
        self.contract = self.w3.eth.contract(address=self.address, abi=ledger_abi)
        self._errors = _ErrorDecoder([ledger_abi, token_abi])
        self._events = {
            keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e
            for e in ledger_abi
            if e.get("type") == "event"
        }

    # -------------------------------------------------------------- construction

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        admin: LocalAccount,
        *,
        min_stake_wei: int = 10**17,
        aggregator: str | None = None,
        evaluator: str | None = None,
        token_name: str = "Federation Reward",
        token_symbol: str = "FRW",
        artifacts: dict[str, ContractArtifact] | None = None,
    ) -> LedgerClient:
        """Deploy a reward token and a ledger, let the ledger mint, and grant the two roles.

        Parameters
        ----------
        chain : Chain
            Where to deploy.
        admin : LocalAccount
            Deployer; holds DEFAULT_ADMIN_ROLE of the ledger and of the token.
        min_stake_wei : int (default: 0.1 ETH)
            Least stake with which an account joins without approval.
        aggregator, evaluator : str | None (default: no grant)
            Accounts that receive AGGREGATOR_ROLE / EVALUATOR_ROLE.
        token_name, token_symbol : str (default: "Federation Reward", "FRW")
            The reward token's ERC-20 metadata.
        artifacts : dict[str, ContractArtifact] | None (default: the repository contracts)
            Compiled contracts.
        """
        artifacts = artifacts or ledger_artifacts()
        token_address = deploy_contract(chain, admin, artifacts["RewardToken"], [token_name, token_symbol, admin.address])
        ledger_address = deploy_contract(
            chain, admin, artifacts["FederationLedger"], [admin.address, token_address, min_stake_wei]
        )
        client = cls(chain, ledger_address, artifacts)
        client.transact(admin, client.token_contract, "grantRole", [MINTER_ROLE, ledger_address])
        if aggregator:
            client.grant_role(admin, AGGREGATOR_ROLE, aggregator)
        if evaluator:
            client.grant_role(admin, EVALUATOR_ROLE, evaluator)
        return client

    @classmethod
    def at(cls, chain: Chain, address: str, artifacts: dict[str, ContractArtifact] | None = None) -> LedgerClient:
        """Attach to an existing ledger, checking that ``address`` holds FederationLedger code.

        Raises
        ------
        LedgerNotFound
            Not an address, no code there, or code that does not answer as a FederationLedger.
        """
        if not isinstance(address, str) or not Web3.is_address(address):
            raise LedgerNotFound(f"not an address: {address!r}")
        checksummed = Web3.to_checksum_address(address)
        if len(chain.w3.eth.get_code(checksummed)) == 0:
            raise LedgerNotFound(f"no contract code at {checksummed} on chain {chain.chain_id}")
        client = cls(chain, checksummed, artifacts)
        try:
            is_ledger = (
                client.contract.functions.EVALUATOR_ROLE().call() == EVALUATOR_ROLE
                and client.contract.functions.SCORE_SCALE().call() == 10**6
            )
        except Exception:
            is_ledger = False
        if not is_ledger:
            raise LedgerNotFound(f"the contract at {checksummed} is not a FederationLedger")
        return client

    # -------------------------------------------------------------- membership

    def join(self, member: LocalAccount, name: str, node_key_hash: bytes | str, stake_wei: int) -> Receipt:
        """Join with a stake of ``stake_wei`` (at least :meth:`min_stake`)."""
        return self._send(member, "join", [name, to_bytes32(node_key_hash)], value=stake_wei)

    def request_membership(self, member: LocalAccount, name: str, node_key_hash: bytes | str) -> Receipt:
        """Ask to join without a stake; an admin then calls :meth:`approve`."""
        return self._send(member, "requestMembership", [name, to_bytes32(node_key_hash)])

    def approve(self, admin: LocalAccount, account: str) -> Receipt:
        """Admit a pending member without a stake."""
        return self._send(admin, "approveMember", [Web3.to_checksum_address(account)])

    def leave(self, member: LocalAccount) -> Receipt:
        """Leave the consortium and withdraw the whole remaining stake."""
        return self._send(member, "leave", [])

    def slash(self, slasher: LocalAccount, account: str, amount_wei: int, evidence_hash: bytes | str) -> Receipt:
        """Slash ``amount_wei`` of ``account``'s stake (admin or evaluator), citing evidence."""
        return self._send(
            slasher, "slash", [Web3.to_checksum_address(account), amount_wei, to_bytes32(evidence_hash)]
        )

    def withdraw_slashed(self, admin: LocalAccount, to: str, amount_wei: int) -> Receipt:
        """Send slashed stake held by the ledger to ``to`` (admin)."""
        return self._send(admin, "withdrawSlashed", [Web3.to_checksum_address(to), amount_wei])

    def set_min_stake(self, admin: LocalAccount, min_stake_wei: int) -> Receipt:
        """Change the least stake with which an account joins without approval (admin)."""
        return self._send(admin, "setMinStake", [min_stake_wei])

    def grant_role(self, admin: LocalAccount, role: bytes, account: str) -> Receipt:
        """Grant ``role`` (e.g. :data:`AGGREGATOR_ROLE`) to ``account`` (admin)."""
        return self._send(admin, "grantRole", [role, Web3.to_checksum_address(account)])

    def revoke_role(self, admin: LocalAccount, role: bytes, account: str) -> Receipt:
        """Revoke ``role`` from ``account`` (admin)."""
        return self._send(admin, "revokeRole", [role, Web3.to_checksum_address(account)])

    # -------------------------------------------------------------- tasks and rounds

    def create_task(
        self,
        admin: LocalAccount,
        model_spec_hash: bytes | str,
        validation_spec_hash: bytes | str,
        reward_per_round: int,
        required_participants: int,
    ) -> Receipt:
        """Create a task (admin); the receipt's :class:`TaskCreated` carries ``task_id``."""
        args = [to_bytes32(model_spec_hash), to_bytes32(validation_spec_hash), reward_per_round, required_participants]
        return self._send(admin, "createTask", args)

    def open_round(
        self,
        aggregator: LocalAccount,
        task_id: int,
        global_model_hash: bytes | str,
        deadline: int | None = None,
        duration_s: int = 3600,
    ) -> Receipt:
        """Open a round (aggregator); the receipt's :class:`RoundOpened` carries ``round_id``.

        Parameters
        ----------
        deadline : int | None (default: latest block time + ``duration_s``)
            Unix time after which commitments are rejected (compared with block.timestamp).
        duration_s : int (default: 3600)
            Used when ``deadline`` is not given.
        """
        if deadline is None:
            deadline = self.chain.timestamp() + duration_s
        return self._send(aggregator, "openRound", [task_id, to_bytes32(global_model_hash), deadline])

    def commit(self, member: LocalAccount, round_id: int, update_hash: bytes | str) -> Receipt:
        """Commit to the keccak256 hash of the member's encrypted-update blob (once per round)."""
        return self._send(member, "commit", [round_id, to_bytes32(update_hash)])

    def finalize(
        self,
        evaluator: LocalAccount,
        round_id: int,
        aggregated_model_hash: bytes | str,
        performance: int,
        scores: Sequence[int],
        dropped: Sequence[bool] | None = None,
        participants: Sequence[str] | None = None,
    ) -> Receipt:
        """Finalize a round in one transaction (evaluator).

        Parameters
        ----------
        aggregated_model_hash : bytes | str
            keccak256 of the aggregated model.
        performance : int
            The aggregated model's performance, fixed point (1e6).
        scores : Sequence[int]
            One fixed-point score per participant, in commit order.
        dropped : Sequence[bool] | None (default: nobody dropped)
            Per participant: its blob was missing; recorded as a dropout with no reward.
        participants : Sequence[str] | None (default: read from the ledger)
            The participants the scores belong to, in order; the contract rejects any other order.
        """
        if participants is None:
            participants = self.participant_addresses(round_id)
        scores = [int(s) for s in scores]
        flags = list(dropped) if dropped is not None else [False] * len(scores)
        words = dropped_bitmap(flags)
        args = [
            round_id,
            to_bytes32(aggregated_model_hash),
            int(performance),
            [Web3.to_checksum_address(a) for a in participants],
            scores,
            words,
        ]
        gas = FINALIZE_GAS_BASE + FINALIZE_GAS_PER_PARTICIPANT * max(len(scores), len(participants))
        return self._send(evaluator, "finalizeRound", args, gas=gas)

    def cancel_round(self, manager: LocalAccount, round_id: int) -> Receipt:
        """Cancel an open round (aggregator or admin); its commitments stop locking stakes."""
        count = len(self.participant_addresses(round_id))
        gas = CANCEL_GAS_BASE + CANCEL_GAS_PER_PARTICIPANT * count
        return self._send(manager, "cancelRound", [round_id], gas=gas)

    def claim(self, member: LocalAccount) -> Receipt:
        """Claim every pending reward, minted to the member as RewardToken."""
        return self._send(member, "claim", [])

    # -------------------------------------------------------------- views

    @cached_property
    def token(self) -> str:
        """Address of the reward token."""
        return self.contract.functions.rewardToken().call()

    @cached_property
    def deployment_block(self) -> int:
        """Block in which the ledger was deployed."""
        return self.contract.functions.deploymentBlock().call()

    def token_balance(self, account: str) -> int:
        """Reward-token balance of ``account``."""
        return self.token_contract.functions.balanceOf(Web3.to_checksum_address(account)).call()

    def min_stake(self) -> int:
        """Least stake (wei) with which an account joins without approval."""
        return self.contract.functions.minStake().call()

    def has_role(self, role: bytes, account: str) -> bool:
        """Whether ``account`` holds ``role``."""
        return self.contract.functions.hasRole(role, Web3.to_checksum_address(account)).call()

    def member(self, account: str) -> Member:
        """A member's record (status ``NONE`` for an unknown account)."""
        address = Web3.to_checksum_address(account)
        info = self._call("getMember", address)
        return Member(
            address=address,
            status=MemberStatus(info[0]),
            stake=info[1],
            joined_at=info[2],
            name=info[3],
            node_key_hash=_hex(info[4]),
            cumulative_score=info[5],
            pending_reward=info[6],
            claimed_reward=info[7],
            open_commitments=info[8],
        )

    def member_addresses(self) -> list[str]:
        """Every account that ever joined or asked to, in order of first appearance."""
        return list(self._call("members"))

    def members(self) -> list[Member]:
        """Every member record, in order of first appearance."""
        return [self.member(a) for a in self.member_addresses()]

    def task_count(self) -> int:
        """Number of tasks (ids 1..task_count)."""
        return self._call("taskCount")

    def task(self, task_id: int) -> Task:
        """A task's record."""
        t = self._call("getTask", task_id)
        return Task(
            task_id=task_id,
            model_spec_hash=_hex(t[0]),
            validation_spec_hash=_hex(t[1]),
            reward_per_round=t[2],
            required_participants=t[3],
            created_at=t[4],
        )

    def tasks(self) -> list[Task]:
        """Every task."""
        return [self.task(i) for i in range(1, self.task_count() + 1)]

    def round_count(self) -> int:
        """Number of rounds (ids 1..round_count)."""
        return self._call("roundCount")

    def round(self, round_id: int) -> Round:
        """A round's record with its participants."""
        r = self._call("getRound", round_id)
        return Round(
            round_id=round_id,
            task_id=r[0],
            status=RoundStatus(r[1]),
            opened_at=r[2],
            deadline=r[3],
            global_model_hash=_hex(r[4]),
            aggregated_model_hash=_hex(r[5]),
            performance=r[6],
            budget=r[7],
            rewarded=r[8],
            dust=r[9],
            positive_score_sum=r[10],
            participant_count=r[11],
            dropped_count=r[12],
            participants=tuple(self.participants(round_id)),
        )

    def rounds(self) -> list[Round]:
        """Every round."""
        return [self.round(i) for i in range(1, self.round_count() + 1)]

    def participants(self, round_id: int) -> list[ParticipantRecord]:
        """Every participant of a round, in commit order."""
        return [self._participant(round_id, p) for p in self._call("getParticipants", round_id)]

    def participant_addresses(self, round_id: int) -> list[str]:
        """The committed participants of a round, in commit order (the order ``finalize`` wants)."""
        return list(self._call("participantsOf", round_id))

    def score_of(self, round_id: int, account: str) -> ParticipantRecord:
        """One member's commitment, score and reward in one round."""
        return self._participant(round_id, self._call("scoreOf", round_id, Web3.to_checksum_address(account)))

    def expected_split(self, round_id: int) -> RewardSplit:
        """The reward split :mod:`incentive.rewards` computes from the round's recorded scores."""
        r = self.round(round_id)
        return split_rewards(r.budget, [p.score for p in r.participants], [p.dropped for p in r.participants])

    def stake_totals(self) -> StakeTotals:
        """Stake accounting totals."""
        staked, returned, slashed, held = self._call("stakeTotals")
        return StakeTotals(staked=staked, returned=returned, slashed=slashed, slashed_held=held)

    # -------------------------------------------------------------- events

    def events(self, from_block: int | None = None, to_block: int | None = None) -> list[LedgerEvent]:
        """The ledger's event history, decoded, in chain order.

        Parameters
        ----------
        from_block : int | None (default: the deployment block)
        to_block : int | None (default: the latest block)
        """
        start = self.deployment_block if from_block is None else from_block
        end = self.w3.eth.block_number if to_block is None else to_block
        logs = self.chain.get_logs(self.address, start, end, chunk_blocks=LOG_CHUNK_BLOCKS)
        return [ev for ev in map(self._decode_log, logs) if ev is not None]

    def decode_receipt(self, receipt: TxReceipt) -> Receipt:
        """A web3 receipt as a :class:`Receipt` with this ledger's decoded events."""
        events = tuple(
            ev for ev in (self._decode_log(log) for log in receipt["logs"] if log["address"] == self.address) if ev
        )
        return Receipt(
            tx_hash=_hex(receipt["transactionHash"]),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            events=events,
        )

    # -------------------------------------------------------------- internals

    def _call(self, fn_name: str, *args: Any) -> Any:
        try:
            return self.contract.get_function_by_name(fn_name)(*args).call()
        except Exception as exc:
            revert = self._errors.from_exception(exc)
            if revert is None:
                raise
            raise revert from None

    def _participant(self, round_id: int, p: Sequence[Any]) -> ParticipantRecord:
        return ParticipantRecord(
            round_id=round_id,
            account=p[0],
            index=p[1],
            commitment=_hex(p[2]),
            score=p[3],
            reward=p[4],
            dropped=p[5],
        )

    def _decode_log(self, log: Any) -> LedgerEvent | None:
        topics = log["topics"]
        abi = self._events.get(bytes(topics[0])) if topics else None
        if abi is None:
            return None
        data = get_event_data(self.w3.codec, abi, log)
        cls = EVENT_TYPES.get(abi["name"])
        if cls is None:
            return None
        values = {_snake(k): _plain(v) for k, v in data["args"].items()}
        if "role" in values:
            for key in ("role", "previous_admin_role", "new_admin_role"):
                if key in values:
                    values[key] = ROLE_NAMES.get(to_bytes32(values[key]), values[key])
        known = {f.name for f in fields(cls)}
        return cls(
            block_number=data["blockNumber"],
            tx_hash=_hex(data["transactionHash"]),
            log_index=data["logIndex"],
            **{k: v for k, v in values.items() if k in known},
        )

    def transact(
        self,
        sender: LocalAccount,
        contract: Any,
        fn_name: str,
        args: Sequence[Any],
        *,
        value: int = 0,
        gas: int | None = None,
    ) -> Receipt:
        """Call ``fn_name`` of any web3 ``contract`` as ``sender``, decoding this ledger's errors.

        For contracts that call the ledger (a member contract, the reward token): a revert that
        bubbles up from the ledger raises :class:`~incentive.errors.LedgerRevert` as usual.
        """
        data = contract.encode_abi(fn_name, args=list(args))
        tx = {"to": contract.address, "data": data, "value": value}
        receipt = _send_checked(self.chain, sender, tx, gas or GAS.get(fn_name), self._errors, fn_name)
        return self.decode_receipt(receipt)

    def _send(self, sender: LocalAccount, fn_name: str, args: list[Any], *, value: int = 0, gas: int | None = None) -> Receipt:
        return self.transact(sender, self.contract, fn_name, args, value=value, gas=gas)

    @property
    def token_contract(self) -> Any:
        """The reward token as a web3 contract."""
        return self.w3.eth.contract(address=self.token, abi=self.artifacts["RewardToken"].abi)


def _send_checked(
    chain: Chain, sender: LocalAccount, tx: dict[str, Any], gas: int | None, errors: _ErrorDecoder, what: str
) -> TxReceipt:
    """Send; turn a revert (at estimation or in the mined receipt) into :class:`LedgerRevert`."""
    try:
        receipt = chain.send(sender, tx, gas=gas)
    except Exception as exc:
        revert = errors.from_exception(exc)
        if revert is None:
            raise
        raise revert from None
    if receipt["status"] == 1:
        return receipt
    # Replay the failed transaction as a call on the state of its block to learn why.
    call = {"from": sender.address, "value": tx.get("value", 0), "data": tx["data"], "gas": receipt["gasUsed"] * 2}
    if tx.get("to"):
        call["to"] = tx["to"]
    try:
        chain.w3.eth.call(call, block_identifier=receipt["blockNumber"])
    except Exception as exc:
        revert = errors.from_exception(exc)
        if revert is not None:
            raise revert from None
    raise LedgerTransactionError(
        f"{what} failed in transaction {_hex(receipt['transactionHash'])} "
        f"(gas used {receipt['gasUsed']}; out of gas?) without a decodable revert"
    )


def deploy_contract(chain: Chain, deployer: LocalAccount, artifact: ContractArtifact, args: Sequence[Any]) -> str:
    """Deploy ``artifact`` with constructor ``args``, signed by ``deployer``; return its address."""
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    errors = _ErrorDecoder([artifact.abi])
    receipt = _send_checked(chain, deployer, {"data": data}, None, errors, f"deploying {artifact.name}")
    return receipt["contractAddress"]
