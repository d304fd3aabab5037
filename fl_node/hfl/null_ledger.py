"""A ledger that records in memory, for federations without a chain (`fedledger train`).

:class:`NullLedger` has exactly the ledger methods the
:class:`~fl_node.hfl.coordinator.Coordinator` and a :class:`~fl_node.hfl.node.LedgerNode`
call (open, commit, participants, exclude, cancel, record and read decryptions, finalize,
member, rounds), so that the same
coordinator and :func:`~fl_node.hfl.runner.run_federation` drive a run with no chain. Nothing
is signed, staked or paid: accounts are names (:class:`NullAccount`), members have no stake
(so nobody is ever slashed), rewards are 0. The ledger's round rules hold as on chain: a round
with fewer than :data:`~incentive.cohort.MIN_COHORT` included participants is not finalized, and
an excluded participant must be finalized as dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fl_node.errors import FlNodeError
from incentive.cohort import MIN_COHORT
from incentive.ledger import (
    DecryptionRecorded,
    ExclusionReason,
    Member,
    MemberStatus,
    ParticipantRecord,
    Receipt,
    Round,
    RoundOpened,
    RoundStatus,
)
from incentive.ledger.records import to_hex


@dataclass(frozen=True)
class NullAccount:
    """An identity on the null ledger: a name used as its address, with no key."""

    address: str


class NullLedger:
    """Rounds, commitments and results of one run, kept in memory.

    A round's id is its number in the task (1, 2, ...): a cancelled round's id is opened again
    by the next :meth:`open_round`, so a retried round plans the same round number (and its
    participants train with the same seeds) as the first attempt.
    """

    def __init__(self) -> None:
        self._rounds: dict[int, Round] = {}
        self._lock = threading.Lock()  # nodes may commit from several threads
        self.cancellations: list[tuple[int, str]] = []
        self._decryptions: list[DecryptionRecorded] = []
        self._releases: dict[int, tuple[int, str]] = {}

    def open_round(self, account: NullAccount, task_id: int, global_model_hash: bytes, duration_s: int = 0) -> Receipt:
        """Open the task's next round (``duration_s`` is ignored: the transport's deadline applies)."""
        with self._lock:
            if any(r.status == RoundStatus.OPEN for r in self._rounds.values()):
                raise FlNodeError("a round is already open on the null ledger")
            round_id = 1 + sum(r.status == RoundStatus.FINALIZED for r in self._rounds.values())
            self._rounds[round_id] = Round(
                round_id=round_id, task_id=task_id, status=RoundStatus.OPEN, opened_at=0, deadline=0,
                global_model_hash=to_hex(global_model_hash), aggregated_model_hash=to_hex(bytes(32)),
                performance=0, budget=0, rewarded=0, dust=0, positive_score_sum=0,
                participant_count=0, dropped_count=0, participants=(),
            )
        event = RoundOpened(
            block_number=0, tx_hash="", log_index=0, round_id=round_id, task_id=task_id,
            global_model_hash=to_hex(global_model_hash), deadline=0, budget=0,
        )
        return Receipt(tx_hash="", block_number=0, gas_used=0, events=(event,))

    def commit(self, account: NullAccount, round_id: int, update_hash: bytes) -> None:
        """Record ``account``'s commitment to its blob's hash in the open round ``round_id``."""
        with self._lock:
            r = self._open(round_id)
            if any(p.account == account.address for p in r.participants):
                raise FlNodeError(f"{account.address} already committed to round {round_id}")
            record = ParticipantRecord(
                round_id=round_id, index=len(r.participants), account=account.address,
                commitment=to_hex(update_hash), score=0, reward=0, dropped=False,
            )
            self._rounds[round_id] = replace(r, participants=(*r.participants, record), participant_count=len(r.participants) + 1)

    def participants(self, round_id: int) -> list[ParticipantRecord]:
        """The round's committed participants, in commitment order."""
        return list(self._round(round_id).participants)

    def exclude(self, account: NullAccount, round_id: int, address: str, reason: ExclusionReason) -> Receipt:
        """Record that ``address`` is left out of the open round ``round_id`` for ``reason``."""
        reason = ExclusionReason(reason)
        with self._lock:
            r = self._open(round_id)
            if reason == ExclusionReason.NONE:
                raise FlNodeError("InvalidExclusionReason: an exclusion needs a reason")
            records = list(r.participants)
            index = next((i for i, p in enumerate(records) if p.account == address), None)
            if index is None:
                raise FlNodeError(f"NotParticipant: {address} did not commit to round {round_id}")
            if records[index].exclusion != ExclusionReason.NONE:
                raise FlNodeError(f"AlreadyExcluded: {address} was already excluded from round {round_id}")
            records[index] = replace(records[index], exclusion=reason)
            self._rounds[round_id] = replace(r, participants=tuple(records))
        return Receipt(tx_hash="", block_number=0, gas_used=0, events=())

    def cancel_round(self, account: NullAccount, round_id: int, reason: str = "cancelled by its manager") -> None:
        """Cancel the open round, recording ``reason`` in :attr:`cancellations`; its id is opened again next."""
        with self._lock:
            self._open(round_id)
            del self._rounds[round_id]
            self._decryptions = [d for d in self._decryptions if d.round_id != round_id]
            self.cancellations.append((round_id, reason))

    def finalize(
        self,
        account: NullAccount,
        round_id: int,
        aggregated_model_hash: bytes,
        performance: int,
        scores: Sequence[int],
        dropped: Sequence[bool],
        participants: Sequence[str],
    ) -> Receipt:
        """Record the round's result; ``scores`` and ``dropped`` are in the order of ``participants``.

        Raises
        ------
        FlNodeError
            Other participants than the committed ones, an excluded participant not marked dropped,
            or fewer than MIN_COHORT included participants (the ledger's ``CohortTooSmall``).
        """
        with self._lock:
            r = self._open(round_id)
            if list(participants) != [p.account for p in r.participants]:
                raise FlNodeError(f"round {round_id}: finalize names {list(participants)}, committed are {[p.account for p in r.participants]}")
            for p, d in zip(r.participants, dropped, strict=True):
                if p.exclusion != ExclusionReason.NONE and not d:
                    raise FlNodeError(f"round {round_id}: ExcludedNotDropped: {p.account} was excluded")
            included = len(r.participants) - sum(map(bool, dropped))
            if included < MIN_COHORT:
                raise FlNodeError(f"round {round_id}: CohortTooSmall: {included} included, fewer than the minimum cohort {MIN_COHORT}")
            records = tuple(replace(p, score=s, dropped=d) for p, s, d in zip(r.participants, scores, dropped, strict=True))
            self._rounds[round_id] = replace(
                r, status=RoundStatus.FINALIZED, aggregated_model_hash=to_hex(aggregated_model_hash),
                performance=performance, participants=records, dropped_count=sum(dropped),
                positive_score_sum=sum(max(s, 0) for s in scores),
            )
        return Receipt(tx_hash="", block_number=0, gas_used=0, events=())

    def record_decryptions(self, account: NullAccount, round_id: int, sum_hashes: Sequence[bytes], coalitions: Sequence[int]) -> Receipt:
        """Record sums of the open round that may be decrypted (as the ledger's ``recordDecryptions``)."""
        with self._lock:
            r = self._open(round_id)
            events = []
            for sum_hash, coalition in zip(sum_hashes, coalitions, strict=True):
                if not 0 < coalition < 1 << len(r.participants):
                    raise FlNodeError(f"round {round_id}: coalition {coalition:#x} outside its {len(r.participants)} participants")
                if self.decryption_of(round_id, sum_hash):
                    raise FlNodeError(f"round {round_id}: sum {to_hex(sum_hash)} is already recorded")
                events.append(DecryptionRecorded(block_number=0, tx_hash="", log_index=0, round_id=round_id, sum_hash=to_hex(sum_hash), coalition=coalition))
            self._decryptions.extend(events)
        return Receipt(tx_hash="", block_number=0, gas_used=0, events=tuple(events))

    def release_model(self, account: NullAccount, task_id: int, round_id: int) -> Receipt:
        """Mark a finalized round's model as the task's released model (as the ledger's ``releaseModel``)."""
        with self._lock:
            r = self._round(round_id)
            if r.status != RoundStatus.FINALIZED:
                raise FlNodeError(f"round {round_id}: RoundNotFinalized")
            if task_id in self._releases:
                raise FlNodeError(f"task {task_id}: ModelAlreadyReleased (round {self._releases[task_id][0]})")
            self._releases[task_id] = (round_id, r.aggregated_model_hash)
        return Receipt(tx_hash="", block_number=0, gas_used=0, events=())

    def released_model(self, task_id: int) -> tuple[int, str] | None:
        """``(round_id, model_hash)`` of the task's released model, None while none is released."""
        return self._releases.get(task_id)

    def decryption_of(self, round_id: int, sum_hash: bytes) -> int:
        """The coalition recorded for a round's sum, 0 when it is not on the record."""
        wanted = to_hex(sum_hash)
        return next((d.coalition for d in self._decryptions if d.round_id == round_id and d.sum_hash == wanted), 0)

    def decryptions(self) -> list[DecryptionRecorded]:
        """Every recorded decryption of rounds not cancelled, in order."""
        return [d for d in self._decryptions if d.round_id in self._rounds]

    def round_status(self, round_id: int) -> RoundStatus:
        """A round's status."""
        return self._round(round_id).status

    def member(self, address: str) -> Member:
        """A member with no stake (nothing can be slashed)."""
        return Member(
            address=address, status=MemberStatus.ACTIVE, stake=0, joined_at=0, name=address, node_key_hash=to_hex(bytes(32)),
            cumulative_score=0, pending_reward=0, claimed_reward=0, open_commitments=0,
        )

    def rounds(self) -> list[Round]:
        """Every round not cancelled, in id order."""
        return [self._rounds[k] for k in sorted(self._rounds)]

    def _round(self, round_id: int) -> Round:
        try:
            return self._rounds[round_id]
        except KeyError:
            raise FlNodeError(f"no round {round_id} on the null ledger") from None

    def _open(self, round_id: int) -> Round:
        r = self._round(round_id)
        if r.status != RoundStatus.OPEN:
            raise FlNodeError(f"round {round_id} is {r.status.name.lower()}, not open")
        return r

