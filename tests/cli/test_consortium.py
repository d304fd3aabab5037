"""`fedledger consortium local` end to end with real processes; the chain restarted from its state file keeps
every record; `fedledger node join` refuses slashed and unadmitted accounts with one line and exit code 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak

from fl_node.artifacts import ArtifactStore
from fl_node.cli.app import main
from fl_node.demo import node_key_hash
from fl_node.replay import audit_federation, load_published
from fl_node.transport.flower_server import key_holder_key, ServeConfig
from fl_node.transport.keystore import PASSPHRASE_ENV, write_keystore
from fl_node.transport.round_timing import PHASES
from incentive.chain import connect, load_key_file, start_anvil
from incentive.ledger import LedgerClient

TOP_KEYS = {"rounds_completed", "nodes", "final_accuracy", "audit", "processes", "in_process", "round_seconds"}


@pytest.fixture(scope="module")
def consortium_run(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("consortium") / "run"
    out = work.parent / "consortium.json"
    main(["consortium", "local", "--nodes", "3", "--rounds", "2", "--key-bits", "1024",
          "--work-dir", str(work), "--json", str(out)])
    return work, json.loads(out.read_text())


@pytest.mark.slow
def test_local_consortium_writes_the_json_contract_and_matches_the_in_process_model(consortium_run) -> None:
    _, payload = consortium_run

    assert TOP_KEYS <= set(payload)
    assert payload["rounds_completed"] == 2 and payload["audit"]["ok"] is True
    assert payload["processes"] == 3 + 2  # anvil, SuperLink, one `node join` (with its SuperNode) per hospital
    assert [n["name"] for n in payload["nodes"]] == ["Hospital A", "Hospital B", "Hospital C"]
    assert len({n["address"] for n in payload["nodes"]}) == 3
    assert all(n["reward"] > 0 for n in payload["nodes"])
    assert sum(n["reward"] for n in payload["nodes"]) == pytest.approx(200, abs=1e-6)  # 100 tokens a round, dust aside
    assert 0.5 < payload["final_accuracy"] <= 1
    assert payload["in_process"]["same_final_model"] is True
    assert payload["in_process"]["final_model_hash"] == payload["final_model_hash"]
    assert len(payload["round_seconds"]) == len(payload["in_process"]["round_seconds"]) == 2


@pytest.mark.slow
def test_each_node_runs_every_message_in_its_own_process_and_the_json_says_where_round_time_went(consortium_run) -> None:
    work, payload = consortium_run

    assert payload["isolation"] == "process"
    assert payload["poll_interval_s"] == 0.2
    for k in range(3):
        node_log = (work / "nodes" / f"node-{k}" / "node.log").read_text()
        assert "--isolation process" in node_log
        assert "fl_node.transport.flower_waits --poll-interval 0.2 flower-supernode" in node_log  # Flower's waits capped
        assert len(re.findall(r"query message: claimed", node_log)) == 1
        assert len(re.findall(r"train message: claimed", node_log)) == 2  # one message a round
        # no SuperExec, so no fresh `flwr-clientapp` process for any message
        assert "flwr-clientapp" not in (work / "nodes" / f"node-{k}" / "supernode.log").read_text()
    breakdown = payload["breakdown"]
    assert [r["round_id"] for r in breakdown["per_round"]] == [r["round_id"] for r in payload["rounds"]]
    for entry in breakdown["per_round"]:
        assert set(PHASES) | {"round_s", "collect_s", "identify_s", "outside_collect_s"} <= set(entry)
        assert all(entry[phase] >= 0 for phase in PHASES)
        # each node's phases add up to its reply's time since the push, within the collection
        assert sum(entry[phase] for phase in PHASES) <= entry["collect_s"] - entry["identify_s"] + 1e-6
        assert entry["collect_s"] <= entry["round_s"]
    assert breakdown["overhead_s"]["round_s"] == pytest.approx(payload["overhead_s_per_round"])
    assert breakdown["in_process"]["collect_s"] < breakdown["in_process"]["round_s"]


@pytest.mark.slow
def test_chain_restarted_from_its_state_file_keeps_the_ledger_and_every_record(consortium_run, monkeypatch, capsys) -> None:
    work, payload = consortium_run
    with start_anvil(state=work / "chain" / "anvil-state.json") as node:
        chain = connect(node.url)
        ledger = LedgerClient.at(chain, payload["ledger"])
        store = ArtifactStore(work / "artifacts")
        serve = ServeConfig(rpc=node.url, ledger=ledger.address, artifacts=str(work / "artifacts"),
                            keys_dir=str(work / "keys"), aggregator_key="", evaluator_key="")
        task_id = payload["task_id"]

        key = key_holder_key(serve, load_published(ledger, store, task_id).spec)
        report = audit_federation(ledger, store, task_id, key)

        assert report.ok
        assert [r.round_id for r in ledger.rounds() if r.task_id == task_id] == [1, 2]
        assert ledger.rounds()[-1].aggregated_model_hash == payload["final_model_hash"]
        for n in payload["nodes"]:
            assert ledger.member(n["address"]).total_reward / 10**18 == pytest.approx(n["reward"])

        # a slashed member and an unadmitted one are refused by `node join`
        admin = load_key_file(work / "keys" / "admin.key")
        monkeypatch.setenv(PASSPHRASE_ENV, "test passphrase")
        slashed, pending = Account.create(), Account.create()
        for account in (slashed, pending):
            chain.fund(account.address, 3 * 10**18)
            write_keystore(work / f"{account.address}.json", account, "test passphrase", scrypt_n=2**12)
        ledger.join(slashed, "Slashed", node_key_hash(slashed), stake_wei=10**18)
        ledger.slash(admin, slashed.address, 10**18 - 1, keccak(b"evidence"))
        ledger.request_membership(pending, "Pending", node_key_hash(pending))
        data = work / "data" / "node-0.csv"
        for account, message in ((slashed, "below the ledger's minimum"), (pending, "has not admitted it yet")):
            capsys.readouterr()
            with pytest.raises(SystemExit) as exit_info:
                main(["node", "join", "--superlink", "127.0.0.1:9", "--insecure", "--rpc", node.url, "--ledger", ledger.address,
                      "--key", str(work / f"{account.address}.json"), "--data", str(data), "--label", "label",
                      "--work-dir", str(work / "refused")])
            assert exit_info.value.code == 2
            err = capsys.readouterr().err
            assert message in err and account.address in err and "Traceback" not in err


def test_bad_options_exit_2_with_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "something").write_text("x")

    for args, message in (
        (["--nodes", "2"], "--nodes >= 3"),
        (["--work-dir", str(tmp_path / "used")], "is not empty"),
        (["--isolation", "thread"], "--isolation must be process or subprocess"),
        (["--poll-interval", "-1"], "--poll-interval: the poll interval must be above 0"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["consortium", "local", *args])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
