"""The plaintext-knowledge proof's verifier: the Straus multi-exponentiation and the split over worker processes."""

from __future__ import annotations

import dataclasses
import secrets

import gmpy2
import numpy as np
import pytest

from fl_node.crypto.codec import CodecConfig, PackedCodec
from fl_node.crypto.keys import generate_keypair
from fl_node.crypto.knowledge import ProofStatement, multi_powmod, prove_update, verify_update
from fl_node.crypto.parallel import WorkerPool
from fl_node.errors import CiphertextFormatError


def test_multi_powmod_is_the_product_of_the_single_exponentiations() -> None:
    modulus = secrets.randbits(1024) | 1
    for count in (0, 1, 2, 7, 33):
        bases = [secrets.randbelow(3 * modulus) for _ in range(count)]  # some above the modulus
        exponents = [secrets.randbits(secrets.choice((1, 5, 64, 128, 130))) for _ in range(count)]
        if count:
            exponents[0] = 0
        expected = gmpy2.mpz(1)
        for b, e in zip(bases, exponents):
            expected = expected * gmpy2.powmod(b, e, modulus) % modulus
        assert multi_powmod(bases, exponents, modulus) == expected


@pytest.fixture(scope="module")
def proved():
    public, _ = generate_keypair(512)
    config = CodecConfig(bits=8, max_participants=4, degree=2, randomness="short")
    codec = PackedCodec(public, config, pool=WorkerPool(1))
    update, witness = codec.encrypt_witnessed(np.random.default_rng(0).uniform(-1, 1, 600), rng=np.random.default_rng(1))
    statement = ProofStatement(public.n, config.degree, b"round 7, sender A")
    return statement, update, prove_update(statement, update, witness)


@pytest.mark.parametrize("workers", [1, 2])
def test_verifier_accepts_the_proof_and_refuses_a_changed_ciphertext_or_answer(proved, workers) -> None:
    statement, update, proof = proved
    pool = WorkerPool(workers)
    try:
        assert len(update.ciphertexts) > 4
        verify_update(statement, update.ciphertexts, proof, pool)
        modulus = statement.n ** (statement.degree + 1)
        changed = list(update.ciphertexts)
        changed[-1] = changed[-1] * pow(2, statement.n**statement.degree, modulus) % modulus  # re-randomized
        with pytest.raises(CiphertextFormatError, match="does not verify"):
            verify_update(statement, changed, proof, pool)
        a_end = statement.ciphertext_bytes
        z1 = int.from_bytes(proof[a_end : a_end + statement.z1_bytes(len(changed))], "big") + 1
        tampered = proof[:a_end] + z1.to_bytes(statement.z1_bytes(len(changed)), "big") + proof[a_end + statement.z1_bytes(len(changed)) :]
        with pytest.raises(CiphertextFormatError, match="does not verify"):
            verify_update(statement, update.ciphertexts, tampered, pool)
        with pytest.raises(CiphertextFormatError, match="does not verify"):
            verify_update(dataclasses.replace(statement, context=b"round 8, sender A"), update.ciphertexts, proof, pool)
    finally:
        pool.close()
