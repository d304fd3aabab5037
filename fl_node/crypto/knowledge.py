"""Non-interactive proofs of plaintext knowledge for Paillier / Damgård–Jurik ciphertexts, bound to a context.

A participant proves, for each ciphertext of its update, that it knows the plaintext, in a proof
whose challenge hashes the round's context (chain id, ledger, task, round, sender: the blob
header). This is what makes a copied update unusable: a copier holds another member's
ciphertexts but not their plaintexts.

Statement (N = nˢ, s the degree; s = 1 is Paillier)
    For c in Z*_(nˢ⁺¹) the prover knows m and r in Z*_n with ``c = (1+n)^m · r^N mod nˢ⁺¹``.
    The codec's obfuscators are such r^N: ``"full"`` randomness draws r, ``"short"`` draws
    ``hᵃ`` with ``h = h_root^N`` so ``r = h_rootᵃ mod n`` (:mod:`fl_node.crypto.paillier`).

Protocol (Σ-protocol, Fiat–Shamir per ciphertext i)
    The prover draws x uniform in ``[0, 2^(s·|n| + E + K))`` (E = 128 challenge bits, K = 80
    bits of statistical slack) and u in Z*_n, and sets ``a = (1+n)^x · u^N``,
    ``e = H(context, i, c, a)`` (SHA-256, first E bits), ``z1 = x + e·m`` (an integer, no
    reduction) and ``z2 = u · r^e mod n``. The proof is ``(e, z1, z2)``; the verifier
    recomputes ``a' = (1+n)^z1 · z2^N · c^(−e) mod nˢ⁺¹`` and accepts when
    ``e = H(context, i, c, a')``, ``0 <= z1 < 2^(s·|n| + E + K + 1)`` and z2 is a unit mod n.

Completeness
    ``(1+n)^(x+e·m) · (u·r^e)^N = a · c^e`` (u^N mod nˢ⁺¹ depends only on u mod n).

Soundness (special soundness; knowledge in the random-oracle model by the forking lemma)
    Two accepting answers to one a with challenges e ≠ e' give
    ``(1+n)^(z1−z1') · (z2/z2')^N = c^(e−e')``. Since ``0 < |e−e'| < 2^E`` is below both prime
    factors of n, gcd(e−e', N) = 1; with ``α(e−e') + βN = 1``,
    ``c = c^(α(e−e')) · c^(βN) = (1+n)^(α(z1−z1')) · ((z2/z2')^α · c^β)^N``: c encrypts
    ``m = α(z1−z1') mod N``, which the extractor outputs.

Zero knowledge (honest verifier, statistical)
    z1 = x + e·m with e·m < 2^(s·|n|+E) lies within statistical distance 2^−K of x's own
    distribution, and u·r^e is uniform in Z*_n; the proof shows nothing of m beyond c.

Binding, and why a copy fails
    The context and c are inside the hash. B's proof does not verify under another context
    (another round, task, ledger or sender). A copier C holding B's ciphertext c and proof can
    re-randomize (``c·t^N``) or re-use c, but then needs a proof for its own context: by
    soundness that is a proof of knowledge of B's plaintext, which the semantic security of
    B's ciphertext hides from C. Mauling B's proof (``z2·t^e``) fits the new ciphertext but
    not the new hash.

Cost per ciphertext: one exponentiation ``u^N`` mod nˢ⁺¹ for the prover and one ``z2^N`` for
the verifier, about one full-randomness encryption each; ``16 + |z1| + |n|`` bytes of proof.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import gmpy2

from fl_node.crypto.codec import EncryptedUpdate, Witness
from fl_node.crypto.paillier import one_plus_n_pow
from fl_node.crypto.parallel import WorkerPool, shared_pool
from fl_node.errors import CiphertextFormatError

__all__ = ["ProofStatement", "prove_update", "verify_update", "proof_size"]

CHALLENGE_BITS = 128
SLACK_BITS = 80
_DOMAIN = b"fedledger/plaintext-knowledge/v1"
_E_BYTES = CHALLENGE_BITS // 8


@dataclass(frozen=True)
class ProofStatement:
    """The public part shared by prover and verifier: key, degree and the context the proofs are bound to.

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

    @property
    def z1_bits(self) -> int:
        """Bit bound of z1: ``s·|n| + E + K + 1``."""
        return self.degree * self.n.bit_length() + CHALLENGE_BITS + SLACK_BITS + 1

    @property
    def z1_bytes(self) -> int:
        return (self.z1_bits + 7) // 8

    @property
    def n_bytes(self) -> int:
        return (self.n.bit_length() + 7) // 8

    @property
    def item_bytes(self) -> int:
        """Bytes of one ciphertext's proof: e, z1, z2."""
        return _E_BYTES + self.z1_bytes + self.n_bytes


def proof_size(n: int, degree: int, ciphertexts: int) -> int:
    """Bytes of the proofs for ``ciphertexts`` ciphertexts under modulus ``n`` and ``degree``."""
    return ciphertexts * ProofStatement(n, degree, b"").item_bytes


