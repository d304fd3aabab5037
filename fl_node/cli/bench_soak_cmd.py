"""`fedledger bench soak`: a long federation on anvil under repeated faults, checked for anything lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import EXIT_CHECK_FAILED, JsonOption, bench_app, console, write_json
from fl_node.soak import SoakConfig, SoakProgress, run_soak


@bench_app.command("soak")
def bench_soak(
    rounds: int = typer.Option(100, "--rounds", help="Rounds to finalize."),
    faults: bool = typer.Option(False, "--faults/--no-faults", help="Inject one seeded fault into every opened round."),
    nodes: int = typer.Option(5, "--nodes", help="Participants."),
    min_participants: int = typer.Option(3, "--min-participants", help="Usable submissions a round needs."),
    key_bits: int = typer.Option(1024, "--key-bits", help="Paillier modulus size."),
    seed: int = typer.Option(0, "--seed", help="Seeds the task and the fault schedule."),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="Keep anvil's state, keys and artifacts here (default: a temporary folder).", file_okay=False),
    json_path: Path | None = JsonOption,
) -> None:
    """Run a federation on anvil for N rounds while nodes crash, cheat and commit late, the chain fails and
    restarts and the coordinator dies; then check every round, the audit, stakes and tokens, and memory."""
    torch.set_num_threads(1)
    config = SoakConfig(rounds=rounds, faults=faults, nodes=nodes, min_participants=min_participants, key_bits=key_bits, seed=seed)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(), console=console,
    ) as progress:
        bar = progress.add_task("rounds finalized", total=rounds, status="")

        def show(p: SoakProgress) -> None:
            status = f"{p.cancelled} cancelled, {p.faults} faults, {p.recoveries} coordinator restarts"
            progress.update(bar, completed=p.finalized, status=status)

        with tempfile.TemporaryDirectory(prefix="fedledger-soak-") as tmp:
            result = run_soak(config, work_dir or Path(tmp), on_progress=show)
    write_json(json_path, result)
    table = Table(title=f"soak: {rounds} rounds on anvil, {'with' if faults else 'without'} faults")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("rounds finalized", result["rounds_finalized"]),
        ("rounds cancelled (each with its reason)", result["rounds_cancelled"]),
        ("rounds left open", result["rounds_open"]),
        ("faults injected", result["faults_injected"]),
        ("coordinator restarts / chain restarts", f"{result['coordinator_restarts']} / {result['chain_restarts']}"),
        ("audit", "ok" if result["audit"]["ok"] else "FAILED: " + ", ".join(result["audit"]["failed"])),
        ("stakes and tokens balance", "ok" if result["balances_ok"] else "NO"),
        ("RSS MiB after round min(10, N) → end", f"{result['rss_mb']['start']} → {result['rss_mb']['end']}"),
        ("seconds", result["seconds"]),
    ):
        table.add_row(label, str(value))
    console.print(table)
    if not result["ok"]:
        raise typer.Exit(EXIT_CHECK_FAILED)
