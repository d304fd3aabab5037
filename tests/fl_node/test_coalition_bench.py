"""`fedledger bench coalitions`: both ways of building coalition sums make the same GTG run; bad input."""

import json

import pytest

from fl_node.cli import main


def test_incremental_and_from_scratch_sums_give_the_same_scores(tmp_path):
    path = tmp_path / "coalitions.json"

    main(["bench", "coalitions", "--nodes", "4,9", "--params", "300", "--evaluations", "40", "--json", str(path)])

    result = json.loads(path.read_text())
    assert [row["nodes"] for row in result["results"]] == [4, 9]
    for row in result["results"]:
        assert row["same_scores"]
        for way in ("incremental", "from_scratch"):
            record = row[way]
            assert 2 <= record["evaluations"] <= 40 and record["permutations"] >= (row["nodes"] == 9)  # N = 4: all 16 coalitions, exact
            assert record["ms_per_evaluation"] > 0 and record["cpu_ms_per_evaluation"] > 0
            assert record["build_ms_per_evaluation"] + record["validation_ms_per_evaluation"] <= record["ms_per_evaluation"]
        assert row["incremental"]["evaluations"] == row["from_scratch"]["evaluations"]
    assert len(result["load_average"]["start"]) == 3


@pytest.mark.parametrize("args", [["--nodes", "1"], ["--nodes", "x"], ["--evaluations", "1"], ["--params", "10"]])
def test_bad_options_are_refused_with_exit_2(args, tmp_path):
    path = tmp_path / "coalitions.json"

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "coalitions", *args, "--json", str(path)])

    assert exit_info.value.code == 2
    assert not path.exists()
