"""`fedledger audit`: verify a federation from its ledger and artifact store (and the key holder's key)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from fl_node.artifacts import ArtifactStore
from fl_node.cli.app import EXIT_CHECK_FAILED, BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, RpcOption, open_chain
from fl_node.cli.key_options import KeyPassphraseFileOption, key_passphrase
from fl_node.crypto.keys import load_private_key
from fl_node.replay import audit_federation
from incentive.audit import AuditReport
from incentive.ledger import LedgerClient


def print_audit(report: AuditReport) -> None:
    """The audit as a table of checks."""
    table = Table(title="audit: " + ("all checks hold" if report.ok else "FAILED"))
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for c in report.checks:
        result = "[yellow]skipped[/yellow]" if c.skipped else "[green]ok[/green]" if c.ok else "[red]FAILED[/red]"
        table.add_row(c.name, result, c.detail)
    console.print(table)


@app.command("audit")
def audit_command(
    ledger_address: str = typer.Option(..., "--ledger", help="Address of the FederationLedger.", metavar="ADDR"),
    artifacts: Path = typer.Option(..., "--artifacts", help="The federation's artifact store (folder).", file_okay=False),
    key: Path | None = typer.Option(
        None, "--key", help="The key holder's Paillier private key: recompute aggregation and scores.", dir_okay=False
    ),
    key_passphrase_file: Path | None = KeyPassphraseFileOption,
    task: int | None = typer.Option(None, "--task", help="Task id (default: the latest task)."),
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Check every commitment, model, performance figure, score, reward and token balance of a federation."""
    start = time.perf_counter()
    if not artifacts.is_dir():
        raise BadInput(f"artifact store {artifacts} is not a folder")
    private_key = load_private_key(key, passphrase=key_passphrase(key_passphrase_file)) if key is not None else None
    ledger = LedgerClient.at(open_chain(rpc, chain_id), ledger_address)
    task_id = ledger.task_count() if task is None else task
    if not 1 <= task_id <= ledger.task_count():
        raise BadInput(f"the ledger at {ledger.address} has tasks 1..{ledger.task_count()}, not {task_id}")
    with console.status(f"auditing task {task_id} of {ledger.address}"):
        report = audit_federation(ledger, ArtifactStore(artifacts), task_id, private_key)
    print_audit(report)
    write_json(
        json_path,
        {"ledger": ledger.address, "task_id": task_id, **report.to_json(), "elapsed_s": time.perf_counter() - start},
    )
    if not report.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)
