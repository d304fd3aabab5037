"""A consortium over TLS with SuperNode authentication, with real processes: who is refused, and that nothing of them reaches the chain.

One local consortium (anvil, the ledger, a SuperLink with the consortium's certificate and
``--enable-supernode-auth``, four `node join` processes). Against it: a SuperNode that trusts
another CA, a stranger's SuperNode with a self-made key, a plaintext SuperNode, and a member
slashed below the minimum stake. Each is refused; the round that follows has only the three
members in good standing, and no stranger is a member.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from fl_node.consortium import ConsortiumConfig, LocalConsortium
from fl_node.task import CustodyConfig, DataConfig, TaskConfig
from fl_node.transport.deployment import supernode_command
from fl_node.transport.processes import free_port, start_process
from fl_node.transport.worker import WORKER_SOCKET
from fl_node.transport.tls import AuthKeyPaths, write_auth_keypair, write_consortium_certs
from incentive.audit import finalized_rounds
from incentive.chain import load_key_file
from incentive.ledger import MemberStatus

pytestmark = pytest.mark.slow

REFUSED = {
    "other CA": "CERTIFICATE_VERIFY_FAILED",
    "stranger": "Failed to activate SuperNode",
}


def _supernode(consortium: LocalConsortium, tmp: Path, name: str, root_cert: Path | None, auth_key: Path | None):
    cmd = supernode_command(consortium.superlink_address, free_port(), {WORKER_SOCKET: str(tmp / "none.sock")}, root_cert, auth_key)
    return start_process(name, cmd, tmp / f"{name.replace(' ', '-')}.log", consortium.env)


def _log_has(path: Path, text: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.5)
    return False


def test_refused_parties_get_no_connection_and_nothing_on_chain(tmp_path: Path) -> None:
    task = TaskConfig(data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=512), rounds=1)
    outsiders = tmp_path / "outsiders"
    outsiders.mkdir()
    with LocalConsortium(ConsortiumConfig(task, straggler_grace_s=2.0, run_timeout_s=300), tmp_path / "run") as consortium:
        consortium.start_chain()
        ledger = consortium.deploy()
        consortium.start_superlink()
        consortium.start_nodes()
        assert len(consortium.admission.registered) == 4

        other_ca = write_consortium_certs(outsiders / "other-ca", ["127.0.0.1"])
        stranger_key = write_auth_keypair(outsiders / "stranger")
        member_key = consortium.nodes[0].auth_key
        started = {
            "other CA": _supernode(consortium, outsiders, "other CA", other_ca.ca_cert, member_key),
            "stranger": _supernode(consortium, outsiders, "stranger", consortium.certs.ca_cert, stranger_key.private),
            "plaintext": _supernode(consortium, outsiders, "plaintext", None, None),
        }
        try:
            for name, text in REFUSED.items():
                assert _log_has(started[name].log_path, text, 60), f"{name}: {started[name].log_tail()}"
            # the plaintext client never gets past the TLS port: it only retries
            assert _log_has(started["plaintext"].log_path, "Connection attempt failed", 30)
            assert "SuperNode ID" not in started["plaintext"].log_path.read_text()
            # offering the stranger's key changes nothing: no member recorded its hash
            change = consortium.admission.refresh(
                [AuthKeyPaths.beside(n.auth_key).public for n in consortium.nodes] + [stranger_key.public]
            )
            assert change.strangers == (str(stranger_key.public),) and change.registered == ()
        finally:
            for process in started.values():
                process.stop(grace_s=2.0)

        # a member slashed below the minimum is withdrawn from the SuperLink before the round
        admin = load_key_file(consortium.work_dir / "keys" / "admin.key")
        slashed = consortium.nodes[2]
        ledger.slash(admin, slashed.address, ledger.member(slashed.address).stake, keccak(b"evidence"))
        change = consortium.admit()
        assert change.withdrawn == (str(AuthKeyPaths.beside(slashed.auth_key).public),)

        # the coordinator waits for the three members still admitted, not for the slashed one's node
        end = consortium.wait(consortium.submit({"task-data-nodes": 3}))

        assert end.ok, consortium.status.data
        rounds = finalized_rounds(ledger, consortium.task_id())
        took_part = {p.account for p in rounds[0].participants}
        assert took_part == {consortium.nodes[k].address for k in (0, 1, 3)}
        assert ledger.member(slashed.address).status == MemberStatus.ACTIVE  # slashed, not expelled: refused all the same
        assert len(ledger.members()) == 4
