"""A non-interactive proof of plaintext knowledge for a blob's Paillier / Damgård–Jurik ciphertexts, bound to a context.

A participant proves that it knows the plaintexts of all the ciphertexts of its update, in one
proof whose challenges hash the round's context (chain id, ledger, task, round, sender: the blob
header) and the ciphertexts. This is what makes a copied update unusable: a copier holds another
member's ciphertexts but not their plaintexts.

Statement (N = nˢ, s the degree; s = 1 is Paillier; g = 1 + n)
    For c_1..c_k in Z*_(nˢ⁺¹) the prover knows m_i and r_i in Z*_n with
    ``c_i = g^(m_i) · r_i^N mod nˢ⁺¹``. The codec's obfuscators are such r^N: ``"full"``
    randomness draws r, ``"short"`` draws ``hᵃ`` with ``h = h_root^N``, so ``r = h_rootᵃ mod n``
    (:mod:`fl_node.crypto.paillier`).

Protocol (batched Σ-protocol, Fiat–Shamir)
    The prover draws x uniform in ``[0, 2^(s·|n| + E + L + K))`` (E = 128 challenge bits,
    L = bit length of k, K = 80 bits of statistical slack) and u in Z*_n, and sends
    ``a = g^x · u^N``. The challenges are ``e_i = H(H(context, k, c_1..c_k, a), i)`` (SHA-256,
    first E bits). The prover answers ``z1 = x + Σ e_i·m_i`` (an integer, no reduction) and
    ``z2 = u · Π r_i^(e_i) mod n``. The verifier accepts when
    ``g^z1 · z2^N = a · Π c_i^(e_i) mod nˢ⁺¹``, ``0 <= z1 < 2^(s·|n| + E + L + K + 1)`` and a, z2
    are units.

Completeness
    ``g^(x + Σ e_i m_i) · (u · Π r_i^(e_i))^N = a · Π c_i^(e_i)`` (u^N mod nˢ⁺¹ depends only on
    u mod n).

Soundness (knowledge, in the random-oracle model)
    Fork the prover k times at the oracle query that fixes the challenges, for the same a: k+1
    accepting answers with challenge vectors e⁰..eᵏ. With the k×k integer matrix
    ``D = (eʲ_i − e⁰_i)`` and ``δ_j = z1ʲ − z1⁰``, each row gives
    ``g^(δ_j) · w_j^N = Π c_i^(D_ji)``. Its determinant d is nonzero mod p and mod q except with
    probability ≤ k/2^(E+1) (Schwartz–Zippel over Z_p with entries from a set of 2^(E+1)), so
    gcd(d, N) = 1. Multiplying by the adjugate (``adj(D)·D = d·I``) gives
    ``c_i^d = g^(μ_i) · v_i^N`` with ``μ_i = Σ_j adj(D)_ij δ_j`` known, hence
    ``c_i = g^(μ_i · d⁻¹ mod N) · (…)^N``: the extractor outputs every m_i.

Zero knowledge (honest verifier, statistical)
    ``Σ e_i m_i < k·2^E·N <= 2^(s·|n| + E + L)``, so z1 is within statistical distance 2^−K of
    x's own distribution; z2 is uniform in Z*_n; a follows from the verification equation.

Binding, and why a copy fails
    The context and every c_i are inside the hash. B's proof does not verify under another
    context (another round, task, ledger or sender). A copier C holding B's ciphertexts and
    proof can re-randomize them (``c_i·t_i^N``), keep them, or mix some with its own, but then
    needs a proof for its own context and ciphertexts: by soundness that yields every plaintext,
    B's among them, which the semantic security of B's ciphertexts hides from C. Mauling B's
    proof (``z2·Π t_i^(e_i)``) fits re-randomized ciphertexts under B's challenges, not under the
    new hash.

Cost per blob: one exponentiation ``u^N`` mod nˢ⁺¹ for the prover and one ``z2^N`` for the
verifier (about one full-randomness encryption each), plus k exponentiations by E-bit challenges;
``|nˢ⁺¹| + |z1| + |n|`` bytes of proof, whatever k. The verifier computes ``Π c_i^(e_i)`` as one
multi-exponentiation (Straus: a 4-bit window table per base and E squarings shared by all k
bases, ≈ 2.5× fewer multiplications than k separate exponentiations), split over the codec's
worker processes while it computes the left side itself; the equation checked is unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from fl_node.crypto.codec import CodecConfig, EncryptedUpdate, SlotLayout, Witness
from fl_node.crypto.paillier import one_plus_n_pow
from fl_node.crypto.parallel import WorkerPool, shared_pool
from fl_node.errors import CiphertextFormatError, CodecError

__all__ = ["ProofStatement", "prove_update", "verify_update", "proof_size", "update_bytes", "automatic_degree", "with_degree", "multi_powmod"]

CHALLENGE_BITS = 128
SLACK_BITS = 80
_DOMAIN = b"fedledger/plaintext-knowledge/v2"
_E_BYTES = CHALLENGE_BITS // 8


@dataclass(frozen=True)
class ProofStatement:
    """The public part shared by prover and verifier: key, degree and the context the proof is bound to.

    Attributes
    ----------
    n : int
        Paillier modulus.
    degree : int
        Damgård–Jurik s.
    context : bytes
        The blob header the challenges hash (chain id, ledger, task, round, sender).
    """

    n: int
    degree: int
    context: bytes

    def x_bits(self, count: int) -> int:
        """Bits of the prover's mask x for ``count`` ciphertexts: ``s·|n| + E + L + K``."""
        return self.degree * self.n.bit_length() + CHALLENGE_BITS + count.bit_length() + SLACK_BITS

    def z1_bytes(self, count: int) -> int:
        return (self.x_bits(count) + 1 + 7) // 8

    @property
    def ciphertext_bytes(self) -> int:
        return ((self.n ** (self.degree + 1)).bit_length() + 7) // 8

    @property
    def n_bytes(self) -> int:
        return (self.n.bit_length() + 7) // 8

    def proof_bytes(self, count: int) -> int:
        """Bytes of the proof for ``count`` ciphertexts: a, z1, z2."""
        return self.ciphertext_bytes + self.z1_bytes(count) + self.n_bytes


