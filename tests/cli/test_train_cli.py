"""`fedledger train`: JSON contract, plot, encrypted vs plaintext, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main
from fl_node.crypto.keys import generate_keypair, save_keypair

ROUND_KEYS = {"round", "accuracy", "loss", "seconds", "bytes_up"}
TOP_KEYS = {"rounds", "final_accuracy", "centralized_accuracy", "test_samples", "encrypted", "per_seed"}


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "federation.key"
    save_keypair(path, *generate_keypair(1024))
    return path


def _run(args: list[str]) -> None:
    main(["train", *args])


def test_encrypted_run_writes_the_json_contract(tmp_path: Path, key_file: Path, capsys) -> None:
    out = tmp_path / "train.json"

    _run(["--dataset", "wine", "--nodes", "3", "--rounds", "2", "--model", "logreg", "--partition", "iid",
          "--key", str(key_file), "--compare-plaintext", "--seed", "1", "--json", str(out)])

    payload = json.loads(out.read_text())
    assert TOP_KEYS <= set(payload)
    assert payload["encrypted"] is True and payload["test_samples"] == 36
    assert [r["round"] for r in payload["rounds"]] == [1, 2]
    assert all(ROUND_KEYS <= set(r) and r["bytes_up"] > 0 and 0 <= r["accuracy"] <= 1 for r in payload["rounds"])
    assert payload["final_accuracy"] == payload["rounds"][-1]["accuracy"]
    (seed,) = payload["per_seed"]
    assert seed["seed"] == 1 and seed["final_accuracy"] == payload["final_accuracy"]
    assert seed["accuracy_diff_samples"] <= 1
    assert seed["max_param_diff"] <= seed["param_error_bound"]
    stdout = capsys.readouterr().out
    assert "per round" in stdout and "bytes sent" in stdout


def test_several_seeds_average_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "train.json", tmp_path / "acc.png"

    _run(["--dataset", "breast_cancer", "--nodes", "4", "--rounds", "2", "--model", "logreg", "--no-encrypt",
          "--seeds", "2", "--local-epochs", "1", "--json", str(out), "--plot", str(png)])

    payload = json.loads(out.read_text())
    assert payload["encrypted"] is False
    assert [s["seed"] for s in payload["per_seed"]] == [0, 1]
    assert payload["final_accuracy"] == pytest.approx(sum(s["final_accuracy"] for s in payload["per_seed"]) / 2)
    assert payload["centralized_accuracy"] == pytest.approx(
        sum(s["centralized_accuracy"] for s in payload["per_seed"]) / 2
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dp_sgd_reports_the_record_level_epsilon_its_nodes_spent(tmp_path: Path, capsys) -> None:
    out = tmp_path / "train.json"

    _run(["--dataset", "breast_cancer", "--nodes", "3", "--rounds", "2", "--model", "logreg", "--no-encrypt",
          "--local-epochs", "1", "--dp-sgd-epsilon", "2", "--json", str(out)])

    payload = json.loads(out.read_text())
    assert payload["dp"] is None
    assert payload["dp_sgd"]["epsilon"] == 2 and payload["dp_sgd"]["delta"] == 1e-5
    assert 1.9 < payload["dp_sgd"]["epsilon_spent"] <= 2
    assert "record-level (DP-SGD) DP: ε = " in capsys.readouterr().out


def test_csv_data_trains(tmp_path: Path) -> None:
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 7 > 3 else 'no'}" for i in range(60)]
    csv = tmp_path / "d.csv"
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "train.json"

    _run(["--data", str(csv), "--label", "label", "--nodes", "3", "--rounds", "2", "--model", "logreg",
          "--no-encrypt", "--json", str(out)])

    assert json.loads(out.read_text())["test_samples"] == 12


def test_a_raw_clinical_csv_trains_with_its_identifier_left_out(tmp_path: Path) -> None:
    from fl_node.clinical import write_clinical_csv

    csv = write_clinical_csv(tmp_path / "clinical.csv", 200, seed=5)
    out = tmp_path / "train.json"

    _run(["--data", str(csv), "--label", "outcome", "--id-column", "patient_id", "--drop", "skin_thickness",
          "--nodes", "3", "--rounds", "2", "--model", "logreg", "--no-encrypt", "--json", str(out)])

    assert json.loads(out.read_text())["test_samples"] == 40


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["--model", "transformer"], "unknown model 'transformer'"),
        (["--dataset", "wine", "--nodes", "500"], "500 nodes but only"),
        (["--partition", "shards:3"], "unknown partition"),
        (["--model", "cnn"], "needs square images"),
        (["--seed", "1", "--seeds", "2"], "not both"),
        (["--nodes", "4", "--min-participants", "2"], "--min-participants must be in 3..4"),
        (["--aggregation", "gated", "--gate-norm-factor", "0.5"], "--gate-norm-factor must be 0 (off) or at least 1"),
        (["--data", "MISSING", "--label", "y"], "cannot read CSV"),
        (["--data", "BADCSV", "--label", "y"], "is not numeric"),
        (["--data", "BADCSV", "--label", "nope"], "no label column 'nope'"),
        (["--data", "BADCSV", "--label", "y", "--id-column", "id"], "--id-column 'id' is not a column"),
        (["--id-column", "id"], "apply to a CSV file"),
        (["--key", "NOTAKEY"], "not a fedledger Paillier key"),
        (["--dp-sgd-epsilon", "-1"], "--dp-sgd-epsilon must be non-negative"),
        (["--dp-sgd-epsilon", "3", "--dp-sgd-clip", "0"], "--dp-sgd-clip positive"),
        (["--dp-sgd-epsilon", "3", "--mu", "0.1"], "cannot train with --mu"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("x,y\n1,0\nabc,1\n")
    not_a_key = tmp_path / "key.bin"
    not_a_key.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\n")
    paths = {"MISSING": str(tmp_path / "absent.csv"), "BADCSV": str(bad_csv), "NOTAKEY": str(not_a_key)}
    args = [paths.get(a, a) for a in args]

    with pytest.raises(SystemExit) as exit_info:
        _run([*args, "--rounds", "1", "--key-bits", "512"])

    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
