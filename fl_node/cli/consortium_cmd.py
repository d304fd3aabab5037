"""`fedledger consortium local`: a whole consortium on this machine, every party its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import EXIT_CHECK_FAILED, BadInput, JsonOption, app, console, poll_interval_flag, write_json
from fl_node.cli.audit_cmd import print_audit
from fl_node.transport.deployment import DEFAULT_POLL_INTERVAL_S, ISOLATION_MODES
from incentive.cohort import MIN_COHORT

consortium_app = typer.Typer(help="Consortium mode: node operators on Flower, against a real Ethereum node.", no_args_is_help=True)
app.add_typer(consortium_app, name="consortium")


@consortium_app.command("local")
def local_command(
    nodes: int = typer.Option(3, "--nodes", help="Hospital nodes (each its own `node join` process and SuperNode)."),
    rounds: int = typer.Option(3, "--rounds", help="Federated rounds."),
    patience: int = typer.Option(0, "--patience", min=0, help="Stop after this many rounds without a better validation metric (0: off)."),
    seed: int = typer.Option(0, "--seed", help="Seeds data splits, training, rounding and the scorer."),
    dataset: str = typer.Option("breast_cancer", "--dataset", help="breast_cancer, digits or wine."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size."),
    min_participants: int = typer.Option(MIN_COHORT, "--min-participants", help="Usable submissions a round needs (at least 3)."),
    compare: bool = typer.Option(
        True, "--compare/--no-compare", help="Also run the same federation in process (per-round overhead, same final model)."
    ),
    work_dir: Path = typer.Option(Path("out/consortium"), "--work-dir", help="Chain state, keys, data, logs, artifacts.", file_okay=False),
    hosts: str = typer.Option(
        "loopback", "--hosts", help="loopback: every party on 127.0.0.1; netns: the chain and SuperLink in one network namespace, each node in its own (root only)."
    ),
    insecure: bool = typer.Option(False, "--insecure", help="Plaintext Flower and no node authentication (loopback only)."),
    isolation: str = typer.Option(
        "process", "--isolation",
        help="process: each node runs its ClientApp in its own long-lived process; subprocess: a fresh flwr-clientapp per message.",
    ),
    key_custody: str = typer.Option(
        "single", "--key-custody", help="single (the coordinator holds the key) or threshold:T-of-N (nodes 1..N each hold a share in their `node join` process)."
    ),
    key_shares: Path | None = typer.Option(
        None, "--key-shares", help="Share files from `custody keygen` for threshold custody (default: dealt by this command).", file_okay=False
    ),
    poll_interval: float = typer.Option(
        DEFAULT_POLL_INTERVAL_S, "--poll-interval",
        help="Longest wait (s) of every Flower process between pulls: the SuperNodes (Flower hard-codes 3 s and 0.5 s), their ClientApp runners, the ServerApp.",
    ),
    json_path: Path | None = JsonOption,
) -> None:
    """Start anvil, deploy the ledger, start a SuperLink and N nodes, federate over TLS with node authentication, audit, stop everything."""
    from fl_node.consortium import ConsortiumConfig, HostPlan, run_consortium_local
    from fl_node.task import CustodyConfig, DataConfig, TaskConfig
    from fl_node.transport.netns import netns_available

    from fl_node.errors import FlNodeError

    try:
        custody = CustodyConfig.parse(key_custody, key_bits=key_bits)
    except FlNodeError as exc:
        raise BadInput(str(exc)) from None
    if custody.custodians > nodes:
        raise BadInput(f"--key-custody {key_custody} needs at least {custody.custodians} nodes, got --nodes {nodes}")
    if key_shares is not None and not custody.threshold_custody:
        raise BadInput("--key-shares needs --key-custody threshold:T-of-N")
    if nodes < MIN_COHORT or rounds < 1 or not MIN_COHORT <= min_participants <= nodes:
        raise BadInput(
            f"need --nodes >= {MIN_COHORT}, --rounds >= 1 and {MIN_COHORT} <= --min-participants <= --nodes "
            f"(got {nodes}, {rounds}, {min_participants})"
        )
    if hosts not in ("loopback", "netns"):
        raise BadInput(f"--hosts must be loopback or netns, got {hosts!r}")
    if isolation not in ISOLATION_MODES:
        raise BadInput(f"--isolation must be {' or '.join(ISOLATION_MODES)}, got {isolation!r}")
    poll_interval_flag(poll_interval)
    if hosts == "netns" and insecure:
        raise BadInput("--insecure is refused with --hosts netns: plaintext only on 127.0.0.0/8")
    plan_text = os.environ.get(HOST_PLAN_ENV)
    if hosts == "netns" and plan_text is None:
        reason = netns_available()
        if reason:
            raise BadInput(reason)
        if work_dir.exists() and any(work_dir.iterdir()):
            raise BadInput(f"{work_dir} is not empty: give a new --work-dir (it holds the chain state of a consortium)")
        inner = [
            "consortium", "local", "--hosts", "netns", "--nodes", str(nodes), "--rounds", str(rounds), "--patience", str(patience), "--seed", str(seed),
            "--dataset", dataset, "--key-bits", str(key_bits), "--min-participants", str(min_participants),
            "--compare" if compare else "--no-compare", "--work-dir", str(work_dir.resolve()), "--isolation", isolation,
            "--key-custody", key_custody, "--poll-interval", repr(poll_interval), *(["--key-shares", str(key_shares.resolve())] if key_shares else []),
            *(["--json", str(json_path.resolve())] if json_path else []),
        ]
        code = _run_in_namespaces(nodes, inner)
        if code:
            raise typer.Exit(code)
        return
    if work_dir.exists() and any(work_dir.iterdir()):
        raise BadInput(f"{work_dir} is not empty: give a new --work-dir (it holds the chain state of a consortium)")
    task = TaskConfig(
        data=DataConfig(dataset=dataset, nodes=nodes),
        custody=custody,
        rounds=rounds,
        patience=patience,
        min_participants=min_participants,
        seed=seed,
    )
    # a round's wall time grows with the nodes sharing this machine's cores
    run_timeout_s = 600.0 + 20.0 * max(0, nodes - 3) * rounds
    config = ConsortiumConfig(
        task, tls=not insecure, isolation=isolation, run_timeout_s=run_timeout_s, key_shares=key_shares.resolve() if key_shares else None,
        poll_interval_s=poll_interval,
    )
    plan = HostPlan.from_json(plan_text) if hosts == "netns" and plan_text else None
    with console.status("starting") as spinner:

        def on_poll(status) -> None:
            done = status.data.get("rounds_completed", 0)
            spinner.update(f"running the federation over Flower: {done}/{rounds} rounds finalized on chain")

        result = run_consortium_local(config, work_dir, compare=compare, on_stage=spinner.update, on_poll=on_poll, hosts=plan)
    payload = result.to_json()
    table = Table(title=f"ledger {result.ledger} · task {result.task_id} · {result.rounds_completed} rounds over Flower")
    for column in ("node", "address", "score", "reward (tokens)"):
        table.add_column(column)
    for node in result.nodes:
        table.add_row(node["name"], node["address"], f"{node['score']:.4f}", f"{node['reward']:.2f}")
    console.print(table)
    console.print(
        f"final validation accuracy {result.final_accuracy:.4f}, test accuracy {result.final_test_accuracy:.4f}; "
        f"{result.processes} processes started and stopped; {result.elapsed_s:.1f} s in all"
    )
    seconds = ", ".join(f"{s:.2f}" for s in result.round_seconds)
    console.print(f"Flower round seconds: {seconds}")
    if "in_process" in payload:
        local = payload["in_process"]
        same = "the same final model" if local["same_final_model"] else "[red]a different final model[/red]"
        console.print(
            f"in-process round seconds: {', '.join(f'{s:.2f}' for s in local['round_seconds'])}; "
            f"overhead {local['overhead_per_round_s']:.2f} s per round; {same} ({result.final_model_hash})"
        )
    flower = payload["breakdown"]["flower"]
    if "collect_s" in flower:
        phases = ", ".join(f"{name} {flower[key]:.2f} s" for key, name in PHASE_NAMES if key in flower)
        console.print(
            f"Flower round (mean): collect {flower['collect_s']:.2f} s ({phases}), the rest {flower['outside_collect_s']:.2f} s; "
            f"ClientApp isolation {result.config.isolation}; peak {result.peak.processes} processes, {result.peak.rss_mib:.0f} MiB resident"
        )
    where = ", ".join(f"{h['role']} {h['address']}" for h in result.hosts)
    console.print(f"{'TLS and node authentication' if result.tls else 'plaintext, no node authentication'}; hosts: {where}")
    print_audit(result.audit)
    write_json(json_path, payload)
    if not result.audit.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


#: Breakdown keys of a Flower round's collection, as printed.
PHASE_NAMES = (
    ("identify_s", "identify"), ("to_node_s", "to node"), ("clientapp_start_s", "ClientApp start"),
    ("node_work_s", "node work"), ("back_s", "back"),
)

#: Set for the copy of `consortium local` that runs inside the hub's namespace: where everyone runs.
HOST_PLAN_ENV = "FEDLEDGER_HOST_PLAN"


def _run_in_namespaces(n_nodes: int, args: list[str]) -> int:
    """Make the namespaces, run ``fedledger ARGS`` inside the hub's with the host plan, remove them; its exit code."""
    from fl_node.consortium import HostPlan
    from fl_node.transport.netns import NetnsHosts

    with NetnsHosts(n_nodes) as made:
        plan = HostPlan(made.hub.address, tuple(h.netns for h in made.nodes), tuple(h.address for h in made.nodes))
        command = made.hub.command([sys.executable, "-c", "from fl_node.cli import main; main()", *args])
        try:
            return subprocess.run(command, env={**os.environ, HOST_PLAN_ENV: plan.to_json()}).returncode
        except KeyboardInterrupt:
            return 130
