"""Decryptions on the ledger: the evaluator records each coalition sum before it is opened, key
custodians open only what is recorded, and the audit compares the record with what the
published scorer evaluates.

A recorded decryption is ``(sum_hash, coalition)``: the keccak256 of the encrypted sum's bytes
and the bitmap of the round's commit positions summed in it (bit i: the participant that
committed i-th). Encrypted sums are deterministic (ciphertexts multiplied mod n²), so anyone
with the committed blobs recomputes the sum of a coalition and its hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eth_hash.auto import keccak

from fl_node.artifacts import ArtifactStore
from fl_node.crypto.codec import EncryptedUpdate
from fl_node.errors import ArtifactError, CryptoError, DecryptionRefused, FlNodeError, UpdateFormatError
from fl_node.hfl.aggregator import SummedUpdate
from fl_node.hfl.envelope import SignedBlob
from fl_node.hfl.schemes import EncryptedUpdates
from incentive.audit import AuditCheck, check
from incentive.ledger import DecryptionRecorded, ParticipantRecord, Round, RoundStatus, to_bytes32
from incentive.ledger.records import to_hex


class DecryptionLedger(Protocol):
    """The ledger calls this module makes (a :class:`~incentive.ledger.LedgerClient` or a null ledger)."""

    def record_decryptions(self, account, round_id: int, sum_hashes: Sequence[bytes], coalitions: Sequence[int]): ...

    def decryption_of(self, round_id: int, sum_hash: bytes) -> int: ...

    def participants(self, round_id: int) -> list[ParticipantRecord]: ...

    def round_status(self, round_id: int) -> RoundStatus: ...


def sum_hash(update: EncryptedUpdate) -> bytes:
    """keccak256 of an encrypted sum's bytes: what the ledger records and custodians check."""
    return keccak(update.to_bytes())


def coalition_bitmap(participant_ids: Iterable[str], positions: Mapping[str, int]) -> int:
    """Bitmap of the commit positions of ``participant_ids`` (``positions``: address -> commit index)."""
    bitmap = 0
    for pid in participant_ids:
        bitmap |= 1 << positions[pid]
    return bitmap


def coalition_members(bitmap: int, accounts: Sequence[str]) -> tuple[str, ...]:
    """The accounts (in commit order) whose bits are set in ``bitmap``; raises on a bit beyond them."""
    if bitmap >> len(accounts):
        raise FlNodeError(f"coalition {bitmap:#x} names positions beyond the round's {len(accounts)} participants")
    return tuple(a for i, a in enumerate(accounts) if bitmap >> i & 1)


@dataclass(frozen=True)
class DecryptionRequest:
    """What the key holder asks a custodian: open the encrypted sum of ``participant_ids`` in round ``round_id``."""

    round_id: int | None
    participant_ids: tuple[str, ...]
    update: EncryptedUpdate


class DecryptionRecorder:
    """Records each coalition sum of a round on the ledger just before the key holder opens it.

    Parameters
    ----------
    ledger : DecryptionLedger
    evaluator : LocalAccount | NullAccount
        Holds EVALUATOR_ROLE.
    round_id : int
    participants : Sequence[str]
        The round's committed accounts in commit order.
    """

    def __init__(self, ledger: DecryptionLedger, evaluator, round_id: int, participants: Sequence[str]) -> None:
        self.ledger = ledger
        self.evaluator = evaluator
        self.round_id = round_id
        self.positions = {a: i for i, a in enumerate(participants)}
        self.recorded: set[bytes] = set()

    def __call__(self, summed: SummedUpdate) -> None:
        digest = sum_hash(summed.payload)
        if digest in self.recorded:
            return
        self.ledger.record_decryptions(
            self.evaluator, self.round_id, [digest], [coalition_bitmap(summed.participant_ids, self.positions)]
        )
        self.recorded.add(digest)


@dataclass
class DecryptionLog:
    """The coalition sums a replay of a round opened, as ``(sum_hash hex, bitmap)`` (the audit's side of the record)."""

    positions: Mapping[str, int]
    opened: set[tuple[str, int]] = field(default_factory=set)

    def __call__(self, summed: SummedUpdate) -> None:
        self.opened.add((to_hex(sum_hash(summed.payload)), coalition_bitmap(summed.participant_ids, self.positions)))


