"""`fedledger bench explorer`: first render of every explorer page on the demo's ledger and on a large ledger."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.explorer.bench import ExplorerBenchConfig, run_explorer_bench


@bench_app.command("explorer")
def bench_explorer(
    demo_nodes: int = typer.Option(5, "--demo-nodes", help="Nodes of the demo ledger."),
    demo_rounds: int = typer.Option(8, "--demo-rounds", help="Rounds of the demo ledger."),
    key_bits: int = typer.Option(2048, "--key-bits", help="The demo's Paillier modulus size."),
    rounds: int = typer.Option(200, "--rounds", help="Rounds of the large ledger."),
    participants: int = typer.Option(50, "--participants", help="Participants per round of the large ledger."),
    json_path: Path | None = JsonOption,
) -> None:
    """Time the index and each page's first render (overview, members, task, round, audit) on two ledgers."""
    if min(demo_nodes, demo_rounds, rounds) < 1 or participants < 2:
        raise BadInput("--demo-nodes, --demo-rounds and --rounds must be at least 1, --participants at least 2")
    config = ExplorerBenchConfig(demo_nodes, demo_rounds, key_bits, rounds, participants)
    with console.status("explorer benchmark") as status:
        figures = run_explorer_bench(config, progress=lambda message: status.update(message))
    write_json(json_path, figures)
    table = Table(title="explorer: index and first render of each page (s), over HTTP on 127.0.0.1")
    table.add_column("ledger", no_wrap=True)
    table.add_column("blocks", justify="right")
    table.add_column("events", justify="right")
    table.add_column("index", justify="right")
    pages = list(figures["demo"]["render_s"])
    for page in pages:
        table.add_column(page, justify="right")
    for name, label in (("demo", f"demo: {demo_nodes} nodes, {demo_rounds} rounds"), ("large", f"{rounds} rounds × {participants}")):
        f = figures[name]
        table.add_row(label, str(f["blocks"]), str(f["events"]), f"{f['index_s']:.2f}", *(f"{f['render_s'][p]:.3f}" for p in pages))
    console.print(table)
    console.print(
        f"targets: every page under {figures['targets_s']['demo']} s (demo) and {figures['targets_s']['large']} s (large): "
        + ("met" if figures["within_targets"] else "[red]missed[/red]")
    )
