"""Threshold Paillier / Damgård–Jurik decryption: key shares, verifiable partial decryptions, combination.

Protocol
    Damgård and Jurik, "A Generalisation, a Simplification and Some Applications of Paillier's
    Probabilistic Public-Key System", PKC 2001, section 4 (threshold variant), which extends
    Shoup, "Practical Threshold Signatures", EUROCRYPT 2000, to Paillier and to degree s.
    A secret exponent D with ``D ≡ 0 mod φ(n)`` is Shamir-shared among N custodians (indices
    1..N) with a polynomial of degree t−1; Δ = N!. For a ciphertext c mod nˢ⁺¹:

    * custodian i answers ``cᵢ = c^(2Δsᵢ) mod nˢ⁺¹`` with a proof (below);
    * any set S of t valid answers combines to ``c' = Π cᵢ^(2μᵢ)`` with the integer Lagrange
      coefficients ``μᵢ = Δ·Π_{j∈S∖i} j/(j−i)``, so ``c' = c^(4Δ²D) = (1+n)^(m·4Δ²D)``;
    * the Damgård–Jurik logarithm of c' is ``m·θ mod nˢ`` with the public ``θ = 4Δ²D mod nˢ``,
      hence m. Fewer than t shares are a uniformly random (dealer) or statistically hiding
      (distributed) Shamir sharing: they determine nothing about D, so nothing about m.

Proof of correct partial decryption (Damgård–Jurik 2001, after Shoup 2000), batched
    Public verification base v (a random square mod nˢ⁺¹) and verification keys
    ``vᵢ = v^(Δsᵢ)``. For one ciphertext, custodian i proves ``log_{c⁴}(cᵢ²) = log_v(vᵢ)``
    (Chaum–Pedersen). For a list c₁..c_k it proves the same once for the random linear
    combination ``C = Π c_j^(ρ_j)``, ``Cᵢ = Π cᵢ,ⱼ^(ρ_j)`` with 128-bit weights ρ_j drawn by
    SHA-256 from the ciphertexts and the answers (the small-exponent batch test of Bellare,
    Garay and Rabin, EUROCRYPT 1998): non-interactively, with a Fiat–Shamir challenge e of 128
    bits, it sends one (e, z) with ``z = r + e·Δsᵢ`` for a random r 256 bits longer than Δsᵢ;
    the combiner recomputes ``a = C^(4z)·Cᵢ^(−2e)``, ``b = v^z·vᵢ^(−e)`` and checks e. An
    answer with any wrong cᵢ,ⱼ passes only if the weights happen to cancel its error, which
    (among squares without small-order elements, Shoup's setting) has probability about 2⁻¹²⁸.
    Batching replaces two full-size exponentiations per ciphertext on each side by two
    128-bit multi-exponentiations over the list. A partial decryption that fails is rejected
    and its custodian named (:class:`ThresholdDecryption.rejected`); any t valid ones still
    decrypt.

Security model
    Decryption: secure against up to t−1 custodians that deviate arbitrarily (their partial
    decryptions are checked), assuming DCR and the random-oracle model for the proofs. Shoup's
    soundness argument needs safe primes; the trusted dealer here uses phe's primes, for which
    the proofs are sound with overwhelming probability over the choice of v but not provably.
    Key generation: :func:`deal_shares` is a *trusted dealer* (it holds p, q for the length
    of one call, then drops them: for tests and the demo only); the distributed mode
    (:mod:`fl_node.crypto.threshold_keygen`) never forms p, q or φ(n) in any process.

At rest
    A share file holds the public key in clear and the secret share sealed with AES-256-GCM
    under a key derived from a passphrase by scrypt (the public part is the associated data,
    so a share cannot be moved under another public key).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import gmpy2
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.codec import CodecConfig, EncryptedUpdate, SlotLayout, check_update, decode_plaintexts
from fl_node.crypto.keys import generate_keypair, key_fingerprint
from fl_node.crypto.knowledge import multi_powmod
from fl_node.crypto.secret_files import write_secret_file
from fl_node.errors import CodecError, KeyFormatError, ThresholdDecryptionError

__all__ = [
    "Custodian",
    "ThresholdCombiner",
    "ThresholdSums",
    "ThresholdPublicKey",
    "KeyShare",
    "PartialDecryption",
    "ThresholdDecryption",
    "deal_shares",
    "split_private_key",
    "partial_decrypt",
    "verify_partial",
    "combine",
    "dlog_one_plus_n",
    "partial_to_json",
    "partial_from_json",
    "save_share",
    "load_share",
    "load_public",
    "share_path",
    "SHARE_SUFFIX",
]

CHALLENGE_BITS = 128
_HIDING_BITS = 256
_SHARE_VERSION = 1
SHARE_SUFFIX = ".share"
DEFAULT_SCRYPT_N = 2**15


@dataclass(frozen=True)
class ThresholdPublicKey:
    """Everything public about a threshold key: modulus, threshold, θ and the verification keys.

    Attributes
    ----------
    n : int
        Paillier modulus.
    threshold : int
        t: partial decryptions needed.
    custodians : int
        N: number of shares (indices 1..N).
    max_degree : int
        Largest Damgård–Jurik s the key decrypts (θ and the verification keys live mod n^(max+1)).
    theta : int
        4Δ²D mod n^max_degree.
    verification_base : int
        v, a square mod n^(max_degree+1).
    verification_keys : tuple[int, ...]
        vᵢ = v^(Δsᵢ) for i = 1..N.
    """

    n: int
    threshold: int
    custodians: int
    max_degree: int
    theta: int
    verification_base: int
    verification_keys: tuple[int, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= self.custodians or len(self.verification_keys) != self.custodians:
            raise KeyFormatError(f"threshold key needs 1 <= t <= N and N verification keys, got t={self.threshold}, N={self.custodians}")
        if not 1 <= self.max_degree <= 16:
            raise KeyFormatError(f"threshold key degree must be in 1..16, got {self.max_degree}")

    @property
    def delta(self) -> int:
        """Δ = N!."""
        return math.factorial(self.custodians)

    @cached_property
    def public_key(self) -> PaillierPublicKey:
        """The ordinary phe public key participants encrypt under."""
        return PaillierPublicKey(self.n)

    @property
    def fingerprint(self) -> bytes:
        """Same fingerprint as :func:`fl_node.crypto.keys.key_fingerprint` of the public key."""
        return key_fingerprint(self.public_key)

    def to_json(self) -> dict[str, object]:
        return {
            "n": hex(self.n), "threshold": self.threshold, "custodians": self.custodians, "max_degree": self.max_degree,
            "theta": hex(self.theta), "verification_base": hex(self.verification_base),
            "verification_keys": [hex(v) for v in self.verification_keys],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ThresholdPublicKey:
        try:
            return cls(
                n=int(str(data["n"]), 16), threshold=int(data["threshold"]), custodians=int(data["custodians"]),  # type: ignore[arg-type]
                max_degree=int(data["max_degree"]), theta=int(str(data["theta"]), 16),  # type: ignore[arg-type]
                verification_base=int(str(data["verification_base"]), 16),
                verification_keys=tuple(int(str(v), 16) for v in data["verification_keys"]),  # type: ignore[attr-defined]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFormatError(f"threshold public key is malformed: {exc}") from exc


@dataclass(frozen=True)
class KeyShare:
    """One custodian's share sᵢ of the decryption exponent, with the public key it belongs to."""

    index: int
    secret: int = field(repr=False)
    public: ThresholdPublicKey

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.public.custodians:
            raise KeyFormatError(f"share index {self.index} outside 1..{self.public.custodians}")


