"""`fedledger bench gas`: gas of join, commit and one-transaction finalize on the embedded chain."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from fl_node.cli.app import JsonOption, bench_app, console, write_json
from incentive.gasbench import DEFAULT_SIZES, run_gas_bench


@bench_app.command("gas")
def bench_gas(json_path: Path | None = JsonOption) -> None:
    """Finalize rounds of 10, 50 and 100 participants, eagerly and with Merkle scores; report the gas per participant."""
    with console.status("deploying two ledgers, joining 100 members to each, finalizing rounds of 10, 50 and 100 ..."):
        figures = run_gas_bench(DEFAULT_SIZES)
    write_json(json_path, figures.as_json())
    table = Table(title="FederationLedger gas (embedded chain; identical on anvil)")
    table.add_column("transaction")
    table.add_column("gas", justify="right")
    for size, gas in figures.finalize_gas.items():
        table.add_row(f"finalize, {size} participants (one transaction)", f"{gas:,}")
    table.add_row("finalize, marginal per participant", f"{figures.per_participant_gas:,}")
    table.add_row("commit (median)", f"{figures.commit_gas:,}")
    table.add_row("join with stake (median)", f"{figures.join_gas:,}")
    table.add_row("record one decryption (own transaction)", f"{figures.record_decryption_gas:,}")
    table.add_row("record a decryption, marginal in a batch", f"{figures.per_decryption_gas:,}")
    for size, gas in figures.merkle_finalize_gas.items():
        table.add_row(f"Merkle scores: finalize, {size} participants", f"{gas:,}")
    table.add_row("Merkle scores: finalize, marginal per participant", f"{figures.merkle_per_participant_gas:,}")
    for size, gas in figures.merkle_settle_gas.items():
        table.add_row(f"Merkle scores: settle one participant with its proof ({size})", f"{gas:,}")
    table.add_row("claim (median)", f"{figures.claim_gas:,}")
    for design, per_size in figures.round_gas_per_participant.items():
        shown = " / ".join(f"{g:,}" for g in per_size.values())
        table.add_row(f"{design}: round per participant, finalize + settlements ({' / '.join(per_size)})", shown)
    table.add_row("settlement a ledger is deployed with by default", figures.settlement)
    table.add_row("reward policy (checked against its mirror)", figures.reward_policy)
    console.print(table)
