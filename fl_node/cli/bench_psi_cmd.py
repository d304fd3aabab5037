"""`fedledger bench psi`: two-party ECDH PSI of two N-ID sets with 50% overlap."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import JsonOption, bench_app, console, write_json
from fl_node.vfl.bench import bench_psi


@bench_app.command("psi")
def bench_psi_command(
    ids: int = typer.Option(100_000, "--ids", min=0, help="IDs per party (N)."),
    overlap: float = typer.Option(0.5, "--overlap", min=0.0, max=1.0, help="Share of each set the other party holds too."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Threads per party; default every core."),
    seed: int = typer.Option(0, "--seed", help="Seeds the IDs."),
    json_path: Path | None = JsonOption,
) -> None:
    """Run guest and host PSI in process on N IDs each; check the intersection against the plaintext one."""
    with console.status(f"PSI of {ids:,} × {ids:,} IDs ..."):
        result = bench_psi(ids, overlap=overlap, workers=workers, seed=seed)
    write_json(json_path, result)
    table = Table(title=f"ECDH PSI (secp256k1), {ids:,} × {ids:,} IDs, {result['workers']} threads per party")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("seconds (both parties, wall clock)", f"{result['seconds']:.2f}")
    table.add_row("CPU seconds (both parties)", f"{result['cpu_seconds']:.2f}")
    table.add_row("IDs per second (N / seconds)", f"{result['ids_per_s']:,.0f}")
    table.add_row("intersection size", f"{result['intersection_size']:,}")
    table.add_row("intersection exactly right", "yes" if result["intersection_correct"] else "NO")
    table.add_row("bytes exchanged", f"{result['bytes_exchanged']:,}")
    console.print(table)
