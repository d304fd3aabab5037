"""Consortium mode: keystores, the node's checks against the ledger, the node worker, the Flower app config,
and faults with real processes (a SuperNode killed mid-run, the SuperLink restarted)."""

from __future__ import annotations

import json
import os
import time
import tomllib
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak

from fl_node.consortium import ConsortiumConfig, LocalConsortium
from fl_node.demo import DemoConfig, node_key_hash, setup_federation
from fl_node.errors import KeystoreError, MembershipRefused, PlanRejected
from fl_node.hfl.spec import model_to_bytes
from fl_node.replay import audit_federation, load_published
from fl_node.task import CustodyConfig, DataConfig, TaskConfig
from fl_node.training import TrainConfig
from fl_node.transport.deployment import write_app_project
from fl_node.hfl.runner import initial_params
from fl_node.transport.flower_server import key_holder_key, ServeConfig
from fl_node.transport.keystore import PASSPHRASE_ENV, load_account, write_keystore
from fl_node.transport.node import NodeRuntime, ensure_member, require_active_member
from fl_node.transport.processes import process_table
from fl_node.transport.worker import NodeWorker, call_worker
from fl_node.artifacts import ArtifactStore
from incentive.audit import finalized_rounds
from incentive.chain import connect
from incentive.ledger import to_bytes32

# ---------------------------------------------------------------- keystores


def test_keystore_opens_with_its_passphrase_only(tmp_path: Path, monkeypatch) -> None:
    account = Account.create()
    path = write_keystore(tmp_path / "node.json", account, "correct horse", scrypt_n=2**12)

    assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert load_account(path, "correct horse").address == account.address
    monkeypatch.setenv(PASSPHRASE_ENV, "correct horse")
    assert load_account(path).address == account.address
    with pytest.raises(KeystoreError, match="cannot open keystore"):
        load_account(path, "wrong")
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        write_keystore(path, account, "x")
    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(KeystoreError, match=PASSPHRASE_ENV):
        load_account(path)


# ---------------------------------------------------------------- membership and the node's checks


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    """An in-process federation (embedded chain, 1024-bit key) whose first node the tests drive by hand."""
    config = DemoConfig(TaskConfig(data=DataConfig(nodes=3), custody=CustodyConfig(key_bits=1024), rounds=1), 0, 0)
    return setup_federation(config, connect(), tmp_path_factory.mktemp("federation"))


def test_slashed_pending_and_unstaked_accounts_are_refused(federation) -> None:
    ledger, chain, admin = federation.ledger, federation.chain, federation.admin
    member = federation.nodes[0].account
    slashed = chain.new_account(3 * 10**18)
    ledger.join(slashed, "Slashed", node_key_hash(slashed), stake_wei=10**18)
    ledger.slash(admin, slashed.address, 5 * 10**17, keccak(b"evidence"))
    pending = chain.new_account(10**18)
    ledger.request_membership(pending, "Pending", node_key_hash(pending))

    require_active_member(ledger, member.address)
    with pytest.raises(MembershipRefused, match="stake 500000000000000000 wei is below the ledger's minimum .*top it up"):
        require_active_member(ledger, slashed.address)
    with pytest.raises(MembershipRefused, match="has not admitted it yet"):
        ensure_member(ledger, pending, "Pending", node_key_hash(pending), 10**18)
    with pytest.raises(MembershipRefused, match="is not a member"):
        require_active_member(ledger, Account.create().address)
    newcomer = chain.new_account(3 * 10**18)
    with pytest.raises(MembershipRefused, match="below the ledger's minimum"):
        ensure_member(ledger, newcomer, "Newcomer", node_key_hash(newcomer), 10**17)
    assert ensure_member(ledger, newcomer, "Newcomer", node_key_hash(newcomer), 10**18) is True
    assert ensure_member(ledger, newcomer, "Newcomer", node_key_hash(newcomer), 10**18) is False


def _runtime(federation) -> NodeRuntime:
    node = federation.nodes[0]
    return NodeRuntime(node.name, node.account, federation.ledger, node.participant.data, node.participant.seed)


def _open_round(federation) -> tuple[int, bytes]:
    spec = federation.coordinator.spec
    params = initial_params(spec)
    round_id = federation.coordinator.open_round(params)
    return round_id, model_to_bytes(params)


def _train_header(federation, round_id: int) -> dict:
    spec = federation.coordinator.spec
    return {"op": "train", "task": federation.task_id, "round": round_id, "sample-counts": json.dumps(dict(spec.sample_counts))}


def test_node_trains_and_commits_only_a_plan_that_matches_the_ledger(federation) -> None:
    runtime = _runtime(federation)
    spec_bytes = federation.coordinator.spec.to_bytes()
    round_id, params = _open_round(federation)
    header = _train_header(federation, round_id)

    with pytest.raises(PlanRejected, match="the spec sent has hash"):
        runtime.train(header, {"spec": spec_bytes.replace(b'"seed":0', b'"seed":1'), "params": params})
    tampered = bytearray(params)
    tampered[:4] = b"\x00\x00\x80\x3f"
    with pytest.raises(PlanRejected, match="not the one the ledger records"):
        runtime.train(header, {"spec": spec_bytes, "params": bytes(tampered)})
    reply, binary = runtime.train(header, {"spec": spec_bytes, "params": params})

    (record,) = federation.ledger.participants(round_id)
    assert record.account == runtime.address == reply["address"]
    assert to_bytes32(record.commitment) == keccak(binary["blob"])
    assert reply["n-samples"] == len(runtime.data)
    federation.ledger.cancel_round(federation.coordinator.aggregator_account, round_id)


