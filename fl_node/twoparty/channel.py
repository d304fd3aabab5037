"""How the parties of a vertical-FL or transfer-learning run move bytes: in process (default) or over gRPC on loopback.

The protocol code (:mod:`fl_node.twoparty.psi`, hetero-LR in :mod:`fl_node.vfl`, FTL in :mod:`fl_node.ftl`) sees only a
:class:`Channel`: ``send(recipient, tag, payload)`` and ``recv(sender, tag)``. Messages are
matched by (sender, tag), first in first out, so a party may send before its peer asks.
Both transports deliver into the same :class:`Mailbox`; they differ only in how bytes get there:

* :class:`LocalHub` puts them straight into the recipient's mailbox (parties are threads of one
  process). With ``record=True`` it keeps every :class:`Message`, which the tests inspect.
* :class:`GrpcEndpoint` runs one gRPC server per party (a generic bytes-in, bytes-out method,
  no generated stubs) and delivers with a unary call to the recipient's server; a call returns
  once the message is in the recipient's mailbox.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import grpc

from fl_node.errors import VFLTransportError

__all__ = ["Channel", "Message", "Mailbox", "LocalHub", "LocalChannel", "GrpcEndpoint", "DEFAULT_TIMEOUT"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0
_SERVICE = "fedledger.vfl.Mailbox"
_METHOD = f"/{_SERVICE}/Deliver"
_MAX_MESSAGE = 1 << 30
_GRPC_OPTIONS = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
]
_NAME = struct.Struct(">H")


class Channel(Protocol):
    """One party's connection to the others."""

    party: str

    def send(self, recipient: str, tag: str, payload: bytes) -> None:
        """Deliver ``payload`` to ``recipient`` under ``tag``."""
        ...

    def recv(self, sender: str, tag: str) -> bytes:
        """Wait for the next payload ``sender`` sent under ``tag``."""
        ...


@dataclass(frozen=True)
class Message:
    """One delivered message, as recorded by :class:`LocalHub`."""

    sender: str
    recipient: str
    tag: str
    payload: bytes


class Mailbox:
    """Thread-safe inbox of one party: FIFO queues keyed by (sender, tag).

    Parameters
    ----------
    timeout : float (default: 600)
        Seconds :meth:`get` waits before giving up.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._queues: dict[tuple[str, str], deque[bytes]] = {}
        self._cond = threading.Condition()
        self._failure: str | None = None

    def put(self, sender: str, tag: str, payload: bytes) -> None:
        """Queue ``payload`` from ``sender`` under ``tag``."""
        with self._cond:
            self._queues.setdefault((sender, tag), deque()).append(payload)
            self._cond.notify_all()

    def get(self, sender: str, tag: str) -> bytes:
        """Take the oldest payload from ``sender`` under ``tag``, waiting up to ``timeout`` seconds.

        Raises
        ------
        VFLTransportError
            On timeout, or once :meth:`fail` was called.
        """
        deadline = time.monotonic() + self.timeout
        key = (sender, tag)
        with self._cond:
            while True:
                queue = self._queues.get(key)
                if queue:
                    payload = queue.popleft()
                    if not queue:
                        del self._queues[key]
                    return payload
                if self._failure is not None:
                    raise VFLTransportError(f"stopped waiting for {tag!r} from {sender}: {self._failure}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VFLTransportError(f"no {tag!r} message from {sender} within {self.timeout:g} s")
                self._cond.wait(remaining)

    def fail(self, reason: str) -> None:
        """Wake every waiting :meth:`get` with a :class:`VFLTransportError` naming ``reason``."""
        with self._cond:
            self._failure = reason
            self._cond.notify_all()


class LocalHub:
    """In-process transport: one mailbox per party.

    Parameters
    ----------
    parties : iterable of str
        Party names.
    record : bool (default: False)
        Keep every message in :attr:`messages`.
    timeout : float (default: 600)
        Seconds a receive waits.
    """

    def __init__(self, parties: Iterable[str], *, record: bool = False, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._boxes = {name: Mailbox(timeout) for name in parties}
        self.record = record
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    def channel(self, party: str) -> LocalChannel:
        """The channel through which ``party`` talks to the others."""
        if party not in self._boxes:
            raise VFLTransportError(f"unknown party {party!r}; known: {', '.join(sorted(self._boxes))}")
        return LocalChannel(self, party)

    def deliver(self, sender: str, recipient: str, tag: str, payload: bytes) -> None:
        """Put a message into ``recipient``'s mailbox (and the record)."""
        box = self._boxes.get(recipient)
        if box is None:
            raise VFLTransportError(f"{sender} sent {tag!r} to unknown party {recipient!r}")
        payload = bytes(payload)
        if self.record:
            with self._lock:
                self.messages.append(Message(sender, recipient, tag, payload))
        box.put(sender, tag, payload)

    def receive(self, party: str, sender: str, tag: str) -> bytes:
        """Wait for ``party``'s next message from ``sender`` under ``tag``."""
        return self._boxes[party].get(sender, tag)

    def fail(self, reason: str) -> None:
        """Abort every party's pending receive (used when one party raised)."""
        for box in self._boxes.values():
            box.fail(reason)


