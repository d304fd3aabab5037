"""The faults a soak injects: a JSON-RPC proxy that fails on demand, nodes that crash or cheat, a seeded schedule.

Each fault is one a real consortium meets: a node that crashes before or after committing, a
node whose blob differs from its commitment, a node that misses the deadline and commits late,
a round whose cohort collapses, a chain node that answers with errors, loses answers or
restarts from its state file, and a coordinator that dies with a round open.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fl_node.errors import FlNodeError
from fl_node.hfl.envelope import sign_blob
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.participant import RoundPlan, Submission

#: Every kind of fault, in the order a schedule cycles through them before it draws at random.
FAULT_KINDS = (
    "node-crash",
    "crash-after-commit",
    "corrupt-blob",
    "late-commit",
    "cohort-collapse",
    "rpc-errors",
    "rpc-lost-answer",
    "chain-restart",
    "coordinator-restart",
)


class InjectedFault(FlNodeError):
    """A failure the soak injected on purpose (a node crash, a missed deadline, a coordinator crash)."""


class CoordinatorCrashed(InjectedFault):
    """The coordinator died with a round open; a new one resumes from the chain."""


# ---------------------------------------------------------------- a chain node that misbehaves


class FaultyRpcProxy:
    """A local HTTP JSON-RPC proxy in front of a node that fails chosen requests.

    ``fail(after, count, lose_answer)``: of the requests from now on, skip ``after`` and fail the
    next ``count``: with HTTP 503 before forwarding, or (``lose_answer``) after forwarding, so
    the node acted but the client never hears of it.

    Parameters
    ----------
    upstream : str
        The real node's URL.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failed = 0
        self._lock = threading.Lock()
        self._skip = 0
        self._fail = 0
        self._lose_answer = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                action = proxy._next_action()
                if action == "refuse":
                    self._answer(503, b"injected failure")
                    return
                try:
                    request = urllib.request.Request(proxy.upstream, data=body, headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=30) as response:
                        answer = response.read()
                except (OSError, urllib.error.URLError):
                    self._answer(502, b"upstream unreachable")
                    return
                if action == "lose":
                    self._answer(502, b"injected lost answer")
                else:
                    self._answer(200, answer)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="faulty-rpc", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The proxy's URL (give it to the chain client instead of the node's)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, after: int, count: int, lose_answer: bool = False) -> None:
        """Arm: skip ``after`` requests, then fail ``count``."""
        with self._lock:
            self._skip, self._fail, self._lose_answer = after, count, lose_answer

    def disarm(self) -> None:
        """Fail nothing more."""
        with self._lock:
            self._fail = 0

    def _next_action(self) -> str:
        with self._lock:
            if self._fail <= 0:
                return "forward"
            if self._skip > 0:
                self._skip -= 1
                return "forward"
            self._fail -= 1
            self.failed += 1
            return "lose" if self._lose_answer else "refuse"

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------- nodes that crash or cheat


@dataclass
class LateCommit:
    """A commitment a node tried to make after its round's deadline, and what the ledger said."""

    node: str
    round_id: int
    blob_hash: bytes
    refusal: str = ""


class FaultyNode:
    """A :class:`LedgerNode` that carries out the fault set for the next round, then behaves again.

    Faults: ``"crash"`` (before committing), ``"crash-after-commit"``, ``"corrupt-blob"``
    (commits its blob's hash, then signs and sends that update with one payload bit flipped: slashable), ``"late"`` (trains, misses
    the deadline and keeps the commitment it will try to make late).
    """

    def __init__(self, node: LedgerNode) -> None:
        self.node = node
        self.fault: str | None = None
        self.late: list[LateCommit] = []

    @property
    def participant_id(self) -> str:
        return self.node.participant_id

    @property
    def n_samples(self) -> int:
        return self.node.n_samples

    def submit(self, plan: RoundPlan) -> Submission:
        fault, self.fault = self.fault, None
        if fault == "crash":
            raise InjectedFault(f"{self.node.name} crashed before committing")
        if fault == "late":
            submission = self.node.participant.submit(plan)
            self.late.append(LateCommit(self.node.name, plan.round, submission.blob_hash))
            raise InjectedFault(f"{self.node.name} missed the round's deadline")
        submission = self.node.submit(plan)
        if fault == "crash-after-commit":
            raise InjectedFault(f"{self.node.name} crashed after committing")
        if fault == "corrupt-blob":
            # the sender itself equivocates: it signs and sends a blob other than the one it committed
            # (a change in transit would carry no valid signature and be excluded without a slash)
            blob = bytearray(self.node.participant.submit(plan).blob)
            blob[len(blob) // 2] ^= 0x01
            signed = sign_blob(bytes(blob), self.node.account) if plan.signed else bytes(blob)
            return dataclasses.replace(submission, blob=signed, bytes_up=len(signed))
        return submission


# ---------------------------------------------------------------- the schedule


@dataclass
class FaultSchedule:
    """Which fault each opened round gets: every kind once (seeded order), then seeded draws.

    Attributes
    ----------
    seed : int
    enabled : bool (default: True)
        False: no faults at all (a baseline run).
    kinds : tuple[str, ...] (default: :data:`FAULT_KINDS`)
        The kinds to draw from.
    rate : float (default: 1.0)
        Once every kind has been drawn, the share of rounds that get a fault.
    injected : list[tuple[int, str]]
        ``(round_id, kind)`` of every fault drawn so far.
    """

    seed: int
    enabled: bool = True
    kinds: tuple[str, ...] = FAULT_KINDS
    rate: float = 1.0
    injected: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._first = list(self.kinds)
        self._rng.shuffle(self._first)

    def next(self, round_id: int) -> str | None:
        """The fault for the round just opened (``None`` without faults, or for a round the rate skips)."""
        if not self.enabled:
            return None
        if self._first:
            kind = self._first.pop(0)
        elif self.rate < 1.0 and self._rng.random() >= self.rate:
            return None
        else:
            kind = self._rng.choice(self.kinds)
        self.injected.append((round_id, kind))
        return kind

    @property
    def rng(self) -> random.Random:
        """The schedule's generator (which node, how many requests): seeded, so a run repeats."""
        return self._rng
