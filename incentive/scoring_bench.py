"""GTG-Shapley at many participants under an evaluation budget: what `fedledger bench scoring` measures.

Real rounds at N = 50 or 100 have no exact Shapley values to compare with (2^N coalitions), so
GTG is run on synthetic games whose Shapley values are exact in closed form or by counting:

- ``additive``: ``U(S) = Σ_{i∈S} w_i`` (φ_i = w_i), with unequal positive weights, free riders
  (w = 0) and harmful participants (w < 0), summing to an accuracy-like gain of 0.4;
- ``weighted_majority``: ``U(S) = 1`` when S's integer weights reach the quota
  (:class:`~incentive.contribution.games.WeightedMajorityGame`, φ by counting): a game with
  strong interactions, the opposite of additive.

For each game, N, budget (GTG's ``max_evaluations``) and seed, the JSON holds GTG's Pearson
correlation with the exact values, its evaluations, permutations and seconds. A budget that
ends before GTG's first cycle of N permutations is recorded as ``"below_one_cycle"``, with the
agreement of GTG's estimate from the permutations it walked (the mean marginal over them, which
is what a round under that budget records); one that ends before a single permutation as
``"below_one_permutation"`` (GTG raises). Per game and N, ``budget_for_pearson_095`` is the
smallest budget tried whose Pearson is ≥ 0.95 on every seed, and
``budget_for_pearson_095_full_cycle`` the smallest among those where every seed finished a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from incentive.contribution.agreement import agreement
from incentive.contribution.base import Utility
from incentive.contribution.games import WeightedMajorityGame, additive_game
from incentive.contribution.gtg import GtgShapley
from incentive.errors import ScorerError

GAMES = ("additive", "weighted_majority")
TARGET_PEARSON = 0.95


@dataclass(frozen=True)
class ScoringBenchConfig:
    """What ``fedledger bench scoring`` runs.

    Attributes
    ----------
    nodes : tuple[int, ...] (default: 50, 100)
    budgets : tuple[int, ...] (default: 1k, 2k, 5k, 10k, 20k, 50k)
        GTG ``max_evaluations`` per round.
    games : tuple[str, ...] (default: additive, weighted_majority)
    seeds : int (default: 3)
        Games (and GTG's sampling) per (game, N): seeds 0..seeds-1.
    """

    nodes: tuple[int, ...] = (50, 100)
    budgets: tuple[int, ...] = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
    games: tuple[str, ...] = GAMES
    seeds: int = 3

    def __post_init__(self) -> None:
        unknown = sorted(set(self.games) - set(GAMES))
        if unknown:
            raise ScorerError(f"unknown game {', '.join(unknown)}; choose from {', '.join(GAMES)}")
        if not self.nodes or min(self.nodes) < 2:
            raise ScorerError(f"nodes must be at least 2, got {list(self.nodes)}")
        if not self.budgets or min(self.budgets) < 2:
            raise ScorerError(f"budgets must be at least 2 evaluations, got {list(self.budgets)}")
        if self.seeds < 1:
            raise ScorerError(f"seeds must be at least 1, got {self.seeds}")


def make_game(name: str, n: int, seed: int) -> tuple[Utility, dict[int, float]]:
    """The game ``name`` with ``n`` participants and its exact Shapley values."""
    if name == "additive":
        rng = np.random.default_rng(seed)
        weights = rng.lognormal(sigma=0.5, size=n)
        weights[rng.permutation(n)[: n // 10]] = 0.0  # free riders
        weights[rng.permutation(n)[: max(1, n // 20)]] *= -1.0  # harmful
        weights *= 0.4 / weights.sum()
        values = {i: float(w) for i, w in enumerate(weights)}
        return additive_game(values, base=0.5), values
    game = WeightedMajorityGame.random(n, seed=seed)
    return game, game.shapley_values()


def run_scoring_bench(config: ScoringBenchConfig, progress: Callable[[str], None] | None = None) -> dict[str, object]:
    """Every (game, N, budget, seed); returns the JSON document (module docstring)."""
    report = progress or (lambda message: None)
    runs: list[dict[str, object]] = []
    summary: dict[str, dict[str, object]] = {}
    for game_name in config.games:
        for n in config.nodes:
            games = [make_game(game_name, n, seed) for seed in range(config.seeds)]
            per_budget: dict[int, list[dict[str, object]]] = {}
            for budget in sorted(config.budgets):
                report(f"{game_name}, N = {n}, budget {budget:,}")
                per_budget[budget] = [
                    _one_run(game_name, n, budget, seed, utility, exact) for seed, (utility, exact) in enumerate(games)
                ]
                runs += per_budget[budget]
            summary[f"{game_name}/N={n}"] = _summarize(per_budget)
    return {"config": asdict(config), "target_pearson": TARGET_PEARSON, "runs": runs, "summary": summary}


def _one_run(game: str, n: int, budget: int, seed: int, utility: Utility, exact: dict[int, float]) -> dict[str, object]:
    start = time.perf_counter()
    record: dict[str, object] = {"game": game, "nodes": n, "budget": budget, "seed": seed}
    try:
        result = GtgShapley(max_evaluations=budget).score(list(range(n)), utility, rng=np.random.default_rng(seed))
    except ScorerError:
        record.update(status="below_one_permutation", seconds=time.perf_counter() - start)
        return record
    match = agreement(result.values, exact)
    record.update(
        status="scored" if result.complete else "below_one_cycle", pearson=match.pearson, spearman=match.spearman,
        rel_l2=match.rel_l2, evaluations=result.evaluations, permutations=result.permutations,
        converged=result.converged, seconds=time.perf_counter() - start,
    )
    return record


def _summarize(per_budget: dict[int, Sequence[dict[str, object]]]) -> dict[str, object]:
    rows: dict[str, dict[str, object]] = {}
    needed = needed_full_cycle = None
    for budget, runs in sorted(per_budget.items()):
        if any(r["status"] == "below_one_permutation" for r in runs):
            rows[str(budget)] = {"status": "below_one_permutation"}
            continue
        full_cycle = all(r["status"] == "scored" for r in runs)
        pearsons = [float(r["pearson"]) for r in runs]  # type: ignore[arg-type]
        rows[str(budget)] = {
            "pearson_mean": float(np.mean(pearsons)),
            "pearson_min": float(np.min(pearsons)),
            "evaluations_mean": float(np.mean([r["evaluations"] for r in runs])),  # type: ignore[misc]
            "permutations_mean": float(np.mean([r["permutations"] for r in runs])),  # type: ignore[misc]
            "seconds_mean": float(np.mean([r["seconds"] for r in runs])),  # type: ignore[misc]
        }
        if not full_cycle:
            rows[str(budget)]["status"] = "below_one_cycle"
        if min(pearsons) >= TARGET_PEARSON:
            if needed is None:
                needed = budget
            if full_cycle and needed_full_cycle is None:
                needed_full_cycle = budget
    return {"by_budget": rows, "budget_for_pearson_095": needed, "budget_for_pearson_095_full_cycle": needed_full_cycle}
