"""Contribution scorers on synthetic games whose Shapley values are known or computable exactly."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentive.contribution import (
    CachedUtility,
    CumulativeScores,
    ExactShapley,
    GtgShapley,
    LeaveOneOut,
    TmcShapley,
    agreement,
    make_scorer,
    scorer_options,
)
from incentive.contribution.games import FederatedGame, additive_game
from incentive.contribution.sampling import StratifiedEstimate, latin_cycle, truncated_walk
from incentive.errors import IncentiveError, ScorerError
from incentive.fixedpoint import to_fixed

ALL_SCORERS = ["loo", "exact", "tmc", "gtg"]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class CallCounter:
    """A utility that records every call it receives (to see what the scorers' cache saves)."""

    def __init__(self, utility):
        self.utility = utility
        self.calls: Counter[frozenset[int]] = Counter()
        self.order: list[frozenset[int]] = []

    def __call__(self, coalition: frozenset[int]) -> float:
        self.calls[coalition] += 1
        self.order.append(coalition)
        return self.utility(coalition)


def table_game(ids: list[int], values: list[float]):
    """A game given by one value per coalition, in the order of itertools' subsets by size."""
    coalitions = [frozenset(c) for k in range(len(ids) + 1) for c in itertools.combinations(ids, k)]
    table = dict(zip(coalitions, values, strict=True))
    return table.__getitem__


def grand_gain(utility, ids) -> float:
    return utility(frozenset(ids)) - utility(frozenset())


def noisy_game(n: int = 6, seed: int = 3) -> FederatedGame:
    return FederatedGame.typical(n, free_riders=1, harmful=1, seed=seed)


# --- exact Shapley: the axioms ------------------------------------------------------------------


def test_exact_on_an_additive_game_returns_the_weights():
    weights = {0: 0.3, 1: -0.1, 2: 0.0, 3: 0.05, 4: 0.25}
    result = ExactShapley().score(list(weights), additive_game(weights, base=0.5), rng=rng())
    assert result.values == pytest.approx(weights, abs=1e-12)


def test_exact_is_efficient_on_a_noisy_non_additive_game():
    game = noisy_game()
    result = ExactShapley().score(range(6), game, rng=rng())
    assert sum(result.values.values()) == pytest.approx(grand_gain(game, range(6)), abs=1e-12)


def test_exact_gives_symmetric_participants_equal_values():
    game = FederatedGame({0: 0.2, 1: 0.2, 2: 0.35, 3: 0.25}, harmful=frozenset({3}))
    result = ExactShapley().score(range(4), game, rng=rng())
    assert result.values[0] == pytest.approx(result.values[1], abs=1e-12)
    assert result.values[0] != pytest.approx(result.values[2], abs=1e-6)


def test_exact_gives_a_free_rider_nothing_and_a_harmful_participant_a_negative_value():
    game = FederatedGame({0: 0.3, 1: 0.5, 2: 0.4, 3: 0.2}, free_riders=frozenset({2}), harmful=frozenset({3}))
    values = ExactShapley().score(range(4), game, rng=rng()).values
    assert values[2] == pytest.approx(0.0, abs=1e-12)
    assert values[3] < 0 < values[0] < values[1]


def test_exact_is_additive_over_games():
    ids = list(range(5))
    u = FederatedGame.typical(5, seed=1)
    v = additive_game({i: 0.01 * (i + 1) for i in ids})

    def u_plus_v(coalition: frozenset[int]) -> float:
        return u(coalition) + v(coalition)

    exact = ExactShapley()
    both = exact.score(ids, u_plus_v, rng=rng()).values
    separately = {i: exact.score(ids, u, rng=rng()).values[i] + exact.score(ids, v, rng=rng()).values[i] for i in ids}
    assert both == pytest.approx(separately, abs=1e-12)


def test_exact_evaluates_every_coalition_exactly_once():
    counter = CallCounter(noisy_game())
    result = ExactShapley().score(range(6), counter, rng=rng())
    assert result.evaluations == 2**6
    assert len(counter.calls) == 2**6
    assert set(counter.calls.values()) == {1}


def test_exact_refuses_more_than_twelve_participants():
    with pytest.raises(ScorerError, match="at most 12"):
        ExactShapley().score(range(13), additive_game(dict.fromkeys(range(13), 1.0)), rng=rng())


def test_exact_keys_values_by_the_participant_ids_given():
    weights = {101: 0.2, 7: 0.1, 42: -0.3}
    result = ExactShapley().score([101, 7, 42], additive_game(weights), rng=rng())
    assert list(result.values) == [101, 7, 42]
    assert result.values == pytest.approx(weights)


# --- leave-one-out -------------------------------------------------------------------------------


def test_loo_is_what_the_grand_coalition_loses_without_each_participant():
    game = noisy_game()
    counter = CallCounter(game)
    result = LeaveOneOut().score(range(6), counter, rng=rng())
    everyone = frozenset(range(6))
    assert result.values == {i: game(everyone) - game(everyone - {i}) for i in range(6)}
    assert result.evaluations == 7 == len(counter.calls)


def test_loo_misses_redundant_participants_that_shapley_credits():
    def either_of_two_copies(coalition: frozenset[int]) -> float:
        return 1.0 if coalition & {0, 1} else 0.0

    loo = LeaveOneOut().score([0, 1, 2], either_of_two_copies, rng=rng()).values
    exact = ExactShapley().score([0, 1, 2], either_of_two_copies, rng=rng()).values
    assert loo == {0: 0.0, 1: 0.0, 2: 0.0}
    assert exact == pytest.approx({0: 0.5, 1: 0.5, 2: 0.0})


# --- TMC and GTG against exact at N = 10 ----------------------------------------------------------


@pytest.mark.parametrize("name", ["tmc", "gtg"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampling_scorers_agree_with_exact_for_fewer_evaluations(name, seed):
    game = FederatedGame.typical(10, seed=seed)
    exact = ExactShapley().score(range(10), game, rng=rng())
    approx = make_scorer(name).score(range(10), game, rng=rng(seed))
    fit = agreement(approx.values, exact.values)
    assert fit.pearson >= 0.95
    assert fit.rel_l2 <= 0.2
    assert approx.evaluations < exact.evaluations == 1024


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gtg_meets_the_targets_within_thirty_percent_of_exact_evaluations(seed):
    game = FederatedGame.typical(10, seed=seed)
    exact = ExactShapley().score(range(10), game, rng=rng())
    budget = int(0.3 * exact.evaluations)
    approx = GtgShapley(max_evaluations=budget).score(range(10), game, rng=rng(seed))
    fit = agreement(approx.values, exact.values)
    assert approx.evaluations <= budget
    assert fit.pearson >= 0.95
    assert fit.rel_l2 <= 0.2


def test_gtg_ranks_free_riders_and_the_harmful_participant_lowest():
    game = FederatedGame.typical(10, seed=4)  # participants 7, 8 free-ride, 9 is harmful
    values = GtgShapley().score(range(10), game, rng=rng()).values
    ranked = sorted(values, key=values.__getitem__)
    assert ranked[0] == 9
    assert set(ranked[:3]) == {7, 8, 9}


# --- GTG's own mechanisms -----------------------------------------------------------------------


def test_gtg_skips_a_round_that_barely_moved_the_model():
    game = FederatedGame({i: 0.2 for i in range(8)}, gain=0.0005)
    counter = CallCounter(game)
    result = GtgShapley(round_tolerance=0.001).score(range(8), counter, rng=rng())
    assert result.truncated
    assert result.values == dict.fromkeys(range(8), 0.0)
    assert result.evaluations == 2 == len(counter.calls)


def test_gtg_within_round_truncation_saves_evaluations():
    game = FederatedGame({i: 0.15 for i in range(10)}, saturation=0.1)  # saturates after a few participants
    truncating = GtgShapley(within_tolerance=0.001).score(range(10), game, rng=rng())
    untruncated = GtgShapley(within_tolerance=0.0).score(range(10), game, rng=rng())
    assert truncating.evaluations < untruncated.evaluations
    for result in (truncating, untruncated):
        assert sum(result.values.values()) == pytest.approx(grand_gain(game, range(10)), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_a_cycle_of_permutations_puts_each_participant_at_each_position_once(seed):
    cycle = latin_cycle(7, rng(seed))
    assert len(cycle) == 7
    for order in cycle:
        assert sorted(order) == list(range(7))
    for position in range(7):
        assert sorted(order[position] for order in cycle) == list(range(7))
    assert latin_cycle(7, rng(seed)) != latin_cycle(7, rng(seed + 100))


def test_gtg_guided_sampling_lets_each_participant_lead_once_per_cycle():
    ids = [5, 3, 9, 1, 7, 2]
    counter = CallCounter(additive_game(dict.fromkeys(ids, 0.1)))
    scorer = GtgShapley(within_tolerance=0.0, small_coalition_evaluations=0, min_permutations=6, max_permutations=6)
    result = scorer.score(ids, counter, rng=rng())
    leaders = [next(iter(c)) for c in counter.order if len(c) == 1]  # a singleton opens only its leader's walk
    assert result.permutations == 6
    assert sorted(leaders) == sorted(ids)


def test_gtg_evaluates_all_small_coalitions_first():
    counter = CallCounter(FederatedGame.typical(10, seed=0))
    scorer = GtgShapley()
    scorer.score(range(10), counter, rng=rng())
    m = scorer.exact_sizes(10)
    assert m == 3  # 10 + 45 + 120 = 175 evaluations fit the default 200
    small = sum(math.comb(10, k) for k in range(1, m + 1))
    assert all(1 <= len(c) <= m for c in counter.order[2 : 2 + small])
    assert len({c for c in counter.calls if 1 <= len(c) <= m}) == small


def test_gtg_small_coalitions_make_flipper_dominated_rounds_accurate():
    # A round where one harmful participant dominates small coalitions (FedAvg of few updates).
    game = FederatedGame({i: 0.1 for i in range(10)}, harmful=frozenset({9}), harm=6.0, saturation=0.05)
    exact = ExactShapley().score(range(10), game, rng=rng()).values
    errors = {}
    for budget in (0, 200):
        values = GtgShapley(small_coalition_evaluations=budget, max_evaluations=307).score(range(10), game, rng=rng()).values
        errors[budget] = agreement(values, exact).rel_l2
    assert errors[200] < errors[0]


def test_gtg_is_exact_for_small_rounds():
    game = noisy_game(5)
    gtg = GtgShapley().score(range(5), game, rng=rng())
    exact = ExactShapley().score(range(5), game, rng=rng())
    assert gtg.values == pytest.approx(exact.values, abs=1e-12)
    assert gtg.evaluations == 32


def test_sampling_returns_exact_values_once_it_has_evaluated_every_coalition():
    game = noisy_game(4)
    exact = ExactShapley().score(range(4), game, rng=rng()).values
    tmc = TmcShapley(truncation_tolerance=0.0).score(range(4), game, rng=rng())
    assert tmc.evaluations == 16
    assert tmc.values == pytest.approx(exact, abs=1e-12)


# --- budgets, convergence, determinism ----------------------------------------------------------


@pytest.mark.parametrize("name", ["tmc", "gtg"])
def test_a_budget_caps_distinct_evaluations(name):
    game = FederatedGame.typical(10, seed=0)
    counter = CallCounter(game)
    result = make_scorer(name, max_evaluations=150, convergence_tolerance=1e-9).score(range(10), counter, rng=rng())
    assert result.evaluations == len(counter.calls) == 150
    assert not result.converged
    assert result.permutations >= 1


@pytest.mark.parametrize("name", ["tmc", "gtg"])
def test_a_budget_too_small_for_one_permutation_is_an_error(name):
    game = FederatedGame.typical(10, seed=0)
    with pytest.raises(ScorerError, match="max_evaluations=4"):
        make_scorer(name, max_evaluations=4).score(range(10), game, rng=rng())


def test_gtg_below_one_cycle_returns_the_walked_permutations_mean_marked_incomplete():
    weights = {i: 0.01 * (i % 7) - 0.015 * (i % 3) for i in range(30)}
    counter = CallCounter(additive_game(weights, base=0.5))
    result = GtgShapley(within_tolerance=0.0, max_evaluations=300).score(range(30), counter, rng=rng())
    assert not result.complete and not result.converged
    assert 1 <= result.permutations < 30
    assert result.evaluations == len(counter.calls) <= 300
    # every marginal of an additive game is its weight: one permutation already gives the values
    assert result.values == pytest.approx(weights, abs=1e-12)


def test_gtg_estimate_below_one_cycle_is_unbiased():
    game = FederatedGame.typical(8, seed=0)
    exact = ExactShapley().score(range(8), game, rng=rng()).values
    runs = [GtgShapley(within_tolerance=0.0, max_evaluations=30).score(range(8), game, rng=rng(seed)) for seed in range(300)]
    assert all(not r.complete and 1 <= r.permutations < 8 for r in runs)
    mean = {i: float(np.mean([r.values[i] for r in runs])) for i in range(8)}
    assert agreement(mean, exact).rel_l2 <= 0.05


@pytest.mark.parametrize("exact_below", [0, 1, 2])
def test_walk_mean_with_exact_small_strata_estimates_the_shapley_values(exact_below):
    game = FederatedGame.typical(8, seed=1)
    exact = ExactShapley().score(range(8), game, rng=rng()).values
    cached = CachedUtility(game)
    ids = tuple(range(8))
    for size in range(exact_below + 1):
        for members in itertools.combinations(ids, size):
            cached(frozenset(members))
    estimate = StratifiedEstimate(ids, cached, exact_below=exact_below)
    v_empty, v_full = cached(frozenset()), cached(frozenset(ids))
    generator = rng(exact_below)
    for _ in range(400):
        positions = [int(p) for p in generator.permutation(8)]
        estimate.add(positions, truncated_walk(positions, cached, v_empty, v_full, 0.0))
    assert estimate.walks == 400
    assert agreement(dict(enumerate(estimate.walk_mean().tolist())), exact).rel_l2 <= 0.05


@pytest.mark.parametrize(("name", "expected"), [("tmc", 13), ("gtg", 20)])  # GTG samples whole cycles of N
def test_sampling_stops_at_max_permutations(name, expected):
    scorer = make_scorer(name, max_permutations=13, min_permutations=10, convergence_tolerance=1e-9)
    result = scorer.score(range(10), FederatedGame.typical(10), rng=rng())
    assert result.permutations == expected
    assert not result.converged


@pytest.mark.parametrize("name", ALL_SCORERS)
def test_scorers_are_deterministic_given_the_rng(name):
    game = FederatedGame.typical(9, seed=2)
    first = make_scorer(name).score(range(9), game, rng=rng(11))
    second = make_scorer(name).score(range(9), game, rng=rng(11))
    assert first.values == second.values
    assert first.evaluations == second.evaluations


@pytest.mark.parametrize("name", ["tmc", "gtg"])
def test_sampling_scorers_depend_on_the_rng(name):
    game = FederatedGame.typical(9, seed=2)
    assert make_scorer(name).score(range(9), game, rng=rng(1)).values != make_scorer(name).score(
        range(9), game, rng=rng(2)
    ).values


@pytest.mark.parametrize("name", ALL_SCORERS)
def test_no_coalition_is_evaluated_twice(name):
    counter = CallCounter(FederatedGame.typical(9, seed=1))
    result = make_scorer(name).score(range(9), counter, rng=rng())
    assert set(counter.calls.values()) == {1}
    assert result.evaluations == len(counter.calls)


def test_the_cache_counts_distinct_coalitions_only():
    counter = CallCounter(additive_game({1: 1.0, 2: 2.0}))
    cached = CachedUtility(counter)
    for coalition in [frozenset(), frozenset({1}), frozenset({1}), frozenset({1, 2}), frozenset()]:
        cached(coalition)
    assert cached.evaluations == 3 == len(counter.calls)


# --- the interface: building, bad input ---------------------------------------------------------


@pytest.mark.parametrize(("name", "cls"), [("loo", LeaveOneOut), ("exact", ExactShapley), ("tmc", TmcShapley), ("gtg", GtgShapley)])
def test_make_scorer_builds_each_method_by_name(name, cls):
    scorer = make_scorer(name)
    assert isinstance(scorer, cls)
    assert scorer.name == name


def test_make_scorer_passes_options():
    scorer = make_scorer("gtg", within_tolerance=0.01, max_evaluations=300)
    assert scorer == GtgShapley(within_tolerance=0.01, max_evaluations=300)
    assert scorer_options("gtg")["within_tolerance"] == GtgShapley().within_tolerance


def test_an_unknown_scorer_names_the_valid_choices():
    with pytest.raises(ScorerError, match="unknown scorer 'banzhaf'; choose one of: exact, gtg, loo, tmc"):
        make_scorer("banzhaf")
    assert issubclass(ScorerError, IncentiveError)


def test_an_unknown_option_names_the_valid_ones():
    with pytest.raises(ScorerError, match="no option tolerance; it takes: .*within_tolerance"):
        make_scorer("gtg", tolerance=0.1)
    with pytest.raises(ScorerError, match="it takes: no options"):
        make_scorer("exact", max_evaluations=10)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("gtg", {"within_tolerance": -0.1}),
        ("gtg", {"convergence_window": 2.5}),
        ("gtg", {"max_evaluations": 1}),
        ("gtg", {"small_coalition_evaluations": -1}),
        ("tmc", {"convergence_tolerance": 0.0}),
        ("tmc", {"max_permutations": "many"}),
        ("tmc", {"truncation_tolerance": float("nan")}),
    ],
)
def test_option_values_out_of_range_are_rejected(name, options):
    with pytest.raises(ScorerError, match=next(iter(options))):
        make_scorer(name, **options)


@pytest.mark.parametrize("name", ALL_SCORERS)
def test_repeated_participants_are_rejected(name):
    with pytest.raises(ScorerError, match=r"repeated: \[2\]"):
        make_scorer(name).score([1, 2, 2], additive_game({1: 1.0, 2: 1.0}), rng=rng())


@pytest.mark.parametrize("name", ALL_SCORERS)
def test_participant_ids_must_be_integers(name):
    with pytest.raises(ScorerError, match="must be integers"):
        make_scorer(name).score(["alice", "bob"], additive_game({}), rng=rng())


@pytest.mark.parametrize("name", ALL_SCORERS)
def test_a_non_finite_utility_is_rejected(name):
    def broken(coalition: frozenset[int]) -> float:
        return float("nan") if len(coalition) == 2 else 0.5 * len(coalition)

    with pytest.raises(ScorerError, match="not a finite number"):
        make_scorer(name).score(range(3), broken, rng=rng())


@pytest.mark.parametrize("name", ALL_SCORERS)
def test_no_participants_is_an_empty_valuation(name):
    result = make_scorer(name).score([], additive_game({}), rng=rng())
    assert result.values == {}
    assert result.evaluations == 0


# --- properties ---------------------------------------------------------------------------------

game_values = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)


@st.composite
def random_games(draw, max_participants: int = 6):
    n = draw(st.integers(min_value=1, max_value=max_participants))
    ids = draw(st.lists(st.integers(min_value=0, max_value=10**6), min_size=n, max_size=n, unique=True))
    values = draw(st.lists(game_values, min_size=2**n, max_size=2**n))
    return ids, table_game(ids, values)


@settings(max_examples=40, deadline=None)
@given(random_games())
def test_exact_is_efficient_on_random_games(game):
    ids, utility = game
    values = ExactShapley().score(ids, utility, rng=rng()).values
    assert sum(values.values()) == pytest.approx(grand_gain(utility, ids), abs=1e-9)


@pytest.mark.parametrize("small_coalition_evaluations", [0, 200])
@settings(max_examples=40, deadline=None)
@given(random_games(), st.integers(min_value=0, max_value=2**32 - 1))
def test_gtg_values_add_up_to_the_round_gain(small_coalition_evaluations, game, seed):
    ids, utility = game
    scorer = GtgShapley(small_coalition_evaluations=small_coalition_evaluations, round_tolerance=0.0, max_permutations=20)
    result = scorer.score(ids, utility, rng=rng(seed))
    assert sum(result.values.values()) == pytest.approx(grand_gain(utility, ids), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(random_games(), st.integers(min_value=0, max_value=2**32 - 1))
def test_tmc_values_add_up_to_the_gain_within_its_tolerance(game, seed):
    ids, utility = game
    scorer = TmcShapley(min_permutations=5, max_permutations=20)
    result = scorer.score(ids, utility, rng=rng(seed))
    tolerance = scorer.truncation_tolerance * abs(grand_gain(utility, ids))
    assert abs(sum(result.values.values()) - grand_gain(utility, ids)) <= tolerance + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.integers(min_value=-50, max_value=50), game_values, max_size=8), game_values)
