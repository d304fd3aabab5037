"""Private set intersection (ECDH / commutative blinding on secp256k1) for sample alignment.

Protocol (both parties run the same :class:`EcdhPsi`; each learns the intersection)

1. *Salt.* Each party sends a fresh 16-byte nonce; the session salt is
   ``SHA-256(domain ‖ nonce of the alphabetically first party ‖ nonce of the other)``.
   Hashes of the same ID differ between sessions, so blinded values of one run cannot be
   linked to another.
2. *Hash to curve.* ``H(x)`` is the first point with x-coordinate
   ``SHA-256(domain ‖ salt ‖ len(id) ‖ id ‖ counter)`` (even y), by try-and-increment;
   nobody knows its discrete logarithm.
3. *Blind.* Each party draws a secret scalar (``a`` for one, ``b`` for the other), shuffles its
   IDs and sends ``H(x)^a`` for each of them (65-byte points), in the shuffled order.
4. *Re-blind.* Each party raises the points it received to its own secret and sends them back
   in the order received: ``(H(y)^b)^a = H(y)^(ab)`` (33-byte points).
5. *Match.* Each party now holds the doubly blinded values of both sets — its own, as returned
   by the peer, and the peer's, as computed by itself — and keeps the IDs whose doubly
   blinded value occurs in both. Both sort the result, so row ``i`` means the same sample
   on both sides.

Security model
    Semi-honest (honest-but-curious) parties that follow the protocol; hashing modeled as a
    random oracle; the decisional Diffie–Hellman problem hard on secp256k1. Each party learns
    the intersection and the size of the other's set, nothing else: an ID of the other party
    travels only as ``H(x)^a`` or ``H(x)^(ab)``, and testing a guess ``z`` against either needs
    the other party's secret scalar, so non-overlapping IDs cannot be matched offline
    (dictionary attacks on small ID spaces included). Shuffling before blinding hides the
    order (e.g. sortedness) of each party's list. Not covered: malicious parties (one could
    send points of IDs it does not hold to probe membership; answering only one side or
    lying about the intersection are not detected), and the timing of try-and-increment,
    which depends on the ID but is only visible to the party hashing its own IDs.

The group arithmetic is libsecp256k1 through ``coincurve``; the work is split into chunks
over a thread pool (coincurve's C calls release the GIL).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from coincurve import PrivateKey, PublicKey

from fl_node.crypto.parallel import default_workers
from fl_node.errors import DuplicateIDError, VFLProtocolError
from fl_node.twoparty.channel import Channel
from fl_node.twoparty.wire import split_fixed

__all__ = ["EcdhPsi", "hash_to_curve", "session_salt", "check_unique", "POINT_BYTES", "DOUBLE_BYTES"]

log = logging.getLogger(__name__)

_DOMAIN = b"fedledger/psi/secp256k1/v1"
NONCE_BYTES = 16
POINT_BYTES = 65  # uncompressed: parsing is ~3x faster than decompressing a 33-byte point
DOUBLE_BYTES = 33  # compressed: doubly blinded values are only compared, never parsed
_MIN_CHUNK = 2048

T = TypeVar("T")
R = TypeVar("R")


def session_salt(nonces: dict[str, bytes]) -> bytes:
    """The salt both parties derive from their nonces (ordered by party name)."""
    digest = hashlib.sha256(_DOMAIN + b"/salt")
    for name in sorted(nonces):
        digest.update(nonces[name])
    return digest.digest()


def hash_to_curve(salt: bytes, identifier: str) -> PublicKey:
    """Map an ID to a secp256k1 point with unknown discrete logarithm (try-and-increment)."""
    raw = identifier.encode()
    prefix = _DOMAIN + salt + len(raw).to_bytes(4, "big") + raw
    counter = 0
    while True:
        x = hashlib.sha256(prefix + counter.to_bytes(4, "big")).digest()
        try:
            return PublicKey(b"\x02" + x)
        except ValueError:  # not an x-coordinate on the curve (about half of all values)
            counter += 1


def check_unique(ids: Sequence[str], *, who: str = "party") -> None:
    """Raise :class:`DuplicateIDError` naming the first repeated ID of ``ids``."""
    if len(set(ids)) != len(ids):
        repeated = [value for value, count in Counter(ids).items() if count > 1]
        raise DuplicateIDError(f"{who} has {len(repeated)} duplicated sample ID(s), e.g. {repeated[0]!r}; IDs must be unique")


class EcdhPsi:
    """One side of the two-party ECDH PSI of the module docstring.

    Parameters
    ----------
    channel : Channel
        This party's channel.
    peer : str
        The other party's name.
    workers : int | None (default: None)
        Threads for the curve arithmetic; None uses every available core.
    tag : str (default: "psi")
        Prefix of the message tags, so several runs can share a channel.
    """

    def __init__(self, channel: Channel, peer: str, *, workers: int | None = None, tag: str = "psi") -> None:
        self.channel = channel
        self.peer = peer
        self.workers = max(1, workers) if workers is not None else default_workers()
        self.tag = tag

    def run(self, ids: Sequence[str]) -> list[str]:
        """Run the protocol on this party's ``ids``; returns the intersection, sorted.

        Raises
        ------
        DuplicateIDError
            If ``ids`` holds a value twice.
        VFLProtocolError
            If the peer's messages are malformed.
        """
        own = [str(value) for value in ids]
        check_unique(own, who=self.channel.party)
        nonce = secrets.token_bytes(NONCE_BYTES)
        self.channel.send(self.peer, f"{self.tag}/nonce", nonce)
        peer_nonce = self.channel.recv(self.peer, f"{self.tag}/nonce")
        if len(peer_nonce) != NONCE_BYTES:
            raise VFLProtocolError(f"PSI nonce from {self.peer} has {len(peer_nonce)} bytes, expected {NONCE_BYTES}")
        salt = session_salt({self.channel.party: nonce, self.peer: peer_nonce})
        scalar = PrivateKey().secret
        random.SystemRandom().shuffle(own)

        blinded = b"".join(self._map(lambda chunk: _blind(salt, scalar, chunk), own))
        self.channel.send(self.peer, f"{self.tag}/blinded", blinded)
        peer_blinded = split_fixed(self.channel.recv(self.peer, f"{self.tag}/blinded"), POINT_BYTES, what=f"PSI points from {self.peer}")

        peer_double = b"".join(self._map(lambda chunk: _reblind(scalar, chunk), peer_blinded))
        self.channel.send(self.peer, f"{self.tag}/double", peer_double)
        own_double = split_fixed(
            self.channel.recv(self.peer, f"{self.tag}/double"), DOUBLE_BYTES, count=len(own), what=f"PSI re-blinded points from {self.peer}"
        )
        peer_set = set(split_fixed(peer_double, DOUBLE_BYTES))
        common = sorted(value for value, double in zip(own, own_double) if double in peer_set)
        log.info("%s: PSI with %s: %d own, %d peer, %d common", self.channel.party, self.peer, len(own), len(peer_blinded), len(common))
        return common

    def _map(self, fn: Callable[[list[T]], list[R]], items: list[T]) -> list[R]:
        if self.workers == 1 or len(items) <= _MIN_CHUNK:
            return fn(items)
        n_chunks = min(self.workers * 4, max(1, len(items) // _MIN_CHUNK))
        bounds = [len(items) * i // n_chunks for i in range(n_chunks + 1)]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="psi") as pool:
            parts = pool.map(fn, [items[a:b] for a, b in zip(bounds, bounds[1:])])
            return [item for part in parts for item in part]


def _blind(salt: bytes, scalar: bytes, ids: list[str]) -> list[bytes]:
    return [hash_to_curve(salt, value).multiply(scalar).format(compressed=False) for value in ids]


def _reblind(scalar: bytes, points: list[bytes]) -> list[bytes]:
    out = []
    for raw in points:
        try:
            point = PublicKey(raw)
        except ValueError as exc:
            raise VFLProtocolError("PSI message holds a value that is not a secp256k1 point") from exc
        out.append(point.multiply(scalar).format(compressed=True))
    return out
