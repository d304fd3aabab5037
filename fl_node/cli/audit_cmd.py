"""`fedledger audit`: verify a federation from its ledger and artifact store (and the key holder's key)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.table import Table

from fl_node.artifacts import ArtifactStore
from fl_node.cli.app import EXIT_CHECK_FAILED, BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, RpcOption, open_chain
from fl_node.cli.key_options import KeyPassphraseFileOption, key_passphrase
from fl_node.crypto.keys import load_private_key
from fl_node.ledger_audit import audit_ledger
from incentive.audit import AuditReport
from incentive.ledger import LedgerClient


def print_audit(report: AuditReport, tasks: Sequence[str] | None = None) -> None:
    """The audit as a table of checks (with ``tasks``, a first column naming each check's task)."""
    table = Table(title="audit: " + ("all checks hold" if report.ok else "FAILED"))
    if tasks is not None:
        table.add_column("task")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for k, c in enumerate(report.checks):
        result = "[yellow]skipped[/yellow]" if c.skipped else "[green]ok[/green]" if c.ok else "[red]FAILED[/red]"
        table.add_row(*([tasks[k]] if tasks is not None else []), c.name, result, c.detail)
    console.print(table)


@app.command("audit")
def audit_command(
    ledger_address: str = typer.Option(..., "--ledger", help="Address of the FederationLedger.", metavar="ADDR"),
    artifacts: Path = typer.Option(..., "--artifacts", help="The federation's artifact store (folder).", file_okay=False),
    key: Path | None = typer.Option(
        None, "--key", help="The key holder's Paillier private key: recompute aggregation and scores of its task.", dir_okay=False
    ),
    key_passphrase_file: Path | None = KeyPassphraseFileOption,
    task: int | None = typer.Option(None, "--task", help="Audit only this task (default: every task on the ledger)."),
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Check every commitment, model, performance figure, score, reward and token balance of every task on a ledger."""
    start = time.perf_counter()
    if not artifacts.is_dir():
        raise BadInput(f"artifact store {artifacts} is not a folder")
    private_key = load_private_key(key, passphrase=key_passphrase(key_passphrase_file)) if key is not None else None
    ledger = LedgerClient.at(open_chain(rpc, chain_id), ledger_address)
    count = ledger.task_count()
    if task is not None and not 1 <= task <= count:
        raise BadInput(f"the ledger at {ledger.address} has tasks 1..{count}, not {task}")
    tasks = [task] if task is not None else list(range(1, count + 1))
    with console.status(f"auditing {'task ' + str(task) if task else f'{count} tasks'} of {ledger.address}"):
        audit = audit_ledger(ledger, ArtifactStore(artifacts), tasks, private_key)
    print_audit(audit.report(), [c.task for c in audit.checks])
    write_json(
        json_path,
        {"ledger": ledger.address, "task_id": task, **audit.to_json(), "elapsed_s": time.perf_counter() - start},
    )
    if not audit.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)
