"""Flower deployment: the app project, the SuperLink connection, daemons and ``flwr run``.

Nothing is written under the user's home: ``FLWR_HOME`` points into the run's work folder,
telemetry and update checks are off, and the SuperLink never installs dependencies (offline).
The Flower app project (``pyproject.toml`` with ``[tool.flwr.app]``) is generated in the work
folder at run time; its components are :data:`fl_node.transport.flower_server.server_app` and
:data:`fl_node.transport.flower_client.client_app`, importable from the installed ``fedledger`` package.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fl_node.errors import FlowerRunFailed, TransportProcessError
from fl_node.transport.processes import LOOPBACK, ManagedProcess, ProcessGroup, tool_env, wait_for_port
from fl_node.transport.tls import CertPaths
from incentive.atomic import write_atomic

log = logging.getLogger(__name__)

APP_NAME = "fedledger-consortium"
PUBLISHER = "fedledger"
CONNECTION = "fedledger"
SUPEREXEC_POLL_S = 0.1
#: How a SuperNode runs its ClientApp: ``process``, the node's own long-lived runner
#: (:mod:`fl_node.transport.clientapp_runner`); ``subprocess``, a fresh ``flwr-clientapp`` per message.
ISOLATION_MODES = ("process", "subprocess")
#: Default poll interval (seconds) of fedledger's Flower processes: the SuperNode's main loop and
#: reply checks (Flower: 3 s and 0.5 s, see :mod:`fl_node.transport.flower_waits`), the ServerApp's
#: pulls of replies, the node's ClientApp runner. Each idle SuperNode asks the SuperLink for a
#: message this often.
DEFAULT_POLL_INTERVAL_S = 0.2
#: Longest accepted poll interval: Flower's own longest fixed wait (a longer one changes nothing there).
MAX_POLL_INTERVAL_S = 3.0
#: The Flower program :mod:`fl_node.transport.flower_waits` runs, named in its command line.
SUPERNODE_PROGRAM = "flower-supernode"
#: The module that runs the SuperNode with shortened waits.
SUPERNODE_LAUNCHER = "fl_node.transport.flower_waits"
#: Run states `flwr ls` reports once a run is over.
FINISHED_OK = "finished:completed"


def check_poll_interval(interval_s: float) -> float:
    """``interval_s`` when it is above 0 and at most :data:`MAX_POLL_INTERVAL_S`; ValueError naming the range otherwise."""
    if not 0 < interval_s <= MAX_POLL_INTERVAL_S:
        raise ValueError(f"the poll interval must be above 0 and at most {MAX_POLL_INTERVAL_S:g} s, got {interval_s:g}")
    return interval_s


def flower_env(flwr_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for Flower processes: project-local ``FLWR_HOME``, no telemetry, no update check."""
    flwr_home.mkdir(parents=True, exist_ok=True)
    env = {
        "FLWR_HOME": str(flwr_home.resolve()),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        # SuperExec checks for new ServerApp/ClientApp tasks every second by default
        "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": str(SUPEREXEC_POLL_S),
    }
    env.update(extra or {})
    return tool_env(env)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_app_project(folder: Path, run_config: Mapping[str, Any]) -> Path:
    """Write the Flower app project (``pyproject.toml`` only) with ``run_config`` as its config table."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "[build-system]",
        'requires = ["hatchling"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f'name = "{APP_NAME}"',
        'version = "1.0.0"',
        'description = "fedledger consortium federation (generated at run time)"',
        'license = "Apache-2.0"',
        "dependencies = []",
        "",
        "[tool.flwr.app]",
        f'publisher = "{PUBLISHER}"',
        "",
        "[tool.flwr.app.components]",
        'serverapp = "fl_node.transport.flower_server:server_app"',
        'clientapp = "fl_node.transport.flower_client:client_app"',
        "",
        "[tool.flwr.app.config]",
        *(f"{key} = {_toml_value(value)}" for key, value in run_config.items()),
        "",
    ]
    write_atomic(folder / "pyproject.toml", "\n".join(lines))
    return folder


def write_connection(flwr_home: Path, superlink: str, name: str = CONNECTION, root_cert: Path | None = None) -> None:
    """Record the SuperLink connection ``name`` → ``superlink`` in ``$FLWR_HOME/config.toml``.

    With ``root_cert`` the ``flwr`` CLI talks TLS and trusts only that CA; without, plaintext.
    """
    flwr_home.mkdir(parents=True, exist_ok=True)
    security = f"root-certificates = {json.dumps(str(Path(root_cert).resolve()))}" if root_cert else "insecure = true"
    write_atomic(
        flwr_home / "config.toml",
        f'[superlink]\ndefault = "{name}"\n\n[superlink.{name}]\naddress = "{superlink}"\n{security}\n',
    )


def superlink_security(certs: CertPaths | None, auth: bool) -> list[str]:
    """The SuperLink's TLS and SuperNode-authentication flags (``--insecure`` without ``certs``).

    SuperNode authentication needs TLS: Flower refuses ``--enable-supernode-auth`` with ``--insecure``.
    """
    if certs is None:
        if auth:
            raise TransportProcessError("SuperNode authentication needs TLS: give the SuperLink its certificates")
        return ["--insecure"]
    certs.require_server_files()
    flags = ["--ssl-certfile", str(certs.server_cert), "--ssl-keyfile", str(certs.server_key), "--ssl-ca-certfile", str(certs.ca_cert)]
    return flags + (["--enable-supernode-auth"] if auth else [])


def start_superlink(
    group: ProcessGroup,
    port: int,
    database: Path,
    log_path: Path,
    env: Mapping[str, str],
    host: str = LOOPBACK,
    certs: CertPaths | None = None,
    auth: bool = False,
    wrap: Callable[[list[str]], list[str]] = list,
) -> ManagedProcess:
    """Start a SuperLink on ``host:port`` (Fleet, Control and Runtime on that one port) and wait for it.

    ``database`` keeps node ids and runs across restarts, so connected SuperNodes reconnect.
    ``certs`` turns TLS on, ``auth`` admits only registered SuperNode keys (see
    :func:`register_supernode`); ``wrap`` prefixes the command (e.g. to run it in a network
    namespace that this process is in too).
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        "flower-superlink",
        *superlink_security(certs, auth),
        "--disable-runtime-dependency-installation",
        "--host", host,
        "--port", str(port),
        "--database", str(database),
    ]
    process = group.start("superlink", wrap(cmd), log_path, env)
    wait_for_port(process, host, port)
    return process


