"""`fedledger bench hetero-lr`: seconds per hetero-LR iteration on breast_cancer, all aligned rows as one batch."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.vfl.bench import bench_hetero_lr


@bench_app.command("hetero-lr")
def bench_hetero_lr_command(
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size."),
    iterations: int = typer.Option(3, "--iterations", min=1, help="Iterations to time."),
    randomness: str = typer.Option("short", "--randomness", help="Encryption randomness: short (DJN) or full (r^n)."),
    processes: bool = typer.Option(False, "--processes", help="Parties as three processes over gRPC."),
    overlap: float = typer.Option(0.8, "--overlap", help="Share of samples both parties hold (the rows trained on)."),
    json_path: Path | None = JsonOption,
) -> None:
    """Time guest/host/arbiter iterations (encrypt, mask, decrypt, update) with one batch of all aligned rows."""
    if randomness not in ("short", "full"):
        raise BadInput(f"--randomness must be 'short' or 'full', got {randomness!r}")
    with console.status(f"{iterations} hetero-LR iterations, {key_bits}-bit key ..."):
        result = bench_hetero_lr(key_bits=key_bits, iterations=iterations, randomness=randomness, processes=processes, overlap=overlap)
    write_json(json_path, result)
    table = Table(title=f"hetero-LR, {result['rows']} aligned rows per batch, {key_bits}-bit key, {randomness} randomness, {result['transport']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("first iteration s (with set-up)", f"{result['first_iteration_s']:.3f}")
    table.add_row("steady iteration s (median)", f"{result['steady_iteration_s']:.3f}")
    table.add_row("total s", f"{result['total_seconds']:.2f}")
    console.print(table)
