"""What the ledger records, as frozen dataclasses, and the values its calls take (roles, hashes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes

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


class MemberStatus(IntEnum):
    """Life cycle of a member (mirrors ``FederationLedger.MemberStatus``)."""

    NONE = 0
    PENDING = 1
    ACTIVE = 2
    LEFT = 3
    LEAVING = 4


class RoundStatus(IntEnum):
    """Life cycle of a round (mirrors ``FederationLedger.RoundStatus``)."""

    NONE = 0
    OPEN = 1
    FINALIZED = 2
    CANCELLED = 3


class ExclusionReason(IntEnum):
    """Why the evaluator left a committed participant out of a round (mirrors ``IFederationLedger.ExclusionReason``)."""

    NONE = 0
    INVALID_UPDATE = 1
    GATED = 2



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
    unlock_at: int = 0
    stake_exempt: bool = False

    @property
    def total_reward(self) -> int:
        """Every reward ever credited: pending plus claimed."""
        return self.pending_reward + self.claimed_reward

    def may_commit(self, min_stake: int) -> bool:
        """The ledger's commit rule: active, and staked at ``min_stake`` unless admitted without a stake."""
        return self.status == MemberStatus.ACTIVE and (self.stake >= min_stake or self.stake_exempt)


@dataclass(frozen=True)
class Task:
    """A federation task."""

    task_id: int
    model_spec_hash: str
    validation_spec_hash: str
    reward_per_round: int
    required_participants: int
    created_at: int
    party_task: bool = False


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
    exclusion: ExclusionReason = ExclusionReason.NONE
    #: Score and reward credited to the member: at finalize, or with Merkle scores once settled
    #: (until then the score, reward and dropout flag come from the round's ``ScoreCommitted`` events).
    settled: bool = True


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


def node_key_hash(account: LocalAccount) -> bytes:
    """keccak256 of the account's uncompressed secp256k1 public key: the ledger's node-key metadata."""
    return keccak(account._key_obj.public_key.to_bytes())


def to_bytes32(value: bytes | str) -> bytes:
    """A 32-byte value from ``bytes`` or ``0x`` hex (a hash, an evidence digest)."""
    raw = HexBytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}: {value!r}")
    return bytes(raw)


def to_hex(value: bytes) -> str:
    """``0x``-prefixed hex of ``value``."""
    return "0x" + bytes(value).hex()


def snake_case(name: str) -> str:
    """``camelCase`` -> ``camel_case`` (the ABI's argument names as dataclass fields)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def plain(value: Any) -> Any:
    """An ABI value as the records hold it: bytes as ``0x`` hex, everything else unchanged."""
    if isinstance(value, (bytes, bytearray)):
        return to_hex(value)
    return value
