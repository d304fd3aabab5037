"""A long-lived ClientApp: one thread of the node's process runs every message its SuperNode receives.

With ``flower-supernode --isolation subprocess`` (Flower's default) the SuperNode's SuperExec
starts a fresh ``flwr-clientapp`` process for every message: a Python start, the import of
Flower, unpacking the app bundle and a few Runtime API calls, seconds on a loaded machine, in
every round. With ``--isolation process`` the SuperNode runs no SuperExec; whoever starts it
claims the tasks itself. :class:`ClientAppRunner` does that inside ``fedledger node join``: it
polls the SuperNode's Runtime API (``AcquireTask``, signed with the SuperExec secret the
SuperNode was given, so no other local process can claim the node's messages) and runs each
task with Flower's own task protocol (``PullTaskInput``, pull the message, push the reply,
``PushTaskOutput``) in this process, calling :data:`fl_node.transport.flower_client.client_app`.

Only that ClientApp runs here, whatever app a run names: a run of another app gets an error reply.
Nothing in here ever signals the process (Flower's per-task helpers do on some failures: they
are not used).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from flwr.app import Context, Error, Message
from flwr.common.constant import ErrorCode, SubStatus
from flwr.proto.runtime_pb2 import AcquireTaskRequest, SendTaskHeartbeatRequest  # pylint: disable=E0611
from flwr.supercore.constant import TaskType
from flwr.supercore.heartbeat import HeartbeatSender
from flwr.supercore.interceptors import RuntimeTokenHttpInterceptor, RuntimeVersionHttpInterceptor, SuperExecAuthHttpInterceptor
from flwr.supercore.runtime import RuntimeHttpClient
from flwr.common.serde import context_from_proto, run_from_proto
from flwr.proto.node_pb2 import Node  # pylint: disable=E0611
from flwr.proto.runtime_pb2 import PullAppMessagesRequest, PullTaskInputRequest  # pylint: disable=E0611
from flwr.supercore.inflatable.inflatable_protobuf_utils import (
    make_confirm_message_received_fn_protobuf,
    make_pull_object_fn_protobuf,
)
from flwr.supercore.inflatable.inflatable_utils import pull_and_inflate_object_from_tree
from flwr.supercore.run import Run
from flwr.supernode.runtime.run_clientapp import push_message, push_task_output

from fl_node.transport.flower_client import client_app, delivered_at, iso_to_unix
from incentive.atomic import write_atomic

log = logging.getLogger(__name__)

#: The Flower app (``publisher/name``) whose messages the runner answers.
APP_ID = "fedledger/fedledger-consortium"
#: Flower's SuperExec signs AcquireTask only; the SuperNode checks the signature.
_PROTECTED = ("/flwr.proto.Runtime/AcquireTask",)
SECRET_BYTES = 32
#: The SuperNode makes a task as soon as a message's header arrives, before its content: a
#: runner that claims it at once asks for content still on its way. Flower's own ClientApp
#: then waits 1 s, 2 s, … between tries (it usually starts later); this one tries every 20 ms at first.
PULL_BACKOFF_S = (0.02, 0.5)
#: How long a claimed task waits for its message's content. A SuperNode that took a plan from a
#: SuperLink restarted since cannot fetch its content (the new SuperLink refuses the dead run's
#: objects), yet the task stays claimable: Flower's limit of 500 tries kept the node busy with it,
#: answering nothing else, for about 200 s. Content on its way arrives in well under a second.
PULL_MAX_S = 30.0


def write_superexec_secret(path: Path) -> bytes:
    """A fresh SuperExec secret in ``path`` (owner-only), for ``flower-supernode --superexec-auth-secret-file``."""
    secret = secrets.token_bytes(SECRET_BYTES)
    write_atomic(path, secret, mode=0o600)
    return secret


@dataclass
class ClientAppRunner:
    """Claims and runs the ClientApp tasks of one SuperNode (``--isolation process``) in a thread.

    Attributes
    ----------
    runtime_address : str
        The SuperNode's Runtime API, ``127.0.0.1:PORT`` (plain HTTP on the node's loopback).
    secret : bytes
        The SuperExec secret the SuperNode was started with.
    poll_s : float (default: 0.2)
        How often to ask for a task when there is none (a local HTTP call; the SuperNode itself
        takes longer than that to fetch a message's content, and many nodes on one machine add up).
    tasks_run : int
        Tasks run so far (all in this one process).
    """

    runtime_address: str
    secret: bytes
    poll_s: float = 0.2
    tasks_run: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="clientapp-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop claiming tasks; wait up to ``timeout_s`` for the task in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _client(self, token: str | None = None) -> RuntimeHttpClient:
        interceptors: list = [RuntimeVersionHttpInterceptor(component_name="flwr-clientapp")]
        if token is None:
            interceptors.append(SuperExecAuthHttpInterceptor(master_secret=self.secret, protected_methods=_PROTECTED))
        else:
            interceptors.append(RuntimeTokenHttpInterceptor(token))
        # no retry invoker: Flower's retries signal the process on some answers
        return RuntimeHttpClient.from_server_address(self.runtime_address, insecure=True, root_certificates=None, interceptors=interceptors)

    def _loop(self) -> None:
        client = self._client()
        request = AcquireTaskRequest(supported_task_types=[TaskType.CLIENT_APP.value])
        try:
            while not self._stop.is_set():
                try:
                    answer = client.AcquireTask(request)
                except (httpx.TransportError, httpx.HTTPStatusError) as exc:  # SuperNode (re)starting
                    log.debug("AcquireTask: %s", exc)
                    self._stop.wait(max(self.poll_s, 0.5))
                    continue
                if answer.HasField("task") and answer.token:
                    self.run_task(answer.token, iso_to_unix(answer.task.pending_at))
                    continue
                self._stop.wait(self.poll_s)
        finally:
            client.close()

    def run_task(self, token: str, pending_at: float | None = None) -> None:
        """Run one claimed task: pull its message, call the ClientApp, push the reply and the task's end.

        ``pending_at`` (Unix seconds): when the SuperNode made the task, i.e. had the message.
        """
        claimed, begun = time.time(), time.perf_counter()
        client = self._client(token)
        heartbeat = HeartbeatSender(_heartbeat_fn(client))
        heartbeat.start()
        message: Message | None = None
        context: Context | None = None
        reply: Message | None = None
        status, details = SubStatus.FAILED, "the ClientApp task failed"
        try:
            message, context, run = pull_task_input(client)
            pulled = time.perf_counter()
            if run.fab_id != APP_ID:
                raise PermissionError(f"this node runs only {APP_ID}, not {run.fab_id}")
            mark = delivered_at.set(pending_at)
            try:
                reply = client_app(message=message, context=context)
            finally:
                delivered_at.reset(mark)
            status, details = SubStatus.COMPLETED, ""
            log.info(
                "%s message: claimed %.2f s after the SuperNode had it, pulled in %.2f s, handled in %.2f s",
                message.metadata.message_type, claimed - (pending_at or claimed), pulled - begun, time.perf_counter() - pulled,
            )
        except Exception as exc:  # the aggregator gets the error as the node's reply
            log.warning("ClientApp task failed: %s: %s", type(exc).__name__, exc)
            details = f"{type(exc).__name__}: {exc}"
            if message is not None:
                reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=details[:500]), reply_to=message)
        try:
            if reply is not None and context is not None:
                push_message(client, reply, context)
        except Exception as exc:
            log.warning("could not push the reply to the SuperNode: %s: %s", type(exc).__name__, exc)
            status, details = SubStatus.FAILED, f"pushing the reply failed: {exc}"
        finally:
            push_task_output(client, context, status, details)
            heartbeat.stop()
            client.close()
            self.tasks_run += 1


def pull_task_input(client: RuntimeHttpClient) -> tuple[Message, Context, Run]:
    """The claimed task's message, context and run (Flower's ``pull_task_input`` with short pull back-offs; no app bundle)."""
    res = client.PullTaskInput(PullTaskInputRequest())
    context = context_from_proto(res.context)
    run = run_from_proto(res.run)
    pulled = client.PullMessages(PullAppMessagesRequest())
    if not pulled.messages_list:
        raise RuntimeError("the SuperNode sent no message for the task")
    node = Node(node_id=context.node_id)
    tree = pulled.message_object_trees[0]
    message = pull_and_inflate_object_from_tree(
        tree,
        make_pull_object_fn_protobuf(client.PullObject, node, context.run_id),
        make_confirm_message_received_fn_protobuf(client.ConfirmMessageReceived, node, context.run_id),
        return_type=Message,
        initial_backoff=PULL_BACKOFF_S[0],
        backoff_cap=PULL_BACKOFF_S[1],
        max_tries_per_object=None,
        max_time=PULL_MAX_S,
    )
    message.metadata.__dict__["_message_id"] = tree.object_id  # the deflated message does not carry its own id
    return message, context, run


def _heartbeat_fn(client: RuntimeHttpClient):
    """A task heartbeat that reports failure instead of signalling the process (Flower's does)."""
    request = SendTaskHeartbeatRequest()

    def beat() -> bool:
        try:
            if not client.SendTaskHeartbeat(request).success:
                log.warning("the SuperNode no longer knows the task in progress")
        except httpx.HTTPError:
            return False
        return True

    return beat

