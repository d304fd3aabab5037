"""`fedledger vfl demo` and `fedledger bench psi|hetero-lr`: JSON contracts, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main

DEMO_KEYS = {"intersection_size", "expected_intersection", "iterations", "converged", "loss", "auc", "centralized_auc", "contributions", "ledger"}


def _exit_code(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code)
    return 0


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.write_text("\n".join(",".join(str(v) for v in row) for row in [header, *rows]) + "\n")
    return path


def _tables(tmp_path: Path, *, guest_ids: list[str], host_ids: list[str]) -> tuple[Path, Path]:
    guest = _write(tmp_path / "guest.csv", ["id", "label", "a", "b"], [[i, n % 2, n, n * 0.5] for n, i in enumerate(guest_ids)])
    host = _write(tmp_path / "host.csv", ["id", "c"], [[i, (n * 7) % 5] for n, i in enumerate(host_ids)])
    return guest, host


def test_demo_writes_the_json_contract(tmp_path: Path, capsys) -> None:
    out = tmp_path / "vfl.json"

    code = _exit_code(["vfl", "demo", "--key-bits", "1024", "--max-iter", "3", "--overlap", "0.7", "--json", str(out)])

    assert code == 0
    payload = json.loads(out.read_text())
    assert set(payload) == DEMO_KEYS
    assert payload["intersection_size"] == payload["expected_intersection"] == round(0.7 * 569)
    assert payload["iterations"] == 3 and payload["converged"] is False and len(payload["loss"]) == 3
    assert payload["loss"][0] == pytest.approx(0.693147, abs=1e-5) and payload["loss"][2] < payload["loss"][0]
    assert 0.5 < payload["auc"] <= 1 and 0.5 < payload["centralized_auc"] <= 1
    assert set(payload["contributions"]) == {"guest", "host"}
    assert sum(payload["contributions"].values()) == pytest.approx(payload["auc"] - 0.5)
    assert payload["ledger"]["address"].startswith("0x") and payload["ledger"]["chain_id"] > 0
    assert set(payload["ledger"]["rewards"]) == {"guest", "host"}
    stdout = capsys.readouterr().out
    assert "iteration   3" in stdout and "centralized" in stdout


def test_demo_with_processes_flag(tmp_path: Path, capsys) -> None:
    out = tmp_path / "vfl.json"

    code = _exit_code(["vfl", "demo", "--processes", "--key-bits", "1024", "--max-iter", "2", "--json", str(out)])

    assert code == 0
    payload = json.loads(out.read_text())
    assert payload["iterations"] == 2 and payload["intersection_size"] == 455
    assert "3 processes over gRPC" in capsys.readouterr().out


def test_demo_on_csv_tables(tmp_path: Path) -> None:
    ids = [f"u{n}" for n in range(240)]  # 120 shared, 84 training rows: one batch must hold at least 67
    guest, host = _tables(tmp_path, guest_ids=ids[:180], host_ids=ids[60:])
    out = tmp_path / "vfl.json"

    code = _exit_code(["vfl", "demo", "--guest-csv", str(guest), "--host-csv", str(host), "--key-bits", "1024", "--max-iter", "2", "--json", str(out)])

    assert code == 0
    payload = json.loads(out.read_text())
    assert payload["intersection_size"] == payload["expected_intersection"] == 120


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-id", "no ID column 'id'"),
        ("duplicate-ids", "duplicated sample ID"),
        ("feature-count", "has 3 fields, the header has 4"),
        ("empty-intersection", "share no sample IDs"),
        ("missing-label", "no label column 'label'"),
    ],
)
def test_bad_tables_give_one_line_and_exit_code_2(tmp_path: Path, capsys, case: str, message: str) -> None:
    ids = [f"u{n}" for n in range(20)]
    guest, host = _tables(tmp_path, guest_ids=ids, host_ids=ids)
    if case == "missing-id":
        _write(host, ["key", "c"], [[i, 1] for i in ids])
    elif case == "duplicate-ids":
        _write(host, ["id", "c"], [[i, 1] for i in ids + ids[:1]])
    elif case == "feature-count":
        _write(guest, ["id", "label", "a", "b"], [[i, 1, 2] for i in ids])
    elif case == "empty-intersection":
        guest, host = _tables(tmp_path, guest_ids=ids, host_ids=[f"v{n}" for n in range(20)])
    elif case == "missing-label":
        _write(guest, ["id", "a", "b"], [[i, 1, 2] for i in ids])

    code = _exit_code(["vfl", "demo", "--guest-csv", str(guest), "--host-csv", str(host), "--key-bits", "1024", "--max-iter", "1"])

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [["--guest-features", "30"], ["--overlap", "0"], ["--randomness", "weak"], ["--key-bits", "100"], ["--guest-csv", "x.csv"]],
)
def test_bad_options_exit_2(args: list[str], capsys) -> None:
    assert _exit_code(["vfl", "demo", "--max-iter", "1", *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vfl", "demo", "--batch-size", "20"], "a batch of 20 rows would let a party solve its gradient"),
        (["bench", "hetero-lr", "--overlap", "0.1"], "a batch of 57 rows would let a party solve its gradient"),
    ],
)
def test_batches_a_party_could_solve_exit_2_with_one_line(args: list[str], message: str, capsys) -> None:
    assert _exit_code([*args, "--key-bits", "1024"]) == 2

    err = capsys.readouterr().err.strip()
    assert message in err and "at least 84 rows" in err and len(err.splitlines()) == 1


def test_bench_psi_json(tmp_path: Path) -> None:
    out = tmp_path / "psi.json"

    assert _exit_code(["bench", "psi", "--ids", "3000", "--json", str(out)]) == 0

    payload = json.loads(out.read_text())
    assert {"ids", "seconds", "ids_per_s", "intersection_correct"} <= set(payload)
    assert payload["ids"] == 3000 and payload["intersection_correct"] is True and payload["intersection_size"] == 1500
    assert payload["ids_per_s"] == pytest.approx(3000 / payload["seconds"])


def test_bench_hetero_lr_json(tmp_path: Path) -> None:
    out = tmp_path / "lr.json"

    assert _exit_code(["bench", "hetero-lr", "--key-bits", "1024", "--iterations", "2", "--json", str(out)]) == 0

    payload = json.loads(out.read_text())
    assert payload["rows"] == 455 and len(payload["seconds_per_iteration"]) == 2 and payload["steady_iteration_s"] > 0
