"""`fedledger demo` and `fedledger audit` as a user runs them: a real anvil node, separate processes, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fl_node.artifacts import ArtifactStore
from fl_node.crypto.keys import generate_keypair, save_keypair
from incentive.chain import connect
from incentive.ledger import LedgerClient, to_bytes32

pytestmark = pytest.mark.anvil

FEDLEDGER = [sys.executable, "-c", "from fl_node.cli import main; main()"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*FEDLEDGER, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def demo_on_anvil(anvil, tmp_path_factory):
    """A small demo federation recorded on anvil; returns its JSON and folder."""
    out = tmp_path_factory.mktemp("demo")
    result = run(
        "demo", "--rpc", anvil.url, "--nodes", "3", "--free-riders", "1", "--label-flippers", "0",
        "--rounds", "2", "--key-bits", "1024", "--out", str(out), "--json", str(out / "demo.json"),
        cwd=out,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads((out / "demo.json").read_text()), out, anvil.url


def test_demo_json_has_the_contract_keys(demo_on_anvil):
    payload, out, _ = demo_on_anvil

    assert set(payload) >= {"ledger", "rounds", "nodes", "final_accuracy", "centralized_accuracy", "audit", "artifacts", "elapsed_s"}
    assert set(payload["ledger"]) >= {"address", "chain_id", "rpc"}
    assert [r["round"] for r in payload["rounds"]] == [1, 2]
    assert all(set(r) >= {"round", "accuracy", "scores"} for r in payload["rounds"])
    assert [n["behavior"] for n in payload["nodes"]] == ["honest", "honest", "free-rider"]
    assert all(set(n) >= {"name", "address", "behavior", "score", "reward"} for n in payload["nodes"])
    assert payload["audit"]["ok"] is True
    assert (out / "accuracy.png").stat().st_size > 0 and (out / "contributions.png").stat().st_size > 0


def test_audit_cli_passes_with_the_key(demo_on_anvil, tmp_path):
    payload, out, url = demo_on_anvil

    result = run(
        "audit", "--rpc", url, "--ledger", payload["ledger"]["address"], "--artifacts", payload["artifacts"],
        "--key", payload["key"], "--json", str(tmp_path / "audit.json"), cwd=out,
    )

    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"] if not c["skipped"]} >= {"aggregation", "scores", "commitments"}


def test_audit_cli_exits_1_naming_a_tampered_blob(demo_on_anvil, tmp_path):
    payload, out, url = demo_on_anvil
    ledger = LedgerClient.at(connect(url), payload["ledger"]["address"])
    record = ledger.participants(2)[0]
    blob = ArtifactStore(payload["artifacts"]).path_for(to_bytes32(record.commitment))
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        result = run("audit", "--rpc", url, "--ledger", payload["ledger"]["address"], "--artifacts", payload["artifacts"], cwd=out)
    finally:
        blob.write_bytes(original)

    assert result.returncode == 1
    assert "FAILED" in result.stdout
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line and "commitments" in line]
    assert failed and "round 2" in failed[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ledger", "0x000000000000000000000000000000000000dEaD"], "no contract code"),
        (["--artifacts", "/nonexistent/artifacts"], "not a folder"),
    ],
)
def test_audit_cli_bad_input_exits_2_with_one_line(demo_on_anvil, args, message):
    payload, out, url = demo_on_anvil
    options = {"--ledger": payload["ledger"]["address"], "--artifacts": payload["artifacts"]}
    options.update(dict(zip(args[::2], args[1::2])))

    result = run("audit", "--rpc", url, *[x for kv in options.items() for x in kv], cwd=out)

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_audit_cli_wrong_key_exits_2(demo_on_anvil, tmp_path):
    payload, out, url = demo_on_anvil
    pk, sk = generate_keypair(1024)
    key, _ = save_keypair(tmp_path / "other.key", pk, sk)

    result = run(
        "audit", "--rpc", url, "--ledger", payload["ledger"]["address"], "--artifacts", payload["artifacts"],
        "--key", str(key), cwd=out,
    )

    assert result.returncode == 2
    assert "does not belong" in result.stderr


def test_demo_unreachable_rpc_exits_2(tmp_path):
    result = run("demo", "--rpc", "http://127.0.0.1:9", "--out", str(tmp_path), cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip()
