"""The long-lived ClientApp (``--isolation process``): a real SuperNode hands its tasks only to the holder
of its SuperExec secret, and the node's SuperNode command asks for the isolation mode it is given."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flwr.proto.runtime_pb2 import AcquireTaskRequest  # pylint: disable=E0611
from flwr.supercore.constant import TaskType

from fl_node.transport.clientapp_runner import ClientAppRunner, write_superexec_secret
from fl_node.transport.deployment import flower_env, supernode_command
from fl_node.transport.processes import LOOPBACK, free_port, start_process, wait_for_port
from fl_node.transport.worker import WORKER_SOCKET


def test_supernode_command_runs_process_isolation_only_with_a_secret(tmp_path: Path) -> None:
    config = {WORKER_SOCKET: "/run/w.sock"}
    with_secret = supernode_command("10.0.0.1:9092", 9094, config, superexec_secret=tmp_path / "s")
    without = supernode_command("10.0.0.1:9092", 9094, config)

    assert with_secret[with_secret.index("--isolation") + 1] == "process"
    assert with_secret[with_secret.index("--superexec-auth-secret-file") + 1] == str(tmp_path / "s")
    assert without[without.index("--isolation") + 1] == "subprocess"
    assert "--superexec-auth-secret-file" not in without


def test_only_the_holder_of_the_superexec_secret_may_claim_the_supernodes_tasks(tmp_path: Path) -> None:
    secret = write_superexec_secret(tmp_path / "superexec.secret")
    assert oct((tmp_path / "superexec.secret").stat().st_mode & 0o777) == "0o600"
    port = free_port()
    # the SuperNode serves its Runtime API before it reaches a SuperLink (none listens here)
    cmd = supernode_command(f"{LOOPBACK}:{free_port()}", port, {WORKER_SOCKET: str(tmp_path / "none.sock")},
                            superexec_secret=tmp_path / "superexec.secret")
    supernode = start_process("supernode", cmd, tmp_path / "supernode.log", flower_env(tmp_path / "flwr-home"))
    try:
        wait_for_port(supernode, LOOPBACK, port, timeout_s=120)
        request = AcquireTaskRequest(supported_task_types=[TaskType.CLIENT_APP.value])
        holder = ClientAppRunner(f"{LOOPBACK}:{port}", secret)._client()
        stranger = ClientAppRunner(f"{LOOPBACK}:{port}", b"\x00" * len(secret))._client()

        assert not holder.AcquireTask(request).HasField("task")  # admitted; nothing to run yet
        with pytest.raises(httpx.HTTPStatusError) as refused:
            stranger.AcquireTask(request)
        assert refused.value.response.status_code == 401
        holder.close()
        stranger.close()
    finally:
        supernode.stop()
    assert "flwr-clientapp" not in (tmp_path / "supernode.log").read_text()