def test_worker_answers_over_its_socket_and_rejects_a_wrong_authkey(federation, tmp_path: Path) -> None:
    runtime = _runtime(federation)
    worker = NodeWorker(runtime, Path(f"/tmp/fl-test-{os.getpid()}.sock"))
    worker.start()
    try:
        assert oct(worker.key_path.stat().st_mode & 0o777) == "0o600"
        info, _ = call_worker(str(worker.socket_path), worker.authkey, {"op": "info"})
        assert info["ok"] and info["address"] == runtime.address and info["n-samples"] == len(runtime.data)
        failed, _ = call_worker(str(worker.socket_path), worker.authkey, {"op": "train", "task": federation.task_id, "round": 1, "sample-counts": "{}"},
                                {"spec": b"{}", "params": b""})
        assert not failed["ok"] and failed["address"] == runtime.address and "PlanRejected" in failed["error"]
        with pytest.raises(Exception):  # multiprocessing's AuthenticationError
            call_worker(str(worker.socket_path), b"not the key", {"op": "info"})
    finally:
        worker.stop()
    assert not worker.socket_path.exists() and not worker.key_path.exists()


# ---------------------------------------------------------------- the Flower app project


def test_app_project_carries_the_run_config_and_the_components(tmp_path: Path) -> None:
    config = ServeConfig(rpc="http://127.0.0.1:8545", ledger="0x" + "ab" * 20, artifacts="/a", keys_dir="/k",
                         aggregator_key="/k/a", evaluator_key="/k/e",
                         task=TaskConfig(training=TrainConfig(lr=0.01), custody=CustodyConfig(encrypt=False), rounds=5))

    write_app_project(tmp_path, config.to_run_config())
    project = tomllib.loads((tmp_path / "pyproject.toml").read_text())

    app = project["tool"]["flwr"]["app"]
    assert app["components"] == {"serverapp": "fl_node.transport.flower_server:server_app",
                                 "clientapp": "fl_node.transport.flower_client:client_app"}
    assert ServeConfig.from_run_config(app["config"]) == config
    assert app["config"]["task-custody-key-bits"] == 2048 and app["config"]["task-custody-encrypt"] is False


# ---------------------------------------------------------------- faults with real processes


def _wait_for_rounds(consortium: LocalConsortium, rounds: int, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while consortium.status.data.get("rounds_completed", 0) < rounds:
        assert time.monotonic() < deadline, f"fewer than {rounds} rounds after {timeout_s:.0f} s: {consortium.status.data}"
        assert consortium.status.data.get("state") != "failed", consortium.status.data
        time.sleep(0.5)


def _fast_config(rounds: int, nodes: int = 3) -> ConsortiumConfig:
    task = TaskConfig(data=DataConfig(nodes=nodes), custody=CustodyConfig(key_bits=1024), rounds=rounds)
    return ConsortiumConfig(task, straggler_grace_s=2.0, run_timeout_s=300)


@pytest.mark.slow
def test_a_killed_supernode_leaves_the_round_to_the_others_and_the_ledger_shows_who_took_part(tmp_path: Path) -> None:
    with LocalConsortium(_fast_config(rounds=2, nodes=4), tmp_path) as consortium:
        consortium.start_chain()
        ledger = consortium.deploy()
        consortium.start_superlink()
        consortium.start_nodes()
        run_id = consortium.submit()
        _wait_for_rounds(consortium, 1)

        consortium.kill_node(2)
        end = consortium.wait(run_id)

        assert end.ok, consortium.status.data
        rounds = finalized_rounds(ledger, consortium.task_id())
        assert len(rounds) == 2
        everyone = {n.address for n in consortium.nodes}
        assert {p.account for p in rounds[0].participants if not p.dropped} == everyone
        took_part = {p.account for p in rounds[1].participants if not p.dropped}
        assert took_part == everyone - {consortium.nodes[2].address}
        assert all(p.reward == 0 for p in rounds[1].participants if p.account == consortium.nodes[2].address)
        reasons = [d["reason"] for d in consortium.status.data["rounds"][1]["dropped"]]
        assert reasons and consortium.nodes[2].address in {d["participant"] for d in consortium.status.data["rounds"][1]["dropped"]}
    assert not any(n.process.alive() for n in consortium.nodes)
    assert not consortium.superlink.alive()


@pytest.mark.slow
def test_a_restarted_superlink_resumes_from_the_last_round_finalized_on_chain(tmp_path: Path) -> None:
    with LocalConsortium(_fast_config(rounds=2), tmp_path) as consortium:
        consortium.start_chain()
        ledger = consortium.deploy()
        consortium.start_superlink()
        consortium.start_nodes()
        first_run = consortium.submit()
        _wait_for_rounds(consortium, 1)

        consortium.restart_superlink()
        second_run = consortium.submit()
        end = consortium.wait(second_run)

        assert end.ok and second_run != first_run, consortium.status.data
        task_id = consortium.task_id()
        rounds = finalized_rounds(ledger, task_id)
        assert len(rounds) == 2
        assert consortium.status.data["resumed_from"] == 1
        assert all(b.global_model_hash == a.aggregated_model_hash for a, b in zip(rounds, rounds[1:]))
        store = ArtifactStore(Path(consortium.serve.artifacts))
        private_key = key_holder_key(consortium.serve, load_published(ledger, store, task_id).spec)
        assert audit_federation(ledger, store, task_id, private_key).ok
        assert not any(r.status.name == "OPEN" for r in ledger.rounds())
    assert not [pid for pid, *_ in process_table() if f"{tmp_path}/flwr-home" in _environ(pid)]


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""
