"""BatchCrypt-style packed Paillier codec: clip, quantize, pack many values per ciphertext, add, decrypt.

Quantization
    Values are clipped to ``[-clip, clip]`` and scaled by ``s = Q / clip`` with
    ``Q = 2^(bits-1) - 1``; ``x·s`` is rounded stochastically (up with probability equal to
    its fractional part, drawn from the caller's seeded ``numpy.random.Generator``), giving
    integers q in ``[-Q, Q]`` with ``E[q/s] = x``.

Error bound (stated here, checked by the tests and quoted by the README)
    Let ``Δ = clip / Q`` (``bits=16, clip=1``: Δ = 1/32767 ≈ 3.05e-5).
    * per value, for ``|x| <= clip``: ``|q/s - x| < Δ``, and the error has mean 0;
      values beyond ``clip`` additionally lose ``|x| - clip`` (clipping is the caller's choice
      of threshold);
    * per sum of ``count`` values: ``|Σ q_i/s - Σ x_i| < count·Δ`` (worst case; the errors are
      independent with standard deviation ≤ Δ/2 each, so typically ≈ √count·Δ/2);
    * per average: ``< Δ``.
    The encrypted path adds **no** further error: integer slot sums decrypt exactly.

Slot layout
    Each q is offset to ``u = q + Q`` in ``[0, 2Q]``. A slot has
    ``slot_bits = bit_length(max_participants · 2Q)`` bits, so the sum of up to
    ``capacity = floor((2^slot_bits - 1) / 2Q) >= max_participants`` offset values never
    carries into the next slot (bits=16, 16 participants: 20-bit slots). A plaintext (mod nˢ,
    s = ``degree``, 1 for Paillier) holds ``slots = floor(s·(bit_length(n) - 1) / slot_bits)``
    slots: value ``i`` of the vector is in plaintext ``i // slots`` at bits
    ``[j·slot_bits, (j+1)·slot_bits)`` with ``j = i % slots`` (slot 0 least significant).
    The top bit(s) of the plaintext stay 0, so
    a packed sum stays ``< 2^(s·(bit_length(n)-1)) <= nˢ`` and never wraps. Unused slots of the
    last plaintext are 0. Decryption subtracts ``count·Q`` from each slot sum.

Size (2048-bit key, 20-bit slots)
    Paillier (degree 1): 102 values per 512-byte ciphertext, ≈ 5.0 bytes per value. Damgård–Jurik degree s packs s·2047 plaintext bits into
    (s+1)·256 bytes: s = 4 → 409 values per 1280 bytes ≈ 3.1 B/value, s = 8 → 818 per
    2304 bytes ≈ 2.8 B/value; the floor is slot_bits / 8 = 2.5 B/value, so 16-bit values
    with 4 headroom bits cannot reach 2 bytes per value under any degree.

Roles
    :class:`PackedCodec` holds only the public key (participants encrypt, the aggregator adds);
    :class:`PackedDecryptor` holds the private key (the key holder decrypts each update alone to
    range-check it, then the sums).
"""

from __future__ import annotations

import hashlib
import logging
import math
import struct
import threading
from collections.abc import Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass

import gmpy2
import numpy as np
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto import paillier
from fl_node.crypto.keys import key_fingerprint
from fl_node.crypto.paillier import RandomnessMode
from fl_node.crypto.parallel import WorkerPool, shared_pool
from fl_node.errors import CiphertextFormatError, CodecError

__all__ = ["TASK_CODEC", "CodecConfig", "EncryptedUpdate", "PackedCodec", "PackedDecryptor", "SlotLayout", "Witness"]

log = logging.getLogger(__name__)

_MAGIC = b"FLCT"
_VERSION = 1
# magic, version, fingerprint, bits, slot_bits, slots, degree, clip, length, count, n_ciphertexts, ciphertext_bytes
_HEADER = struct.Struct(">4sB32sBBHBdQIIH")
_DIGEST = 32
_REFILL_CHUNK = 16


