"""The signed blob a participant submits: a header binding it to one round and sender, the update, its proof, a signature.

Layout (big-endian)::

    b"FLSB" | version u8 | chain id u64 | task id u64 | round id u64
    | ledger (u8 length, ASCII) | sender (u8 length, UTF-8)          ← the header
    | payload (u32 length, the encoded update: packed ciphertexts or float32 values)
    | proof (u32 length, plaintext-knowledge proof, :mod:`fl_node.crypto.knowledge`; empty in plaintext runs)
    | signature (u8 length, 65-byte EIP-191 signature of the body's keccak256; 0 on a null ledger)

The *body* is everything before the signature; the sender signs ``keccak256(body)`` with its
ledger key as an EIP-191 personal message, so ``ecrecover`` of the signature names the sender.
The on-chain commitment stays ``keccak256`` of the whole signed blob.

The header binds the blob to (chain, ledger, task, round, sender): the coordinator accepts a
blob only if its header is its own round's and its signer is the member it came from. The
proof hashes the header too, so a copied update (even re-randomized and re-signed) does not
verify under a copier's header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak

from fl_node.errors import UpdateFormatError
from fl_node.hfl.null_ledger import NullLedger
from incentive.ledger import LedgerClient

__all__ = ["BlobHeader", "SignedBlob", "ledger_binding", "seal", "sign_blob", "signed_evidence"]

_MAGIC = b"FLSB"
_VERSION = 1
_FIXED = struct.Struct(">4sBQQQ")
_SIGNATURE_BYTES = 65


@dataclass(frozen=True)
class BlobHeader:
    """What a blob is bound to.

    Attributes
    ----------
    chain_id : int
        The ledger's chain (0 on a null ledger).
    ledger : str
        The ledger's address ("" on a null ledger).
    task_id, round_id : int
    sender : str
        The submitting member's address (its name on a null ledger).
    """

    chain_id: int
    ledger: str
    task_id: int
    round_id: int
    sender: str

    def to_bytes(self) -> bytes:
        """The header's bytes (also the context the plaintext-knowledge proof hashes)."""
        ledger, sender = self.ledger.encode("ascii"), self.sender.encode()
        if len(ledger) > 255 or len(sender) > 255:
            raise UpdateFormatError("a blob header's ledger and sender must be at most 255 bytes")
        return (
            _FIXED.pack(_MAGIC, _VERSION, self.chain_id, self.task_id, self.round_id)
            + bytes([len(ledger)]) + ledger + bytes([len(sender)]) + sender
        )

    def describe(self) -> str:
        return f"chain {self.chain_id}, ledger {self.ledger or '-'}, task {self.task_id}, round {self.round_id}, sender {self.sender}"


@dataclass(frozen=True)
class SignedBlob:
    """A parsed blob (:func:`SignedBlob.parse`)."""

    header: BlobHeader
    payload: bytes
    proof: bytes
    signature: bytes
    body: bytes

    @property
    def digest(self) -> bytes:
        """keccak256 of the body: what the sender signs."""
        return keccak(self.body)

    def signer(self) -> str | None:
        """The address that signed the body (checksummed), or None when unsigned or the signature is invalid."""
        if len(self.signature) != _SIGNATURE_BYTES:
            return None
        try:
            return Account.recover_message(encode_defunct(primitive=self.digest), signature=self.signature)
        except Exception:  # eth_keys raises several types for malformed signatures
            return None

    @classmethod
    def parse(cls, blob: bytes) -> SignedBlob:
        """Split a blob into header, payload, proof and signature.

        Raises
        ------
        UpdateFormatError
            Not a signed blob of this version, or truncated or padded.
        """
        blob = bytes(blob)
        try:
            magic, version, chain_id, task_id, round_id = _FIXED.unpack_from(blob)
            if magic != _MAGIC:
                raise UpdateFormatError("not a signed blob (bad magic): blobs must carry a header naming round and sender")
            if version != _VERSION:
                raise UpdateFormatError(f"unsupported signed-blob version {version}")
            offset = _FIXED.size
            ledger, offset = _take(blob, offset, 1)
            sender, offset = _take(blob, offset, 1)
            payload, offset = _take(blob, offset, 4)
            proof, offset = _take(blob, offset, 4)
            body_end = offset
            signature, offset = _take(blob, offset, 1)
            header = BlobHeader(chain_id, ledger.decode("ascii"), task_id, round_id, sender.decode())
        except (struct.error, UnicodeDecodeError) as exc:
            raise UpdateFormatError(f"malformed signed blob: {exc}") from None
        if offset != len(blob):
            raise UpdateFormatError(f"signed blob has {len(blob) - offset} bytes after its signature")
        return cls(header, payload, proof, signature, blob[:body_end])


def _take(blob: bytes, offset: int, length_bytes: int) -> tuple[bytes, int]:
    if offset + length_bytes > len(blob):
        raise UpdateFormatError("signed blob truncated")
    length = int.from_bytes(blob[offset : offset + length_bytes], "big")
    start = offset + length_bytes
    if start + length > len(blob):
        raise UpdateFormatError("signed blob truncated")
    return blob[start : start + length], start + length


def seal(header: BlobHeader, payload: bytes, proof: bytes) -> bytes:
    """An unsigned blob: header, payload and proof, with an empty signature."""
    return header.to_bytes() + struct.pack(">I", len(payload)) + payload + struct.pack(">I", len(proof)) + proof + b"\x00"


def sign_blob(blob: bytes, account: LocalAccount) -> bytes:
    """``blob`` with its signature replaced by ``account``'s EIP-191 signature of its body's keccak256."""
    body = SignedBlob.parse(blob).body
    signature = account.sign_message(encode_defunct(primitive=keccak(body))).signature
    return body + bytes([len(signature)]) + bytes(signature)


def ledger_binding(ledger: LedgerClient | NullLedger) -> tuple[int, str]:
    """``(chain id, ledger address)`` blobs on ``ledger`` are bound to; ``(0, "")`` for a null ledger."""
    if isinstance(ledger, NullLedger):
        return 0, ""
    return int(ledger.chain.chain_id), ledger.address


def signed_evidence(blob: bytes, header: BlobHeader) -> bool:
    """Whether ``blob`` proves that ``header.sender`` sent it for ``header``'s round: its header, signed by the sender.

    Only such a blob is evidence against its sender (e.g. of a blob that differs from its
    commitment); an unsigned, wrongly signed or other-round blob could come from anyone.
    """
    try:
        signed = SignedBlob.parse(blob)
    except UpdateFormatError:
        return False
    return header.chain_id != 0 and signed.header == header and signed.signer() == header.sender
