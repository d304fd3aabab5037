"""GTG-, TMC-Shapley and leave-one-out against exact Shapley on synthetic federated rounds.

Each game is :meth:`FederatedGame.typical` (N participants with unequal data, diminishing returns,
2 free riders, 1 harmful participant, accuracy on 143 validation samples with noise); each scorer
runs on it with several rng seeds: GTG as shipped and as in the paper (no exhaustive small
coalitions), TMC and LOO, with and without a budget of 30% of exact's evaluations. Prints (and with ``--json PATH`` writes) per scorer the mean and
worst Pearson, relative L2 and Spearman against exact, and evaluations as a share of exact's 2^N.

    python benchmarks/contribution_synthetic.py --nodes 10 --games 10 --seeds 5 --json out/contribution_synthetic.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from incentive.contribution import ExactShapley, agreement, make_scorer
from incentive.contribution.games import FederatedGame


def run(nodes: int, games: int, seeds: int) -> dict[str, object]:
    """Compare the scorers on ``games`` synthetic rounds of ``nodes`` participants, ``seeds`` runs each."""
    exhaustive = 2**nodes
    budget = int(0.3 * exhaustive)
    configurations = {
        "gtg": ("gtg", {}),
        "gtg_budget_30pct": ("gtg", {"max_evaluations": budget}),
        "gtg_paper": ("gtg", {"small_coalition_evaluations": 0}),
        "gtg_paper_budget_30pct": ("gtg", {"small_coalition_evaluations": 0, "max_evaluations": budget}),
        "tmc": ("tmc", {}),
        "tmc_budget_30pct": ("tmc", {"max_evaluations": budget}),
        "loo": ("loo", {}),
    }
    records: dict[str, list[dict[str, float]]] = {label: [] for label in configurations}
    exact_seconds = []
    for game_seed in range(games):
        game = FederatedGame.typical(nodes, seed=game_seed)
        exact = ExactShapley().score(range(nodes), game, rng=np.random.default_rng(0))
        exact_seconds.append(exact.seconds)
        for label, (name, options) in configurations.items():
            for seed in range(seeds):
                result = make_scorer(name, **options).score(range(nodes), game, rng=np.random.default_rng(seed))
                fit = agreement(result.values, exact.values)
                records[label].append(
                    {
                        "pearson": fit.pearson,
                        "rel_l2": fit.rel_l2,
                        "spearman": fit.spearman,
                        "evaluations": result.evaluations,
                        "seconds": result.seconds,
                    }
                )
    return {
        "nodes": nodes,
        "games": games,
        "seeds": seeds,
        "exact": {"evaluations": exhaustive, "seconds_mean": float(np.mean(exact_seconds))},
        "scorers": {label: _summary(rows, exhaustive) for label, rows in records.items()},
    }


def _summary(rows: list[dict[str, float]], exhaustive: int) -> dict[str, float]:
    def column(key: str) -> np.ndarray:
        return np.array([row[key] for row in rows])

    evaluations = column("evaluations")
    return {
        "pearson_mean": float(column("pearson").mean()),
        "pearson_min": float(column("pearson").min()),
        "rel_l2_mean": float(column("rel_l2").mean()),
        "rel_l2_max": float(column("rel_l2").max()),
        "spearman_mean": float(column("spearman").mean()),
        "spearman_min": float(column("spearman").min()),
        "evaluations_mean": float(evaluations.mean()),
        "evaluations_max": int(evaluations.max()),
        "evaluations_share_mean": float(evaluations.mean() / exhaustive),
        "evaluations_share_max": float(evaluations.max() / exhaustive),
        "seconds_mean": float(column("seconds").mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--games", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    payload = run(args.nodes, args.games, args.seeds)
    text = json.dumps(payload, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
