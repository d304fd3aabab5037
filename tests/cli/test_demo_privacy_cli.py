"""`fedledger demo` with both levels of DP: the ε each spent is shown, in the JSON and within its budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opacus.accountants import RDPAccountant

from fl_node.cli.app import main


def test_the_demo_shows_the_client_and_record_level_epsilon_it_spent(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo.json"

    main(["demo", "--no-encrypt", "--nodes", "3", "--free-riders", "0", "--label-flippers", "0", "--rounds", "2",
          "--dp-epsilon", "8", "--dp-sgd-epsilon", "8", "--out", str(tmp_path / "demo"), "--json", str(out)])

    payload = json.loads(out.read_text())
    client, records = payload["privacy"], payload["dp_sgd"]
    independent = RDPAccountant()
    for _ in range(2):
        independent.step(noise_multiplier=client["noise_multiplier"], sample_rate=1.0)
    assert client["epsilon_spent"] == pytest.approx(independent.get_epsilon(1e-5), rel=1e-9) and client["epsilon_spent"] <= 8
    assert 7.5 < records["epsilon_spent"] <= 8 and records["delta"] == 1e-5 and records["clip"] == 1.0
    assert payload["audit"]["ok"] is True
    stdout = " ".join(capsys.readouterr().out.split())
    assert "client-level DP: ε = " in stdout and "record-level DP (DP-SGD): largest ε a node spent = " in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dp-sgd-epsilon", "-1"], "--dp-sgd-epsilon must be non-negative"),
        (["--dp-sgd-epsilon", "3", "--dp-sgd-clip", "0"], "--dp-sgd-clip positive"),
    ],
)
def test_bad_dp_sgd_options_are_refused(refused, tmp_path: Path, args: list[str], message: str) -> None:
    assert message in refused(["demo", *args, "--out", str(tmp_path)])
