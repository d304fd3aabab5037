"""One ledger for all work: `vfl demo` and `ftl demo` add their task to an existing ledger on anvil,
and `fedledger audit` audits every task on it, naming the task in each check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main
from fl_node.task import RewardConfig, bootstrap_ledger
from incentive.chain import connect, write_key_file

pytestmark = pytest.mark.anvil


def test_vfl_and_ftl_runs_are_tasks_of_one_ledger_and_the_audit_names_each(anvil, tmp_path: Path, refused) -> None:
    roles = bootstrap_ledger(connect(anvil.url), RewardConfig())
    keys = []
    for name in ("admin", "aggregator", "evaluator"):
        path = tmp_path / f"{name}.key"
        write_key_file(path, getattr(roles, name))
        keys += [f"--{name}-key", str(path)]
    on_ledger = ["--rpc", anvil.url, "--ledger", roles.ledger.address, *keys]

    main(["vfl", "demo", "--key-bits", "1024", "--max-iter", "2", *on_ledger, "--json", str(tmp_path / "vfl.json")])
    main(["ftl", "demo", "--key-bits", "1024", "--max-iter", "2", *on_ledger, "--json", str(tmp_path / "ftl.json")])
    main(["audit", "--rpc", anvil.url, "--ledger", roles.ledger.address, "--artifacts", str(tmp_path), "--json", str(tmp_path / "audit.json")])

    vfl, ftl = (json.loads((tmp_path / f"{k}.json").read_text())["ledger"] for k in ("vfl", "ftl"))
    assert vfl["address"] == ftl["address"] == roles.ledger.address
    assert (vfl["task_id"], ftl["task_id"]) == (1, 2) and roles.ledger.task_count() == 2
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["ok"] is True and audit["tasks"] == [1, 2]
    assert {(c["task"], c["name"]) for c in audit["checks"] if not c["skipped"]} >= {
        (1, "reward arithmetic"), (2, "reward arithmetic"), (None, "member totals"), (None, "token balances")
    }
    assert all(c["detail"].startswith(f"task {c['task']}: " if c["task"] else "ledger: ") for c in audit["checks"])
    main(["audit", "--rpc", anvil.url, "--ledger", roles.ledger.address, "--artifacts", str(tmp_path), "--task", "2", "--json", str(tmp_path / "one.json")])
    assert {c["task"] for c in json.loads((tmp_path / "one.json").read_text())["checks"]} == {2, None}

    assert "--ledger ADDR needs --rpc" in refused(["vfl", "demo", "--ledger", roles.ledger.address, *keys])
    assert "needs --evaluator-key" in refused(["ftl", "demo", "--rpc", anvil.url, "--ledger", roles.ledger.address, *keys[:4]])
    swapped = [*keys[:2], "--aggregator-key", keys[5], "--evaluator-key", keys[3]]
    assert "is not the aggregator of the ledger" in refused(["vfl", "demo", "--rpc", anvil.url, "--ledger", roles.ledger.address, *swapped])
    assert "only with --ledger ADDR" in refused(["ftl", "demo", "--admin-key", keys[1]])
    assert roles.ledger.task_count() == 2


def test_parties_join_and_commit_with_their_own_keys(anvil, tmp_path: Path, refused) -> None:
    chain = connect(anvil.url)
    roles = bootstrap_ledger(chain, RewardConfig())
    keys = []
    for name in ("admin", "aggregator", "evaluator"):
        path = tmp_path / f"{name}.key"
        write_key_file(path, getattr(roles, name))
        keys += [f"--{name}-key", str(path)]
    source, target, pending = (chain.new_account(10**19) for _ in range(3))
    roles.ledger.join(source, "source hospital", "0x" + "11" * 32, stake_wei=roles.ledger.min_stake())
    roles.ledger.request_membership(pending, "not yet approved", "0x" + "22" * 32)
    for name, account in (("source", source), ("target", target), ("pending", pending)):
        write_key_file(tmp_path / f"{name}.key", account)
    on_ledger = ["--rpc", anvil.url, "--ledger", roles.ledger.address, *keys]
    ftl = ["ftl", "demo", "--key-bits", "1024", "--max-iter", "2", *on_ledger]

    main([*ftl, "--party-key", f"source={tmp_path / 'source.key'}", "--party-key", f"target={tmp_path / 'target.key'}", "--json", str(tmp_path / "ftl.json")])

    recorded = json.loads((tmp_path / "ftl.json").read_text())["ledger"]
    assert recorded["accounts"] == {"source": source.address, "target": target.address}
    assert set(roles.ledger.participant_addresses(recorded["round_id"])) == {source.address, target.address}
    assert roles.ledger.member(source.address).name == "source hospital"

    assert "--party-key must be NAME=FILE" in refused([*ftl, "--party-key", "source"])
    assert "names 'source' twice" in refused([*ftl, "--party-key", f"source={tmp_path / 'source.key'}", "--party-key", f"source={tmp_path / 'target.key'}"])
    assert "only with --ledger ADDR" in refused(["vfl", "demo", "--party-key", f"guest={tmp_path / 'source.key'}"])
    assert "--party-key names guest, but the run's parties are source, target" in refused([*ftl, "--party-key", f"guest={tmp_path / 'source.key'}"])
    refused = refused([*ftl, "--party-key", f"target={tmp_path / 'pending.key'}"])
    assert f"party 'target': {pending.address} is a pending member" in refused and "may not commit" in refused
    assert roles.ledger.task_count() == 1