def _challenge(statement: ProofStatement, index: int, c: int, a: int, width: int) -> int:
    digest = hashlib.sha256(
        _DOMAIN
        + len(statement.context).to_bytes(4, "big")
        + statement.context
        + index.to_bytes(4, "big")
        + int(c).to_bytes(width, "big")
        + int(a).to_bytes(width, "big")
    ).digest()
    return int.from_bytes(digest[:_E_BYTES], "big")


def _width(statement: ProofStatement) -> int:
    return ((statement.n ** (statement.degree + 1)).bit_length() + 7) // 8


def prove_items(statement: ProofStatement, items: list[tuple[int, int, int, int]]) -> list[bytes]:
    """Proofs for ``(index, c, m, r)`` items (a worker task); see the module docstring."""
    n = gmpy2.mpz(statement.n)
    big_n = n**statement.degree
    modulus = n * big_n
    width = _width(statement)
    x_bits = statement.degree * statement.n.bit_length() + CHALLENGE_BITS + SLACK_BITS
    out = []
    for index, c, m, r in items:
        x = gmpy2.mpz(secrets.randbits(x_bits))
        u = gmpy2.mpz(secrets.randbelow(statement.n - 1) + 1)
        a = one_plus_n_pow(x, n, statement.degree, modulus) % modulus * gmpy2.powmod(u, big_n, modulus) % modulus
        e = _challenge(statement, index, c, int(a), width)
        z1 = x + e * gmpy2.mpz(m)
        z2 = u * gmpy2.powmod(r, e, n) % n
        out.append(e.to_bytes(_E_BYTES, "big") + int(z1).to_bytes(statement.z1_bytes, "big") + int(z2).to_bytes(statement.n_bytes, "big"))
    return out


def verify_items(statement: ProofStatement, items: list[tuple[int, int, bytes]]) -> list[int]:
    """Indices among ``(index, c, proof)`` items whose proof fails (a worker task)."""
    n = gmpy2.mpz(statement.n)
    big_n = n**statement.degree
    modulus = n * big_n
    width = _width(statement)
    failed = []
    for index, c, proof in items:
        e = int.from_bytes(proof[:_E_BYTES], "big")
        z1 = gmpy2.mpz(int.from_bytes(proof[_E_BYTES : _E_BYTES + statement.z1_bytes], "big"))
        z2 = gmpy2.mpz(int.from_bytes(proof[_E_BYTES + statement.z1_bytes :], "big"))
        if z1.bit_length() > statement.z1_bits or not 0 < z2 < n or gmpy2.gcd(z2, n) != 1:
            failed.append(index)
            continue
        c_e_inverse = gmpy2.invert(gmpy2.powmod(c, e, modulus), modulus)
        a = one_plus_n_pow(z1, n, statement.degree, modulus) % modulus * gmpy2.powmod(z2, big_n, modulus) % modulus
        if _challenge(statement, index, c, int(a * c_e_inverse % modulus), width) != e:
            failed.append(index)
    return failed


def prove_update(statement: ProofStatement, update: EncryptedUpdate, witness: Witness, pool: WorkerPool | None = None) -> bytes:
    """The proofs for every ciphertext of ``update``, concatenated (``item_bytes`` each).

    Parameters
    ----------
    statement : ProofStatement
    update : EncryptedUpdate
        A fresh encryption (count 1).
    witness : Witness
        Its plaintexts and obfuscator roots (:meth:`~fl_node.crypto.codec.PackedCodec.encrypt_witnessed`).
    pool : WorkerPool | None (default: the shared pool)
    """
    items = [
        (i, c, m, r) for i, (c, m, r) in enumerate(zip(update.ciphertexts, witness.plaintexts, witness.roots, strict=True))
    ]
    return b"".join((pool or shared_pool()).map_chunks(prove_items, statement, items))


def verify_update(statement: ProofStatement, ciphertexts: Sequence[int], proof: bytes, pool: WorkerPool | None = None) -> None:
    """Check the proofs of ``ciphertexts`` under ``statement``.

    Raises
    ------
    CiphertextFormatError
        A proof of the wrong size, or one that does not verify (naming the first ciphertext).
    """
    size = statement.item_bytes
    if len(proof) != len(ciphertexts) * size:
        raise CiphertextFormatError(
            f"plaintext-knowledge proof has {len(proof)} bytes, {len(ciphertexts)} ciphertexts need {len(ciphertexts) * size}"
        )
    items = [(i, int(c), proof[i * size : (i + 1) * size]) for i, c in enumerate(ciphertexts)]
    failed = sorted((pool or shared_pool()).map_chunks(verify_items, statement, items))
    if failed:
        raise CiphertextFormatError(
            f"the plaintext-knowledge proof of ciphertext {failed[0]} does not verify for this header "
            f"({len(failed)} of {len(ciphertexts)} fail): the update was not encrypted by its sender for this round"
        )
