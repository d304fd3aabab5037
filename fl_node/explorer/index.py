"""The ledger's event history, read once and extended as blocks arrive: what the pages need that no view call returns.

The contract's view functions give every current value (members, rounds, totals). The event
history adds what happened when: the transaction and block of every commitment and
finalization, slashing evidence, role holders, and per-round performance and scores for the
task charts without one call per round. :class:`LedgerIndex` reads the history through the
ledger client (the embedded chain's fast py-evm path, ``eth_getLogs`` spans on a node) and on
each :meth:`LedgerIndex.refresh` reads only the blocks added since.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from incentive.ledger import (
    LeaveRequested,
    LedgerClient,
    LedgerEvent,
    MemberApproved,
    MemberJoined,
    MemberLeft,
    MembershipRequested,
    MemberSlashed,
    MemberStatus,
    ParticipantDropped,
    ParticipantScored,
    RewardClaimed,
    RoleGranted,
    RoleRevoked,
    RoundCancelled,
    RoundFinalized,
    RoundOpened,
    TaskCreated,
    UpdateCommitted,
)


@dataclass
class RoundTrail:
    """The events of one round: where it was opened, committed to and finalized (or cancelled)."""

    round_id: int
    opened: RoundOpened | None = None
    commits: dict[str, UpdateCommitted] = field(default_factory=dict)
    outcomes: dict[str, ParticipantScored | ParticipantDropped] = field(default_factory=dict)
    finalized: RoundFinalized | None = None
    cancelled: RoundCancelled | None = None


@dataclass
class LedgerIndex:
    """Every event of one ledger, grouped the way the pages read them.

    Parameters
    ----------
    ledger : LedgerClient
        The ledger whose history is indexed.
    """

    ledger: LedgerClient
    events: list[LedgerEvent] = field(default_factory=list)
    head: int = -1
    rounds: dict[int, RoundTrail] = field(default_factory=dict)
    task_rounds: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    task_created: dict[int, TaskCreated] = field(default_factory=dict)
    slashes: dict[str, list[MemberSlashed]] = field(default_factory=lambda: defaultdict(list))
    claims: dict[str, list[RewardClaimed]] = field(default_factory=lambda: defaultdict(list))
    role_holders: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    member_status: dict[str, MemberStatus] = field(default_factory=dict)
    member_names: dict[str, str] = field(default_factory=dict)

    def refresh(self) -> int:
        """Read the blocks added since the last refresh (the whole history the first time); return the head block."""
        head = self.ledger.w3.eth.block_number
        if head > self.head:
            start = self.ledger.deployment_block if self.head < 0 else self.head + 1
            for event in self.ledger.events(start, head):
                self._add(event)
            self.head = head
        return self.head

    def trail(self, round_id: int) -> RoundTrail:
        """The events of ``round_id`` (empty when none were seen)."""
        return self.rounds.get(round_id) or RoundTrail(round_id)

    def slashed(self, account: str) -> int:
        """Wei slashed from ``account`` over the ledger's life."""
        return sum(s.amount for s in self.slashes.get(account, ()))

    def _add(self, event: LedgerEvent) -> None:
        self.events.append(event)
        match event:
            case MemberJoined() | MembershipRequested():
                self.member_names[event.account] = event.name
                joined = isinstance(event, MemberJoined)
                self.member_status[event.account] = MemberStatus.ACTIVE if joined else MemberStatus.PENDING
            case MemberApproved():
                self.member_status[event.account] = MemberStatus.ACTIVE
            case LeaveRequested():
                self.member_status[event.account] = MemberStatus.LEAVING
            case MemberLeft():
                self.member_status[event.account] = MemberStatus.LEFT
            case RoundOpened():
                self._round(event.round_id).opened = event
                self.task_rounds[event.task_id].append(event.round_id)
            case UpdateCommitted():
                self._round(event.round_id).commits[event.member] = event
            case ParticipantScored() | ParticipantDropped():
                self._round(event.round_id).outcomes[event.member] = event
            case RoundFinalized():
                self._round(event.round_id).finalized = event
            case RoundCancelled():
                self._round(event.round_id).cancelled = event
            case TaskCreated():
                self.task_created[event.task_id] = event
            case MemberSlashed():
                self.slashes[event.account].append(event)
            case RewardClaimed():
                self.claims[event.member].append(event)
            case RoleGranted():
                self.role_holders[event.role][event.account] = None
            case RoleRevoked():
                self.role_holders[event.role].pop(event.account, None)

    def _round(self, round_id: int) -> RoundTrail:
        if round_id not in self.rounds:
            self.rounds[round_id] = RoundTrail(round_id)
        return self.rounds[round_id]