def proof_size(n: int, degree: int, ciphertexts: int) -> int:
    """Bytes of the proof for ``ciphertexts`` ciphertexts under modulus ``n`` and ``degree``."""
    return ProofStatement(n, degree, b"").proof_bytes(ciphertexts)


#: The degrees an automatic codec chooses from (:func:`automatic_degree`).
AUTOMATIC_DEGREES = (1, 4)


def update_bytes(config: CodecConfig, n: int, length: int) -> int:
    """Ciphertext and proof bytes of one update of ``length`` values under ``config`` (degree set) and modulus ``n``."""
    ciphertexts = SlotLayout.for_key(config, n).ciphertexts_for(length)
    statement = ProofStatement(n, config.degree, b"")
    return ciphertexts * statement.ciphertext_bytes + statement.proof_bytes(ciphertexts)


def automatic_degree(config: CodecConfig, key_bits: int, length: int) -> int:
    """The degree of :data:`AUTOMATIC_DEGREES` whose update of ``length`` values is smallest, ciphertexts and proof (the lower on a tie).

    Degree 4 packs four plaintexts' worth of slots into a ciphertext five moduli long (1.93
    ciphertext bytes per parameter at 8 bits and 2048 bits), but its proof of plaintext
    knowledge is 2.5 times longer and costs an exponentiation mod n⁵; an update that fills only
    a few ciphertexts is smaller, and much cheaper, at degree 1. ``config``'s clip must be set.
    """
    n = (1 << (key_bits - 1)) | 1  # the sizes depend on the modulus's length only
    return min(AUTOMATIC_DEGREES, key=lambda d: (update_bytes(dataclasses.replace(config, degree=d), n, length), d))


def with_degree(config: CodecConfig, key_bits: int, length: int) -> CodecConfig:
    """``config`` with an automatic degree (0) set by :func:`automatic_degree`; a degree already set is kept."""
    if config.degree:
        return config
    return dataclasses.replace(config, degree=automatic_degree(config, key_bits, length))


def _challenges(statement: ProofStatement, ciphertexts: Sequence[int], a: int) -> list[int]:
    width = statement.ciphertext_bytes
    seed = hashlib.sha256(
        _DOMAIN
        + len(statement.context).to_bytes(4, "big")
        + statement.context
        + len(ciphertexts).to_bytes(4, "big")
        + b"".join(int(c).to_bytes(width, "big") for c in ciphertexts)
        + int(a).to_bytes(width, "big")
    ).digest()
    return [int.from_bytes(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()[:_E_BYTES], "big") for i in range(len(ciphertexts))]