class LocalChannel:
    """A party's view of a :class:`LocalHub`."""

    def __init__(self, hub: LocalHub, party: str) -> None:
        self._hub = hub
        self.party = party

    def send(self, recipient: str, tag: str, payload: bytes) -> None:
        """Deliver ``payload`` to ``recipient`` under ``tag``."""
        self._hub.deliver(self.party, recipient, tag, payload)

    def recv(self, sender: str, tag: str) -> bytes:
        """Wait for the next payload ``sender`` sent under ``tag``."""
        return self._hub.receive(self.party, sender, tag)


class GrpcEndpoint:
    """A party's gRPC server (its mailbox) plus client channels to its peers.

    Parameters
    ----------
    party : str
        This party's name.
    host : str (default: "127.0.0.1")
        Interface to bind; loopback unless parties are on different machines.
    port : int (default: 0)
        0 picks a free port; read it from :attr:`address`.
    timeout : float (default: 600)
        Seconds a receive waits, and the deadline of each delivery call.
    """

    def __init__(self, party: str, *, host: str = "127.0.0.1", port: int = 0, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.party = party
        self.timeout = timeout
        self._mailbox = Mailbox(timeout)
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"vfl-{party}"), options=_GRPC_OPTIONS)
        handler = grpc.method_handlers_generic_handler(_SERVICE, {"Deliver": grpc.unary_unary_rpc_method_handler(self._deliver)})
        self._server.add_generic_rpc_handlers((handler,))
        bound = self._server.add_insecure_port(f"{host}:{port}")
        if bound == 0:
            raise VFLTransportError(f"{party} could not bind a gRPC server on {host}:{port}")
        self.address = f"{host}:{bound}"
        self._server.start()
        self._peers: dict[str, tuple[grpc.Channel, grpc.UnaryUnaryMultiCallable]] = {}
        log.debug("%s listening on %s", party, self.address)

    def connect(self, peers: Mapping[str, str]) -> None:
        """Open client channels to ``peers`` (name -> "host:port")."""
        for name, address in peers.items():
            if name == self.party:
                continue
            channel = grpc.insecure_channel(address, options=_GRPC_OPTIONS)
            self._peers[name] = (channel, channel.unary_unary(_METHOD))

    def send(self, recipient: str, tag: str, payload: bytes) -> None:
        """Deliver ``payload`` to ``recipient``'s server; returns once it is in their mailbox.

        Raises
        ------
        VFLTransportError
            If the recipient is unknown or unreachable.
        """
        peer = self._peers.get(recipient)
        if peer is None:
            raise VFLTransportError(f"{self.party} has no address for {recipient!r}")
        request = _frame(self.party, tag) + payload
        try:
            peer[1](request, timeout=self.timeout, wait_for_ready=True)
        except grpc.RpcError as exc:
            raise VFLTransportError(f"{self.party} could not deliver {tag!r} to {recipient}: {exc.code().name}") from exc

    def recv(self, sender: str, tag: str) -> bytes:
        """Wait for the next payload ``sender`` sent under ``tag``."""
        return self._mailbox.get(sender, tag)

    def close(self) -> None:
        """Stop the server and close the client channels."""
        for channel, _ in self._peers.values():
            channel.close()
        self._peers.clear()
        self._server.stop(grace=1.0).wait()

    def _deliver(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            sender, tag, offset = _unframe(request)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        self._mailbox.put(sender, tag, request[offset:])
        return b""


def _frame(sender: str, tag: str) -> bytes:
    out = b""
    for text in (sender, tag):
        raw = text.encode()
        out += _NAME.pack(len(raw)) + raw
    return out


def _unframe(request: bytes) -> tuple[str, str, int]:
    offset = 0
    names = []
    for _ in range(2):
        if offset + _NAME.size > len(request):
            raise ValueError("truncated message frame")
        (size,) = _NAME.unpack_from(request, offset)
        offset += _NAME.size
        if offset + size > len(request):
            raise ValueError("truncated message frame")
        names.append(request[offset : offset + size].decode("utf-8", errors="replace"))
        offset += size
    return names[0], names[1], offset
