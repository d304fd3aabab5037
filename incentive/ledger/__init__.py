"""The ledger client: transactions (:mod:`.client`, :mod:`.transactions`), what the ledger records
(:mod:`.records`), its events (:mod:`.events`) and its reverts (:mod:`.reverts`).

Everything a caller needs is importable from here, e.g.
``from incentive.ledger import LedgerClient, RoundOpened, to_bytes32``.
"""

from eth_utils import keccak

from incentive.ledger.client import LedgerClient
from incentive.ledger.events import (
    EventDecoder,
    LeaveRequested,
    LedgerEvent,
    MemberApproved,
    MemberJoined,
    MemberLeft,
    MembershipRequested,
    MemberSlashed,
    MinStakeChanged,
    ParticipantDropped,
    ParticipantScored,
    Receipt,
    RewardClaimed,
    RoleAdminChanged,
    RoleGranted,
    RoleRevoked,
    RoundCancelled,
    RoundFinalized,
    RoundOpened,
    SlashedFundsWithdrawn,
    StakeToppedUp,
    TaskCreated,
    UnbondingPeriodChanged,
    UpdateCommitted,
)
from incentive.ledger.records import (
    AGGREGATOR_ROLE,
    DEFAULT_ADMIN_ROLE,
    EVALUATOR_ROLE,
    MINTER_ROLE,
    ROLE_NAMES,
    Member,
    MemberStatus,
    ParticipantRecord,
    Round,
    RoundStatus,
    StakeTotals,
    Task,
    node_key_hash,
    to_bytes32,
)
from incentive.ledger.reverts import RevertDecoder
from incentive.ledger.transactions import (
    CANCEL_GAS_BASE,
    CANCEL_GAS_PER_PARTICIPANT,
    FINALIZE_GAS_BASE,
    FINALIZE_GAS_PER_PARTICIPANT,
    GAS,
    LOG_CHUNK_BLOCKS,
    deploy_contract,
)

#: Every event dataclass by its Solidity name.
EVENT_TYPES = LedgerEvent.registry

__all__ = [
    "AGGREGATOR_ROLE",
    "CANCEL_GAS_BASE",
    "CANCEL_GAS_PER_PARTICIPANT",
    "DEFAULT_ADMIN_ROLE",
    "EVALUATOR_ROLE",
    "EVENT_TYPES",
    "EventDecoder",
    "FINALIZE_GAS_BASE",
    "FINALIZE_GAS_PER_PARTICIPANT",
    "GAS",
    "LOG_CHUNK_BLOCKS",
    "LeaveRequested",
    "LedgerClient",
    "LedgerEvent",
    "MINTER_ROLE",
    "Member",
    "MemberApproved",
    "MemberJoined",
    "MemberLeft",
    "MemberSlashed",
    "MemberStatus",
    "MembershipRequested",
    "MinStakeChanged",
    "ParticipantDropped",
    "ParticipantRecord",
    "ParticipantScored",
    "ROLE_NAMES",
    "Receipt",
    "RevertDecoder",
    "RewardClaimed",
    "RoleAdminChanged",
    "RoleGranted",
    "RoleRevoked",
    "Round",
    "RoundCancelled",
    "RoundFinalized",
    "RoundOpened",
    "RoundStatus",
    "SlashedFundsWithdrawn",
    "StakeToppedUp",
    "StakeTotals",
    "Task",
    "TaskCreated",
    "UnbondingPeriodChanged",
    "UpdateCommitted",
    "deploy_contract",
    "keccak",
    "node_key_hash",
    "to_bytes32",
]
