"""`fedledger serve`: the aggregator side of a consortium, on a Flower SuperLink."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, open_chain


@app.command("serve")
def serve_command(
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the consortium's chain."),
    ledger: str = typer.Option(..., "--ledger", help="FederationLedger address."),
    aggregator_key: Path = typer.Option(..., "--aggregator-key", help="Key file of the account with AGGREGATOR_ROLE.", dir_okay=False),
    evaluator_key: Path = typer.Option(..., "--evaluator-key", help="Key file of the account with EVALUATOR_ROLE.", dir_okay=False),
    admin_key: Path | None = typer.Option(None, "--admin-key", help="Ledger admin's key file (to create the task).", dir_okay=False),
    task: int = typer.Option(0, "--task", help="Task to run or resume (default: the work folder's task, else a new one)."),
    rounds: int = typer.Option(3, "--rounds", help="Rounds the task should have finalized on chain at the end."),
    nodes: int = typer.Option(3, "--nodes", help="SuperNodes to wait for before the first round."),
    validation: Path | None = typer.Option(None, "--validation", help="The evaluator's validation CSV (to create the task).", dir_okay=False),
    label: str = typer.Option("label", "--label", help="Label column of --validation."),
    min_participants: int = typer.Option(2, "--min-participants", help="Usable submissions a round needs."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size of a new task."),
    seed: int = typer.Option(0, "--seed", help="Seeds the initial model and the scorer of a new task."),
    superlink: str | None = typer.Option(None, "--superlink", help="Use this running SuperLink, HOST:PORT (default: start one)."),
    port: int = typer.Option(9092, "--port", help="Port of the SuperLink this command starts (loopback)."),
    work_dir: Path = typer.Option(Path(".fedledger-serve"), "--work-dir", help="App project, Flower home, status, artifacts, keys.", file_okay=False),
    timeout_s: float = typer.Option(3600.0, "--timeout", help="Seconds to wait for the run to finish."),
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Start (or connect to) a Flower SuperLink and run the federation: each round finalized on the ledger."""
    from fl_node.errors import FlowerRunFailed
    from fl_node.task import CustodyConfig, DataConfig, TaskConfig
    from fl_node.transport.deployment import flower_env, start_superlink, submit_run, wait_run, write_app_project, write_connection
    from fl_node.transport.flower_server import ServeConfig, Status
    from fl_node.transport.processes import LOOPBACK, ProcessGroup

    if rounds < 1 or nodes < 1:
        raise BadInput(f"--rounds and --nodes must be at least 1, got {rounds}, {nodes}")
    if chain_id is not None:
        open_chain(rpc, chain_id)  # refuse a wrong chain before starting anything; the ServerApp checks again
    work_dir = work_dir.resolve()
    status = Status(str(work_dir / "status.json"))
    if not task and not status.data.get("task") and (admin_key is None or validation is None):
        raise BadInput("a new task needs --admin-key and --validation (or give --task ID to run an existing one)")
    config = ServeConfig(
        rpc=rpc,
        chain_id=chain_id or 0,
        ledger=ledger,
        artifacts=str(work_dir / "artifacts"),
        keys_dir=str(work_dir / "keys"),
        aggregator_key=str(aggregator_key.resolve()),
        evaluator_key=str(evaluator_key.resolve()),
        admin_key=str(admin_key.resolve()) if admin_key else "",
        status_file=str(work_dir / "status.json"),
        task_id=task,
        task=TaskConfig(
            data=DataConfig(nodes=nodes),
            custody=CustodyConfig(key_bits=key_bits),
            rounds=rounds,
            min_participants=min_participants,
            seed=seed,
        ),
        validation=str(validation.resolve()) if validation else "",
        label=label,
    )
    env = flower_env(work_dir / "flwr-home")
    write_app_project(work_dir / "app", config.to_run_config())
    with ProcessGroup() as group:
        if superlink is None:
            superlink = f"{LOOPBACK}:{port}"
            with console.status(f"starting a SuperLink on {superlink}"):
                start_superlink(group, port, work_dir / "superlink" / "state.db", work_dir / "logs" / "superlink.log", env)
        write_connection(work_dir / "flwr-home", superlink)
        run_id = submit_run(work_dir / "app", env)
        console.print(f"run {run_id} submitted to SuperLink {superlink}; nodes join with `fedledger node join --superlink {superlink} …`")
        with console.status("waiting for nodes") as spinner:

            def on_poll() -> None:
                data = Status(config.status_file).data
                spinner.update(f"task {data.get('task', '?')}: {data.get('rounds_completed', 0)}/{rounds} rounds finalized on chain")

            end = wait_run(run_id, env, timeout_s, on_poll=on_poll)
    data = Status(config.status_file).data
    if not end.ok:
        raise FlowerRunFailed(f"run {run_id} ended {end.status}: {data.get('error') or 'see ' + config.status_file.replace('.json', '.log')}")
    table = Table(title=f"task {data.get('task')} on ledger {ledger}")
    for column in ("round", "seconds", "validation accuracy", "participants", "dropped"):
        table.add_column(column)
    for r in data.get("rounds", []):
        table.add_row(str(r["round_id"]), f"{r['seconds']:.2f}", f"{r['accuracy']:.4f}", str(len(r["participants"])), str(len(r["dropped"])))
    console.print(table)
    write_json(json_path, {"run_id": run_id, "status": end.status, "seconds": end.seconds, **data})
