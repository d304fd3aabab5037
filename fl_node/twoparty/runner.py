"""Start the parties: as threads of this process (default) or as OS processes talking gRPC.

Both runners take the same party objects (anything with ``role`` and
``run(channel, progress)``) and return their reports by role; the protocol code is the same,
only the :class:`~fl_node.twoparty.channel.Channel` differs. In process mode each party is a
``spawn``-ed process with its own gRPC server on a free 127.0.0.1 port; the parent only hands
out the address book, relays progress and collects reports over pipes — protocol messages go
party to party over gRPC.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from fl_node.errors import FlNodeError, VFLError, VFLTransportError
from fl_node.twoparty.channel import DEFAULT_TIMEOUT, Channel, GrpcEndpoint, LocalHub

__all__ = ["Party", "run_threads", "run_processes"]

log = logging.getLogger(__name__)

_START_TIMEOUT = 120.0


class Party(Protocol):
    """A role's program."""

    role: str

    def run(self, channel: Channel, progress: Any = None) -> Any:
        """Run this role to completion over ``channel``."""
        ...


def run_threads(parties: Mapping[str, Party], *, hub: LocalHub | None = None, progress: Any = None) -> dict[str, Any]:
    """Run each party in a thread of this process over a :class:`LocalHub`.

    Parameters
    ----------
    parties : mapping role -> party
    hub : LocalHub | None (default: None)
        Pass one built with ``record=True`` to inspect the messages afterwards.
    progress : callable | None (default: None)
        Handed to every party's ``run``.

    Raises
    ------
    FlNodeError
        The first error a party raised (the others are then woken and stopped).
    """
    hub = hub if hub is not None else LocalHub(parties)
    reports: dict[str, Any] = {}
    errors: list[tuple[str, BaseException]] = []
    lock = threading.Lock()

    def target(role: str, party: Party) -> None:
        try:
            report = party.run(hub.channel(role), progress)
            with lock:
                reports[role] = report
        except BaseException as exc:  # handed to the caller below
            with lock:
                errors.append((role, exc))
            hub.fail(f"{role} failed: {exc}")

    threads = [threading.Thread(target=target, args=(role, party), name=f"party-{role}") for role, party in parties.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise _first_cause(errors)
    return reports


def run_processes(parties: Mapping[str, Party], *, progress: Any = None, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run each party in its own OS process; the parties talk gRPC over 127.0.0.1.

    Parameters
    ----------
    parties : mapping role -> party
        Each is pickled into its process (a party holds only its own data).
    progress : callable | None (default: None)
        Called in this process with what the parties report (the arbiter's iterations).
    timeout : float (default: 600)
        Seconds any party may wait for a message, and for the whole run to report.

    Raises
    ------
    FlNodeError
        The error a party raised (same class), after the other processes are stopped.
    VFLTransportError
        If a process dies without reporting or the run exceeds ``timeout``.
    """
    context = multiprocessing.get_context("spawn")
    pipes: dict[str, Connection] = {}
    processes: dict[str, multiprocessing.process.BaseProcess] = {}
    finished = False
    try:
        for role, party in parties.items():
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_party_main, args=(role, party, child_end, timeout), name=f"party-{role}", daemon=True)
            process.start()
            child_end.close()
            pipes[role], processes[role] = parent_end, process
        addresses = {}
        for role, pipe in pipes.items():
            kind, value = _receive(pipe, role, processes[role], _START_TIMEOUT)
            if kind != "address":
                raise _as_error(role, kind, value)
            addresses[role] = value
        for pipe in pipes.values():
            pipe.send(addresses)
        log.info("parties listening on %s", addresses)
        reports = _collect(pipes, processes, progress, timeout)
        finished = True
        return reports
    finally:
        for process in processes.values():
            if finished:
                process.join(timeout=5)
            if process.is_alive():  # after a failure the others may be waiting for messages that never come
                process.terminate()
                process.join(timeout=5)
        for pipe in pipes.values():
            pipe.close()


def _collect(pipes: dict[str, Connection], processes: dict, progress: Any, timeout: float) -> dict[str, Any]:
    reports: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    pending = {pipe: role for role, pipe in pipes.items()}
    while pending:
        if time.monotonic() > deadline:
            raise VFLTransportError(f"the parties did not finish within {timeout:g} s ({', '.join(pending.values())} still running)")
        for pipe in wait(list(pending), timeout=1.0):
            role = pending[pipe]
            try:
                kind, value = pipe.recv()
            except EOFError:
                raise VFLTransportError(f"the {role} process exited without a report (exit code {processes[role].exitcode})") from None
            if kind == "progress":
                if progress is not None:
                    progress(*value)
            elif kind == "report":
                reports[role] = value
                del pending[pipe]
            else:
                raise _as_error(role, kind, value)
    return reports


def _receive(pipe: Connection, role: str, process: Any, timeout: float) -> tuple[str, Any]:
    if not pipe.poll(timeout):
        raise VFLTransportError(f"the {role} process did not start within {timeout:g} s")
    try:
        return pipe.recv()
    except EOFError:
        raise VFLTransportError(f"the {role} process exited at start-up (exit code {process.exitcode})") from None


def _as_error(role: str, kind: str, value: Any) -> BaseException:
    if kind == "error" and isinstance(value, FlNodeError):
        return value
    return VFLError(f"the {role} process failed: {value}")


def _first_cause(errors: list[tuple[str, BaseException]]) -> BaseException:
    """The error that started it: others are usually 'stopped waiting' consequences of it."""
    for _, exc in errors:
        if not isinstance(exc, VFLTransportError):
            return exc
    return errors[0][1]


def _party_main(role: str, party: Party, pipe: Connection, timeout: float) -> None:
    """Entry point of a party process."""
    endpoint = None
    try:
        endpoint = GrpcEndpoint(role, timeout=timeout)
        pipe.send(("address", endpoint.address))
        endpoint.connect(pipe.recv())
        report = party.run(endpoint, lambda *values: pipe.send(("progress", values)))
        pipe.send(("report", report))
    except BaseException as exc:  # reported to the parent, which raises it
        try:
            pipe.send(("error", exc))
        except Exception:  # the exception itself does not pickle
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        if endpoint is not None:
            endpoint.close()
        pipe.close()
