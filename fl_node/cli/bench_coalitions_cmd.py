"""`fedledger bench coalitions`: milliseconds per coalition evaluation of the round's scorer, incremental sums against from-scratch sums."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import JsonOption, bench_app, console, int_list, write_json
from fl_node.coalition_bench import CoalitionBenchConfig, run_coalition_bench


@bench_app.command("coalitions")
def bench_coalitions(
    nodes: str = typer.Option("10,100", "--nodes", help="Comma-separated participant counts N."),
    params: int = typer.Option(100_000, "--params", help="Model size P (parameters)."),
    evaluations: int = typer.Option(2_000, "--evaluations", help="GTG evaluation budget per N."),
    seed: int = typer.Option(0, "--seed"),
    json_path: Path | None = JsonOption,
) -> None:
    """Cost of one coalition evaluation (its model from the opened updates, and a validation pass) along GTG's walks."""
    config = CoalitionBenchConfig(nodes=int_list(nodes, "--nodes"), params=params, evaluations=evaluations, seed=seed)
    load = list(os.getloadavg())
    with console.status("coalition benchmark") as status:
        result = run_coalition_bench(config, progress=lambda message: status.update(message))
    result["load_average"] = {"start": load, "end": list(os.getloadavg())}
    write_json(json_path, result)
    table = Table(title="ms per coalition evaluation (wall / CPU)")
    for column in ("N", "P", "evals", "incremental", "build + validation", "from scratch", "same scores"):
        table.add_column(column, justify="right")
    for row in result["results"]:
        inc, old = row["incremental"], row["from_scratch"]
        table.add_row(
            str(row["nodes"]), f"{row['params']:,}", str(inc["evaluations"]),
            f"{inc['ms_per_evaluation']:.2f} / {inc['cpu_ms_per_evaluation']:.2f}",
            f"{inc['build_ms_per_evaluation']:.2f} + {inc['validation_ms_per_evaluation']:.2f}",
            f"{old['ms_per_evaluation']:.2f} / {old['cpu_ms_per_evaluation']:.2f}", str(row["same_scores"]),
        )
    console.print(table)
