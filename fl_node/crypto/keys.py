"""Paillier key pairs (phe + gmpy2): generation, compact byte and file formats, fingerprints.

Byte layout (big-endian), shared by public and private keys::

    magic  b"FLPK"        4 bytes
    version               1 byte   (1)
    kind                  1 byte   (0 public: n; 1 private: p, q)
    for each integer:     u16 byte length, then the integer
    sha256 of all above   32 bytes

A private key stores only p and q; n = p·q and everything else is derived.

Private key files are encrypted under a passphrase (version 2, kind 2)::

    magic  b"FLPK" | version (2) | kind (2)          6 bytes
    scrypt log2(N), r, p                              3 bytes (15, 8, 1: 32 MiB, ≈ 0.1 s)
    salt                                              16 bytes
    nonce                                             12 bytes
    n: u16 byte length, then the modulus              (public, so the file also yields the public key)
    AES-256-GCM(key = scrypt(passphrase, salt), nonce, the version-1 private-key bytes,
                associated data = everything above)   ciphertext + 16-byte tag

A wrong passphrase, or any changed byte, fails the tag check. ``save_keypair`` writes the
private key file (mode 0600, folders it creates 0700, atomically: an existing file of any mode is
replaced) and the public key beside it as ``path + ".pub"``, which can be handed to the
aggregator and participants. The passphrase comes from the caller, else ``$FEDLEDGER_KEY_PASSPHRASE``;
with neither, ``save_keypair`` draws a random one (256 bits) and writes it beside the key as
``path + ".passphrase"`` (mode 0600), which ``load_private_key`` reads first when it is there. That keeps
``fedledger demo`` and its audit unattended; the key file alone (a copy, a backup) is then
useless, but anyone who can read both files has the key: operators set the environment variable
or pass ``--key-passphrase-file`` and keep the passphrase elsewhere.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from pathlib import Path

import gmpy2
import phe
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.secret_files import write_secret_file
from incentive.atomic import write_atomic
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
    "encrypt_private_key",
    "decrypt_private_key",
    "read_passphrase_file",
    "check_public_key_bits",
    "PUBLIC_SUFFIX",
    "PASSPHRASE_SUFFIX",
    "PASSPHRASE_ENV",
]

_MAGIC = b"FLPK"
_VERSION = 1
_KIND_PUBLIC = 0
_KIND_PRIVATE = 1
_DIGEST = 32
MIN_KEY_BITS = 256  # below this nothing in the codec is meaningful; tests use >= 512
PUBLIC_SUFFIX = ".pub"
PASSPHRASE_SUFFIX = ".passphrase"
PASSPHRASE_ENV = "FEDLEDGER_KEY_PASSPHRASE"
_VERSION_ENCRYPTED = 2
_KIND_ENCRYPTED_PRIVATE = 2
_SCRYPT = (15, 8, 1)  # log2(N), r, p: 32 MiB of memory per guess
_SALT = 16
_NONCE = 12


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


def check_public_key_bits(pk: PaillierPublicKey, key_bits: int, *, who: str = "public key") -> PaillierPublicKey:
    """Return ``pk`` if its modulus has exactly the task's ``key_bits`` bits.

    Raises
    ------
    KeyFormatError
        Naming ``who``, the key's size and the expected one (e.g. a 256-bit key in a 2048-bit task).
    """
    bits = int(pk.n).bit_length()
    if bits != key_bits:
        raise KeyFormatError(f"{who} has {bits} bits, the task's key_bits is {key_bits}")
    return pk


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


def encrypt_private_key(sk: PaillierPrivateKey, passphrase: bytes | str) -> bytes:
    """The encrypted private-key bytes of the module docstring (scrypt, then AES-256-GCM)."""
    secret = _passphrase_bytes(passphrase)
    salt, nonce = secrets.token_bytes(_SALT), secrets.token_bytes(_NONCE)
    header = _MAGIC + bytes([_VERSION_ENCRYPTED, _KIND_ENCRYPTED_PRIVATE, *_SCRYPT]) + salt + nonce
    n = _int_bytes(sk.public_key.n)
    header += struct.pack(">H", len(n)) + n
    return header + AESGCM(_derive(secret, salt, _SCRYPT)).encrypt(nonce, private_key_to_bytes(sk), header)


def decrypt_private_key(data: bytes, passphrase: bytes | str) -> PaillierPrivateKey:
    """Inverse of :func:`encrypt_private_key`.

    Raises
    ------
    KeyFormatError
        If the bytes are not an encrypted private key, or the passphrase is wrong (or a byte changed).
    """
    header, n, sealed = _encrypted_parts(data)
    log_n, r, p = header[6:9]
    salt = header[9 : 9 + _SALT]
    nonce = header[9 + _SALT : 9 + _SALT + _NONCE]
    try:
        plain = AESGCM(_derive(_passphrase_bytes(passphrase), salt, (log_n, r, p))).decrypt(nonce, sealed, header)
    except InvalidTag:
        raise KeyFormatError("wrong passphrase for the private key (or the key file was altered)") from None
    sk = private_key_from_bytes(plain)
    if sk.public_key.n != n:
        raise KeyFormatError("the encrypted private key does not match the modulus stored beside it")
    return sk


def save_keypair(
    path: str | os.PathLike[str], pk: PaillierPublicKey, sk: PaillierPrivateKey, *, passphrase: bytes | str | None = None
) -> tuple[Path, Path]:
    """Write the encrypted private key to ``path`` (mode 0600, atomic) and the public key to ``path + ".pub"``.

    Parameters
    ----------
    path : str | PathLike
    pk, sk : the key pair
    passphrase : bytes | str | None (default: ``$FEDLEDGER_KEY_PASSPHRASE``, else a random one
        written to ``path + ".passphrase"`` with mode 0600; see the module docstring)

    Returns
    -------
    (private_path, public_path)
    """
    if sk.public_key.n != pk.n:
        raise KeyFormatError("private key does not belong to the public key")
    private_path = Path(path)
    public_path = private_path.with_name(private_path.name + PUBLIC_SUFFIX)
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV) or None
    if passphrase is None:
        passphrase = secrets.token_urlsafe(32)
        write_secret_file(_passphrase_path(private_path), passphrase.encode() + b"\n")
    else:  # a passphrase file left from an earlier key at this path would be read first, and fail
        _passphrase_path(private_path).unlink(missing_ok=True)
    write_secret_file(private_path, encrypt_private_key(sk, passphrase))
    write_atomic(public_path, public_key_to_bytes(pk))
    return private_path, public_path


def load_public_key(path: str | os.PathLike[str]) -> PaillierPublicKey:
    """Read a public key file (a private key file also works: its public half is returned).

    A public key file is checksummed, so any altered byte is refused. The modulus stored beside
    an encrypted private key is authenticated by the passphrase only: read from a private key
    file here it is checked for form, not integrity (:func:`load_private_key` checks it).
    """
    data = _read(path)
    if _is_encrypted(data):
        return _public_from_n(_encrypted_parts(data)[1])
    return public_key_from_bytes(data)


def load_private_key(path: str | os.PathLike[str], *, passphrase: bytes | str | None = None) -> PaillierPrivateKey:
    """Read a private key file written by :func:`save_keypair`.

    Parameters
    ----------
    path : str | PathLike
    passphrase : bytes | str | None (default: the file ``path + ".passphrase"`` if there is one,
        else ``$FEDLEDGER_KEY_PASSPHRASE``)

    Raises
    ------
    KeyFormatError
        Unreadable file, a public key, a key written in the clear, no passphrase, or a wrong one.
    """
    data = _read(path)
    if not _is_encrypted(data):
        kind, _ = _unframe(data)
        if kind != _KIND_PRIVATE:
            raise KeyFormatError("expected a private key, found a public key")
        raise KeyFormatError(f"key file {path} holds a private key in the clear; write it again with save_keypair (it encrypts it)")
    if passphrase is None and _passphrase_path(Path(path)).is_file():
        passphrase = read_passphrase_file(_passphrase_path(Path(path)))
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV) or None
    if passphrase is None:
        raise KeyFormatError(f"key file {path} is encrypted: give its passphrase with --key-passphrase-file or ${PASSPHRASE_ENV}")
    try:
        return decrypt_private_key(data, passphrase)
    except KeyFormatError as exc:
        raise KeyFormatError(f"cannot open key file {path}: {exc}") from None


def read_passphrase_file(path: str | os.PathLike[str]) -> bytes:
    """A passphrase file's content without its trailing newline.

    Raises
    ------
    KeyFormatError
        If the file cannot be read or holds an empty passphrase.
    """
    try:
        passphrase = Path(path).read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise KeyFormatError(f"cannot read passphrase file {path}: {exc.strerror or exc}") from exc
    if not passphrase:
        raise KeyFormatError(f"passphrase file {path} is empty")
    return passphrase


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFormatError(f"cannot read key file {path}: {exc.strerror or exc}") from exc


def _passphrase_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + PASSPHRASE_SUFFIX)


def _passphrase_bytes(passphrase: bytes | str) -> bytes:
    secret = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    if not secret:
        raise KeyFormatError("an empty passphrase would leave the private key unprotected")
    return secret


def _derive(secret: bytes, salt: bytes, params: tuple[int, int, int]) -> bytes:
    log_n, r, p = params
    if not (10 <= log_n <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise KeyFormatError(f"unsupported scrypt parameters N=2^{log_n}, r={r}, p={p}")
    return Scrypt(salt=salt, length=32, n=1 << log_n, r=r, p=p).derive(secret)


def _is_encrypted(data: bytes) -> bool:
    return data.startswith(_MAGIC) and data[4:6] == bytes([_VERSION_ENCRYPTED, _KIND_ENCRYPTED_PRIVATE])


def _encrypted_parts(data: bytes) -> tuple[bytes, int, bytes]:
    """(authenticated header, n, ciphertext with tag) of an encrypted private key."""
    data = bytes(data)
    fixed = len(_MAGIC) + 2 + 3 + _SALT + _NONCE
    if not _is_encrypted(data) or len(data) < fixed + 2:
        raise KeyFormatError("not an encrypted fedledger private key")
    (size,) = struct.unpack_from(">H", data, fixed)
    end = fixed + 2 + size
    if size == 0 or len(data) < end + 16:
        raise KeyFormatError("encrypted private key is truncated")
    return data[:end], int.from_bytes(data[fixed + 2 : end], "big"), data[end:]


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
