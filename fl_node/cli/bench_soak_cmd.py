"""`fedledger bench soak`: a long federation on anvil under repeated faults, checked for anything lost."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import EXIT_CHECK_FAILED, BadInput, JsonOption, bench_app, console, write_json
from fl_node.soak import SoakConfig, SoakProgress, run_soak
from fl_node.soak_flower import ROUND_TIMEOUT_S, FlowerSoakSettings, run_flower_soak

TRANSPORTS = ("inprocess", "flower")


@bench_app.command("soak")
def bench_soak(
    rounds: int = typer.Option(100, "--rounds", help="Rounds to finalize."),
    faults: bool = typer.Option(False, "--faults/--no-faults", help="Inject one seeded fault into every opened round."),
    nodes: int = typer.Option(5, "--nodes", help="Participants."),
    min_participants: int = typer.Option(3, "--min-participants", help="Usable submissions a round needs."),
    key_bits: int = typer.Option(1024, "--key-bits", help="Paillier modulus size."),
    seed: int = typer.Option(0, "--seed", help="Seeds the task and the fault schedule."),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="Keep anvil's state, keys and artifacts here (default: a temporary folder).", file_okay=False),
    transport: str = typer.Option(
        "inprocess", "--transport",
        help="inprocess: nodes in this process; flower: a consortium of processes (SuperLink, one node process and SuperNode per hospital).",
    ),
    fault_rate: float = typer.Option(
        0.4, "--fault-rate", help="flower: share of rounds that get a fault once every kind has been injected (inprocess: every round)."
    ),
    round_timeout: float = typer.Option(
        ROUND_TIMEOUT_S, "--round-timeout", help="flower: seconds a round short of --min-participants replies waits before it is cancelled."
    ),
    json_path: Path | None = JsonOption,
) -> None:
    """Run a federation on anvil for N rounds while nodes crash, cheat and commit late, the chain fails and
    restarts and the coordinator dies (with --transport flower: SuperNodes killed, the SuperLink restarted);
    then check every round, the audit, stakes and tokens, processes left and memory."""
    if transport not in TRANSPORTS:
        raise BadInput(f"--transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    if not 0.0 <= fault_rate <= 1.0:
        raise BadInput(f"--fault-rate must be between 0 and 1, got {fault_rate}")
    if round_timeout <= 0:
        raise BadInput(f"--round-timeout must be positive, got {round_timeout}")
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
            folder = work_dir or Path(tmp)
            if transport == "flower":
                result = run_flower_soak(config, folder, FlowerSoakSettings(fault_rate=fault_rate, round_timeout_s=round_timeout), on_progress=show)
            else:
                result = run_soak(config, folder, on_progress=show)
    write_json(json_path, result)
    where = "a consortium of processes" if transport == "flower" else "anvil"
    table = Table(title=f"soak: {rounds} rounds on {where}, {'with' if faults else 'without'} faults")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("rounds finalized", result["rounds_finalized"]),
        ("rounds cancelled (each with its reason)", result["rounds_cancelled"]),
        ("rounds left open", result["rounds_open"]),
        ("faults injected", result["faults_injected"]),
        *(
            [("SuperNode / SuperLink / chain restarts", f"{result['supernode_restarts']} / {result['superlink_restarts']} / {result['chain_restarts']}"),
             ("processes left", result["processes_left"])]
            if transport == "flower"
            else [("coordinator restarts / chain restarts", f"{result['coordinator_restarts']} / {result['chain_restarts']}")]
        ),
        ("audit", "ok" if result["audit"]["ok"] else "FAILED: " + ", ".join(result["audit"]["failed"])),
        ("stakes and tokens balance", "ok" if result["balances_ok"] else "NO"),
        (
            ("RSS MiB of all long-lived processes: start → round min(10, N) → end", f"{result['rss_mb']['start']} → {result['rss_mb']['round_10']} → {result['rss_mb']['end']}")
            if transport == "flower"
            else ("RSS MiB after round min(10, N) → end", f"{result['rss_mb']['start']} → {result['rss_mb']['end']}")
        ),
        ("seconds", result["seconds"]),
    ):
        table.add_row(label, str(value))
    console.print(table)
    if not result["ok"]:
        raise typer.Exit(EXIT_CHECK_FAILED)