def prove_update(statement: ProofStatement, update: EncryptedUpdate, witness: Witness) -> bytes:
    """The proof that the sender knows every plaintext of ``update``, bound to ``statement.context``.

    Parameters
    ----------
    statement : ProofStatement
    update : EncryptedUpdate
        A fresh encryption (count 1).
    witness : Witness
        Its plaintexts and obfuscator roots (:meth:`~fl_node.crypto.codec.PackedCodec.encrypt_witnessed`).
    """
    if not len(update.ciphertexts) == len(witness.plaintexts) == len(witness.roots):
        raise CodecError("the witness does not match the update's ciphertexts")
    n = gmpy2.mpz(statement.n)
    big_n = n**statement.degree
    modulus = n * big_n
    count = len(update.ciphertexts)
    x = gmpy2.mpz(secrets.randbits(statement.x_bits(count)))
    u = gmpy2.mpz(secrets.randbelow(statement.n - 1) + 1)
    a = one_plus_n_pow(x, n, statement.degree, modulus) % modulus * gmpy2.powmod(u, big_n, modulus) % modulus
    challenges = _challenges(statement, update.ciphertexts, int(a))
    z1 = x
    z2 = u
    for e, m, r in zip(challenges, witness.plaintexts, witness.roots, strict=True):
        z1 += e * gmpy2.mpz(m)
        z2 = z2 * gmpy2.powmod(r, e, n) % n
    return int(a).to_bytes(statement.ciphertext_bytes, "big") + int(z1).to_bytes(statement.z1_bytes(count), "big") + int(z2).to_bytes(statement.n_bytes, "big")


_WINDOW = 4


def multi_powmod(bases: Sequence[int], exponents: Sequence[int], modulus: int) -> gmpy2.mpz:
    """``Π bases_i^exponents_i mod modulus`` (exponents >= 0) by Straus's interleaved fixed windows."""
    m = gmpy2.mpz(modulus)
    size, mask = 1 << _WINDOW, (1 << _WINDOW) - 1
    tables = []
    for base in bases:
        row = [gmpy2.mpz(1), gmpy2.mpz(base) % m]
        for _ in range(size - 2):
            row.append(row[-1] * row[1] % m)
        tables.append(row)
    top = max((int(e).bit_length() for e in exponents), default=0)
    acc = gmpy2.mpz(1) % m
    for shift in range((top + _WINDOW - 1) // _WINDOW * _WINDOW - _WINDOW, -1, -_WINDOW):
        acc = gmpy2.powmod(acc, size, m)
        for row, e in zip(tables, exponents, strict=True):
            if digit := (e >> shift) & mask:
                acc = acc * row[digit] % m
    return acc


def _product_task(modulus: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Worker task: the multi-exponentiation of one chunk of ``(c_i, e_i)``."""
    return [int(multi_powmod([c for c, _ in pairs], [e for _, e in pairs], modulus))]


def verify_update(statement: ProofStatement, ciphertexts: Sequence[int], proof: bytes, pool: WorkerPool | None = None) -> None:
    """Check the proof of knowledge of the plaintexts of ``ciphertexts`` under ``statement``.

    ``pool`` (default: the shared pool over every core) computes chunks of ``Π c_i^(e_i)``.

    Raises
    ------
    CiphertextFormatError
        A proof of the wrong size, or one that does not verify.
    """
    count = len(ciphertexts)
    if len(proof) != statement.proof_bytes(count):
        raise CiphertextFormatError(
            f"plaintext-knowledge proof has {len(proof)} bytes, {count} ciphertexts need {statement.proof_bytes(count)}"
        )
    n = gmpy2.mpz(statement.n)
    big_n = n**statement.degree
    modulus = n * big_n
    a_end = statement.ciphertext_bytes
    z1_end = a_end + statement.z1_bytes(count)
    a = gmpy2.mpz(int.from_bytes(proof[:a_end], "big"))
    z1 = gmpy2.mpz(int.from_bytes(proof[a_end:z1_end], "big"))
    z2 = gmpy2.mpz(int.from_bytes(proof[z1_end:], "big"))
    if not (0 < a < modulus and gmpy2.gcd(a, n) == 1 and 0 < z2 < n and gmpy2.gcd(z2, n) == 1) or z1.bit_length() > statement.x_bits(count) + 1:
        raise CiphertextFormatError("plaintext-knowledge proof holds values out of range")
    pairs = list(zip(ciphertexts, _challenges(statement, ciphertexts, int(a)), strict=True))
    pool = pool if pool is not None else shared_pool()
    chunks = [pairs[len(pairs) * i // pool.workers : len(pairs) * (i + 1) // pool.workers] for i in range(pool.workers)]
    # every worker takes a chunk of the product while this process computes the left side
    futures = [pool.submit(_product_task, int(modulus), chunk) for chunk in chunks if chunk]
    left = one_plus_n_pow(z1, n, statement.degree, modulus) % modulus * gmpy2.powmod(z2, big_n, modulus) % modulus
    right = a
    for future in futures:
        right = right * future.result()[0] % modulus
    if left != right:
        raise CiphertextFormatError(
            "the plaintext-knowledge proof does not verify for this header: the update was not encrypted by its sender for this round"
        )
