"""Paillier arithmetic for hetero-LR: fixed-point values, precomputed randomness, encrypted dot products.

Keys and obfuscators come from :mod:`fl_node.crypto` (``"full"`` standard randomness or
``"short"`` Damgård–Jurik–Nielsen short exponents; see :mod:`fl_node.crypto.paillier` for the
extra assumption of the latter). Here:

* Fixed point: a real ``v`` at scale ``2^k`` is the integer ``round(v·2^k) mod n``; negative
  values wrap to the top half of ``[0, n)``. Plaintexts stay far below ``n/2`` (≈ 2^70 at
  most in hetero-LR), so sums and products never wrap.
* :class:`ObfuscatorPool` draws obfuscators ρ (random n-th residues) ahead of use on a
  background thread, so a party's online encryption is ``(1 + m·n)·ρ mod n²`` (≈ 6 µs).
* :func:`encrypted_dot` computes ``Π_i c_i^(e_ij)`` for every column ``j`` of a small-integer
  matrix ``E`` — the encrypted ``Σ_i m_i·e_ij`` — by Pippenger's bucket method (≈ 5 modular
  multiplications per element instead of a ≈ 20-bit exponentiation each); negative
  exponents use the inverse ciphertext.
"""

from __future__ import annotations

import math
import threading
from collections import deque

import gmpy2
import numpy as np

from fl_node.crypto import paillier
from fl_node.crypto.paillier import EncryptionSpec

__all__ = ["ObfuscatorPool", "encode", "decode", "encrypt", "add_plain", "encrypted_dot", "ciphertext_bytes", "plaintext_bytes"]

_REFILL = 16


def ciphertext_bytes(n: int) -> int:
    """Byte width of a ciphertext (an integer below n²)."""
    return (int(n * n).bit_length() + 7) // 8


def plaintext_bytes(n: int) -> int:
    """Byte width of a plaintext (an integer below n)."""
    return (int(n).bit_length() + 7) // 8


def encode(values: np.ndarray | list[float], bits: int, n: int) -> list[int]:
    """Fixed-point encode reals at scale ``2^bits`` into ``[0, n)``."""
    scale = float(1 << bits)
    return [int(round(float(v) * scale)) % n for v in np.ravel(values)]


def decode(values: list[int], bits: int, n: int) -> np.ndarray:
    """Inverse of :func:`encode` (top half of ``[0, n)`` is negative)."""
    half = n // 2
    return np.array([float(int(v) - n if v > half else int(v)) / (1 << bits) for v in values])


def signed(value: int, n: int) -> int:
    """Plaintext ``value`` mod n as a signed integer."""
    value = int(value) % n
    return value - n if value > n // 2 else value


