"""The aggregator: collects submissions (dropouts), checks each blob against its commitment, adds ciphertexts.

It is built from the public update scheme only, so no code path of it can decrypt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from fl_node.errors import BlobRefused, CryptoError, FlNodeError, UpdateFormatError
from fl_node.hfl.envelope import SignedBlob
from fl_node.hfl.participant import Participant, RoundPlan, Submission
from fl_node.hfl.schemes import EncryptedUpdates, PlainUpdates, PublicScheme

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exclusion:
    """A participant left out of a round, and why."""

    participant_id: str
    reason: str


@dataclass(frozen=True)
class SummedUpdate:
    """The (encrypted) sum of some participants' weighted deltas.

    Attributes
    ----------
    payload : Any
        An encrypted update (or a float64 vector for plaintext rounds).
    participant_ids : tuple[str, ...]
        Whose updates are in it.
    weight : float
        ``sum(w_k)`` over them: the key holder divides by it.
    round_id : int | None (default: None)
        The ledger round the updates were committed to (custodians check its decryption record).
    """

    payload: Any
    participant_ids: tuple[str, ...]
    weight: float
    round_id: int | None = None


@dataclass
class VerifiedRound:
    """The submissions of one round that passed verification, parsed, ready to be summed in any subset."""

    plan: RoundPlan
    scheme: PublicScheme
    updates: dict[str, Any]
    excluded: list[Exclusion]

    @property
    def participant_ids(self) -> tuple[str, ...]:
        return tuple(self.updates)

    def exclude(self, participant_id: str, reason: str) -> None:
        """Take a verified update out of the round (no later sum contains it), recording why."""
        del self.updates[participant_id]
        self.excluded.append(Exclusion(participant_id, reason))

    def sum(self, participant_ids: Iterable[str] | None = None) -> SummedUpdate:
        """Add the updates of ``participant_ids`` (default: all verified ones), without decrypting.

        Raises
        ------
        FlNodeError
            An empty subset, or an id that is not among the verified updates.
        """
        ids = tuple(self.updates) if participant_ids is None else tuple(dict.fromkeys(participant_ids))
        if not ids:
            raise FlNodeError(f"round {self.plan.round}: cannot sum an empty set of updates")
        unknown = [pid for pid in ids if pid not in self.updates]
        if unknown:
            raise FlNodeError(f"round {self.plan.round}: no verified update from {', '.join(unknown)}")
        weight = sum(self.plan.sample_counts[pid] for pid in ids) / self.plan.total_samples
        return SummedUpdate(self.scheme.add([self.updates[pid] for pid in ids]), ids, weight, self.plan.round)


class Aggregator:
    """Checks submissions against their commitments and adds them; never sees a private key.

    Parameters
    ----------
    scheme : PlainUpdates | EncryptedUpdates
        The public update scheme. Anything else (a private key, a decoder) is refused with
        TypeError, so no code path of the aggregator can decrypt.
    """

    def __init__(self, scheme: PlainUpdates | EncryptedUpdates) -> None:
        if not isinstance(scheme, (PlainUpdates, EncryptedUpdates)):
            raise TypeError(f"the aggregator takes a public update scheme, not {type(scheme).__name__}")
        self.scheme = scheme

    def verify(
        self,
        plan: RoundPlan,
        submissions: Iterable[Submission],
        expected_hashes: Mapping[str, bytes] | None = None,
    ) -> VerifiedRound:
        """Keep the submissions that match their expected hash and parse; exclude the others with a reason.

        Parameters
        ----------
        plan : RoundPlan
        submissions : Iterable[Submission]
        expected_hashes : Mapping[str, bytes] | None (default: each submission's own ``blob_hash``)
            The commitments read from the ledger.
        """
        updates: dict[str, Any] = {}
        excluded: list[Exclusion] = []
        for sub in submissions:
            reason = self._reject_reason(plan, sub, updates, expected_hashes)
            if reason is None:
                try:
                    updates[sub.participant_id] = self.open(plan, sub.participant_id, sub.blob)
                except BlobRefused as exc:
                    reason = str(exc)
                except (CryptoError, UpdateFormatError) as exc:
                    reason = f"unusable blob: {exc}"
            if reason is not None:
                log.warning("round %d: excluded %s: %s", plan.round, sub.participant_id, reason)
                excluded.append(Exclusion(sub.participant_id, reason))
        return VerifiedRound(plan, self.scheme, updates, excluded)

    def open(self, plan: RoundPlan, sender: str, blob: bytes) -> Any:
        """The update in ``sender``'s blob, once its binding to ``plan`` and ``sender`` holds.

        Checks, in order: the header names this chain, ledger, task, round and ``sender``; on a
        chain, the blob is signed by ``sender``; the payload parses; its plaintext-knowledge
        proof verifies under the header (so a copied or re-randomized update is refused).

        Raises
        ------
        BlobRefused
            Header or signature not this round's and sender's.
        UpdateFormatError, CryptoError
            Malformed blob or payload, or a proof that does not verify.
        """
        signed = SignedBlob.parse(blob)
        expected = plan.header_for(sender)
        if signed.header != expected:
            raise BlobRefused(f"blob bound to {signed.header.describe()}, not to {expected.describe()}")
        if plan.signed:
            signer = signed.signer()
            if signer != sender:
                raise BlobRefused(f"blob not signed by its sender (signature {'of ' + signer if signer else 'missing or invalid'})")
        update = self.scheme.parse(signed.payload)
        self.scheme.check_proof(update, signed.proof, signed.header.to_bytes())
        return update

    @staticmethod
    def _reject_reason(
        plan: RoundPlan, sub: Submission, accepted: Mapping[str, Any], expected_hashes: Mapping[str, bytes] | None
    ) -> str | None:
        pid = sub.participant_id
        if pid not in plan.sample_counts:
            return "not selected for this round"
        if pid in accepted:
            return "duplicate submission"
        if sub.n_samples != plan.sample_counts[pid]:
            return f"claims {sub.n_samples} samples, the round counts {plan.sample_counts[pid]}"
        expected = sub.blob_hash if expected_hashes is None else expected_hashes.get(pid)
        if expected is None:
            return "no commitment for this participant"
        actual = keccak(sub.blob)
        if actual != expected:
            return f"blob hash 0x{actual.hex()} does not match commitment 0x{bytes(expected).hex()}"
        return None


@dataclass(frozen=True)
class Collected:
    """Submissions that came in, and the participants that failed or were late."""

    submissions: tuple[Submission, ...]
    dropped: tuple[Exclusion, ...]


def collect_submissions(
    participants: Sequence[Participant], plan: RoundPlan, deadline_s: float | None = None, max_workers: int = 1
) -> Collected:
    """Ask every participant for its submission; one that raises or misses the deadline is dropped.

    A submission is attributed to the participant that was asked, never to the id it carries:
    one that names another participant is refused (dropped under the asked participant's id).

    A late participant's thread is not killed (Python cannot); its result is ignored.
    """
    pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="participant")
    futures = {pool.submit(p.submit, plan): p.participant_id for p in participants}
    done, _ = wait(futures, timeout=deadline_s)
    pool.shutdown(wait=False, cancel_futures=True)
    submissions: list[Submission] = []
    dropped: list[Exclusion] = []
    for future, pid in futures.items():
        if future not in done:
            dropped.append(Exclusion(pid, f"no submission within the {deadline_s:g} s deadline"))
        elif future.exception() is not None:
            exc = future.exception()
            dropped.append(Exclusion(pid, f"failed: {type(exc).__name__}: {exc}"))
        elif future.result().participant_id != pid:
            dropped.append(Exclusion(pid, f"its reply claims to come from {future.result().participant_id}: refused"))
        else:
            submissions.append(future.result())
    for d in dropped:
        log.warning("round %d: dropped %s: %s", plan.round, d.participant_id, d.reason)
    return Collected(tuple(submissions), tuple(dropped))
