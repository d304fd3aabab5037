"""`fedledger task init`, `demo --task` and `serve --task`: the file drives the task; bad files and mixed flags exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account

from fl_node.cli.app import main
from fl_node.hfl.spec import FederationSpec
from fl_node.errors import FlNodeError
from incentive.chain import write_key_file

LEDGER = "0x" + "11" * 20


def _specs(artifacts: Path) -> list[FederationSpec]:
    specs = []
    for path in artifacts.glob("*.bin"):
        try:
            specs.append(FederationSpec.from_bytes(path.read_bytes()))
        except (FlNodeError, UnicodeDecodeError):
            continue
    return specs


def test_task_init_writes_the_template_once(tmp_path: Path, refused) -> None:
    out = tmp_path / "task.toml"
    main(["task", "init", "--out", str(out)])

    assert "[model]" in out.read_text() and "hidden = 16" in out.read_text()
    assert "exists; give --force" in refused(["task", "init", "--out", str(out)])
    main(["task", "init", "--out", str(out), "--force"])


def test_demo_runs_the_task_file(tmp_path: Path) -> None:
    task = tmp_path / "task.toml"
    task.write_text('rounds = 1\npatience = 1\n[data]\nnodes = 3\n[model]\nhidden = 5\n[custody]\nencrypt = false\n[scoring]\nscorer = "loo"\n')

    main(["demo", "--task", str(task), "--free-riders", "0", "--label-flippers", "0",
          "--out", str(tmp_path / "demo"), "--json", str(tmp_path / "demo.json")])

    payload = json.loads((tmp_path / "demo.json").read_text())
    assert [r["round"] for r in payload["rounds"]] == [1] and len(payload["nodes"]) == 3
    assert (payload["best_round"], payload["stopped_early"], payload["best_accuracy"]) == (1, False, payload["final_accuracy"])
    assert payload["released_model_hash"].startswith("0x")
    [spec] = _specs(Path(payload["artifacts"]))
    assert (spec.model.hidden, spec.encrypt, spec.scorer) == (5, False, "loo")


def test_bad_task_files_and_flags_beside_a_task_file_exit_2(tmp_path: Path, refused) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nwidth = 3\n")
    good = tmp_path / "good.toml"
    good.write_text("rounds = 2\n")
    key = tmp_path / "k.key"
    write_key_file(key, Account.create())
    serve = ["serve", "--rpc", "http://127.0.0.1:9", "--ledger", LEDGER, "--aggregator-key", str(key), "--evaluator-key", str(key),
             "--insecure", "--work-dir", str(tmp_path / "serve")]

    assert f"{bad}: unknown key 'width' in [model]" in refused(["demo", "--task", str(bad)])
    assert f"{bad}: unknown key 'width' in [model]" in refused([*serve, "--task", str(bad)])
    assert "cannot read the task file" in refused([*serve, "--task", str(tmp_path / "none.toml")])
    assert "--rounds, --seed conflict with --task FILE" in refused(["demo", "--task", str(good), "--rounds", "3", "--seed", "1"])
    assert "--key-bits conflicts with --task FILE" in refused([*serve, "--task", str(good), "--key-bits", "1024"])
    threshold = tmp_path / "threshold.toml"
    threshold.write_text("[custody]\ncustodians = 3\nthreshold = 2\n")
    assert "threshold custody" in refused([*serve, "--task", str(threshold)])
    assert not (tmp_path / "serve").exists() and not (tmp_path / "out").exists()