def test_every_scorer_recovers_the_weights_of_an_additive_game(weights, base):
    ids = list(weights)
    untruncated = {"tmc": {"truncation_tolerance": 0.0}, "gtg": {"within_tolerance": 0.0, "round_tolerance": 0.0}}
    for name in ALL_SCORERS:
        result = make_scorer(name, **untruncated.get(name, {})).score(ids, additive_game(weights, base=base), rng=rng())
        if result.truncated:  # the weights add up to exactly nothing: GTG skips such a round
            assert sum(weights.values()) == pytest.approx(0.0, abs=1e-9)
            continue
        assert result.values == pytest.approx(weights, abs=1e-9), name


@settings(max_examples=40, deadline=None)
@given(random_games(max_participants=5), st.data())
def test_exact_treats_participants_by_role_not_by_name(game, data):
    ids, utility = game
    renamed = data.draw(st.permutations(ids))
    rename = dict(zip(ids, renamed))
    back = {v: k for k, v in rename.items()}

    def utility_renamed(coalition: frozenset[int]) -> float:
        return utility(frozenset(back[i] for i in coalition))

    original = ExactShapley().score(ids, utility, rng=rng()).values
    swapped = ExactShapley().score(renamed, utility_renamed, rng=rng()).values
    assert {rename[i]: v for i, v in original.items()} == pytest.approx(swapped, abs=1e-9)


