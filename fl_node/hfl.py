"""One horizontal FL round, free of any transport and of the ledger: participant, aggregator, key holder.

The round (the seed's four steps; ``fl_node.federation`` adds the ledger around them):

1. The global flat vector goes out in a :class:`RoundPlan`, with the public sample count
   ``n_k`` of every selected participant; ``N`` is their total and ``w_k = n_k / N``.
2. Each :class:`Participant` trains locally and submits ``w_k * (local - global)``, clipped to
   ``[-clip, clip]`` and encoded by the round's update scheme: Paillier-encrypted by the
   packed codec (:class:`EncryptedUpdates`) or float32 bytes (:class:`PlainUpdates`,
   ``--no-encrypt``). A :class:`Submission` carries the blob and its keccak256 hash.
3. The :class:`Aggregator`, built from the public scheme only, checks each blob against the
   hash it expects (the ledger commitment), parses it, and adds any subset of the verified
   updates (:meth:`VerifiedRound.sum`) into a :class:`SummedUpdate`.
4. The :class:`KeyHolder`, which alone holds the decoder (the private key), decrypts sums
   only and rescales by ``1 / sum(w_k)`` over the included participants, so that a round
   with dropouts is still the sample-weighted FedAvg of those who took part.

Clipping and the error bound. The weighted delta ``w_k * (local - global)`` is clipped to
``[-clip, clip]`` (default 1.0) before encoding, in both modes, so that encrypted and
plaintext rounds aggregate the same values; each submission counts its clipped values.
Since ``w_k <= 1`` and a round of local training moves standardized-data models by far less
than 1 per parameter, clipping is rare (the counts show it). The codec quantizes each value
with stochastic rounding on a grid of step ``q = clip / (2**(bits-1) - 1)`` (the codec's
``quantization_step``), so each decoded value is off by less than ``q``. For one round, the
new global vector then differs from the plaintext one by less than
``K * q / sum(w_k)`` per parameter (K included participants), see :func:`round_error_bound`
(bits=16, clip=1, 10 participants, no dropout: 3.05e-4). Over R rounds an encrypted and a
plaintext run start each later round from slightly different vectors; the sum of the
per-round bounds bounds their final difference when local training does not amplify
differences (SGD with a small step on a convex loss, e.g. ``logreg``). A non-convex model
(``mlp``) can amplify them; ``fedledger train --compare-plaintext`` measures both the
per-round deviation from the exact FedAvg and the final difference.

Dropouts (:func:`collect_submissions`, :func:`run_round`): a participant that raises, or has
not submitted by the deadline, is left out of the round; the round goes on when at least
``min_participants`` usable submissions remain, is retried ``retries`` times otherwise, and
then raises :class:`~fl_node.errors.RoundAborted`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from eth_hash.auto import keccak
from phe import PaillierPrivateKey, PaillierPublicKey
from torch import nn

from fl_node.crypto.codec import CodecConfig, EncryptedUpdate, PackedCodec, PackedDecryptor
from fl_node.data import ArraySplit
from fl_node.errors import CryptoError, FlNodeError, RoundAborted, UpdateFormatError
from fl_node.models import flatten, unflatten
from fl_node.training import TrainConfig, fit

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- update schemes


class PublicScheme(Protocol):
    """The public half of an update scheme: what participants and the aggregator may use."""

    encrypted: bool
    n_params: int
    clip: float

    def encode(self, values: np.ndarray, rng: np.random.Generator) -> bytes: ...

    def parse(self, blob: bytes) -> Any: ...

    def add(self, updates: Sequence[Any]) -> Any: ...

    def error_bound(self, n_included: int) -> float: ...


class SumDecoder(Protocol):
    """The private half: turns a sum of updates back into floats (only the key holder has it)."""

    def decode(self, summed: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class PlainUpdates:
    """Plaintext updates (``--no-encrypt``): a blob is the float32 little-endian vector.

    Attributes
    ----------
    n_params : int
    clip : float (default: 1.0)
    """

    n_params: int
    clip: float = 1.0
    encrypted: bool = field(default=False, init=False)

    def encode(self, values: np.ndarray, rng: np.random.Generator) -> bytes:
        return np.ascontiguousarray(values, dtype="<f4").tobytes()

    def parse(self, blob: bytes) -> np.ndarray:
        """The vector as float64; a wrong length or a non-finite value raises UpdateFormatError."""
        if len(blob) != 4 * self.n_params:
            raise UpdateFormatError(f"plaintext update has {len(blob)} bytes, expected {4 * self.n_params}")
        values = np.frombuffer(blob, dtype="<f4").astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise UpdateFormatError("plaintext update holds non-finite values")
        if np.any(np.abs(values) > float(np.float32(self.clip))):
            raise UpdateFormatError(f"plaintext update holds values beyond the clip bound {self.clip:g}")
        return values

    def add(self, updates: Sequence[np.ndarray]) -> np.ndarray:
        return np.sum(updates, axis=0)

    def error_bound(self, n_included: int) -> float:
        """Float32 rounding of each submitted value: half an ulp at ``clip``."""
        return n_included * float(np.spacing(np.float32(self.clip))) / 2


@dataclass(frozen=True)
class PlainSums:
    """Decoder of plaintext sums: they are already floats."""

    def decode(self, summed: np.ndarray) -> np.ndarray:
        return np.asarray(summed, dtype=np.float64).copy()


class EncryptedUpdates:
    """Paillier updates through the packed codec; holds the public key only.

    Parameters
    ----------
    public_key : PaillierPublicKey
        A private key is refused (TypeError): this object is what the aggregator gets.
    n_params : int
    config : CodecConfig (default: CodecConfig())
    """

    encrypted = True

    def __init__(self, public_key: PaillierPublicKey, n_params: int, config: CodecConfig | None = None) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise TypeError(f"EncryptedUpdates takes a Paillier public key, not {type(public_key).__name__}")
        self.public_key = public_key
        self.n_params = n_params
        self.config = config or CodecConfig()
        self.codec = PackedCodec(public_key, self.config)

    @property
    def clip(self) -> float:
        return self.config.clip

    def encode(self, values: np.ndarray, rng: np.random.Generator) -> bytes:
        return self.codec.encrypt(np.asarray(values, dtype=np.float64), rng=rng).to_bytes()

    def parse(self, blob: bytes) -> EncryptedUpdate:
        """Parse a blob (CiphertextFormatError when malformed or under another key) and check its length."""
        update = EncryptedUpdate.from_bytes(blob, self.public_key)
        if update.length != self.n_params:
            raise UpdateFormatError(f"encrypted update holds {update.length} values, expected {self.n_params}")
        if update.count != 1:
            raise UpdateFormatError(f"a participant's update must be a single update, this one claims a sum of {update.count}")
        layout = self.codec.layout
        made_with = (update.bits, update.clip, update.slot_bits, update.slots)
        if made_with != (self.config.bits, float(self.config.clip), layout.slot_bits, layout.slots):
            raise UpdateFormatError(
                f"encrypted update made with codec (bits, clip, slot_bits, slots) = {made_with}, the round uses "
                f"{(self.config.bits, float(self.config.clip), layout.slot_bits, layout.slots)}"
            )
        return update

    def add(self, updates: Sequence[EncryptedUpdate]) -> EncryptedUpdate:
        return self.codec.aggregate(list(updates))

    def error_bound(self, n_included: int) -> float:
        """Stochastic rounding moves each value by less than one quantization step."""
        return n_included * self.codec.quantization_step


class EncryptedSums:
    """Decoder of encrypted sums: holds the private key (the key holder's)."""

    def __init__(self, private_key: PaillierPrivateKey, config: CodecConfig | None = None) -> None:
        self.decryptor = PackedDecryptor(private_key, config or CodecConfig())

    def decode(self, summed: EncryptedUpdate) -> np.ndarray:
        return self.decryptor.decrypt_sum(summed)


# ---------------------------------------------------------------- the round's messages


@dataclass(frozen=True)
class RoundPlan:
    """What the aggregator publishes to open a round.

    Attributes
    ----------
    round : int
    global_params : np.ndarray
        The global flat float32 vector.
    sample_counts : Mapping[str, int]
        Public sample count of every participant selected for the round.
    """

    round: int
    global_params: np.ndarray
    sample_counts: Mapping[str, int]

    @property
    def total_samples(self) -> int:
        return sum(self.sample_counts.values())

    def weight(self, participant_id: str) -> float:
        """``w_k = n_k / N`` over the round's selected participants."""
        return self.sample_counts[participant_id] / self.total_samples


@dataclass(frozen=True)
class Submission:
    """A participant's answer to a round.

    Attributes
    ----------
    participant_id : str
    n_samples : int
    blob : bytes
        The encoded (encrypted or plaintext) weighted delta.
    blob_hash : bytes
        keccak256 of ``blob`` (bytes32): the commitment that goes on chain.
    bytes_up : int
        Bytes sent to the aggregator (the blob).
    clipped : int (default: 0)
        How many values were clipped to ``[-clip, clip]``.
    train_loss : float (default: nan)
        Mean loss of the last local epoch.
    """

    participant_id: str
    n_samples: int
    blob: bytes
    blob_hash: bytes
    bytes_up: int
    clipped: int = 0
    train_loss: float = float("nan")


@dataclass(frozen=True)
class Exclusion:
    """A participant left out of a round, and why."""

    participant_id: str
    reason: str


# ---------------------------------------------------------------- participant


class Behaviour:
    """How a participant treats its data and its update; this base class is honest.

    Subclasses model misbehaving participants (free-riders, label flippers, scalers) by
    overriding one or both hooks.
    """

    def local_data(self, data: ArraySplit, rng: np.random.Generator) -> ArraySplit:
        """The data the participant trains on."""
        return data

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The unweighted update ``local - global`` it reports."""
        return delta


class Participant:
    """A data holder: trains the global model on its data and submits its encoded weighted delta.

    Parameters
    ----------
    participant_id : str
    data : ArraySplit
        Its (standardized) training data.
    model_factory : Callable[[], nn.Module]
        Builds the model architecture; the global vector is loaded into it.
    train_config : TrainConfig
    scheme : PublicScheme
        How updates are encoded (public key only).
    seed : int (default: 0)
        With the round number, seeds minibatch order and stochastic rounding.
    behaviour : Behaviour | None (default: honest)
    """

    def __init__(
        self,
        participant_id: str,
        data: ArraySplit,
        model_factory: Callable[[], nn.Module],
        train_config: TrainConfig,
        scheme: PublicScheme,
        seed: int = 0,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.data = data
        self.model_factory = model_factory
        self.train_config = train_config
        self.scheme = scheme
        self.seed = seed
        self.behaviour = behaviour or Behaviour()

    @property
    def n_samples(self) -> int:
        return len(self.data)

    def submit(self, plan: RoundPlan) -> Submission:
        """Train from ``plan.global_params`` and return the encoded, hashed weighted delta."""
        if self.participant_id not in plan.sample_counts:
            raise FlNodeError(f"participant {self.participant_id} is not selected for round {plan.round}")
        train_seed, code_seed = np.random.SeedSequence([self.seed, plan.round]).spawn(2)
        rng = np.random.default_rng(code_seed)
        model = unflatten(self.model_factory(), plan.global_params)
        result = fit(
            model,
            self.behaviour.local_data(self.data, rng),
            self.train_config,
            seed=int(train_seed.generate_state(1)[0]),
        )
        delta = self.behaviour.local_update(
            flatten(model).astype(np.float64) - np.asarray(plan.global_params, dtype=np.float64), rng
        )
        weighted = plan.weight(self.participant_id) * delta
        clip = self.scheme.clip
        clipped = int(np.count_nonzero(np.abs(weighted) > clip))
        blob = self.scheme.encode(np.clip(weighted, -clip, clip), rng)
        return Submission(
            participant_id=self.participant_id,
            n_samples=self.n_samples,
            blob=blob,
            blob_hash=keccak(blob),
            bytes_up=len(blob),
            clipped=clipped,
            train_loss=result.loss,
        )


# ---------------------------------------------------------------- aggregator


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
    """

    payload: Any
    participant_ids: tuple[str, ...]
    weight: float


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
        return SummedUpdate(self.scheme.add([self.updates[pid] for pid in ids]), ids, weight)


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
                    updates[sub.participant_id] = self.scheme.parse(sub.blob)
                except (CryptoError, UpdateFormatError) as exc:
                    reason = f"unusable blob: {exc}"
            if reason is not None:
                log.warning("round %d: excluded %s: %s", plan.round, sub.participant_id, reason)
                excluded.append(Exclusion(sub.participant_id, reason))
        return VerifiedRound(plan, self.scheme, updates, excluded)

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


# ---------------------------------------------------------------- key holder


class KeyHolder:
    """Holds the decoder (the private key); decrypts sums only and applies weighted FedAvg.

    Parameters
    ----------
    decoder : SumDecoder
        :class:`EncryptedSums` (private key) or :class:`PlainSums`.
    """

    def __init__(self, decoder: SumDecoder) -> None:
        self.decoder = decoder

    def decrypt(self, summed: SummedUpdate) -> np.ndarray:
        """``sum(w_k * delta_k)`` over the summed participants, float64."""
        return self.decoder.decode(summed.payload)

    def new_global(self, global_params: np.ndarray, summed: SummedUpdate) -> np.ndarray:
        """``global + sum(w_k * delta_k) / sum(w_k)``: the sample-weighted FedAvg of the summed participants."""
        if summed.weight <= 0:
            raise FlNodeError("cannot average a sum with no weight")
        step = self.decrypt(summed) / summed.weight
        return (np.asarray(global_params, dtype=np.float64) + step).astype(np.float32)


def round_error_bound(scheme: PublicScheme, summed: SummedUpdate) -> float:
    """Largest per-parameter difference between this round's new global vector and the exact one.

    ``K * q / sum(w_k)`` for K summed participants and quantization step ``q`` (float32
    rounding for plaintext rounds), given the same clipped inputs.
    """
    return scheme.error_bound(len(summed.participant_ids)) / summed.weight


# ---------------------------------------------------------------- dropouts and one whole round


@dataclass(frozen=True)
class RoundConfig:
    """Dropout handling of a round.

    Attributes
    ----------
    min_participants : int (default: 1)
        Usable submissions needed to complete the round.
    deadline_s : float | None (default: None, wait for all)
        Submissions not in by then are dropped.
    max_workers : int (default: 1)
        Participants trained at once (threads).
    retries : int (default: 0)
        Times a round short of ``min_participants`` is run again before RoundAborted.
    """

    min_participants: int = 1
    deadline_s: float | None = None
    max_workers: int = 1
    retries: int = 0


@dataclass(frozen=True)
class Collected:
    """Submissions that came in, and the participants that failed or were late."""

    submissions: tuple[Submission, ...]
    dropped: tuple[Exclusion, ...]


def collect_submissions(
    participants: Sequence[Participant], plan: RoundPlan, deadline_s: float | None = None, max_workers: int = 1
) -> Collected:
    """Ask every participant for its submission; one that raises or misses the deadline is dropped.

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
        else:
            submissions.append(future.result())
    for d in dropped:
        log.warning("round %d: dropped %s: %s", plan.round, d.participant_id, d.reason)
    return Collected(tuple(submissions), tuple(dropped))


@dataclass(frozen=True)
class RoundResult:
    """Outcome of :func:`run_round`.

    Attributes
    ----------
    round : int
    global_params : np.ndarray
        The new global vector.
    included : tuple[str, ...]
        Participants whose updates were averaged.
    dropped : tuple[Exclusion, ...]
        Failed or late in the last attempt.
    excluded : tuple[Exclusion, ...]
        Submitted but rejected by the aggregator in the last attempt.
    bytes_up : int
        Blob bytes sent to the aggregator over all attempts.
    clipped : int
        Values clipped in the included submissions.
    attempts : int
    error_bound : float
        :func:`round_error_bound` of the averaged sum.
    seconds : float
    """

    round: int
    global_params: np.ndarray
    included: tuple[str, ...]
    dropped: tuple[Exclusion, ...]
    excluded: tuple[Exclusion, ...]
    bytes_up: int
    clipped: int
    attempts: int
    error_bound: float
    seconds: float


def run_round(
    round_no: int,
    global_params: np.ndarray,
    participants: Sequence[Participant],
    aggregator: Aggregator,
    key_holder: KeyHolder,
    config: RoundConfig | None = None,
) -> RoundResult:
    """Run one whole round without a ledger: plan, collect (with dropouts), verify, sum, decrypt, average.

    Raises
    ------
    RoundAborted
        Fewer than ``config.min_participants`` usable submissions after ``config.retries`` retries.
    """
    config = config or RoundConfig()
    start = time.perf_counter()
    plan = RoundPlan(round_no, global_params, {p.participant_id: p.n_samples for p in participants})
    bytes_up = 0
    for attempt in range(1, config.retries + 2):
        collected = collect_submissions(participants, plan, config.deadline_s, config.max_workers)
        bytes_up += sum(s.bytes_up for s in collected.submissions)
        verified = aggregator.verify(plan, collected.submissions)
        if len(verified.updates) >= config.min_participants:
            break
        log.warning(
            "round %d attempt %d: %d usable submissions, %d needed",
            round_no, attempt, len(verified.updates), config.min_participants,
        )
    else:
        left_out = "; ".join(f"{e.participant_id}: {e.reason}" for e in (*collected.dropped, *verified.excluded))
        raise RoundAborted(
            f"round {round_no}: {len(verified.updates)} of {len(participants)} participants submitted usable updates, "
            f"fewer than min_participants={config.min_participants} after {config.retries + 1} attempt(s) ({left_out})"
        )
    summed = verified.sum()
    clipped = sum(s.clipped for s in collected.submissions if s.participant_id in verified.updates)
    return RoundResult(
        round=round_no,
        global_params=key_holder.new_global(global_params, summed),
        included=summed.participant_ids,
        dropped=collected.dropped,
        excluded=tuple(verified.excluded),
        bytes_up=bytes_up,
        clipped=clipped,
        attempts=attempt,
        error_bound=round_error_bound(aggregator.scheme, summed),
        seconds=time.perf_counter() - start,
    )