class ObfuscatorPool:
    """Obfuscators ρ for one public key, drawn ahead of use on a background thread.

    Parameters
    ----------
    spec : EncryptionSpec
        Public modulus and randomness mode.
    capacity : int (default: 0)
        How many to keep ready; 0 disables the background thread (all drawn on demand).
    """

    def __init__(self, spec: EncryptionSpec, *, capacity: int = 0) -> None:
        self.spec = spec
        self.capacity = capacity
        self._ready: deque[gmpy2.mpz] = deque()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        if capacity > 0:
            self._thread = threading.Thread(target=self._refill, name="obfuscators", daemon=True)
            self._thread.start()

    def take(self, count: int) -> list[gmpy2.mpz]:
        """``count`` fresh obfuscators: precomputed ones first, the rest drawn now."""
        with self._cond:
            got = [self._ready.popleft() for _ in range(min(count, len(self._ready)))]
            self._cond.notify_all()
        if len(got) < count:
            got.extend(gmpy2.mpz(r) for r in paillier.obfuscators(self.spec, count - len(got)))
        return got

    def close(self) -> None:
        """Stop the background thread (it finishes the chunk it is drawing)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _refill(self) -> None:
        gmpy2.get_context().allow_release_gil = True  # let powmod run beside the party's own work
        while True:
            with self._cond:
                while not self._stop and len(self._ready) >= self.capacity:
                    self._cond.wait()
                if self._stop:
                    return
            fresh = [gmpy2.mpz(r) for r in paillier.obfuscators(self.spec, _REFILL)]
            with self._cond:
                self._ready.extend(fresh)


def encrypt(spec: EncryptionSpec, plaintexts: list[int], rhos: list[gmpy2.mpz]) -> list[gmpy2.mpz]:
    """Encrypt plaintexts in ``[0, n)`` with one obfuscator each: ``(1 + m·n)·ρ mod n²``."""
    n = gmpy2.mpz(spec.n)
    nsquare = n * n
    return [(1 + m * n) * rho % nsquare for m, rho in zip(plaintexts, rhos, strict=True)]


def add_plain(spec: EncryptionSpec, ciphertexts: list[gmpy2.mpz], plaintexts: list[int], rhos: list[gmpy2.mpz]) -> list[gmpy2.mpz]:
    """``[[a]] ⊕ b`` with fresh randomness: ``c·(1 + b·n)·ρ mod n²`` (the sender learns nothing from it)."""
    n = gmpy2.mpz(spec.n)
    nsquare = n * n
    return [c * ((1 + m * n) * rho % nsquare) % nsquare for c, m, rho in zip(ciphertexts, plaintexts, rhos, strict=True)]


def encrypted_dot(ciphertexts: list[gmpy2.mpz], exponents: np.ndarray, nsquare: int) -> list[gmpy2.mpz]:
    """``[[Σ_i m_i·E[i, j]]]`` for each column j, from ``c_i = [[m_i]]`` and an integer matrix ``E``.

    Parameters
    ----------
    ciphertexts : list of mpz
        One ciphertext per row of ``exponents``.
    exponents : np.ndarray
        Integer matrix, shape (len(ciphertexts), columns); entries may be negative.
    nsquare : int
        n², the ciphertext modulus.
    """
    exponents = np.asarray(exponents, dtype=np.int64)
    if exponents.ndim != 2 or exponents.shape[0] != len(ciphertexts):
        raise ValueError(f"exponent matrix of shape {exponents.shape} does not match {len(ciphertexts)} ciphertexts")
    nsq = gmpy2.mpz(nsquare)
    inverses: list[gmpy2.mpz] | None = None
    if (exponents < 0).any():
        inverses = [gmpy2.invert(c, nsq) for c in ciphertexts]
    window = max(2, min(8, round(math.log2(max(len(ciphertexts), 2))) - 3))
    out = []
    for column in exponents.T.tolist():
        bases = [c if e >= 0 else inverses[i] for i, (c, e) in enumerate(zip(ciphertexts, column))] if inverses else ciphertexts
        out.append(_multi_power(bases, [abs(e) for e in column], nsq, window))
    return out


def _multi_power(bases: list[gmpy2.mpz], exps: list[int], nsq: gmpy2.mpz, window: int) -> gmpy2.mpz:
    """``Π b_i^(e_i) mod n²`` (e_i >= 0) by Pippenger's bucket method with ``window``-bit digits."""
    top = max(exps, default=0).bit_length()
    mask = (1 << window) - 1
    result = None
    for shift in range(((top + window - 1) // window - 1) * window, -1, -window):
        if result is not None:
            for _ in range(window):
                result = result * result % nsq
        buckets: list[gmpy2.mpz | None] = [None] * (mask + 1)
        for base, e in zip(bases, exps):
            digit = (e >> shift) & mask
            if digit:
                current = buckets[digit]
                buckets[digit] = base if current is None else current * base % nsq
        running = acc = None
        for digit in range(mask, 0, -1):
            bucket = buckets[digit]
            if bucket is not None:
                running = bucket if running is None else running * bucket % nsq
            if running is not None:
                acc = running if acc is None else acc * running % nsq
        if acc is not None:
            result = acc if result is None else result * acc % nsq
    return gmpy2.mpz(1) if result is None else result