@dataclass(frozen=True)
class CodecConfig:
    """Quantization parameters shared by participants, aggregator and key holder.

    Attributes
    ----------
    bits : int (default: 16)
        Quantization bits per value (2..32).
    clip : float (default: 1.0)
        Values are clipped to ``[-clip, clip]`` before quantizing. 0 (automatic) is a task
        setting: the task sets the clip from its members when it is built
        (:meth:`fl_node.task.TaskConfig.codec_for`); a codec cannot quantize with it.
    max_participants : int (default: 16)
        Headroom: a sum of this many updates never overflows a slot.
    degree : int (default: 1)
        Damgård–Jurik s: plaintexts mod nˢ, ciphertexts mod nˢ⁺¹; 1 is Paillier. Larger
        degrees shrink bytes per value (module docstring) and are best paired with
        ``randomness="short"`` (:mod:`fl_node.crypto.paillier`). 0 (automatic) is a task
        setting, like the automatic clip.
    randomness : {"full", "short"} (default: "full")
        Obfuscator kind participants encrypt with (:mod:`fl_node.crypto.paillier`); decryption
        and the values are the same either way, "short" rests on an extra hardness assumption.
    """

    bits: int = 16
    clip: float = 1.0
    max_participants: int = 16
    degree: int = 1
    randomness: str = "full"  # "full" or "short"; a plain str so that run-config tables can cast it

    def __post_init__(self) -> None:
        if not 2 <= self.bits <= 32:
            raise CodecError(f"quantization bits must be in 2..32, got {self.bits}")
        if not (math.isfinite(self.clip) and self.clip >= 0):
            raise CodecError(f"clip must be 0 (automatic) or a positive finite number, got {self.clip}")
        if not 1 <= self.max_participants <= 1 << 20:
            raise CodecError(f"max_participants must be in 1..2^20, got {self.max_participants}")
        if not 0 <= self.degree <= 16:
            raise CodecError(f"degree must be 0 (automatic) or in 1..16, got {self.degree}")
        if self.randomness not in ("full", "short"):
            raise CodecError(f"randomness must be 'full' or 'short', got {self.randomness!r}")

    @property
    def qmax(self) -> int:
        """Q = 2^(bits-1) - 1: quantized values lie in [-Q, Q]."""
        return (1 << (self.bits - 1)) - 1

    @property
    def scale(self) -> float:
        """s = Q / clip: a value x becomes round(x·s)."""
        return self.qmax / self._set_clip()

    @property
    def step(self) -> float:
        """Δ = clip / Q, the per-value error bound (module docstring)."""
        return self._set_clip() / self.qmax

    @property
    def slot_bits(self) -> int:
        """Bits per slot: room for max_participants offset values in [0, 2Q]."""
        return (self.max_participants * 2 * self.qmax).bit_length()

    def _set_clip(self) -> float:
        if self.clip == 0:
            raise CodecError("the automatic clip (0) is set when the task is built; a codec needs a positive clip")
        return self.clip

    def check_set(self) -> None:
        """CodecError unless the clip and the degree are set (not the task's automatic 0)."""
        self._set_clip()
        if self.degree == 0:
            raise CodecError("the automatic degree (0) is set when the task is built; a codec needs a degree of at least 1")

    def sum_error_bound(self, count: int) -> float:
        """Worst-case absolute error of a decrypted sum of ``count`` values in [-clip, clip]: count·Δ."""
        return count * self.step


TASK_CODEC = CodecConfig(bits=8, clip=0.0, degree=0, randomness="short")
"""A federation task's default codec: 8-bit values, short-exponent randomness, and the clip and
the degree set from the task (:func:`fl_node.task.automatic_clip`,
:func:`fl_node.crypto.knowledge.automatic_degree`: Damgård–Jurik degree 4 unless degree 1 sends fewer
bytes). At degree 4 that is 1.93 ciphertext bytes per parameter with a 2048-bit key, over 1,400
times faster than encrypting values one by one with ``phe``, with final accuracy within one test
sample of plaintext (docs/figures.md, "The codec at its limit")."""


