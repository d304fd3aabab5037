"""Starting and stopping the OS processes of a consortium: each in its own process group, stopped as a whole.

Flower daemons start children of their own (``flower-superexec``, which starts
``flwr-serverapp`` / ``flwr-clientapp``), so a process is stopped by signalling its whole
group: SIGTERM first, SIGKILL for whatever is left after a grace period. Several processes are
stopped together (:func:`stop_processes`), within one grace period, and every SIGKILL loop
(:func:`kill_until_gone`, also used for network namespaces) is bounded.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fl_node.errors import TransportProcessError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
#: How long SIGKILLed processes get to disappear before a warning.
KILL_WAIT_S = 5.0


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with the interpreter's bin folder first on PATH (Flower daemons start ``flower-*`` by name)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def process_table() -> list[tuple[int, int, int, int]]:
    """(pid, ppid, process group, session) of every live process, from ``/proc``."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # state, ppid, pgrp, session, ...
        if fields[0] != "Z":
            table.append((int(entry.name), int(fields[1]), int(fields[2]), int(fields[3])))
    return table


@dataclass
class ManagedProcess:
    """One started process (the leader of its own process group) and its log file.

    Attributes
    ----------
    name : str
        Role, for messages (e.g. "superlink", "node Hospital A").
    process : subprocess.Popen
    log_path : Path
        Where its stdout and stderr go.
    """

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of its log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (no error when it is gone)."""
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def tree_groups(self) -> set[int]:
        """Process-group and session ids of this process and all its descendants.

        Flower's SuperExec starts each ServerApp/ClientApp in a session of its own, and those
        fork worker pools: signalling only our group would orphan them.
        """
        table = process_table()
        children: dict[int, list[tuple[int, int, int]]] = {}
        for pid, ppid, pgrp, sid in table:
            children.setdefault(ppid, []).append((pid, pgrp, sid))
        groups = {self.pid}
        stack = [self.pid]
        while stack:
            for pid, pgrp, sid in children.get(stack.pop(), []):
                groups |= {pgrp, sid}
                stack.append(pid)
        return groups - {os.getpgrp(), os.getsid(0)}  # never our own group or session

    def kill_tree(self, groups: set[int], timeout_s: float = KILL_WAIT_S) -> None:
        """SIGKILL every process in ``groups`` (group or session ids) until none is left."""
        self.signal_group(signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait()
        kill_until_gone(
            lambda: [pid for pid, _, pgrp, sid in process_table() if pgrp in groups or sid in groups], self.name, timeout_s
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the group, wait up to ``grace_s`` for the leader, then SIGKILL the group (see :func:`stop_processes`)."""
        stop_processes([self], grace_s)

    def kill(self) -> None:
        """SIGKILL the process and all its descendants at once (a crash, for fault tests)."""
        self.kill_tree(self.tree_groups())


def kill_until_gone(find: Callable[[], Sequence[int]], what: str, timeout_s: float = KILL_WAIT_S, quiet_checks: int = 1) -> None:
    """SIGKILL every pid ``find()`` returns, again and again, until it returns none ``quiet_checks``
    times in a row or ``timeout_s`` passes (then warn, naming ``what``)."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while True:
        pids = [pid for pid in find() if pid != os.getpid()]
        quiet = 0 if pids else quiet + 1
        if quiet >= quiet_checks:
            return
        if time.monotonic() > deadline:
            if pids:
                log.warning("%s: processes %s outlived SIGKILL", what, pids)
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def stop_processes(processes: Sequence[ManagedProcess], grace_s: float = 10.0) -> None:
    """Stop ``processes`` together: SIGTERM every group at once, wait for all leaders until one
    deadline ``grace_s`` away, then SIGKILL what is left of each one's tree.

    Teardown thus takes about as long as the slowest process needs, not the sum over processes.
    """
    trees = [(process, process.tree_groups()) for process in processes]
    for process, _ in trees:
        if process.alive():
            process.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process, _ in trees:
        try:
            process.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing its group", process.name, process.pid, grace_s)
    # children may outlive a leader that exited: kill whatever is left of each tree
    for process, groups in trees:
        process.kill_tree(groups)


def start_process(
    name: str,
    cmd: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    new_session: bool = True,
) -> ManagedProcess:
    """Start ``cmd``, output appended to ``log_path``.

    With ``new_session`` (default) it leads its own process group; without, it joins the
    caller's group, so that whoever stops the caller's group stops it too.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting %s: %s", name, " ".join(cmd))
    with open(log_path, "ab") as out:
        try:
            process = subprocess.Popen(
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else tool_env(),
                cwd=cwd,
                start_new_session=new_session,
            )
        except OSError as exc:
            raise TransportProcessError(f"cannot start {name} ({cmd[0]}): {exc}") from exc
    return ManagedProcess(name, process, log_path)


@dataclass
class ProcessGroup:
    """Every process a command started; :meth:`stop_all` (or leaving ``with``) stops them all at once."""

    processes: list[ManagedProcess] = field(default_factory=list)

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def start(self, name: str, cmd: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None) -> ManagedProcess:
        """Start a process (see :func:`start_process`) and keep it for :meth:`stop_all`."""
        return self.add(start_process(name, cmd, log_path, env))

    def stop_all(self, grace_s: float = 10.0) -> None:
        """Stop every process at once, within one ``grace_s`` (see :func:`stop_processes`)."""
        stop_processes(list(reversed(self.processes)), grace_s)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_for_port(process: ManagedProcess, host: str, port: int, timeout_s: float = 60.0) -> None:
    """Wait until ``host:port`` accepts connections; raise when ``process`` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.alive():
            raise TransportProcessError(
                f"{process.name} exited with code {process.process.returncode} before listening on "
                f"{host}:{port}: {process.log_tail()}"
            )
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise TransportProcessError(f"{process.name} did not listen on {host}:{port} within {timeout_s:.0f} s")


def log_to_file(path: Path) -> None:
    """Send this process's INFO logs of fedledger to ``path`` (appended)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("fl_node", "incentive"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
