"""Byte forms of the messages the vertical-FL and transfer-learning parties exchange (no pickle: peers are not trusted).

A message is ``u32 header length | JSON header (UTF-8) | blob``. The header carries small
values (sizes, flags, batch indices); the blob carries fixed-width big-endian integers
(ciphertexts, masked plaintexts) or curve points, concatenated.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import gmpy2

from fl_node.errors import VFLProtocolError

__all__ = ["pack", "unpack", "ints_to_bytes", "ints_from_bytes", "split_fixed"]

_LENGTH = struct.Struct(">I")


def pack(header: dict[str, Any], blob: bytes = b"") -> bytes:
    """Frame a JSON-serializable ``header`` and a binary ``blob`` into one message."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(raw)) + raw + blob


def unpack(message: bytes, *, what: str = "message") -> tuple[dict[str, Any], bytes]:
    """Split a message made by :func:`pack` into (header, blob).

    Raises
    ------
    VFLProtocolError
        If the framing or the JSON header is malformed.
    """
    if len(message) < _LENGTH.size:
        raise VFLProtocolError(f"{what} is truncated ({len(message)} bytes)")
    (size,) = _LENGTH.unpack_from(message)
    end = _LENGTH.size + size
    if end > len(message):
        raise VFLProtocolError(f"{what} header length {size} exceeds the message ({len(message)} bytes)")
    try:
        header = json.loads(message[_LENGTH.size : end])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VFLProtocolError(f"{what} header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise VFLProtocolError(f"{what} header is not a JSON object")
    return header, bytes(message[end:])


def ints_to_bytes(values: Sequence[int], width: int) -> bytes:
    """Concatenate non-negative integers, each as ``width`` big-endian bytes."""
    return b"".join(int(v).to_bytes(width, "big") for v in values)


def ints_from_bytes(blob: bytes, width: int, *, count: int | None = None, below: int | None = None, what: str = "blob") -> list[gmpy2.mpz]:
    """Inverse of :func:`ints_to_bytes`, checking the count and an exclusive upper bound.

    Raises
    ------
    VFLProtocolError
        If the blob is not a whole number of ``width``-byte integers, holds the wrong count,
        or an integer is not below ``below``.
    """
    chunks = split_fixed(blob, width, count=count, what=what)
    values = [gmpy2.mpz(int.from_bytes(chunk, "big")) for chunk in chunks]
    if below is not None and any(v >= below for v in values):
        raise VFLProtocolError(f"{what} holds an integer out of range")
    return values


def split_fixed(blob: bytes, width: int, *, count: int | None = None, what: str = "blob") -> list[bytes]:
    """Cut ``blob`` into ``width``-byte chunks, checking the length (and ``count`` if given)."""
    if width <= 0 or len(blob) % width:
        raise VFLProtocolError(f"{what} length {len(blob)} is not a multiple of {width} bytes")
    chunks = [blob[i : i + width] for i in range(0, len(blob), width)]
    if count is not None and len(chunks) != count:
        raise VFLProtocolError(f"{what} holds {len(chunks)} items, expected {count}")
    return chunks
