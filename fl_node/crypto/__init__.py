"""Paillier keys, the packed quantize-and-encrypt codec, encrypted updates and their byte form.

Participants and the aggregator use :class:`PackedCodec` (public key only); the key holder
uses :class:`PackedDecryptor`. See :mod:`fl_node.crypto.codec` for the slot layout and the
quantization error bound, :mod:`fl_node.crypto.paillier` for the randomness modes.
"""

from fl_node.crypto.codec import CodecConfig, EncryptedUpdate, PackedCodec, PackedDecryptor, SlotLayout
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

__all__ = [
    "CodecConfig",
    "EncryptedUpdate",
    "PackedCodec",
    "PackedDecryptor",
    "SlotLayout",
    "generate_keypair",
    "key_fingerprint",
    "load_private_key",
    "load_public_key",
    "private_key_from_bytes",
    "private_key_to_bytes",
    "public_key_from_bytes",
    "public_key_to_bytes",
    "save_keypair",
]