# --- cumulative scores and agreement ------------------------------------------------------------


def test_cumulative_scores_add_rounds_and_tolerate_dropouts():
    rounds = [{1: 0.25, 2: -0.5, 3: 0.125}, {1: 0.5, 3: 0.25}, {1: 0.125, 2: 0.375, 3: 0.0}]
    cumulative = CumulativeScores.from_rounds(rounds)
    assert cumulative.rounds == 3
    assert cumulative.totals == {1: 0.875, 2: -0.125, 3: 0.375}
    assert cumulative.fixed_totals == {p: to_fixed(v) for p, v in cumulative.totals.items()}


def test_cumulative_fixed_totals_are_sums_of_per_round_fixed_values():
    per_round = 0.0000015  # each round rounds on its own, as the ledger records it
    cumulative = CumulativeScores.from_rounds([{7: per_round}] * 3)
    assert cumulative.fixed_totals[7] == 3 * to_fixed(per_round)
    assert cumulative.totals[7] == pytest.approx(3 * per_round)
    assert cumulative.fixed_totals[7] != to_fixed(cumulative.totals[7])


def test_agreement_of_identical_valuations_is_perfect():
    values = {1: 0.3, 2: -0.1, 3: 0.0}
    fit = agreement(values, values)
    assert (fit.pearson, fit.rel_l2, fit.spearman) == pytest.approx((1.0, 0.0, 1.0))


def test_agreement_measures_scale_error_and_rank_swaps():
    exact = {1: 3.0, 2: 2.0, 3: 1.0, 4: 0.0}
    doubled = agreement({i: 2 * v for i, v in exact.items()}, exact)
    assert doubled.pearson == pytest.approx(1.0)
    assert doubled.rel_l2 == pytest.approx(1.0)
    swapped = agreement({1: 2.0, 2: 3.0, 3: 1.0, 4: 0.0}, exact)
    assert swapped.spearman == pytest.approx(1 - 6 * 2 / (4 * 15))
    tied = agreement({1: 1.0, 2: 1.0, 3: 0.0, 4: 0.0}, exact)
    assert tied.spearman == pytest.approx(np.corrcoef([3.5, 3.5, 1.5, 1.5], [4, 3, 2, 1])[0, 1])


def test_agreement_needs_the_same_participants():
    with pytest.raises(ScorerError, match=r"\[3\]"):
        agreement({1: 0.1, 2: 0.2}, {1: 0.1, 2: 0.2, 3: 0.3})
