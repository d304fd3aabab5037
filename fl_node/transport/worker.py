"""The node operator's long-lived worker: holds the opened key, the data and the ledger connection.

Flower starts a fresh ``flwr-clientapp`` process for every message. Rather than importing
torch, opening the keystore and reconnecting to the chain in each of them, the ClientApp
(:mod:`fl_node.transport.flower_client`) forwards the message to this worker, which runs in the
``fedledger node join`` process, over an authenticated Unix socket readable by the operator
only. The key therefore never leaves the process that opened it.

Requests and replies are a JSON header followed by the binary fields it names, each sent as
one frame (no pickle).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from incentive.atomic import write_atomic

log = logging.getLogger(__name__)

AUTHKEY_BYTES = 32

#: Node-config key naming the node worker's Unix socket.
WORKER_SOCKET = "worker-socket"


# ---------------------------------------------------------------- framing


def send_frames(conn: Connection, header: dict[str, Any], binary: dict[str, bytes] | None = None) -> None:
    """Send ``header`` (JSON) and then each binary field named in ``header["binary"]``."""
    binary = binary or {}
    conn.send_bytes(json.dumps({**header, "binary": list(binary)}).encode())
    for value in binary.values():
        conn.send_bytes(value)


def recv_frames(conn: Connection) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Inverse of :func:`send_frames`."""
    header = json.loads(conn.recv_bytes())
    binary = {name: conn.recv_bytes() for name in header.pop("binary", [])}
    return header, binary


def call_worker(socket_path: str, authkey: bytes, header: dict[str, Any], binary: dict[str, bytes] | None = None):
    """One request to a node worker; returns its ``(header, binary)`` reply."""
    with Client(socket_path, family="AF_UNIX", authkey=authkey) as conn:
        send_frames(conn, header, binary)
        return recv_frames(conn)


# ---------------------------------------------------------------- the worker


@dataclass
class NodeWorker:
    """Answers ``info``, ``train`` and ``decrypt`` requests for one node (see :class:`fl_node.transport.node.NodeRuntime`).

    Attributes
    ----------
    runtime : Any
        Has ``address``, ``info() -> dict``, ``train(header, binary) -> (header, binary)`` and
        ``decrypt(header, binary) -> header`` (threshold custody).
    socket_path : Path
        Unix socket to listen on (created with mode 0600).
    authkey : bytes (default: random 32 bytes)
        Shared secret the ClientApp must present (written to ``socket_path`` + ``.key``).
    """

    runtime: Any
    socket_path: Path
    authkey: bytes = field(default_factory=lambda: secrets.token_bytes(AUTHKEY_BYTES))
    _listener: Listener | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def key_path(self) -> Path:
        return Path(str(self.socket_path) + ".key")

    def start(self) -> None:
        """Listen in a background thread and write the auth key file (owner-only)."""
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            self.socket_path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._listener = Listener(str(self.socket_path), family="AF_UNIX", authkey=self.authkey)
        finally:
            os.umask(old_umask)
        write_atomic(self.key_path, self.authkey, mode=0o600)
        self._thread = threading.Thread(target=self._serve, name="node-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for path in (self.socket_path, self.key_path):
            path.unlink(missing_ok=True)

    def _serve(self) -> None:
        listener = self._listener
        while listener is not None and self._listener is listener:
            try:
                conn = listener.accept()
            except (OSError, AuthenticationError, EOFError) as exc:  # closed by stop(), or a client without the key
                if self._listener is None:
                    return
                log.warning("refused a connection to the node worker: %s", exc)
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Connection) -> None:
        with conn:
            try:
                header, binary = recv_frames(conn)
                log.info("%s request from the ClientApp", header.get("op"))
                with self._lock:  # one request at a time: the node's nonces must not interleave
                    if header.get("op") == "info":
                        reply, reply_binary = {"ok": True, **self.runtime.info()}, {}
                    elif header.get("op") == "train":
                        reply, reply_binary = self.runtime.train(header, binary)
                        reply = {"ok": True, **reply}
                    elif header.get("op") == "decrypt":
                        reply, reply_binary = {"ok": True, **self.runtime.decrypt(header, binary)}, {}
                    else:
                        reply, reply_binary = {"ok": False, "error": f"unknown request {header.get('op')!r}"}, {}
            except Exception as exc:  # every failure goes back to the aggregator as the node's answer
                log.warning("request failed: %s: %s", type(exc).__name__, exc)
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "address": self.runtime.address}
                reply_binary = {}
            try:
                send_frames(conn, reply, reply_binary)
            except OSError as exc:
                log.warning("could not answer the ClientApp: %s", exc)
