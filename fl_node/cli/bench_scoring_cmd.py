"""`fedledger bench scoring`: GTG-Shapley at N = 50/100 under an evaluation budget, against exact values of synthetic games."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import JsonOption, bench_app, console, int_list, write_json
from incentive.scoring_bench import ScoringBenchConfig, run_scoring_bench


@bench_app.command("scoring")
def bench_scoring(
    nodes: str = typer.Option("50,100", "--nodes", help="Comma-separated participant counts."),
    budgets: str = typer.Option("1000,2000,5000,10000,20000,50000", "--budgets", help="Comma-separated GTG evaluation budgets per round."),
    games: str = typer.Option("additive,weighted_majority", "--games", help="additive and/or weighted_majority."),
    seeds: int = typer.Option(3, "--seeds", help="Games per (game, N)."),
    json_path: Path | None = JsonOption,
) -> None:
    """GTG-Shapley's agreement with exact Shapley values at many participants, per evaluation budget."""
    config = ScoringBenchConfig(
        nodes=int_list(nodes, "--nodes"), budgets=int_list(budgets, "--budgets"),
        games=tuple(g.strip() for g in games.split(",") if g.strip()), seeds=seeds,
    )
    with console.status("scoring benchmark") as status:
        result = run_scoring_bench(config, progress=lambda message: status.update(message))
    write_json(json_path, result)
    table = Table(title=f"GTG-Shapley vs exact Shapley, {seeds} seeds: Pearson mean (min) per budget")
    table.add_column("game / N")
    for budget in sorted(config.budgets):
        table.add_column(f"{budget:,}", justify="right")
    table.add_column("budget for ≥ 0.95", justify="right")
    for key, entry in result["summary"].items():  # type: ignore[union-attr]
        cells = []
        for budget in sorted(config.budgets):
            row = entry["by_budget"][str(budget)]
            if row.get("status") == "below_one_permutation":
                cells.append("< 1 permutation")
            else:
                partial = f", {row['permutations_mean']:.0f} perm." if row.get("status") == "below_one_cycle" else ""
                cells.append(f"{row['pearson_mean']:.3f} ({row['pearson_min']:.3f}){partial}")
        needed = entry["budget_for_pearson_095"]
        table.add_row(key, *cells, "not reached" if needed is None else f"{needed:,}")
    console.print(table)
