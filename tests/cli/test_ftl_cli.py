"""`fedledger ftl demo`: the JSON contract, the ledger record, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main

REQUIRED_KEYS = {"overlap", "auc", "target_only_auc", "plaintext_auc", "iterations", "ledger"}


def _exit_code(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code)
    return 0


def test_demo_writes_the_json_contract(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ftl.json"

    code = _exit_code(["ftl", "demo", "--key-bits", "1024", "--max-iter", "3", "--seed", "1", "--seeds", "2", "--json", str(out)])

    assert code == 0
    payload = json.loads(out.read_text())
    assert REQUIRED_KEYS <= set(payload)
    assert payload["overlap"] == 0.1 and payload["iterations"] == 3 and payload["seed"] == 1
    assert {"address", "chain_id"} <= set(payload["ledger"])
    assert payload["ledger"]["address"].startswith("0x") and payload["ledger"]["chain_id"] > 0
    for key in ("auc", "target_only_auc", "plaintext_auc"):
        assert 0.0 <= payload[key] <= 1.0
    assert abs(payload["auc"] - payload["plaintext_auc"]) < 0.005
    assert payload["shared_samples"] == 20 and payload["held_out_samples"] == 180
    assert sum(payload["shapley"].values()) == pytest.approx(payload["auc"] - 0.5)
    assert payload["ledger"]["performance"] == round(payload["auc"] * 10**6)
    assert set(payload["ledger"]["rewards"]) == {"source", "target"}
    sweep = payload["seed_sweep"]
    assert sweep["seeds"] == 2 and len(sweep["gains"]) == 2
    assert sweep["ftl_auc"][1] == pytest.approx(payload["plaintext_auc"]) and sweep["target_only_auc"][1] == payload["target_only_auc"]
    assert sweep["gains"] == pytest.approx([a - b for a, b in zip(sweep["ftl_auc"], sweep["target_only_auc"])])
    assert sweep["mean_gain"] == pytest.approx(sum(sweep["gains"]) / 2) and sweep["min_gain"] == min(sweep["gains"])
    printed = capsys.readouterr().out
    assert "target only" in printed and "over seeds 0..1" in printed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--overlap", "1.5"], "overlap must be a fraction"),
        (["--dataset", "mnist"], "unknown FTL dataset"),
        (["--randomness", "weak"], "--randomness must be"),
        (["--dim", "100"], "representation size"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], message: str, capsys) -> None:
    code = _exit_code(["ftl", "demo", "--key-bits", "1024", "--max-iter", "1", *args])

    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