class LedgerGate:
    """A custodian's check of a request against the ledger and the artifact store.

    A request passes when its round is open, its sum's hash is recorded for that round with
    the coalition of exactly the request's participants, and the sum equals the product of
    those participants' committed blobs (fetched by commitment and parsed under the
    federation's scheme).

    Parameters
    ----------
    ledger : DecryptionLedger
    store : ArtifactStore
        Where committed blobs are found by their hash.
    scheme : EncryptedUpdates
        The federation's public update scheme (parses and adds blobs).
    """

    def __init__(self, ledger: DecryptionLedger, store: ArtifactStore, scheme: EncryptedUpdates) -> None:
        self.ledger = ledger
        self.store = store
        self.scheme = scheme
        self._committed: dict[int, dict[str, ParticipantRecord]] = {}

    def check(self, request: DecryptionRequest) -> None:
        """Return when ``request`` may be answered.

        Raises
        ------
        DecryptionRefused
            Naming the round and what is not on the ledger or does not match.
        """
        rid = request.round_id
        if rid is None:
            raise DecryptionRefused("the request names no round")
        status = self.ledger.round_status(rid)
        if status != RoundStatus.OPEN:
            raise DecryptionRefused(f"round {rid} is {status.name.lower()}, not open")
        committed = self._participants(rid, request.participant_ids)
        positions = {a: p.index for a, p in committed.items()}
        unknown = [pid for pid in request.participant_ids if pid not in positions]
        if unknown or not request.participant_ids:
            raise DecryptionRefused(f"round {rid}: {', '.join(unknown) or 'an empty coalition'} did not commit")
        digest = sum_hash(request.update)
        wanted = coalition_bitmap(request.participant_ids, positions)
        recorded = self.ledger.decryption_of(rid, digest)
        if recorded == 0:
            raise DecryptionRefused(f"round {rid}: sum 0x{digest.hex()} is not on the ledger's decryption record")
        if recorded != wanted:
            raise DecryptionRefused(f"round {rid}: sum 0x{digest.hex()} is recorded for coalition {recorded:#x}, not {wanted:#x}")
        commitments = {a: to_bytes32(p.commitment) for a, p in committed.items()}
        try:
            blobs = [self.scheme.parse(SignedBlob.parse(self.store.get(commitments[pid])).payload) for pid in request.participant_ids]
            rebuilt = self.scheme.add(blobs)
        except (ArtifactError, CryptoError, UpdateFormatError) as exc:
            raise DecryptionRefused(f"round {rid}: cannot rebuild the sum from the committed blobs: {exc}") from exc
        if sum_hash(rebuilt) != digest:
            raise DecryptionRefused(f"round {rid}: the request is not the sum of the committed blobs of coalition {wanted:#x}")

    def _participants(self, round_id: int, wanted: Iterable[str]) -> dict[str, ParticipantRecord]:
        """The round's commitments by account; read again only when a wanted account is not among them (commits only append)."""
        known = self._committed.get(round_id)
        if known is None or any(pid not in known for pid in wanted):
            known = {p.account: p for p in self.ledger.participants(round_id)}
            self._committed[round_id] = known
        return known


def check_decryptions(
    rounds: Sequence[Round], recorded: Iterable[DecryptionRecorded], opened: Mapping[int, Iterable[tuple[str, int]]] | None
) -> AuditCheck:
    """The recorded decryptions of each round are exactly the coalition sums the replayed scorer opened.

    ``opened`` maps a round id to the ``(sum_hash, bitmap)`` its replay opened; None (no key to
    replay with) checks only that each round's aggregated coalition is on the record.
    """
    by_round: dict[int, list[tuple[str, int]]] = {}
    for d in recorded:
        by_round.setdefault(d.round_id, []).append((d.sum_hash, d.coalition))
    failures: list[str] = []
    total = 0
    for r in rounds:
        record = by_round.get(r.round_id, [])
        total += len(record)
        if opened is None:
            full = sum(1 << p.index for p in r.participants if not p.dropped)
            if full not in {c for _, c in record}:
                failures.append(f"round {r.round_id}: the aggregated coalition {full:#x} is not on the decryption record")
            continue
        expected = set(opened.get(r.round_id, ()))
        for digest, bitmap in sorted(set(record) - expected, key=lambda e: e[1]):
            failures.append(f"round {r.round_id}: coalition {_describe(bitmap, r)} (sum {digest}) was recorded but the scorer does not open it")
        for digest, bitmap in sorted(expected - set(record), key=lambda e: e[1]):
            failures.append(f"round {r.round_id}: coalition {_describe(bitmap, r)} (sum {digest}) was opened by the scorer but is not recorded")
    if opened is None:
        return check("decryptions", failures, f"{total} recorded decryptions; each round's aggregated sum recorded (set not replayed: no key)")
    return check("decryptions", failures, f"{total} recorded decryptions = the coalitions the published scorer opens")


def _describe(bitmap: int, r: Round) -> str:
    members = [p.account for p in r.participants if bitmap >> p.index & 1]
    kind = "single participant " if len(members) == 1 else ""
    return f"{kind}{bitmap:#x} [{', '.join(members)}]"
