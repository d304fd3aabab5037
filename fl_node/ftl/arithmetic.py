"""The homomorphic arithmetic of the FTL protocol, under one party's key, and its plaintext twin.

Every step of the protocol is one of five operations on a :class:`Sealed` matrix (a matrix
under one party's Paillier key, at fixed-point scale ``2^bits``):

* ``seal(X, bits)``: the key owner encrypts its own values.
* ``matmul(L, S, bits)``: a peer multiplies a sealed matrix on the left by its own plaintext
  matrix ``L`` (quantized at ``2^bits``); the result is at scale ``2^(S.bits + bits)``.
  Built on :func:`fl_node.twoparty.encrypted.encrypted_dot` (Pippenger multi-exponentiation).
* ``scale(S, c, bits)`` (elementwise times a constant) and ``add(S, T)``.
* ``mask(S, P)``: the peer adds its own plaintext term ``P`` and a random mask to every cell,
  packs the cells into few ciphertexts and re-randomizes them; the key owner
  ``open``-s (decrypts) the packed ciphertexts and returns the integers; the peer ``unmask``-s.

Fixed point and packing
    A real ``v`` is ``round(v·2^bits)``; quantized inputs must satisfy ``|v| < 2^20``
    (:data:`MAX_ABS_VALUE`), so every product and sum of the protocol stays below
    ``2^(bits + 60)`` in magnitude (slot bound ``V = bits + 60``). A masked slot holds
    ``x = value + 2^V + r`` with ``r`` uniform in ``[0, 2^(V + 1 + σ))``, σ = 40
    (:data:`STATISTICAL_BITS`): the key owner sees ``x``, whose distribution is within
    statistical distance ``2^-40`` of one that does not depend on ``value``. Slots are
    ``W = V + 2 + σ`` bits wide and packed by Horner's rule (``c ← c^(2^W)·c_j``), so one
    decryption (the expensive step, ≈ 5 ms at 2048 bits) opens ``⌊(|n| - 2)/W⌋`` values. The
    packed ciphertext is re-randomized with a fresh obfuscator drawn by the peer, so its
    randomness reveals nothing of how it was computed.

Error bound
    Quantizing ``x`` and ``y`` at ``2^-b`` each moves ``x·y`` by at most
    ``2^-(b+1)·(|x| + |y|) + 2^-(2b+2)``; :func:`product_error_bound` sums this over a
    matrix product. The plaintext twin computes the same expressions in float64 without
    quantization, so encrypted and plaintext results differ by at most these bounds.

:class:`PlainArithmetic` has the same interface with encryption off (floats, zero masks, one
value per "ciphertext"), so the plaintext protocol runs the same code path.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import gmpy2
import numpy as np

from fl_node.crypto import paillier
from fl_node.crypto.paillier import DecryptionSpec, RandomnessMode
from fl_node.errors import FTLNumericError, FTLProtocolError
from fl_node.twoparty.encrypted import ObfuscatorPool, ciphertext_bytes, encrypted_dot, plaintext_bytes
from fl_node.twoparty.wire import ints_from_bytes, ints_to_bytes

__all__ = [
    "Sealed",
    "Masked",
    "PaillierArithmetic",
    "PlainArithmetic",
    "Arithmetic",
    "quantize",
    "product_error_bound",
    "MAX_ABS_VALUE",
    "STATISTICAL_BITS",
]

MAX_ABS_VALUE = float(1 << 20)
STATISTICAL_BITS = 40
_HEADROOM_BITS = 60


@dataclass(frozen=True)
class Sealed:
    """A matrix under one key (or in the clear, in plaintext mode).

    Attributes
    ----------
    cells : list of mpz | np.ndarray
        Ciphertexts (Paillier) or float64 values (plaintext), row-major.
    shape : tuple[int, int]
    bits : int
        Fixed-point scale of the plaintexts: value = plaintext / 2^bits.
    """

    cells: list | np.ndarray
    shape: tuple[int, int]
    bits: int


@dataclass(frozen=True)
class Masked:
    """What the computing party keeps to unmask an opened :class:`Sealed`: masks, shape, scale, slot layout."""

    masks: list[int] | np.ndarray
    shape: tuple[int, int]
    bits: int
    slot_bits: int
    per_ciphertext: int


def quantize(values: np.ndarray, bits: int, *, what: str = "value") -> np.ndarray:
    """``round(values·2^bits)`` as int64, checking ``|values| < 2^20`` and finiteness.

    Raises
    ------
    FTLNumericError
        If a value is not finite or too large for the fixed-point encoding.
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise FTLNumericError(f"{what} holds NaN or infinite values (training diverged?)")
    if values.size and float(np.abs(values).max()) >= MAX_ABS_VALUE:
        raise FTLNumericError(f"{what} reaches {float(np.abs(values).max()):.3g}, beyond the fixed-point range ±2^20")
    return np.rint(values * float(1 << bits)).astype(np.int64)


