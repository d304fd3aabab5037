"""`fedledger custody keygen` and `bench threshold --demo`: bad input is one line, exit 2, and writes nothing (the generation itself is
tested in tests/fl_node/test_threshold.py)."""

from __future__ import annotations

import pytest

from fl_node.cli import main


def _exit(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    return caught.value.code, capsys.readouterr().err


def test_keygen_refuses_bad_input_with_one_line(tmp_path, capsys) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "custodian-1.share").write_text("{}")
    (tmp_path / "empty.pass").write_text("")
    cases = [
        (["--threshold", "4"], "exceeds --custodians"),
        (["--key-bits", "255"], "even number"),
        (["--passphrase-file", str(tmp_path / "empty.pass")], "is empty"),
    ]
    for extra, message in cases:
        code, err = _exit(capsys, "custody", "keygen", "--out", str(tmp_path / "shares"), *extra)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    code, err = _exit(capsys, "custody", "keygen", "--out", str(tmp_path / "taken"))
    assert code == 2 and "already holds share files" in err
    assert not (tmp_path / "shares").exists()



def test_bench_threshold_demo_needs_shares_generated_beforehand(tmp_path, capsys) -> None:
    code, err = _exit(capsys, "bench", "threshold", "--demo", "--json", str(tmp_path / "out.json"))
    assert code == 2 and "--key-shares" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists()
