"""`fedledger bench robustness`: final accuracy under attack, by attacker fraction and defence."""

from __future__ import annotations

from pathlib import Path

import torch
import typer
from rich.progress import Progress
from rich.table import Table

from fl_node.behaviours import ATTACKS
from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.crypto.keys import generate_keypair
from fl_node.data import load_dataset
from fl_node.plots import plot_robustness
from fl_node.robustness import DEFENCES, runs_needed, sweep


def _names(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in allowed]
    if not names or unknown:
        raise BadInput(f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {', '.join(allowed)}")
    return names


@bench_app.command("robustness")
def bench_robustness(
    datasets: str = typer.Option("breast_cancer,digits", "--datasets", help="Comma-separated datasets."),
    attacks: str = typer.Option(",".join(ATTACKS), "--attacks", help=f"Comma-separated, from {', '.join(ATTACKS)}."),
    fractions: str = typer.Option("0,0.1,0.2,0.3,0.4", "--fractions", help="Attacker fractions in [0, 0.5)."),
    defences: str = typer.Option(
        "fedavg,gated,fedmedian,fedtrimmedavg,krum", "--defences", help=f"Comma-separated, from {', '.join(DEFENCES)}."
    ),
    seeds: int = typer.Option(3, "--seeds", help="Seeds 0..K-1 per cell."),
    rounds: int = typer.Option(10, "--rounds"),
    key_bits: int = typer.Option(1024, "--key-bits", help="Paillier modulus of fedavg-encrypted."),
    plot: Path | None = typer.Option(None, "--plot", help="PNG of accuracy against attacker fraction.", dir_okay=False),
    json_path: Path | None = JsonOption,
) -> None:
    """Every dataset × attack × fraction × defence over seeds: 10 nodes, Dirichlet 0.5, MLP(32), scaled attack ×10."""
    names = [d.strip() for d in datasets.split(",") if d.strip()]
    attack_list = _names(attacks, ATTACKS, "attack")
    defence_list = _names(defences, DEFENCES, "defence")
    try:
        fraction_list = sorted({float(f) for f in fractions.split(",") if f.strip()})
    except ValueError as exc:
        raise BadInput(f"--fractions: {exc}") from exc
    if not names or not fraction_list or seeds < 1 or rounds < 1 or not all(0 <= f < 0.5 for f in fraction_list):
        raise BadInput("give datasets, fractions in [0, 0.5), at least one seed and one round")
    data = {name: load_dataset(name) for name in names}
    keypair = generate_keypair(key_bits) if "fedavg-encrypted" in defence_list else None
    torch.set_num_threads(1)
    total = runs_needed(len(names), len(attack_list), fraction_list, len(defence_list), seeds)
    with Progress(console=console) as progress:
        bar = progress.add_task("federations", total=total)
        rows = sweep(data, attack_list, fraction_list, defence_list, seeds, rounds, keypair, lambda: progress.advance(bar))
    payload = [r.to_json() for r in rows]
    table = Table(title=f"final test accuracy (%), mean of {seeds} seeds, {rounds} rounds")
    for column in ("dataset", "attack", "fraction", *defence_list):
        table.add_column(column)
    for name in names:
        for attack in attack_list:
            for fraction in fraction_list:
                cells = {r.defence: r.accuracy for r in rows if (r.dataset, r.attack, r.fraction) == (name, attack, fraction)}
                table.add_row(name, attack, f"{fraction:.0%}", *(f"{100 * cells[d]:.1f}" for d in defence_list))
    console.print(table)
    if plot is not None:
        plot_robustness(plot, payload)
    write_json(json_path, {"rounds": rounds, "nodes": 10, "partition": "dirichlet:0.5", "scale": 10.0, "rows": payload})
