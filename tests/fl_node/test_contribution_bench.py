"""`fedledger bench contribution`: every scorer on the same rounds, compared with exact Shapley."""

import json

import pytest

from fl_node.cli import main
from fl_node.contribution_bench import ContributionBenchConfig, run_contribution_bench
from fl_node.task import CustodyConfig, DataConfig, TaskConfig
from fl_node.errors import FlNodeError


def test_bench_json_keys_and_exact_evaluations(tmp_path):
    path = tmp_path / "bench.json"

    main(["bench", "contribution", "--nodes", "4", "--rounds", "1", "--key-bits", "1024", "--free-riders", "1",
          "--json", str(path)])

    result = json.loads(path.read_text())
    assert result["nodes"] == 4 and result["rounds"] == 1
    assert set(result["scorers"]) == {"exact", "gtg", "tmc", "loo"}
    assert set(result["scorers"]["exact"]) >= {"evaluations", "seconds"}
    for name in ("gtg", "tmc", "loo"):
        assert set(result["scorers"][name]) >= {"evaluations", "seconds", "pearson", "rel_l2", "spearman"}
    assert result["scorers"]["exact"]["evaluations"] == 2**4
    assert result["scorers"]["loo"]["evaluations"] == 4 + 1


def test_small_rounds_make_gtg_exact_and_sum_to_the_same_gain():
    result = run_contribution_bench(ContributionBenchConfig(TaskConfig(data=DataConfig(nodes=4), custody=CustodyConfig(encrypt=False), rounds=2), free_riders=1))

    exact = result["scorers"]["exact"]["cumulative"]
    gtg = result["scorers"]["gtg"]["cumulative"]
    assert gtg == pytest.approx(exact, abs=1e-9)
    assert result["scorers"]["gtg"]["rel_l2"] == pytest.approx(0.0, abs=1e-9)


def test_too_many_nodes_for_exact_is_refused():
    with pytest.raises(FlNodeError, match="--nodes must be 2..12"):
        run_contribution_bench(ContributionBenchConfig(TaskConfig(data=DataConfig(nodes=13), custody=CustodyConfig(encrypt=False))))