@dataclass(frozen=True)
class SlotLayout:
    """How values sit in plaintexts under one key (module docstring, "Slot layout")."""

    slot_bits: int
    slots: int
    capacity: int

    @classmethod
    def for_key(cls, config: CodecConfig, n: int) -> SlotLayout:
        config.check_set()
        slots = config.degree * (n.bit_length() - 1) // config.slot_bits
        if slots < 1:
            raise CodecError(f"a {n.bit_length()}-bit key cannot hold one {config.slot_bits}-bit slot")
        capacity = ((1 << config.slot_bits) - 1) // (2 * config.qmax)
        return cls(config.slot_bits, slots, capacity)

    def ciphertexts_for(self, length: int) -> int:
        """Number of ciphertexts a vector of ``length`` values needs."""
        return -(-length // self.slots)


@dataclass(frozen=True)
class EncryptedUpdate:
    """Packed ciphertexts of one update (or of a sum of ``count`` updates).

    Attributes
    ----------
    length : int
        Number of values.
    count : int
        Number of updates summed in (1 for a fresh encryption).
    ciphertexts : tuple[int, ...]
        Paillier ciphertexts in [1, n²), ``ceil(length / slots)`` of them.
    key_fingerprint : bytes
        SHA-256 of the modulus (:func:`fl_node.crypto.keys.key_fingerprint`).
    bits, clip, slot_bits, slots, degree :
        Codec parameters the ciphertexts were made with.
    ciphertext_bytes : int
        Fixed width of one ciphertext in the byte form (byte length of nˢ⁺¹).
    """

    length: int
    count: int
    ciphertexts: tuple[int, ...]
    key_fingerprint: bytes
    bits: int
    clip: float
    slot_bits: int
    slots: int
    ciphertext_bytes: int
    degree: int = 1

    def to_bytes(self) -> bytes:
        """Framed bytes: header, fixed-width big-endian ciphertexts, SHA-256 of everything before it.

        Layout: ``b"FLCT"``, version (u8), key fingerprint (32 B), bits (u8), slot_bits (u8),
        slots (u16), degree (u8), clip (f64), length (u64), count (u32), number of ciphertexts
        (u32), ciphertext width (u16), then the ciphertexts, then the digest: 68 + 32 bytes
        of framing.
        """
        header = _HEADER.pack(
            _MAGIC, _VERSION, self.key_fingerprint, self.bits, self.slot_bits, self.slots, self.degree,
            self.clip, self.length, self.count, len(self.ciphertexts), self.ciphertext_bytes,
        )
        width = self.ciphertext_bytes
        payload = b"".join(int(c).to_bytes(width, "big") for c in self.ciphertexts)
        body = header + payload
        return body + hashlib.sha256(body).digest()

    @property
    def nbytes(self) -> int:
        """Size of :meth:`to_bytes` without building it."""
        return _HEADER.size + len(self.ciphertexts) * self.ciphertext_bytes + _DIGEST

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PaillierPublicKey) -> EncryptedUpdate:
        """Parse and check a blob made by :meth:`to_bytes` under ``public_key``.

        The SHA-256 trailer catches truncation and accidental alteration (a byte flip inside a
        ciphertext is otherwise a valid ciphertext of garbage); it is not a MAC: the on-chain
        commitment to the whole blob is what binds a participant to it.

        Raises
        ------
        CiphertextFormatError
            Truncated, altered, wrong-length, out-of-range (>= n² or not a unit) or other-key blobs.
        """
        data = bytes(data)
        if len(data) < _HEADER.size + _DIGEST or not data.startswith(_MAGIC):
            raise CiphertextFormatError(f"not an encrypted update (bad magic or only {len(data)} bytes)")
        (_, version, fingerprint, bits, slot_bits, slots, degree, clip, length, count, n_ct, width) = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise CiphertextFormatError(f"unsupported encrypted-update version {version}")
        expected = _HEADER.size + n_ct * width + _DIGEST
        if len(data) != expected:
            raise CiphertextFormatError(f"encrypted update has {len(data)} bytes, its header announces {expected} (truncated or padded)")
        body, digest = data[:-_DIGEST], data[-_DIGEST:]
        if hashlib.sha256(body).digest() != digest:
            raise CiphertextFormatError("encrypted update checksum mismatch: the blob was altered")
        own = key_fingerprint(public_key)
        if fingerprint != own:
            raise CiphertextFormatError(
                f"encrypted update was made under another key (fingerprint {fingerprint.hex()[:16]}…, expected {own.hex()[:16]}…)"
            )
        if not (length >= 1 and count >= 1 and slots >= 1 and 1 <= slot_bits <= 62 and 2 <= bits <= 32 and 1 <= degree <= 16):
            raise CiphertextFormatError("encrypted update header holds impossible codec parameters")
        modulus = public_key.n ** (degree + 1)
        if width != _width(modulus):
            raise CiphertextFormatError(f"ciphertext width {width} bytes does not match the key ({_width(modulus)} bytes)")
        if slots * slot_bits > degree * (public_key.n.bit_length() - 1) or n_ct != -(-length // slots):
            raise CiphertextFormatError(f"{n_ct} ciphertexts of {slots} slots cannot hold {length} values under this key")
        if not (math.isfinite(clip) and clip > 0):
            raise CiphertextFormatError(f"encrypted update clip {clip} is not a positive number")
        n = gmpy2.mpz(public_key.n)
        ciphertexts = []
        offset = _HEADER.size
        for index in range(n_ct):
            c = int.from_bytes(data[offset : offset + width], "big")
            offset += width
            if not 0 < c < modulus or gmpy2.gcd(c, n) != 1:
                raise CiphertextFormatError(f"ciphertext {index} is not an element of Z*_(n^{degree + 1}) for this key")
            ciphertexts.append(c)
        return cls(length, count, tuple(ciphertexts), fingerprint, bits, clip, slot_bits, slots, width, degree)


@dataclass(frozen=True)
class Witness:
    """What the encrypting participant knows of its ciphertexts: ``c_i = (1+n)^(m_i) · r_i^(nˢ) mod nˢ⁺¹``.

    Attributes
    ----------
    plaintexts : tuple[int, ...]
        The packed plaintexts m_i.
    roots : tuple[int, ...]
        The obfuscators' roots r_i in Z*_n.
    """

    plaintexts: tuple[int, ...]
    roots: tuple[int, ...]


def _width(modulus: int) -> int:
    return (modulus.bit_length() + 7) // 8


def quantize(values: np.ndarray, config: CodecConfig, rng: np.random.Generator) -> np.ndarray:
    """Clip and stochastically round ``values`` to int64 in [-Q, Q] (unbiased inside the clip range)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise CodecError("cannot encode NaN or infinite values")
    scaled = np.clip(x, -config.clip, config.clip) * config.scale
    low = np.floor(scaled)
    q = low + (rng.random(scaled.shape) < (scaled - low))
    return np.clip(q, -config.qmax, config.qmax).astype(np.int64)


def pack(offset_values: np.ndarray, layout: SlotLayout) -> list[int]:
    """Pack non-negative slot values (< 2^slot_bits) into plaintext integers (layout in module docstring)."""
    n_ct = layout.ciphertexts_for(len(offset_values))
    padded = np.zeros(n_ct * layout.slots, dtype=np.uint64)
    padded[: len(offset_values)] = offset_values
    shifts = np.arange(layout.slot_bits, dtype=np.uint64)
    bits = ((padded[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).reshape(n_ct, -1)
    rows = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in rows]


def unpack(plaintexts: Sequence[int], layout: SlotLayout, length: int) -> np.ndarray:
    """Inverse of :func:`pack` for (summed) plaintexts; slot values as int64."""
    row_bits = layout.slots * layout.slot_bits
    row_bytes = (row_bits + 7) // 8
    raw = b"".join(int(m).to_bytes(row_bytes, "little") for m in plaintexts)
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(len(plaintexts), row_bytes)
    bits = np.unpackbits(rows, axis=1, bitorder="little")[:, :row_bits].reshape(-1, layout.slot_bits)
    weights = np.left_shift(np.int64(1), np.arange(layout.slot_bits, dtype=np.int64))
    return (bits.astype(np.int64) @ weights)[:length]


class PackedCodec:
    """Encrypts and adds packed updates; holds only the public key.

    Parameters
    ----------
    public_key : phe.PaillierPublicKey
        The federation's key.
    config : CodecConfig
        Quantization and headroom.
    workers : int | None (default: None)
        Processes for encryption; None uses every core; 1 runs inline.
    precompute : bool (default: True)
        After each :meth:`encrypt`, draw as many obfuscators as it used in the background
        (worker processes, fed by a daemon thread), so the next update of the same size
        only pays ≈ 6 µs per ciphertext; this runs while the caller trains. With False,
        nothing runs between calls; :meth:`precompute` still works explicitly.
    randomness : {"full", "short"} | None (default: None, ``config.randomness``)
        Obfuscator kind, see :mod:`fl_node.crypto.paillier` ("short" rests on an extra
        hardness assumption).
    exponent_bits : int (default: 256)
        Short-exponent length in ``"short"`` mode.
    pool : WorkerPool | None (default: None)
        Pool to run on; None shares one pool per process and worker count.
    """

    def __init__(
        self,
        public_key: PaillierPublicKey,
        config: CodecConfig,
        *,
        workers: int | None = None,
        precompute: bool = True,
        randomness: RandomnessMode | None = None,
        exponent_bits: int = 256,
        pool: WorkerPool | None = None,
    ) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise CodecError("PackedCodec takes a Paillier public key")
        self.public_key = public_key
        self.config = config
        self.layout = SlotLayout.for_key(config, public_key.n)
        self.fingerprint = key_fingerprint(public_key)
        try:
            self._spec = paillier.make_spec(public_key.n, randomness or config.randomness, exponent_bits, config.degree)
        except ValueError as exc:
            raise CodecError(str(exc)) from exc
        self._pool = pool if pool is not None else shared_pool(workers)
        self._auto_refill = precompute
        self._reserve: list[tuple[int, int]] = []
        self._lock = threading.Lock()  # guards the reserve (the feeder thread appends)
        self._encrypt_lock = threading.Lock()  # one encryption at a time: it stops and restarts the feeder
        self._stop = threading.Event()
        self._feeder: threading.Thread | None = None

    @property
    def randomness(self) -> RandomnessMode:
        return self._spec.mode

    @property
    def quantization_step(self) -> float:
        """Δ = clip / Q: each decoded value is off by less than this (module docstring)."""
        return self.config.step

    @property
    def reserve_size(self) -> int:
        """Obfuscators precomputed and not yet used."""
        with self._lock:
            return len(self._reserve)

    def ciphertext_count(self, length: int) -> int:
        """Ciphertexts an update of ``length`` values takes."""
        return self.layout.ciphertexts_for(length)

    def precompute(self, count: int, *, wait: bool = True) -> None:
        """Draw ``count`` obfuscators ahead of :meth:`encrypt` (each is used once).

        Parameters
        ----------
        count : int
            How many; ``ciphertext_count(len(update))`` covers one update.
        wait : bool (default: True)
            False returns at once and fills the reserve from a background thread.
        """
        if wait:
            fresh = self._pool.map_counts(paillier.witnessed_obfuscators, self._spec, count)
            with self._lock:
                self._reserve.extend(fresh)
        else:
            with self._encrypt_lock:
                self._start_feeder(count)

    def encrypt(self, values: np.ndarray, *, rng: np.random.Generator) -> EncryptedUpdate:
        """Clip, quantize (stochastic rounding with ``rng``), pack and encrypt a float vector."""
        return self.encrypt_witnessed(values, rng=rng)[0]

    def encrypt_witnessed(self, values: np.ndarray, *, rng: np.random.Generator) -> tuple[EncryptedUpdate, Witness]:
        """As :meth:`encrypt`, also returning each ciphertext's plaintext and obfuscator root (the prover's witness)."""
        return self._encrypt_quantized(quantize(values, self.config, rng))

    def encrypt_ints(self, q: np.ndarray) -> EncryptedUpdate:
        """Pack and encrypt already-quantized integers in [-Q, Q] (exact; for tests and custom quantizers)."""
        return self._encrypt_quantized(q)[0]

    def _encrypt_quantized(self, q: np.ndarray) -> tuple[EncryptedUpdate, Witness]:
        q = np.asarray(q)
        if q.ndim != 1 or q.size == 0 or not np.issubdtype(q.dtype, np.integer):
            raise CodecError(f"encrypt_ints takes a non-empty 1-D integer array, got shape {q.shape} dtype {q.dtype}")
        qmax = self.config.qmax
        if int(q.min()) < -qmax or int(q.max()) > qmax:
            raise CodecError(f"quantized values must lie in [-{qmax}, {qmax}], got [{int(q.min())}, {int(q.max())}]")
        plaintexts = pack((q.astype(np.int64) + qmax).astype(np.uint64), self.layout)
        ciphertexts, roots = self._encrypt_plaintexts(plaintexts)
        return self._update(len(q), 1, ciphertexts), Witness(tuple(plaintexts), tuple(roots))

    def aggregate(self, updates: Sequence[EncryptedUpdate]) -> EncryptedUpdate:
        """Slot-wise sum: multiply ciphertexts mod n²; ``count`` is the sum of the counts.

        Raises
        ------
        CodecError
            No updates, updates of another key, length or codec parameters, or a total count
            above the slot capacity (the sum could overflow a slot).
        """
        if not updates:
            raise CodecError("nothing to aggregate")
        for update in updates:
            self._check_compatible(update)
        length = updates[0].length
        if any(u.length != length for u in updates):
            raise CodecError(f"updates have different lengths: {sorted({u.length for u in updates})}")
        count = sum(u.count for u in updates)
        if count > self.layout.capacity:
            raise CodecError(f"a sum of {count} updates could overflow {self.layout.slot_bits}-bit slots (capacity {self.layout.capacity})")
        modulus = gmpy2.mpz(self._spec.modulus)
        acc = [gmpy2.mpz(c) for c in updates[0].ciphertexts]
        for update in updates[1:]:
            acc = [a * c % modulus for a, c in zip(acc, update.ciphertexts, strict=True)]
        return self._update(length, count, [int(a) for a in acc])

    def close(self) -> None:
        """Stop background precomputation (the shared pool keeps running for other codecs)."""
        with self._encrypt_lock:
            self._stop_feeder()

    def __enter__(self) -> PackedCodec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _update(self, length: int, count: int, ciphertexts: list[int]) -> EncryptedUpdate:
        cfg = self.config
        return EncryptedUpdate(
            length=length, count=count, ciphertexts=tuple(ciphertexts), key_fingerprint=self.fingerprint,
            bits=cfg.bits, clip=float(cfg.clip), slot_bits=self.layout.slot_bits, slots=self.layout.slots,
            ciphertext_bytes=_width(self._spec.modulus), degree=cfg.degree,
        )

    def _check_compatible(self, update: EncryptedUpdate) -> None:
        check_update(update, self.fingerprint, self.config, self.layout)

    def _encrypt_plaintexts(self, plaintexts: list[int]) -> tuple[list[int], list[int]]:
        """Ciphertexts and their obfuscators' roots (the reserve keeps ``(root, ρ)`` pairs)."""
        with self._encrypt_lock:
            self._stop_feeder()
            with self._lock:
                take = min(len(plaintexts), len(self._reserve))
                pairs, self._reserve = self._reserve[:take], self._reserve[take:]
            ciphertexts = paillier.encrypt_with(self._spec, plaintexts[:take], [rho for _, rho in pairs])
            roots = [root for root, _ in pairs]
            for c, root in self._pool.map_chunks(paillier.encrypt_fresh_witnessed, self._spec, plaintexts[take:]):
                ciphertexts.append(c)
                roots.append(root)
            log.debug("encrypted %d plaintexts, %d with precomputed randomness", len(plaintexts), take)
            if self._auto_refill:
                self._start_feeder(len(plaintexts))
        return ciphertexts, roots

    def _start_feeder(self, count: int) -> None:
        self._stop_feeder()
        self._stop.clear()
        self._feeder = threading.Thread(target=self._feed, args=(count,), name="paillier-precompute", daemon=True)
        self._feeder.start()

    def _stop_feeder(self) -> None:
        if self._feeder is not None:
            self._stop.set()
            self._feeder.join()
            self._feeder = None

    def _feed(self, count: int) -> None:
        # At most one chunk per worker is in flight, so stopping waits for little work.
        remaining = count
        while remaining > 0 and not self._stop.is_set():
            sizes = [min(_REFILL_CHUNK, remaining - i * _REFILL_CHUNK) for i in range(self._pool.workers)]
            try:
                futures = [self._pool.submit(paillier.witnessed_obfuscators, self._spec, s) for s in sizes if s > 0]
                results = [future.result() for future in futures]
            except BrokenExecutor:  # must not kill the caller; encrypt() recomputes what is missing
                log.exception("background precomputation failed")
                return
            except RuntimeError:  # the interpreter is shutting down: the reserve is not needed
                return
            for fresh in results:
                with self._lock:
                    self._reserve.extend(fresh)
                remaining -= len(fresh)


