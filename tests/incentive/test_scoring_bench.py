"""Weighted-majority games' exact Shapley values, and GTG at many participants against them."""

import itertools
import math

import pytest

from incentive.contribution.games import WeightedMajorityGame
from incentive.errors import ScorerError
from incentive.scoring_bench import ScoringBenchConfig, make_game, run_scoring_bench


def _brute_force_shapley(game, n):
    values = [0.0] * n
    for order in itertools.permutations(range(n)):
        members = frozenset()
        for i in order:
            values[i] += game(members | {i}) - game(members)
            members = members | {i}
    return {i: v / math.factorial(n) for i, v in enumerate(values)}


def test_weighted_majority_values_by_counting_match_all_permutations():
    game = WeightedMajorityGame((5, 4, 3, 3, 2, 1), quota=10)

    assert game.shapley_values() == pytest.approx(_brute_force_shapley(game, 6), abs=1e-12)
    assert sum(game.shapley_values().values()) == pytest.approx(1.0)


def test_additive_game_values_are_its_weights():
    utility, exact = make_game("additive", 20, seed=1)

    assert utility(frozenset(range(20))) - utility(frozenset()) == pytest.approx(sum(exact.values()))
    assert min(exact.values()) < 0 and 0.0 in exact.values()


def test_bench_reports_below_one_cycle_and_the_budget_that_reaches_the_target():
    result = run_scoring_bench(ScoringBenchConfig(nodes=(8,), budgets=(4, 20, 400), games=("additive",), seeds=2))

    summary = result["summary"]["additive/N=8"]
    assert summary["by_budget"]["4"] == {"status": "below_one_permutation"}
    # an additive game's every marginal is the participant's value: a few permutations already agree
    below = summary["by_budget"]["20"]
    assert below["status"] == "below_one_cycle" and 1 <= below["permutations_mean"] < 8
    assert below["pearson_min"] >= 0.95
    assert "status" not in summary["by_budget"]["400"] and summary["by_budget"]["400"]["pearson_min"] >= 0.95
    assert summary["budget_for_pearson_095"] == 20
    assert summary["budget_for_pearson_095_full_cycle"] == 400
    assert {r["status"] for r in result["runs"]} == {"below_one_permutation", "below_one_cycle", "scored"}


def test_unknown_game_is_refused():
    with pytest.raises(ScorerError, match="unknown game"):
        ScoringBenchConfig(games=("majority",))
