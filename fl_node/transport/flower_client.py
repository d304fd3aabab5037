"""The node operator's Flower ClientApp: forwards each message to the node's worker.

Messages
    ``query`` (server → node): the node answers its address, name and sample count.
    ``train`` (server → node): a ConfigRecord ``plan`` with ``task``, ``round``,
    ``sample-counts`` (JSON), ``spec`` (the task's spec bytes) and ``params`` (the global
    model, float32 bytes). The node checks both against the ledger, trains, commits the blob's
    hash on chain with its own key and answers a ConfigRecord ``submission`` with ``ok``,
    ``address``, ``n-samples``, ``clipped``, ``train-loss`` and ``blob`` (or ``error``), and
    ``timing`` (JSON, Unix seconds: ``delivered``, when the message was at the node, see
    :func:`delivered_time`; ``started``, when this ClientApp began on it; ``work_s``, the
    seconds the worker took): where the round's time goes.
    ``query.decrypt`` (server → a custodian node, threshold custody): a ConfigRecord
    ``decrypt``; the node's custodian answers ``partials`` (see :mod:`fl_node.transport.custodian`).

With ``--isolation subprocess`` this module is imported by every ``flwr-clientapp`` process (one
per message), so it imports only Flower, the standard library and :mod:`fl_node.transport.worker`;
the round logic runs in the node's worker (:mod:`fl_node.transport.node`). With ``--isolation
process`` the node's own process runs it (:mod:`fl_node.transport.clientapp_runner`).
"""

from __future__ import annotations

import json
import os
import time
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from fl_node.transport.worker import WORKER_SOCKET, call_worker

client_app = ClientApp()

#: When the message being handled reached this node's SuperNode (Unix seconds); the long-lived
#: runner sets it for each task (:mod:`fl_node.transport.clientapp_runner`).
delivered_at: ContextVar[float | None] = ContextVar("delivered_at", default=None)


def _worker(context: Context, header: dict[str, Any], binary: dict[str, bytes] | None = None):
    socket_path = str(context.node_config[WORKER_SOCKET])
    authkey = Path(socket_path + ".key").read_bytes()
    return call_worker(socket_path, authkey, header, binary)


@client_app.query()
def query(msg: Message, context: Context) -> Message:
    """Answer the node's address, name and sample count."""
    header, _ = _worker(context, {"op": "info"})
    record = ConfigRecord({k: v for k, v in header.items() if isinstance(v, (str, int, float, bool))})
    record["labels"] = json.dumps(header.get("labels", []))
    return Message(RecordDict({"info": record}), reply_to=msg)


@client_app.query("decrypt")
def decrypt(msg: Message, context: Context) -> Message:
    """Forward a batch of decryption requests to the node's custodian (in its worker); answer its partial decryptions or its refusal."""
    record = msg.content.get("decrypt")
    fields = (("task", int), ("requests", str), ("spec", bytes), ("sums", list), ("blobs", list))
    if not isinstance(record, ConfigRecord) or any(not isinstance(record.get(name), kind) for name, kind in fields):
        reply = ConfigRecord({"ok": False, "error": "malformed decrypt request"})
    else:
        binary = {"spec": record["spec"]}
        binary.update({f"sum-{i}": value for i, value in enumerate(record["sums"])})
        binary.update({f"blob-{i}": value for i, value in enumerate(record["blobs"])})
        header, _ = _worker(context, {"op": "decrypt", "task": record["task"], "requests": record["requests"]}, binary)
        reply = ConfigRecord({k: v for k, v in header.items() if isinstance(v, (str, int, float, bool))})
    return Message(RecordDict({"partials": reply}), reply_to=msg)


def read_plan(content: RecordDict) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The worker's train request from a ``plan`` record.

    Raises
    ------
    ValueError
        No ``plan`` ConfigRecord, or a field missing or of the wrong type (named).
    """
    plan = content.get("plan")
    if not isinstance(plan, ConfigRecord):
        raise ValueError(f"malformed plan: no plan record (records: {', '.join(sorted(content)) or 'none'})")
    for name, kind in (("task", int), ("round", int), ("sample-counts", str), ("spec", bytes), ("params", bytes)):
        value = plan.get(name)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise ValueError(f"malformed plan: {name} must be a {'non-negative integer' if kind is int else kind.__name__}, got {type(value).__name__}")
    try:
        counts = json.loads(plan["sample-counts"])
    except ValueError:
        raise ValueError("malformed plan: sample-counts is not JSON") from None
    if not isinstance(counts, dict) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in counts.values()):
        raise ValueError("malformed plan: sample-counts must map addresses to positive integers")
    header = {"op": "train", "task": plan["task"], "round": plan["round"], "sample-counts": plan["sample-counts"]}
    return header, {"spec": plan["spec"], "params": plan["params"]}


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    """Forward a round plan to the node's worker; answer its submission (or its error, or why the plan is malformed)."""
    started = time.time()
    try:
        header, request = read_plan(msg.content)
    except ValueError as exc:
        return Message(RecordDict({"submission": ConfigRecord({"ok": False, "error": str(exc)})}), reply_to=msg)
    reply, binary = _worker(context, header, request)
    timing = {"delivered": delivered_time(), "started": started, "work_s": time.time() - started}
    record = ConfigRecord({k: v for k, v in reply.items() if isinstance(v, (str, int, float, bool))})
    record["timing"] = json.dumps(timing)
    if "blob" in binary:
        record["blob"] = binary["blob"]
    return Message(RecordDict({"submission": record}), reply_to=msg)


def iso_to_unix(iso: str) -> float | None:
    """An ISO time stamp of Flower's as Unix seconds (None when empty or malformed)."""
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return None


def delivered_time() -> float | None:
    """When the message being handled was at this node: the SuperNode's task record (long-lived
    runner), else this ``flwr-clientapp`` process's start (Linux ``/proc``; SuperExec starts it
    within its poll interval of the SuperNode receiving the message); None elsewhere."""
    value = delivered_at.get()
    if value is not None:
        return value
    try:
        ticks = int(Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