def product_error_bound(left: np.ndarray, right: np.ndarray, bits: int) -> np.ndarray:
    """Largest error of ``left @ right`` when both factors are quantized at ``2^-bits`` (elementwise bound)."""
    half = 2.0 ** -(bits + 1)
    left, right = np.abs(np.asarray(left, dtype=np.float64)), np.abs(np.asarray(right, dtype=np.float64))
    inner = left.shape[1]
    return half * (left.sum(axis=1, keepdims=True) + right.sum(axis=0, keepdims=True)) + inner * half * half


class PaillierArithmetic:
    """Protocol arithmetic under one Paillier key; with the private key it can also open.

    Parameters
    ----------
    n : int
        The key's public modulus.
    private : DecryptionSpec | None (default: None)
        The primes, for the key owner; None for a peer.
    randomness : {"short", "full"} (default: "short")
        How obfuscators are drawn (:mod:`fl_node.crypto.paillier`).
    pool_size : int (default: 256)
        Obfuscators precomputed on a background thread; 0 draws them on demand.
    """

    encrypted = True

    def __init__(self, n: int, *, private: DecryptionSpec | None = None, randomness: RandomnessMode = "short", pool_size: int = 256) -> None:
        self.n = int(n)
        self.private = private
        self.spec = paillier.make_spec(self.n, randomness)
        self.pool = ObfuscatorPool(self.spec, capacity=pool_size)
        self._n = gmpy2.mpz(self.n)
        self._nsquare = gmpy2.mpz(self.n) * self.n
        self.cipher_width = ciphertext_bytes(self.n)
        self.plain_width = plaintext_bytes(self.n)
        self.cell_bytes = self.cipher_width

    def close(self) -> None:
        """Stop the obfuscator thread."""
        self.pool.close()

    # ------------------------------------------------------------------ owner side

    def seal(self, values: np.ndarray, bits: int, *, what: str = "value") -> Sealed:
        """Encrypt a matrix at scale ``2^bits`` (fresh randomness per cell)."""
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        q = quantize(values, bits, what=what)
        plain = [int(v) % self.n for v in q.ravel().tolist()]
        rhos = self.pool.take(len(plain))
        cells = [(1 + m * self._n) * rho % self._nsquare for m, rho in zip(plain, rhos)]
        return Sealed(cells, values.shape, bits)

    def open(self, ciphertexts: list) -> list[int]:
        """Decrypt packed ciphertexts (key owner only)."""
        if self.private is None:
            raise FTLProtocolError("this party does not hold the private key of these ciphertexts")
        return paillier.decrypt(self.private, ciphertexts)

    # ------------------------------------------------------------------ peer side

    def matmul(self, left: np.ndarray, sealed: Sealed, bits: int, *, what: str = "value") -> Sealed:
        """``[[left @ S]]`` at scale ``2^(S.bits + bits)`` for a plaintext ``left`` of shape (a, b)."""
        left = np.atleast_2d(np.asarray(left, dtype=np.float64))
        rows, inner = sealed.shape
        if left.shape[1] != rows:
            raise FTLProtocolError(f"cannot multiply a {left.shape} matrix by a sealed {sealed.shape} matrix")
        exponents = quantize(left, bits, what=what).T
        out: list = [None] * (left.shape[0] * inner)
        for column in range(inner):
            ciphertexts = sealed.cells[column::inner]
            for row, value in enumerate(encrypted_dot(ciphertexts, exponents, self._nsquare)):
                out[row * inner + column] = value
        return Sealed(out, (left.shape[0], inner), sealed.bits + bits)

    def scale(self, sealed: Sealed, factor: float, bits: int) -> Sealed:
        """``[[factor·S]]`` at scale ``2^(S.bits + bits)``."""
        exponent = int(quantize(np.array([factor]), bits, what="scale factor")[0])
        cells = [gmpy2.powmod(c, exponent, self._nsquare) for c in sealed.cells]
        return Sealed(cells, sealed.shape, sealed.bits + bits)

    def add(self, first: Sealed, second: Sealed) -> Sealed:
        """``[[S + T]]`` (same shape and scale)."""
        _same(first, second)
        cells = [a * b % self._nsquare for a, b in zip(first.cells, second.cells)]
        return Sealed(cells, first.shape, first.bits)

    def mask(self, sealed: Sealed, plain: np.ndarray | None = None) -> tuple[list, Masked]:
        """Add ``plain`` (the peer's own term, at the sealed scale) and random masks, pack, re-randomize.

        Returns
        -------
        (ciphertexts, Masked)
            The packed ciphertexts for the key owner to open, and what :meth:`unmask` needs.
        """
        count = len(sealed.cells)
        bound = sealed.bits + _HEADROOM_BITS
        slot_bits = bound + 2 + STATISTICAL_BITS
        per = (self.n.bit_length() - 2) // slot_bits
        offset = 1 << bound
        own = np.zeros(count, dtype=np.int64) if plain is None else quantize(np.asarray(plain).reshape(count), sealed.bits, what="own term").ravel()
        masks = [secrets.randbits(bound + 1 + STATISTICAL_BITS) for _ in range(count)]
        shift = gmpy2.mpz(1) << slot_bits
        packed = []
        for start in range(0, count, per):
            acc = None
            for index in range(min(count, start + per) - 1, start - 1, -1):
                term = (int(own[index]) + offset + masks[index]) % self.n
                cell = sealed.cells[index] * (1 + term * self._n) % self._nsquare
                acc = cell if acc is None else gmpy2.powmod(acc, shift, self._nsquare) * cell % self._nsquare
            packed.append(acc)
        rhos = self.pool.take(len(packed))
        packed = [c * rho % self._nsquare for c, rho in zip(packed, rhos)]
        return packed, Masked(masks, sealed.shape, sealed.bits, slot_bits, per)

    def unmask(self, opened: list[int], state: Masked) -> np.ndarray:
        """Values of a masked matrix from the key owner's opened (decrypted) packed integers.

        Raises
        ------
        FTLNumericError
            If a slot decodes outside its bound (overflow, or a wrong answer from the key owner).
        """
        count = state.shape[0] * state.shape[1]
        expected = -(-count // state.per_ciphertext)
        if len(opened) != expected:
            raise FTLProtocolError(f"expected {expected} opened values, got {len(opened)}")
        slot = (1 << state.slot_bits) - 1
        offset = 1 << (state.bits + _HEADROOM_BITS)
        out = np.empty(count)
        for index in range(count):
            packed = int(opened[index // state.per_ciphertext])
            value = ((packed >> ((index % state.per_ciphertext) * state.slot_bits)) & slot) - offset - state.masks[index]
            if abs(value) >= offset:
                raise FTLNumericError("an opened value is outside its fixed-point slot (overflow or a wrong decryption)")
            out[index] = value / 2.0**state.bits
        return out.reshape(state.shape)

    # ------------------------------------------------------------------ bytes

    def sealed_to_bytes(self, sealed: Sealed) -> bytes:
        """Ciphertexts as fixed-width big-endian integers."""
        return ints_to_bytes(sealed.cells, self.cipher_width)

    def sealed_from_bytes(self, blob: bytes, shape: tuple[int, int], bits: int, *, what: str = "sealed matrix") -> Sealed:
        """Parse :meth:`sealed_to_bytes` output, checking the count and the range ``< n²``."""
        try:
            cells = ints_from_bytes(blob, self.cipher_width, count=shape[0] * shape[1], below=self._nsquare, what=what)
        except Exception as exc:
            raise FTLProtocolError(str(exc)) from exc
        return Sealed(cells, tuple(shape), bits)

    def packed_to_bytes(self, ciphertexts: list) -> bytes:
        """Packed masked ciphertexts as bytes."""
        return ints_to_bytes(ciphertexts, self.cipher_width)

    def packed_from_bytes(self, blob: bytes, *, what: str = "masked ciphertexts") -> list:
        """Parse :meth:`packed_to_bytes` output."""
        try:
            return ints_from_bytes(blob, self.cipher_width, below=self._nsquare, what=what)
        except Exception as exc:
            raise FTLProtocolError(str(exc)) from exc

    def opened_to_bytes(self, values: list[int]) -> bytes:
        """Opened (decrypted, still masked) integers as bytes."""
        return ints_to_bytes(values, self.plain_width)

    def opened_from_bytes(self, blob: bytes, *, what: str = "opened values") -> list[int]:
        """Parse :meth:`opened_to_bytes` output."""
        try:
            return [int(v) for v in ints_from_bytes(blob, self.plain_width, below=self.n, what=what)]
        except Exception as exc:
            raise FTLProtocolError(str(exc)) from exc


class PlainArithmetic:
    """The same interface with encryption off: float64 values, zero masks, nothing packed."""

    encrypted = False
    n = 0
    cell_bytes = 8

    def close(self) -> None:
        """Nothing to stop."""

    def seal(self, values: np.ndarray, bits: int, *, what: str = "value") -> Sealed:
        """The values themselves (checked like the encrypted encoding, not quantized)."""
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        quantize(values, bits, what=what)
        return Sealed(values.ravel().copy(), values.shape, bits)

    def open(self, ciphertexts: list) -> np.ndarray:
        """Identity."""
        return np.asarray(ciphertexts, dtype=np.float64)

    def matmul(self, left: np.ndarray, sealed: Sealed, bits: int, *, what: str = "value") -> Sealed:
        """``left @ S`` in float64."""
        left = np.atleast_2d(np.asarray(left, dtype=np.float64))
        if left.shape[1] != sealed.shape[0]:
            raise FTLProtocolError(f"cannot multiply a {left.shape} matrix by a sealed {sealed.shape} matrix")
        quantize(left, bits, what=what)
        product = left @ np.asarray(sealed.cells).reshape(sealed.shape)
        return Sealed(product.ravel(), product.shape, sealed.bits + bits)

    def scale(self, sealed: Sealed, factor: float, bits: int) -> Sealed:
        """``factor·S``."""
        return Sealed(np.asarray(sealed.cells) * factor, sealed.shape, sealed.bits + bits)

    def add(self, first: Sealed, second: Sealed) -> Sealed:
        """``S + T``."""
        _same(first, second)
        return Sealed(np.asarray(first.cells) + np.asarray(second.cells), first.shape, first.bits)

    def mask(self, sealed: Sealed, plain: np.ndarray | None = None) -> tuple[np.ndarray, Masked]:
        """``S + plain``, no mask."""
        values = np.asarray(sealed.cells, dtype=np.float64).copy()
        if plain is not None:
            values = values + np.asarray(plain, dtype=np.float64).reshape(values.shape)
        return values, Masked(np.zeros(values.shape), sealed.shape, sealed.bits, 64, 1)

    def unmask(self, opened: np.ndarray, state: Masked) -> np.ndarray:
        """The opened values, reshaped."""
        opened = np.asarray(opened, dtype=np.float64)
        if opened.size != state.shape[0] * state.shape[1]:
            raise FTLProtocolError(f"expected {state.shape[0] * state.shape[1]} opened values, got {opened.size}")
        return opened.reshape(state.shape)

    def sealed_to_bytes(self, sealed: Sealed) -> bytes:
        """float64 little-endian."""
        return np.asarray(sealed.cells, dtype="<f8").tobytes()

    def sealed_from_bytes(self, blob: bytes, shape: tuple[int, int], bits: int, *, what: str = "sealed matrix") -> Sealed:
        """Parse :meth:`sealed_to_bytes` output."""
        return Sealed(_floats(blob, shape[0] * shape[1], what), tuple(shape), bits)

    def packed_to_bytes(self, ciphertexts: np.ndarray) -> bytes:
        """float64 little-endian."""
        return np.asarray(ciphertexts, dtype="<f8").tobytes()

    def packed_from_bytes(self, blob: bytes, *, what: str = "masked values") -> np.ndarray:
        """Parse :meth:`packed_to_bytes` output."""
        return _floats(blob, None, what)

    opened_to_bytes = packed_to_bytes
    opened_from_bytes = packed_from_bytes


Arithmetic = PaillierArithmetic | PlainArithmetic


def _same(first: Sealed, second: Sealed) -> None:
    if first.shape != second.shape or first.bits != second.bits:
        raise FTLProtocolError(f"cannot add sealed {first.shape}@2^{first.bits} and {second.shape}@2^{second.bits}")


def _floats(blob: bytes, count: int | None, what: str) -> np.ndarray:
    if len(blob) % 8:
        raise FTLProtocolError(f"{what} length {len(blob)} is not a multiple of 8 bytes")
    values = np.frombuffer(blob, dtype="<f8").astype(np.float64)
    if count is not None and values.size != count:
        raise FTLProtocolError(f"{what} holds {values.size} values, expected {count}")
    if not np.isfinite(values).all():
        raise FTLProtocolError(f"{what} holds NaN or infinite values")
    return values
