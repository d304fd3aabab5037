"""The ledger's events, declared once: one frozen dataclass per Solidity event, decoded from logs.

Every subclass of :class:`LedgerEvent` registers itself under its class name, which is the
Solidity event's name; :class:`EventDecoder` turns a log of the ledger into that dataclass
(snake_case fields, hashes as ``0x`` hex, role ids as role names). The test suite checks that
the dataclasses and the compiled ABI name the same events with the same fields.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from eth_utils import keccak
from web3 import Web3
from web3.types import TxReceipt

from incentive.ledger.records import ROLE_NAMES, plain, snake_case, to_hex

@dataclass(frozen=True, kw_only=True)
class LedgerEvent:
    """Where an event was emitted. Subclasses carry the event's arguments (snake_case)."""

    block_number: int
    tx_hash: str
    log_index: int

    registry: ClassVar[dict[str, type[LedgerEvent]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LedgerEvent.registry[cls.__name__] = cls


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
class StakeToppedUp(LedgerEvent):
    account: str
    amount: int
    stake: int


@dataclass(frozen=True, kw_only=True)
class LeaveRequested(LedgerEvent):
    account: str
    stake: int
    unlock_at: int


@dataclass(frozen=True, kw_only=True)
class UnbondingPeriodChanged(LedgerEvent):
    previous_period: int
    new_period: int


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
class ParticipantExcluded(LedgerEvent):
    round_id: int
    member: str
    reason: int


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
    reason: str


@dataclass(frozen=True, kw_only=True)
class DecryptionRecorded(LedgerEvent):
    round_id: int
    sum_hash: str
    coalition: int


@dataclass(frozen=True, kw_only=True)
class ScoreCommitted(LedgerEvent):
    round_id: int
    index: int
    score: int


@dataclass(frozen=True, kw_only=True)
class ScoresCommitted(LedgerEvent):
    round_id: int
    scores_root: str
    dropped: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ModelReleased(LedgerEvent):
    task_id: int
    round_id: int
    model_hash: str
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

_ROLE_FIELDS = ("role", "previous_admin_role", "new_admin_role")


class _EventLayout:
    """One event's arguments as eth-abi decodes them: topics (indexed) and data, names and types.

    Decoding with eth-abi directly costs about a tenth of web3's generic ``get_event_data``,
    which dominated reading a long history (tens of thousands of events). Every indexed
    argument of the ledger's events is a static type, so each topic is its ABI-encoded value.
    """

    def __init__(self, abi: dict[str, Any], codec: Any) -> None:
        self.cls = LedgerEvent.registry[abi["name"]]
        self.codec = codec
        known = {f.name for f in fields(self.cls)}
        inputs = [(snake_case(i["name"]), i["type"], i["indexed"]) for i in abi["inputs"]]
        self.indexed = [(name, kind) for name, kind, indexed in inputs if indexed]
        self.data_names = [name for name, _, indexed in inputs if not indexed]
        self.data_types = [kind for _, kind, indexed in inputs if not indexed]
        self.kinds = {name: kind for name, kind, _ in inputs if name in known}

    def decode(self, log: Any) -> LedgerEvent:
        values: dict[str, Any] = {}
        for (name, kind), topic in zip(self.indexed, log["topics"][1:]):
            values[name] = self.codec.decode([kind], bytes(topic))[0]
        if self.data_types:
            values.update(zip(self.data_names, self.codec.decode(self.data_types, bytes(log["data"]))))
        args = {}
        for name, kind in self.kinds.items():
            value = values[name]
            if kind == "address":
                value = _checksum(value)
            elif name in _ROLE_FIELDS:
                value = ROLE_NAMES.get(bytes(value), to_hex(value))
            else:
                value = plain(value)
            args[name] = value
        return self.cls(
            block_number=log["blockNumber"], tx_hash=to_hex(log["transactionHash"]), log_index=log["logIndex"], **args
        )


@functools.lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    return Web3.to_checksum_address(address)


class EventDecoder:
    """Decodes the logs one contract emitted into :class:`LedgerEvent` dataclasses.

    Parameters
    ----------
    w3 : Web3
    address : str
        The contract whose logs are decoded; logs of other contracts are skipped.
    abi : list[dict]
        Its ABI (events the dataclasses do not declare are skipped).
    """

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]]) -> None:
        self.w3 = w3
        self.address = address
        self._by_topic = {
            keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): _EventLayout(e, w3.codec)
            for e in abi
            if e.get("type") == "event" and e["name"] in LedgerEvent.registry
        }

    def decode_log(self, log: Any) -> LedgerEvent | None:
        """One log as its dataclass, or ``None`` for a log this decoder does not know."""
        topics = log["topics"]
        layout = self._by_topic.get(bytes(topics[0])) if topics else None
        return layout.decode(log) if layout is not None else None

    def decode_receipt(self, receipt: TxReceipt) -> Receipt:
        """A web3 receipt as a :class:`Receipt` with this contract's decoded events."""
        decoded = (self.decode_log(log) for log in receipt["logs"] if log["address"] == self.address)
        return Receipt(
            tx_hash=to_hex(receipt["transactionHash"]),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            events=tuple(ev for ev in decoded if ev is not None),
        )
