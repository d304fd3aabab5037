"""`fedledger bench dp`: accuracy of client-level (or, with ``--dp-sgd``, record-level) differential privacy at several budgets ε, beside non-private FL."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import typer
from rich.progress import Progress
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.data import load_dataset
from fl_node.errors import FlNodeError
from fl_node.plots import plot_privacy
from fl_node.simulation import SimulationConfig, default_train_task, run_seed
from fl_node.task import CustodyConfig, DataConfig, ModelChoice, PrivacyConfig
from fl_node.training import TrainConfig


def _finite_or_name(value: float) -> float | str:
    """JSON has no infinity: no DP is written as ``"inf"``."""
    return value if math.isfinite(value) else "inf"


@bench_app.command("dp")
def bench_dp(
    epsilons: str = typer.Option("1,3,8,inf", "--epsilons", help="Budgets over all rounds; inf: no DP."),
    delta: float = typer.Option(1e-5, "--delta"),
    dataset: str = typer.Option("breast_cancer", "--dataset"),
    nodes: int = typer.Option(10, "--nodes"),
    partition: str = typer.Option("dirichlet:0.5", "--partition"),
    model: str = typer.Option("logreg", "--model", help="logreg or mlp."),
    hidden: int = typer.Option(16, "--hidden", help="MLP width."),
    rounds: int = typer.Option(5, "--rounds", help="Fewer rounds compose fewer noisy sums: less noise for the same ε."),
    epochs: int = typer.Option(10, "--epochs", help="Local epochs per round."),
    clip: float = typer.Option(0.3, "--clip", help="L2 bound of each node's update."),
    dp_sgd: bool = typer.Option(False, "--dp-sgd", help="Budgets are each node's record-level ε: the nodes train by DP-SGD (Opacus) instead of privatizing their updates."),
    sgd_clip: float = typer.Option(1.0, "--sgd-clip", help="L2 bound of each record's gradient under --dp-sgd."),
    seeds: int = typer.Option(3, "--seeds", help="Seeds 0..K-1."),
    plot: Path | None = typer.Option(None, "--plot", help="PNG of accuracy against ε.", dir_okay=False),
    json_path: Path | None = JsonOption,
) -> None:
    """Plaintext federations with client-level DP (clip, equal weights, distributed Gaussian noise, Opacus RDP accountant) or DP-SGD at each ε."""
    try:
        budgets = [float(e) for e in epsilons.split(",") if e.strip()]
    except ValueError as exc:
        raise BadInput(f"--epsilons: {exc}") from exc
    if not budgets or any(not e > 0 for e in budgets) or seeds < 1 or rounds < 1 or epochs < 1:
        raise BadInput("give positive budgets (inf for no DP), at least one seed, one round and one local epoch")
    if not sgd_clip > 0:
        raise BadInput(f"--sgd-clip must be positive, got {sgd_clip}")
    level = "record" if dp_sgd else "client"
    base = default_train_task()
    base = replace(
        base,
        data=DataConfig(dataset=dataset, partition=partition, nodes=nodes),
        model=ModelChoice(name=model, hidden=hidden),
        custody=CustodyConfig(encrypt=False),
        training=TrainConfig(epochs=epochs),
        rounds=rounds,
    )
    data = load_dataset(dataset)
    torch.set_num_threads(1)
    rows = []
    with Progress(console=console) as progress:
        bar = progress.add_task("federations", total=len(budgets) * seeds)
        for epsilon in budgets:
            budget = 0.0 if math.isinf(epsilon) else epsilon
            privacy = PrivacyConfig(delta=delta, clip=clip, sgd_clip=sgd_clip, **{"sgd_epsilon" if dp_sgd else "epsilon": budget})
            task = replace(base, privacy=privacy)
            results = []
            for seed in range(seeds):
                try:
                    results.append(run_seed(SimulationConfig(task=task), data, seed))
                except FlNodeError as exc:
                    raise BadInput(str(exc)) from exc
                progress.advance(bar)
            rows.append({
                "epsilon": _finite_or_name(epsilon),
                "delta": delta,
                "accuracy": float(np.mean([r.final_accuracy for r in results])),
                "per_seed": [r.final_accuracy for r in results],
                "epsilon_spent": _finite_or_name(float(np.max([r.record_epsilon_spent if dp_sgd else r.epsilon_spent for r in results]))),
                "centralized_accuracy": float(np.mean([r.centralized_accuracy for r in results])),
            })
    table = Table(
        title=f"{level}-level DP: {dataset}, {nodes} nodes, {partition}, {model}, {rounds} rounds of {epochs} local epochs, "
        f"clip {sgd_clip if dp_sgd else clip}{' per record' if dp_sgd else ''}, δ = {delta:g}"
    )
    for column in ("ε", "ε spent (RDP)", "federated accuracy", "centralized, no DP"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["epsilon"]), f"{float(r['epsilon_spent']):.3f}", f"{100 * r['accuracy']:.1f}", f"{100 * r['centralized_accuracy']:.1f}"
        )
    console.print(table)
    if plot is not None:
        plot_privacy(plot, rows, title=f"{level}-level DP on {dataset} ({nodes} nodes, {partition})", level=level)
    write_json(json_path, {
        "dataset": dataset, "nodes": nodes, "partition": partition, "model": model, "rounds": rounds, "epochs": epochs,
        "clip": clip, "seeds": seeds, "rows": rows, "level": level, "sgd_clip": sgd_clip if dp_sgd else None,
    })
