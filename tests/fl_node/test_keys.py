"""Paillier key generation, byte and file formats, fingerprints, and rejection of non-keys."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest

from fl_node.crypto.keys import (
    generate_keypair,
    key_fingerprint,
    load_private_key,
    load_public_key,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_bytes,
    public_key_to_bytes,
    save_keypair,
)
from fl_node.errors import KeyFormatError


@pytest.fixture(scope="module")
def keypair():
    return generate_keypair(1024)


def _frame(kind: int, ints: list[int]) -> bytes:
    """The documented layout, built independently of the module under test."""
    body = b"FLPK" + bytes([1, kind])
    for value in ints:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        body += struct.pack(">H", len(raw)) + raw
    return body + hashlib.sha256(body).digest()


def test_generated_modulus_has_the_requested_size(keypair):
    pk, sk = keypair

    assert pk.n.bit_length() == 1024
    assert sk.p * sk.q == pk.n


def test_2048_bit_keypair_round_trips_through_bytes():
    pk, sk = generate_keypair(2048)

    pk2 = public_key_from_bytes(public_key_to_bytes(pk))
    sk2 = private_key_from_bytes(private_key_to_bytes(sk))

    assert pk.n.bit_length() == 2048
    assert pk2 == pk
    assert sk2.public_key == pk and {sk2.p, sk2.q} == {sk.p, sk.q}
    assert sk2.decrypt(pk.encrypt(-12.5)) == -12.5


def test_bytes_follow_the_documented_layout(keypair):
    pk, sk = keypair

    assert public_key_to_bytes(pk) == _frame(0, [pk.n])
    assert private_key_to_bytes(sk) == _frame(1, [sk.p, sk.q])
    assert len(public_key_to_bytes(pk)) == 4 + 2 + 2 + 128 + 32


def test_fingerprint_is_sha256_of_the_modulus_and_tells_keys_apart(keypair):
    pk, _ = keypair
    other, _ = generate_keypair(1024)

    fingerprint = key_fingerprint(pk)

    assert fingerprint == hashlib.sha256(pk.n.to_bytes(128, "big")).digest()
    assert len(fingerprint) == 32
    assert key_fingerprint(public_key_from_bytes(public_key_to_bytes(pk))) == fingerprint
    assert key_fingerprint(other) != fingerprint


def test_private_key_bytes_also_yield_the_public_key(keypair):
    pk, sk = keypair

    assert public_key_from_bytes(private_key_to_bytes(sk)) == pk


def test_save_and_load_files(tmp_path, keypair):
    pk, sk = keypair

    private_path, public_path = save_keypair(tmp_path / "keys" / "federation.key", pk, sk)

    assert public_path.name == "federation.key.pub"
    assert os.stat(private_path).st_mode & 0o777 == 0o600
    assert load_public_key(public_path) == pk
    assert load_public_key(private_path) == pk
    assert load_private_key(private_path).p == sk.p
    with pytest.raises(KeyFormatError, match="expected a private key"):
        load_private_key(public_path)


def test_save_refuses_a_mismatched_pair(tmp_path, keypair):
    pk, _ = keypair
    _, other_sk = generate_keypair(1024)

    with pytest.raises(KeyFormatError, match="does not belong"):
        save_keypair(tmp_path / "k", pk, other_sk)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b[:10], id="header-only"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[:20] + bytes([b[20] ^ 1]) + b[21:], id="byte-flip"),
        pytest.param(lambda b: b"XXXX" + b[4:], id="bad-magic"),
        pytest.param(lambda b: b + b"\x00", id="trailing-byte"),
        pytest.param(lambda b: b"-----BEGIN RSA PRIVATE KEY-----\n", id="not-a-key"),
    ],
)
def test_malformed_key_bytes_are_rejected(keypair, mutate):
    _, sk = keypair
    data = mutate(private_key_to_bytes(sk))

    with pytest.raises(KeyFormatError):
        private_key_from_bytes(data)
    with pytest.raises(KeyFormatError):
        public_key_from_bytes(data)


def test_well_framed_but_invalid_values_are_rejected(keypair):
    _, sk = keypair

    with pytest.raises(KeyFormatError, match="distinct primes"):
        private_key_from_bytes(_frame(1, [sk.p, sk.p]))
    with pytest.raises(KeyFormatError, match="distinct primes"):
        private_key_from_bytes(_frame(1, [sk.p * 3, sk.q]))
    with pytest.raises(KeyFormatError, match="2 integers"):
        private_key_from_bytes(_frame(1, [sk.p]))
    with pytest.raises(KeyFormatError, match="modulus"):
        public_key_from_bytes(_frame(0, [sk.p * sk.q * 2]))
    with pytest.raises(KeyFormatError, match="version"):
        body = b"FLPK" + bytes([9, 0])
        public_key_from_bytes(body + hashlib.sha256(body).digest())


def test_files_that_are_not_keys_are_rejected(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")

    with pytest.raises(KeyFormatError, match="not a fedledger Paillier key"):
        load_public_key(text)
    with pytest.raises(KeyFormatError, match="cannot read key file"):
        load_private_key(tmp_path / "missing.key")


def test_unusable_key_sizes_are_refused():
    with pytest.raises(KeyFormatError):
        generate_keypair(100)
    with pytest.raises(KeyFormatError):
        generate_keypair(1025)