def supernode_command(
    superlink: str,
    runtime_port: int,
    node_config: Mapping[str, str],
    root_cert: Path | None = None,
    auth_key: Path | None = None,
    superexec_secret: Path | None = None,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> list[str]:
    """The ``flower-supernode`` command of one node (its Runtime API on ``runtime_port``, loopback).

    Flower's own SuperNode, run through :mod:`fl_node.transport.flower_waits` so that it waits
    at most ``poll_interval_s`` between pulls and reply checks (Flower hard-codes 3 s and 0.5 s).

    With ``root_cert`` the SuperNode talks TLS and trusts only that CA, else ``--insecure``;
    ``auth_key`` (OpenSSH private key) signs its requests for a SuperLink with SuperNode authentication.
    With ``superexec_secret`` the SuperNode runs ``--isolation process``: it starts no SuperExec, and
    only a caller holding that secret may claim its ClientApp tasks; without, ``--isolation subprocess``.
    """
    config = " ".join(f"{k}={json.dumps(v)}" for k, v in node_config.items())
    security = ["--root-certificates", str(root_cert)] if root_cert else ["--insecure"]
    if auth_key is not None:
        security += ["--auth-supernode-private-key", str(auth_key)]
    isolation = ["--isolation", "subprocess"]
    if superexec_secret is not None:
        isolation = ["--isolation", "process", "--superexec-auth-secret-file", str(superexec_secret)]
    return [
        sys.executable, "-m", SUPERNODE_LAUNCHER, "--poll-interval", repr(check_poll_interval(poll_interval_s)), SUPERNODE_PROGRAM,
        *security,
        "--superlink", superlink,
        "--host", LOOPBACK,
        "--port", str(runtime_port),
        "--node-config", config,
        *isolation,
    ]


def _flwr(args: list[str], env: Mapping[str, str], cwd: Path | None = None, timeout_s: float = 120.0) -> dict[str, Any]:
    """Run a ``flwr`` CLI command with ``--format json`` and return its parsed output."""
    try:
        done = subprocess.run(
            ["flwr", *args, "--format", "json"],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise FlowerRunFailed(f"`flwr {args[0]}` did not answer within {timeout_s:.0f} s") from None
    text = done.stdout.strip()
    start = text.find("{")
    try:
        payload = json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        payload = {}
    if done.returncode != 0 or not payload.get("success", False):
        detail = payload.get("error-message") or (done.stderr.strip().splitlines() or [text or f"exit code {done.returncode}"])[-1]
        raise FlowerRunFailed(f"`flwr {args[0]}` failed: {detail}")
    return payload


def register_supernode(public_key: Path, env: Mapping[str, str], name: str | None = None) -> int:
    """Admit a SuperNode's authentication key on the SuperLink (``flwr supernode register``); returns its node id."""
    args = ["supernode", "register", str(public_key), CONNECTION] + (["--name", name] if name else [])
    return int(_flwr(args, env)["node-id"])


def unregister_supernode(node_id: int, env: Mapping[str, str]) -> None:
    """Withdraw a registered SuperNode (``flwr supernode unregister``): its key is refused from then on."""
    _flwr(["supernode", "unregister", str(node_id), CONNECTION], env)


def submit_run(app_dir: Path, env: Mapping[str, str], run_config: Mapping[str, Any] | None = None) -> int:
    """``flwr run APP CONNECTION`` (overriding ``run_config`` keys); returns the run id."""
    args = ["run", str(app_dir), CONNECTION]
    if run_config:
        args += ["--run-config", " ".join(f"{k}={_toml_value(v)}" for k, v in run_config.items())]
    payload = _flwr(args, env)
    return int(payload["run-id"])


def run_status(run_id: int, env: Mapping[str, str]) -> str:
    """The run's state as ``flwr ls`` reports it (e.g. ``running``, ``finished:completed``)."""
    payload = _flwr(["ls", CONNECTION, "--run-id", str(run_id)], env)
    runs = payload.get("runs", [])
    if not runs:
        raise FlowerRunFailed(f"the SuperLink does not know run {run_id}")
    return str(runs[0]["status"])


@dataclass(frozen=True)
class RunEnd:
    """How a Flower run ended."""

    run_id: int
    status: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == FINISHED_OK


def wait_run(run_id: int, env: Mapping[str, str], timeout_s: float, poll_s: float = 1.0, on_poll=None) -> RunEnd:
    """Poll ``flwr ls`` until the run is finished (any sub-status) or ``timeout_s`` passes.

    ``on_poll()`` is called after every poll (progress display); a transient failure of
    ``flwr ls`` (e.g. a SuperLink being restarted) is retried until the timeout.
    """
    start = time.monotonic()
    status = "unknown"
    while time.monotonic() - start < timeout_s:
        try:
            status = run_status(run_id, env)
        except FlowerRunFailed as exc:
            log.info("flwr ls: %s", exc)
        if status.startswith("finished"):
            return RunEnd(run_id, status, time.monotonic() - start)
        if on_poll is not None:
            on_poll()
        time.sleep(poll_s)
    raise FlowerRunFailed(f"run {run_id} still {status} after {timeout_s:.0f} s")
