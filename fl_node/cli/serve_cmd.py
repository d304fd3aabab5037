"""`fedledger serve`: the aggregator side of a consortium, on a Flower SuperLink."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, app, console, poll_interval_flag, write_json
from fl_node.cli.chain_cmd import ChainIdOption, open_chain
from fl_node.cli.task_cmd import refuse_task_flags
from fl_node.transport.deployment import DEFAULT_POLL_INTERVAL_S
from incentive.cohort import MIN_COHORT

if TYPE_CHECKING:
    from fl_node.task import TaskConfig
    from fl_node.transport.admission import MemberKeys


def _admit(admission: MemberKeys, node_keys: Path) -> None:
    """Register the offered keys of active members, withdraw the others; say what changed."""
    change = admission.refresh(sorted(node_keys.glob("*.pub")))
    for path in change.registered:
        console.print(f"admitted the SuperNode key {path}")
    for path in change.withdrawn:
        console.print(f"withdrew the SuperNode key {path}: its member is no longer active")
    for path in change.strangers:
        console.print(f"[yellow]not admitted[/yellow]: {path} is no active member's node key")


#: Options that define a new task, refused beside a task file (the file holds them).
TASK_FLAGS = ("rounds", "nodes", "label", "id_columns", "drop", "min_participants", "key_bits", "seed")


def _task_option(ctx: typer.Context, task: str) -> tuple[int, TaskConfig | None]:
    """``--task``: a task ID (digits) to run or resume, or a task file of a new task."""
    from fl_node.task_file import load_task_file

    if not task or task.isdigit():
        return int(task or 0), None
    refuse_task_flags(ctx, TASK_FLAGS)
    return 0, load_task_file(task)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the consortium's chain."),
    ledger: str = typer.Option(..., "--ledger", help="FederationLedger address."),
    aggregator_key: Path = typer.Option(..., "--aggregator-key", help="Key file of the account with AGGREGATOR_ROLE.", dir_okay=False),
    evaluator_key: Path = typer.Option(..., "--evaluator-key", help="Key file of the account with EVALUATOR_ROLE.", dir_okay=False),
    admin_key: Path | None = typer.Option(None, "--admin-key", help="Ledger admin's key file (to create the task).", dir_okay=False),
    task: str = typer.Option(
        "", "--task", help="Task file of a new task (`fedledger task init`), or the ID of a task to run or resume (default: the work folder's task, else a new one)."
    ),
    rounds: int = typer.Option(3, "--rounds", help="Rounds the task should have finalized on chain at the end."),
    nodes: int = typer.Option(3, "--nodes", help="SuperNodes to wait for before the first round."),
    validation: Path | None = typer.Option(None, "--validation", help="The evaluator's validation CSV (to create the task).", dir_okay=False),
    label: str = typer.Option("label", "--label", help="Label column of --validation."),
    id_columns: list[str] = typer.Option([], "--id-column", help="A column of --validation that identifies records, not a feature (repeatable)."),
    drop: list[str] = typer.Option([], "--drop", help="A column of --validation to leave out of the features (repeatable)."),
    min_participants: int = typer.Option(MIN_COHORT, "--min-participants", help="Usable submissions a round needs (at least 3)."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size of a new task."),
    seed: int = typer.Option(0, "--seed", help="Seeds the initial model and the scorer of a new task."),
    superlink: str | None = typer.Option(None, "--superlink", help="Use this running SuperLink, HOST:PORT (default: start one)."),
    port: int = typer.Option(9092, "--port", help="Port of the SuperLink this command starts (loopback; see --address)."),
    address: str | None = typer.Option(None, "--address", help="HOST:PORT the SuperLink this command starts listens on (default: 127.0.0.1:--port)."),
    certs: Path | None = typer.Option(None, "--certs", help="Folder from `fedledger consortium certs`: TLS and SuperNode authentication on.", file_okay=False),
    node_keys: Path | None = typer.Option(
        None, "--node-keys", help="Folder of the nodes' authentication public keys (*.pub); only active members' keys are admitted.", file_okay=False
    ),
    insecure: bool = typer.Option(False, "--insecure", help="Plaintext, no node authentication (only on 127.0.0.0/8)."),
    work_dir: Path = typer.Option(Path(".fedledger-serve"), "--work-dir", help="App project, Flower home, status, artifacts, keys.", file_okay=False),
    timeout_s: float = typer.Option(3600.0, "--timeout", help="Seconds to wait for the run to finish."),
    custody_key: Path | None = typer.Option(
        None, "--custody-key", help="Threshold custody: a share file of the custodians' key (public part only); the nodes holding the shares (`node join --key-share`) decrypt.", dir_okay=False
    ),
    poll_interval: float = typer.Option(
        DEFAULT_POLL_INTERVAL_S, "--poll-interval",
        help="How often (s) the ServerApp pulls the nodes' replies; also the longest wait of its Flower Grid (Flower hard-codes 1 s back-offs and 3 s).",
    ),
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Start (or connect to) a Flower SuperLink and run the federation: each round finalized on the ledger."""
    from fl_node.errors import FlowerRunFailed
    from fl_node.task import CustodyConfig, DataConfig, TaskConfig
    from fl_node.transport.deployment import flower_env, start_superlink, submit_run, wait_run, write_app_project, write_connection
    from fl_node.transport.flower_server import ServeConfig, Status
    from fl_node.transport.processes import LOOPBACK, ProcessGroup
    from fl_node.transport.admission import MemberKeys
    from fl_node.transport.tls import CertPaths, require_plaintext_allowed, split_address
    from incentive.ledger import LedgerClient

    task_id, task_config = _task_option(ctx, task)
    if task_config is None:
        task_config = TaskConfig(
            data=DataConfig(nodes=nodes, label=label, id_columns=tuple(id_columns), drop=tuple(drop)),
            custody=CustodyConfig(key_bits=key_bits),
            rounds=rounds,
            min_participants=min_participants,
            seed=seed,
        )
    if task_config.custody.threshold_custody and custody_key is None:
        raise BadInput(f"{task} asks for threshold custody: give --custody-key (a share file of the custodians' key; only its public part is read)")
    if custody_key is not None and not custody_key.is_file():
        raise BadInput(f"--custody-key {custody_key} is not a file")
    rounds, nodes = task_config.rounds, task_config.data.nodes
    if rounds < 1 or nodes < 1:
        raise BadInput(f"--rounds and --nodes must be at least 1, got {rounds}, {nodes}")
    if not MIN_COHORT <= task_config.min_participants <= nodes:
        raise BadInput(f"--min-participants must be in {MIN_COHORT}..--nodes ({nodes}), got {task_config.min_participants}")
    poll_interval_flag(poll_interval)
    listen = address or f"{LOOPBACK}:{port}"
    host, port = split_address(listen)
    if (certs is None) == (not insecure):
        raise BadInput("give --certs DIR (TLS and node authentication) or, on 127.0.0.0/8 only, --insecure")
    if insecure:
        require_plaintext_allowed(superlink or listen)
    cert_paths = CertPaths.in_folder(certs).require_server_files() if certs is not None else None
    if cert_paths is not None and (node_keys is None or not node_keys.is_dir()):
        raise BadInput("with --certs give --node-keys DIR holding the members' authentication public keys (*.pub)")
    if chain_id is not None:
        open_chain(rpc, chain_id)  # refuse a wrong chain before starting anything; the ServerApp checks again
    work_dir = work_dir.resolve()
    status = Status(str(work_dir / "status.json"))
    if not task_id and not status.data.get("task") and (admin_key is None or validation is None):
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
        task_id=task_id,
        task=task_config,
        validation=str(validation.resolve()) if validation else "",
        custody_key=str(custody_key.resolve()) if custody_key else "",
        poll_s=poll_interval,
    )
    env = flower_env(work_dir / "flwr-home")
    write_app_project(work_dir / "app", config.to_run_config())
    with ProcessGroup() as group:
        if superlink is None:
            superlink = listen
            with console.status(f"starting a SuperLink on {superlink}"):
                start_superlink(
                    group, port, work_dir / "superlink" / "state.db", work_dir / "logs" / "superlink.log", env,
                    host=host, certs=cert_paths, auth=cert_paths is not None,
                )
        write_connection(work_dir / "flwr-home", superlink, root_cert=cert_paths.ca_cert if cert_paths else None)
        admission = None
        if cert_paths is not None:
            admission = MemberKeys(LedgerClient.at(open_chain(rpc, chain_id), ledger), env)
            _admit(admission, node_keys)
        run_id = submit_run(work_dir / "app", env)
        join = f"--root-cert {cert_paths.ca_cert}" if cert_paths else "--insecure"
        console.print(f"run {run_id} submitted to SuperLink {superlink}; nodes join with `fedledger node join --superlink {superlink} {join} …`")
        with console.status("waiting for nodes") as spinner:
            seen_rounds = [-1]

            def on_poll() -> None:
                data = Status(config.status_file).data
                done = data.get("rounds_completed", 0)
                if admission is not None and done != seen_rounds[0]:
                    seen_rounds[0] = done
                    _admit(admission, node_keys)  # members who left or were slashed are refused from the next round on
                spinner.update(f"task {data.get('task', '?')}: {done}/{rounds} rounds finalized on chain")

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
