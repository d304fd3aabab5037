"""Paillier key pairs (phe + gmpy2): generation, compact byte and file formats, fingerprints.

Byte layout (big-endian), shared by public and private keys::

    magic  b"FLPK"        4 bytes
    version               1 byte   (1)
    kind                  1 byte   (0 public: n; 1 private: p, q)
    for each integer:     u16 byte length, then the integer
    sha256 of all above   32 bytes

A private key stores only p and q; n = p·q and everything else is derived. A key file is
exactly these bytes. ``save_keypair`` writes the private key to ``path`` (mode 0600) and the
public key beside it as ``path + ".pub"``, so the public file can be handed to the aggregator
and participants without the private one.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import gmpy2
import phe
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.errors import KeyFormatError

__all__ = [
    "generate_keypair",
    "public_key_to_bytes",
    "public_key_from_bytes",
    "private_key_to_bytes",
    "private_key_from_bytes",
    "save_keypair",
    "load_public_key",
    "load_private_key",
    "key_fingerprint",
    "PUBLIC_SUFFIX",
]

_MAGIC = b"FLPK"
_VERSION = 1
_KIND_PUBLIC = 0
_KIND_PRIVATE = 1
_DIGEST = 32
MIN_KEY_BITS = 256  # below this nothing in the codec is meaningful; tests use >= 512
PUBLIC_SUFFIX = ".pub"


def generate_keypair(bits: int = 2048) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """Generate a Paillier key pair whose modulus n has exactly ``bits`` bits.

    Parameters
    ----------
    bits : int (default: 2048)
        Bit length of n; 2048 gives ~112-bit security, 1024 is for tests only.
    """
    if bits < MIN_KEY_BITS or bits % 2:
        raise KeyFormatError(f"key size must be an even number of bits >= {MIN_KEY_BITS}, got {bits}")
    return phe.generate_paillier_keypair(n_length=bits)


def key_fingerprint(pk: PaillierPublicKey) -> bytes:
    """32-byte SHA-256 of the modulus n (big-endian, minimal length): names the key in every blob."""
    return hashlib.sha256(_int_bytes(pk.n)).digest()


def public_key_to_bytes(pk: PaillierPublicKey) -> bytes:
    """Serialize a public key (its modulus n) to the framed format in the module docstring."""
    return _frame(_KIND_PUBLIC, [pk.n])


def private_key_to_bytes(sk: PaillierPrivateKey) -> bytes:
    """Serialize a private key (its primes p, q) to the framed format in the module docstring."""
    return _frame(_KIND_PRIVATE, [sk.p, sk.q])


def public_key_from_bytes(data: bytes) -> PaillierPublicKey:
    """Parse a public key; a private-key blob is accepted too and yields its public half.

    Raises
    ------
    KeyFormatError
        If the bytes are not a well-formed, intact key.
    """
    kind, ints = _unframe(data)
    if kind == _KIND_PRIVATE:
        return _private_from_ints(ints).public_key
    if len(ints) != 1:
        raise KeyFormatError(f"public key must hold 1 integer, found {len(ints)}")
    return _public_from_n(ints[0])


def private_key_from_bytes(data: bytes) -> PaillierPrivateKey:
    """Parse a private key.

    Raises
    ------
    KeyFormatError
        If the bytes are not a well-formed, intact private key (a public key is rejected).
    """
    kind, ints = _unframe(data)
    if kind != _KIND_PRIVATE:
        raise KeyFormatError("expected a private key, found a public key")
    return _private_from_ints(ints)


def save_keypair(path: str | os.PathLike[str], pk: PaillierPublicKey, sk: PaillierPrivateKey) -> tuple[Path, Path]:
    """Write the private key to ``path`` (mode 0600) and the public key to ``path + ".pub"``.

    Returns
    -------
    (private_path, public_path)
    """
    if sk.public_key.n != pk.n:
        raise KeyFormatError("private key does not belong to the public key")
    private_path = Path(path)
    public_path = private_path.with_name(private_path.name + PUBLIC_SUFFIX)
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_to_bytes(sk))
    public_path.write_bytes(public_key_to_bytes(pk))
    return private_path, public_path


def load_public_key(path: str | os.PathLike[str]) -> PaillierPublicKey:
    """Read a public key file (a private key file also works: its public half is returned)."""
    return public_key_from_bytes(_read(path))


def load_private_key(path: str | os.PathLike[str]) -> PaillierPrivateKey:
    """Read a private key file written by :func:`save_keypair`."""
    return private_key_from_bytes(_read(path))


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFormatError(f"cannot read key file {path}: {exc.strerror or exc}") from exc


def _int_bytes(value: int) -> bytes:
    value = int(value)
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _frame(kind: int, ints: list[int]) -> bytes:
    body = bytearray(_MAGIC)
    body += struct.pack(">BB", _VERSION, kind)
    for value in ints:
        raw = _int_bytes(value)
        body += struct.pack(">H", len(raw)) + raw
    return bytes(body) + hashlib.sha256(body).digest()


def _unframe(data: bytes) -> tuple[int, list[int]]:
    data = bytes(data)
    header = len(_MAGIC) + 2
    if len(data) < header + _DIGEST or not data.startswith(_MAGIC):
        raise KeyFormatError("not a fedledger Paillier key (bad magic or too short)")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise KeyFormatError("key checksum mismatch: the key bytes are truncated or altered")
    version, kind = struct.unpack_from(">BB", body, len(_MAGIC))
    if version != _VERSION:
        raise KeyFormatError(f"unsupported key format version {version}")
    if kind not in (_KIND_PUBLIC, _KIND_PRIVATE):
        raise KeyFormatError(f"unknown key kind {kind}")
    ints: list[int] = []
    offset = header
    while offset < len(body):
        if offset + 2 > len(body):
            raise KeyFormatError("key integer length field is truncated")
        (size,) = struct.unpack_from(">H", body, offset)
        offset += 2
        if size == 0 or offset + size > len(body):
            raise KeyFormatError("key integer is truncated")
        ints.append(int.from_bytes(body[offset : offset + size], "big"))
        offset += size
    return kind, ints


def _public_from_n(n: int) -> PaillierPublicKey:
    if n.bit_length() < MIN_KEY_BITS or n % 2 == 0:
        raise KeyFormatError(f"modulus is not a usable Paillier modulus ({n.bit_length()} bits)")
    return PaillierPublicKey(n)


def _private_from_ints(ints: list[int]) -> PaillierPrivateKey:
    if len(ints) != 2:
        raise KeyFormatError(f"private key must hold 2 integers (p, q), found {len(ints)}")
    p, q = ints
    if p == q or not (gmpy2.is_prime(p) and gmpy2.is_prime(q)):
        raise KeyFormatError("private key primes p, q are not two distinct primes")
    return PaillierPrivateKey(_public_from_n(p * q), p, q)
