"""`fedledger bench contribution`: GTG-, TMC-Shapley and leave-one-out against exact Shapley on real rounds."""

from __future__ import annotations

from pathlib import Path

import torch
import typer
from rich.table import Table

from fl_node.cli.app import JsonOption, bench_app, console, write_json
from fl_node.contribution_bench import ContributionBenchConfig, run_contribution_bench
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig


@bench_app.command("contribution")
def bench_contribution(
    nodes: int = typer.Option(10, "--nodes", help="Participants (exact Shapley needs 2^N evaluations per round)."),
    rounds: int = typer.Option(3, "--rounds", help="Federated rounds scored by every scorer."),
    dataset: str = typer.Option("breast_cancer", "--dataset", help="breast_cancer, digits or wine."),
    free_riders: int = typer.Option(2, "--free-riders", help="Nodes that send zero updates."),
    label_flippers: int = typer.Option(1, "--label-flippers", help="Nodes that train on flipped labels."),
    seed: int = typer.Option(0, "--seed"),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size."),
    encrypt: bool = typer.Option(True, "--encrypt/--no-encrypt", help="Decrypt subset sums (default) or sum plaintext."),
    utility: str = typer.Option("loss", "--utility", help="loss (negative validation loss) or accuracy."),
    gtg_budget: float = typer.Option(0.3, "--gtg-budget", help="GTG's evaluation cap as a fraction of 2^N."),
    json_path: Path | None = JsonOption,
) -> None:
    """Compare the contribution scorers with exact Shapley on the same encrypted rounds."""
    torch.set_num_threads(1)
    task = TaskConfig(
        data=DataConfig(dataset=dataset, nodes=nodes),
        custody=CustodyConfig(encrypt, key_bits),
        scoring=ScoringConfig(utility=utility),
        rounds=rounds,
        seed=seed,
    )
    config = ContributionBenchConfig(task, free_riders, label_flippers, gtg_budget)
    with console.status("scoring") as status:
        result = run_contribution_bench(config, on_step=lambda step: status.update(step))
    table = Table(title=f"contribution scorers vs exact Shapley: {nodes} nodes, {rounds} rounds, {dataset}")
    for column in ("scorer", "evaluations", "fraction of exact", "seconds", "pearson", "rel L2", "spearman"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for label, entry in result["scorers"].items():
        table.add_row(
            label,
            str(entry["evaluations"]),
            f"{entry['evaluation_fraction']:.1%}",
            f"{entry['seconds']:.1f}",
            *(f"{entry[k]:.3f}" if k in entry else "" for k in ("pearson", "rel_l2", "spearman")),
        )
    console.print(table)
    write_json(json_path, result)
