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

#: Entries one ``recordDecryptions`` call takes (the contract's ``MAX_DECRYPTIONS_PER_CALL``).
MAX_DECRYPTIONS_PER_CALL = 256


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
    """Records each coalition sum of a round on the ledger before the key holder opens it: sums known
    ahead together (:meth:`record_all`), the others one by one as they are opened.

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
        self.record_all([summed])

    def record_all(self, sums: Sequence[SummedUpdate]) -> int:
        """Record the sums not yet recorded, up to :data:`MAX_DECRYPTIONS_PER_CALL` per transaction; returns the transactions sent."""
        entries = {}
        for summed in sums:
            digest = sum_hash(summed.payload)
            if digest not in self.recorded:
                entries[digest] = coalition_bitmap(summed.participant_ids, self.positions)
        batch = list(entries.items())
        for start in range(0, len(batch), MAX_DECRYPTIONS_PER_CALL):
            chunk = batch[start:start + MAX_DECRYPTIONS_PER_CALL]
            self.ledger.record_decryptions(self.evaluator, self.round_id, [d for d, _ in chunk], [c for _, c in chunk])
            self.recorded.update(d for d, _ in chunk)
        return -(-len(batch) // MAX_DECRYPTIONS_PER_CALL)


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


class CommittedSums:
    """Rebuilds a recorded coalition's encrypted sum from the committed blobs, without any key (the no-key audit).

    Parameters
    ----------
    store : ArtifactStore
        Where committed blobs are found by their hash.
    scheme : EncryptedUpdates
        The federation's public update scheme.
    """

    def __init__(self, store: ArtifactStore, scheme: EncryptedUpdates) -> None:
        self.store = store
        self.scheme = scheme
        self._parsed: dict[bytes, EncryptedUpdate] = {}

    def sum_hash(self, r: Round, bitmap: int) -> str:
        """Hash (hex) of the sum of the committed blobs of coalition ``bitmap`` in round ``r``.

        Raises
        ------
        FlNodeError
            A position without a commitment, or a blob missing or unparseable (named).
        """
        by_position = {p.index: p for p in r.participants}
        updates = []
        for position in range(bitmap.bit_length()):
            if not bitmap >> position & 1:
                continue
            p = by_position.get(position)
            if p is None:
                raise FlNodeError(f"position {position} has no commitment")
            digest = to_bytes32(p.commitment)
            if digest not in self._parsed:
                try:
                    self._parsed[digest] = self.scheme.parse(SignedBlob.parse(self.store.get(digest)).payload)
                except (ArtifactError, CryptoError, UpdateFormatError) as exc:
                    raise FlNodeError(f"{p.account}'s committed blob: {exc}") from exc
            updates.append(self._parsed[digest])
        if not updates:
            raise FlNodeError("empty coalition")
        return to_hex(sum_hash(self.scheme.add(updates)))


def check_decryptions(
    rounds: Sequence[Round],
    recorded: Iterable[DecryptionRecorded],
    opened: Mapping[int, Iterable[tuple[str, int]]] | None,
    sums: CommittedSums | None = None,
) -> AuditCheck:
    """The recorded decryptions of each round are exactly the coalition sums the replayed scorer opened.

    ``opened`` maps a round id to the ``(sum_hash, bitmap)`` its replay opened; None (no key to
    replay with) checks that each round's aggregated coalition is on the record and, given
    ``sums``, that every recorded hash is the hash of its coalition's sum rebuilt from the
    committed blobs (so nothing but sums of committed updates was opened).
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
            for digest, bitmap in sorted(record, key=lambda e: e[1]) if sums is not None else ():
                try:
                    rebuilt = sums.sum_hash(r, bitmap)
                except FlNodeError as exc:
                    failures.append(f"round {r.round_id}: coalition {_describe(bitmap, r)}: cannot rebuild its sum: {exc}")
                    continue
                if rebuilt != digest:
                    failures.append(f"round {r.round_id}: coalition {_describe(bitmap, r)} is recorded with sum {digest}, its committed blobs sum to {rebuilt}")
            continue
        expected = set(opened.get(r.round_id, ()))
        for digest, bitmap in sorted(set(record) - expected, key=lambda e: e[1]):
            failures.append(f"round {r.round_id}: coalition {_describe(bitmap, r)} (sum {digest}) was recorded but the scorer does not open it")
        for digest, bitmap in sorted(expected - set(record), key=lambda e: e[1]):
            failures.append(f"round {r.round_id}: coalition {_describe(bitmap, r)} (sum {digest}) was opened by the scorer but is not recorded")
    if opened is None:
        rebuilt = "; each recorded sum rebuilt from the committed blobs" if sums is not None else ""
        return check("decryptions", failures, f"{total} recorded decryptions; each round's aggregated sum recorded{rebuilt} (set not replayed: no key)")
    return check("decryptions", failures, f"{total} recorded decryptions = the coalitions the published scorer opens")


def _describe(bitmap: int, r: Round) -> str:
    members = [p.account for p in r.participants if bitmap >> p.index & 1]
    kind = "single participant " if len(members) == 1 else ""
    return f"{kind}{bitmap:#x} [{', '.join(members)}]"