def check_update(update: EncryptedUpdate, fingerprint: bytes, config: CodecConfig, layout: SlotLayout) -> None:
    if update.key_fingerprint != fingerprint:
        raise CodecError("encrypted update was made under another key")
    theirs = (update.bits, update.clip, update.slot_bits, update.slots, update.degree)
    ours = (config.bits, float(config.clip), layout.slot_bits, layout.slots, config.degree)
    if theirs != ours:
        names = ("bits", "clip", "slot_bits", "slots", "degree")
        raise CodecError(
            f"encrypted update codec ({', '.join(f'{k}={v}' for k, v in zip(names, theirs))}) "
            f"differs from this codec ({', '.join(f'{k}={v}' for k, v in zip(names, ours))})"
        )
    if len(update.ciphertexts) != layout.ciphertexts_for(update.length) or update.count < 1:
        raise CodecError(f"encrypted update holds {len(update.ciphertexts)} ciphertexts for {update.length} values")


def decode_plaintexts(update: EncryptedUpdate, plaintexts: Sequence[int], config: CodecConfig, layout: SlotLayout) -> np.ndarray:
    """Exact integer slot sums Σ q_i from the decrypted plaintexts of ``update`` (however they were decrypted).

    Raises
    ------
    CodecError
        A plaintext that does not fit the layout or a slot sum above ``count``·2Q (not made by this codec).
    """
    used_in_last = update.length - (len(plaintexts) - 1) * layout.slots
    row_bits = layout.slots * layout.slot_bits
    if any(m >> row_bits for m in plaintexts) or plaintexts[-1] >> (used_in_last * layout.slot_bits):
        raise CodecError("a decrypted plaintext has bits outside its slots: the ciphertext was not made by this codec")
    sums = unpack(plaintexts, layout, update.length)
    limit = update.count * 2 * config.qmax
    if int(sums.max()) > limit:
        raise CodecError(f"a slot sum exceeds {update.count}·2Q: the ciphertext was not made by this codec or overflowed")
    return sums - update.count * config.qmax