@dataclass(frozen=True)
class PartialDecryption:
    """Custodian ``index``'s answer for a list of ciphertexts: cᵢ per ciphertext and one batched proof ``((e, z),)``."""

    index: int
    degree: int
    ciphertext_digest: bytes
    values: tuple[int, ...]
    proofs: tuple[tuple[int, int], ...]


def partial_to_json(partial: PartialDecryption) -> dict[str, object]:
    """JSON-ready form of a partial decryption (what a custodian sends back)."""
    return {
        "index": partial.index, "degree": partial.degree, "digest": partial.ciphertext_digest.hex(),
        "values": [hex(v) for v in partial.values], "proofs": [[hex(e), hex(z)] for e, z in partial.proofs],
    }


def partial_from_json(data: dict) -> PartialDecryption:
    """Inverse of :func:`partial_to_json`.

    Raises
    ------
    KeyFormatError
        Malformed data.
    """
    try:
        return PartialDecryption(
            int(data["index"]), int(data["degree"]), bytes.fromhex(data["digest"]),
            tuple(int(v, 16) for v in data["values"]), tuple((int(e, 16), int(z, 16)) for e, z in data["proofs"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFormatError(f"partial decryption is malformed: {exc}") from exc


@dataclass(frozen=True)
class ThresholdDecryption:
    """Plaintexts mod nˢ, the custodians whose answers were used, and those rejected (index → reason)."""

    plaintexts: tuple[int, ...]
    used: tuple[int, ...]
    rejected: dict[int, str]


def ciphertext_digest(ciphertexts: Sequence[int], degree: int) -> bytes:
    """SHA-256 naming a list of ciphertexts and the degree they are decrypted under."""
    h = hashlib.sha256(degree.to_bytes(1, "big"))
    for c in ciphertexts:
        raw = _int_bytes(c)
        h.update(len(raw).to_bytes(4, "big") + raw)
    return h.digest()


def deal_shares(custodians: int, threshold: int, bits: int = 2048, *, max_degree: int = 1) -> list[KeyShare]:
    """Trusted dealer: generate a key and split it with :func:`split_private_key`.

    Parameters
    ----------
    custodians : int
        N >= 2.
    threshold : int
        t in 1..N.
    bits : int (default: 2048)
        Modulus size.
    max_degree : int (default: 1)
        Largest Damgård–Jurik degree the shares decrypt.
    """
    _check_counts(custodians, threshold)
    _, private = generate_keypair(bits)
    return split_private_key(private, custodians, threshold, max_degree=max_degree)


def split_private_key(private: PaillierPrivateKey, custodians: int, threshold: int, *, max_degree: int = 1) -> list[KeyShare]:
    """Trusted dealer: split ``D`` (≡ 0 mod φ(n), ≡ 1 mod n^max) of ``private`` into N shares.

    The caller must then drop ``private`` (the shares never contain p, q, φ or D).

    Returns
    -------
    list[KeyShare]
        Shares for custodians 1..N.
    """
    _check_counts(custodians, threshold)
    n, phi = private.public_key.n, (private.p - 1) * (private.q - 1)
    n_max = n**max_degree
    order = n_max * phi  # the polynomial lives mod n^max·φ (Shoup's Z_{nm}); every order divides it
    secret = phi * int(gmpy2.invert(phi, n_max)) % order
    coefficients = [secret] + [secrets.randbelow(order) for _ in range(threshold - 1)]
    shares = [_poly(coefficients, i) % order for i in range(1, custodians + 1)]
    del phi, secret, coefficients, order
    delta = math.factorial(custodians)
    theta = 4 * delta * delta % n_max
    return _with_verification(n, threshold, max_degree, theta, shares)


def _with_verification(n: int, threshold: int, max_degree: int, theta: int, shares: list[int]) -> list[KeyShare]:
    modulus = gmpy2.mpz(n) ** (max_degree + 1)
    v = gmpy2.powmod(secrets.randbelow(n - 2) + 2, 2, modulus)
    delta = math.factorial(len(shares))
    keys = tuple(int(gmpy2.powmod(v, delta * s, modulus)) for s in shares)
    public = ThresholdPublicKey(n, threshold, len(shares), max_degree, theta, int(v), keys)
    return [KeyShare(i, s, public) for i, s in enumerate(shares, start=1)]


def partial_decrypt(share: KeyShare, ciphertexts: Sequence[int], degree: int = 1) -> PartialDecryption:
    """Custodian's answer: cᵢ = c^(2Δsᵢ) mod nˢ⁺¹ per ciphertext and one batched proof of correctness.

    Raises
    ------
    KeyFormatError
        ``degree`` above the key's ``max_degree``.
    """
    public = share.public
    modulus = _modulus(public, degree)
    v, v_i = public.verification_base % modulus, public.verification_keys[share.index - 1] % modulus
    x = gmpy2.mpz(public.delta * share.secret)
    values = tuple(int(gmpy2.powmod(gmpy2.mpz(c), 2 * x, modulus)) for c in ciphertexts)
    digest = ciphertext_digest(ciphertexts, degree)
    c4, c_i2 = _batched(ciphertexts, digest, values, share.index, modulus)
    r = gmpy2.mpz(secrets.randbits(x.bit_length() + CHALLENGE_BITS + _HIDING_BITS))
    e = _challenge(c4, c_i2, v, v_i, gmpy2.powmod(c4, r, modulus), gmpy2.powmod(v, r, modulus))
    return PartialDecryption(share.index, degree, digest, values, ((e, int(r + e * x)),))


def verify_partial(public: ThresholdPublicKey, ciphertexts: Sequence[int], partial: PartialDecryption) -> str | None:
    """Check a partial decryption against the verification key of its custodian.

    Returns
    -------
    str | None
        None if every value is proven correct, else why it is not (for the report).
    """
    if not 1 <= partial.index <= public.custodians:
        return f"custodian index {partial.index} is not one of 1..{public.custodians}"
    if partial.ciphertext_digest != ciphertext_digest(ciphertexts, partial.degree):
        return "answers other ciphertexts than the ones requested"
    if len(partial.values) != len(ciphertexts):
        return f"holds {len(partial.values)} values for {len(ciphertexts)} ciphertexts"
    if len(partial.proofs) != 1:
        return f"holds {len(partial.proofs)} proofs, not one batched proof"
    modulus = _modulus(public, partial.degree)
    v, v_i = public.verification_base % modulus, public.verification_keys[partial.index - 1] % modulus
    for position, c_i in enumerate(partial.values):
        if not 0 < c_i < modulus or gmpy2.gcd(c_i, public.n) != 1:
            return f"value {position} is not an element of Z*_(n^{partial.degree + 1})"
    (e, z), = partial.proofs
    if not 0 <= e < 1 << CHALLENGE_BITS or z < 0:
        return "proof of correct decryption holds values out of range"
    c4, c_i2 = _batched(ciphertexts, partial.ciphertext_digest, partial.values, partial.index, modulus)
    a = gmpy2.powmod(c4, z, modulus) * gmpy2.powmod(gmpy2.invert(c_i2, modulus), e, modulus) % modulus
    b = gmpy2.powmod(v, z, modulus) * gmpy2.powmod(gmpy2.invert(v_i, modulus), e, modulus) % modulus
    if _challenge(c4, c_i2, v, v_i, a, b) != e:
        return f"proof of correct decryption fails (one proof batched over {len(ciphertexts)} ciphertexts)"
    return None


def _batched(ciphertexts: Sequence[int], digest: bytes, values: Sequence[int], index: int, modulus: gmpy2.mpz) -> tuple[gmpy2.mpz, gmpy2.mpz]:
    """(C⁴, Cᵢ²): the weighted products of the ciphertexts (named by ``digest``, :func:`ciphertext_digest`) and of custodian ``index``'s answers, weights from both."""
    seed = hashlib.sha256(b"fedledger-threshold-batch-v1" + digest + index.to_bytes(2, "big"))
    for value in values:
        raw = _int_bytes(value)
        seed.update(len(raw).to_bytes(4, "big") + raw)
    root = seed.digest()
    weights = [
        int.from_bytes(hashlib.sha256(root + j.to_bytes(4, "big")).digest()[: CHALLENGE_BITS // 8], "big") | 1
        for j in range(len(values))
    ]
    c = multi_powmod(ciphertexts, weights, modulus)
    c_i = multi_powmod(values, weights, modulus)
    return gmpy2.powmod(c, 4, modulus), c_i * c_i % modulus


def combine(
    public: ThresholdPublicKey, ciphertexts: Sequence[int], partials: Iterable[PartialDecryption], degree: int = 1, *, verified: bool = False
) -> ThresholdDecryption:
    """Verify every partial decryption, then combine t valid ones into the plaintexts.

    ``verified=True`` skips the proofs of answers the caller has already checked with
    :func:`verify_partial` (the combination itself still rejects a value that is not a
    power of 1+n).

    Raises
    ------
    ThresholdDecryptionError
        Fewer than t valid answers; names the custodians that did not answer and those rejected.
    """
    rejected: dict[int, str] = {}
    valid: dict[int, PartialDecryption] = {}
    for partial in partials:
        if partial.degree != degree:
            rejected[partial.index] = f"answered for degree {partial.degree}, not {degree}"
            continue
        if partial.index in valid:
            continue
        reason = None if verified else verify_partial(public, ciphertexts, partial)
        if reason is None:
            valid[partial.index] = partial
        else:
            rejected[partial.index] = reason
    if len(valid) < public.threshold:
        missing = tuple(i for i in range(1, public.custodians + 1) if i not in valid and i not in rejected)
        detail = "; ".join(f"custodian {i}: {why}" for i, why in sorted(rejected.items()))
        raise ThresholdDecryptionError(
            f"{len(valid)} valid partial decryptions of {public.threshold} needed; "
            f"missing custodians {list(missing)}" + (f"; rejected {detail}" if detail else ""),
            missing=missing, rejected=tuple(sorted(rejected)),
        )
    used = tuple(sorted(valid)[: public.threshold])
    modulus = _modulus(public, degree)
    n_s = gmpy2.mpz(public.n) ** degree
    theta_inverse = gmpy2.invert(public.theta % n_s, n_s)
    coefficients = _lagrange_at_zero(used, public.delta)
    plaintexts = []
    for position in range(len(ciphertexts)):
        acc = gmpy2.mpz(1)
        for i in used:
            mu = 2 * coefficients[i]
            base = gmpy2.mpz(valid[i].values[position])
            if mu < 0:
                base, mu = gmpy2.invert(base, modulus), -mu
            acc = acc * gmpy2.powmod(base, mu, modulus) % modulus
        plaintexts.append(int(dlog_one_plus_n(acc, public.n, degree) * theta_inverse % n_s))
    return ThresholdDecryption(tuple(plaintexts), used, rejected)


def dlog_one_plus_n(a: int, n: int, degree: int) -> int:
    """i mod nˢ from a = (1+n)^i mod nˢ⁺¹ (Damgård–Jurik 2001, Theorem 1's algorithm).

    Raises
    ------
    ThresholdDecryptionError
        ``a`` is not a power of 1+n (a partial decryption that slipped past verification).
    """
    n = gmpy2.mpz(n)
    a = gmpy2.mpz(a)
    if (a - 1) % n:
        raise ThresholdDecryptionError("combined value is not a power of 1+n: a partial decryption is wrong")
    i = gmpy2.mpz(0)
    for j in range(1, degree + 1):
        n_j = n**j
        t1 = (a % (n_j * n) - 1) // n
        t2 = i
        for k in range(2, j + 1):
            i -= 1
            t2 = t2 * i % n_j
            t1 = (t1 - t2 * n ** (k - 1) * gmpy2.invert(math.factorial(k), n_j)) % n_j
        i = t1 % n_j
    return int(i)


def _lagrange_at_zero(indices: Sequence[int], delta: int) -> dict[int, int]:
    """μᵢ = Δ·Π_{j≠i} j/(j−i): integers because Δ = N! is divisible by every denominator."""
    out = {}
    for i in indices:
        numerator, denominator = delta, 1
        for j in indices:
            if j != i:
                numerator *= j
                denominator *= j - i
        if numerator % denominator:
            raise ThresholdDecryptionError(f"Lagrange coefficient of custodian {i} is not an integer (Δ too small)")
        out[i] = numerator // denominator
    return out


def _modulus(public: ThresholdPublicKey, degree: int) -> gmpy2.mpz:
    if not 1 <= degree <= public.max_degree:
        raise KeyFormatError(f"this threshold key decrypts degrees 1..{public.max_degree}, not {degree}")
    return gmpy2.mpz(public.n) ** (degree + 1)


def _challenge(*values: int) -> int:
    h = hashlib.sha256(b"fedledger-threshold-proof-v1")
    for value in values:
        raw = _int_bytes(value)
        h.update(len(raw).to_bytes(4, "big") + raw)
    return int.from_bytes(h.digest()[: CHALLENGE_BITS // 8], "big")


def _poly(coefficients: Sequence[int], x: int) -> int:
    acc = 0
    for a in reversed(coefficients):
        acc = acc * x + a
    return acc


def _int_bytes(value: int) -> bytes:
    value = int(value)
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _check_counts(custodians: int, threshold: int) -> None:
    if custodians < 2 or not 1 <= threshold <= custodians:
        raise KeyFormatError(f"threshold custody needs N >= 2 custodians and 1 <= t <= N, got t={threshold}, N={custodians}")


def save_share(path: str | os.PathLike[str], share: KeyShare, passphrase: str, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> Path:
    """Write a share file (mode 0600): public key in clear, secret sealed (module docstring, "At rest")."""
    public = share.public.to_json()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    aad = _aad(public, share.index)
    sealed = AESGCM(_derive(passphrase, salt, scrypt_n)).encrypt(nonce, _int_bytes(share.secret), aad)
    document = {
        "version": _SHARE_VERSION, "index": share.index, "public": public,
        "kdf": {"name": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": salt.hex()},
        "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex(), "sealed": sealed.hex()},
    }
    return write_secret_file(path, json.dumps(document).encode())


def load_share(path: str | os.PathLike[str], passphrase: str) -> KeyShare:
    """Open a share file written by :func:`save_share`.

    Raises
    ------
    KeyFormatError
        Unreadable or malformed file, or a passphrase that does not open it.
    """
    document = _read_share_file(path)
    public = ThresholdPublicKey.from_json(document["public"])
    try:
        kdf, cipher, index = document["kdf"], document["cipher"], document["index"]
        if type(index) is not int or type(kdf["n"]) is not int:  # noqa: E721 - a JSON true is no index
            raise TypeError("index and kdf.n must be integers")
        if kdf["name"] != "scrypt" or type(kdf["r"]) is not int or type(kdf["p"]) is not int or (kdf["r"], kdf["p"]) != (8, 1):  # noqa: E721
            raise ValueError(f"unsupported key derivation {kdf['name']} r={kdf['r']} p={kdf['p']} (scrypt, r=8, p=1)")
        key = _derive(passphrase, bytes.fromhex(kdf["salt"]), kdf["n"])
        raw = AESGCM(key).decrypt(bytes.fromhex(cipher["nonce"]), bytes.fromhex(cipher["sealed"]), _aad(document["public"], index))
    except InvalidTag as exc:
        raise KeyFormatError(f"share file {path}: wrong passphrase or altered file") from exc
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # a field missing, of the wrong type or out of range
        raise KeyFormatError(f"share file {path} is malformed: {exc}") from exc
    return KeyShare(index, int.from_bytes(raw, "big"), public)


def share_path(directory: str | os.PathLike[str], index: int) -> Path:
    """Where custodian ``index``'s share file lives in a key-shares directory."""
    return Path(directory) / f"custodian-{index}{SHARE_SUFFIX}"


def load_public(path: str | os.PathLike[str]) -> ThresholdPublicKey:
    """The public part of a share file (no passphrase needed)."""
    return ThresholdPublicKey.from_json(_read_share_file(path)["public"])


def _read_share_file(path: str | os.PathLike[str]) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise KeyFormatError(f"cannot read share file {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("version") != _SHARE_VERSION or "public" not in document:
        raise KeyFormatError(f"{path} is not a fedledger key-share file (version {_SHARE_VERSION})")
    return document


def _aad(public: dict[str, object], index: int) -> bytes:
    return json.dumps({"public": public, "index": index}, sort_keys=True).encode()


def _derive(passphrase: str, salt: bytes, n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase.encode())


class Custodian:
    """One custodian of a threshold key: holds a single share and answers partial decryptions of packed updates.

    Parameters
    ----------
    share : KeyShare
    config : CodecConfig
        Must equal the participants' config.
    """

    def __init__(self, share: KeyShare, config: CodecConfig) -> None:
        self.index = share.index
        self.public = share.public
        self.config = config
        self.layout = SlotLayout.for_key(config, share.public.n)
        self._share = share

    def partial_decrypt(self, update: EncryptedUpdate) -> PartialDecryption:
        """Partial decryption, with proofs, of every ciphertext of ``update``.

        Raises
        ------
        CodecError
            ``update`` was made under another key or codec.
        """
        check_update(update, self.public.fingerprint, self.config, self.layout)
        return partial_decrypt(self._share, update.ciphertexts, update.degree)


@dataclass(frozen=True)
class ThresholdSums:
    """Decrypted integer slot sums and who contributed: ``used`` custodians, ``rejected`` ones with the reason."""

    sums: np.ndarray
    used: tuple[int, ...]
    rejected: dict[int, str]


class ThresholdCombiner:
    """Turns t partial decryptions of a packed update into its slot sums; holds only public values.

    Parameters
    ----------
    public : ThresholdPublicKey
    config : CodecConfig
    """

    def __init__(self, public: ThresholdPublicKey, config: CodecConfig) -> None:
        self.public = public
        self.config = config
        self.layout = SlotLayout.for_key(config, public.n)

    def decrypt_ints(self, update: EncryptedUpdate, partials: Iterable[PartialDecryption], *, verified: bool = False) -> ThresholdSums:
        """Verify the partial decryptions, combine t valid ones, decode Σ q_i (as :meth:`PackedDecryptor.decrypt_ints`).

        Raises
        ------
        ThresholdDecryptionError
            Fewer than t valid answers (names the missing and the rejected custodians).
        CodecError
            ``update`` does not belong to this key and codec, or decodes outside its slots.
        """
        check_update(update, self.public.fingerprint, self.config, self.layout)
        if update.count > self.layout.capacity:
            raise CodecError(f"update claims a sum of {update.count} updates, above the slot capacity {self.layout.capacity}")
        result = combine(self.public, update.ciphertexts, partials, update.degree, verified=verified)
        sums = decode_plaintexts(update, result.plaintexts, self.config, self.layout)
        return ThresholdSums(sums, result.used, result.rejected)
