"""`fedledger bench dp`: the JSON contract at client and record level, and the spent ε within each budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main


@pytest.mark.parametrize("level", ["client", "record"])
def test_rows_hold_each_budget_its_spent_epsilon_and_accuracy(tmp_path: Path, level: str) -> None:
    out = tmp_path / "dp.json"

    main(["bench", "dp", "--epsilons", "8,inf", "--seeds", "1", "--rounds", "2", "--epochs", "1", "--nodes", "4",
          *(["--dp-sgd"] if level == "record" else []), "--json", str(out)])

    payload = json.loads(out.read_text())
    assert payload["level"] == level
    private, public = payload["rows"]
    assert {"epsilon", "delta", "accuracy"} <= set(private)
    assert private["epsilon"] == 8 and private["delta"] == 1e-5 and 7 < private["epsilon_spent"] <= 8
    assert public["epsilon"] == "inf" and public["epsilon_spent"] == "inf"
    assert 0.5 < private["accuracy"] <= 1 and 0.5 < public["accuracy"] <= 1


def test_a_bad_record_clip_is_refused(refused) -> None:
    assert "--sgd-clip must be positive" in refused(["bench", "dp", "--dp-sgd", "--sgd-clip", "0"])