class PackedDecryptor:
    """Decrypts packed sums; the only object that holds the private key.

    Parameters
    ----------
    private_key : phe.PaillierPrivateKey
    config : CodecConfig
        Must equal the participants' config.
    workers : int | None (default: None)
        Processes for CRT decryption; None uses every core; 1 runs inline.
    pool : WorkerPool | None (default: None)
        Pool to run on; None shares one pool per process and worker count.
    """

    def __init__(self, private_key: PaillierPrivateKey, config: CodecConfig, *, workers: int | None = None, pool: WorkerPool | None = None) -> None:
        if not isinstance(private_key, PaillierPrivateKey):
            raise CodecError("PackedDecryptor takes a Paillier private key")
        self.public_key = private_key.public_key
        self.config = config
        self.layout = SlotLayout.for_key(config, self.public_key.n)
        self.fingerprint = key_fingerprint(self.public_key)
        self._spec = paillier.DecryptionSpec(private_key.p, private_key.q, config.degree)
        self._pool = pool if pool is not None else shared_pool(workers)

    def decrypt_ints(self, update: EncryptedUpdate) -> np.ndarray:
        """Exact integer slot sums Σ q_i (int64, length ``update.length``).

        Raises
        ------
        CodecError
            Another key or codec, or a plaintext that does not fit the layout (not made by this codec).
        """
        check_update(update, self.fingerprint, self.config, self.layout)
        if update.count > self.layout.capacity:
            raise CodecError(f"update claims a sum of {update.count} updates, above the slot capacity {self.layout.capacity}")
        plaintexts = self._pool.map_chunks(paillier.decrypt, self._spec, list(update.ciphertexts))
        return decode_plaintexts(update, plaintexts, self.config, self.layout)

    def decrypt_sum(self, update: EncryptedUpdate) -> np.ndarray:
        """Float64 sum of the ``count`` dequantized vectors (error bound: module docstring)."""
        return self.decrypt_ints(update).astype(np.float64) / self.config.scale
