"""`fedledger node keygen` and `fedledger node join`: the node operator's side of a consortium."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import typer
from eth_account import Account

from fl_node.cli.app import BadInput, JsonOption, app, console, err_console, poll_interval_flag, write_json
from fl_node.cli.chain_cmd import ChainIdOption
from fl_node.transport.deployment import DEFAULT_POLL_INTERVAL_S, ISOLATION_MODES
from fl_node.transport.keystore import PASSPHRASE_ENV, write_keystore

node_app = typer.Typer(help="Node operator: keys, joining a consortium, running a SuperNode.", no_args_is_help=True)
app.add_typer(node_app, name="node")


def _passphrase(confirm: bool) -> str:
    """From ``$FEDLEDGER_KEY_PASSPHRASE``, else a hidden prompt."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    return typer.prompt("Keystore passphrase", hide_input=True, confirmation_prompt=confirm)


@node_app.command("keygen")
def keygen_command(
    out: Path = typer.Option(..., "--out", help="Keystore file to write (refuses to overwrite).", dir_okay=False),
    json_path: Path | None = JsonOption,
) -> None:
    """Create a node key and write it as an encrypted Ethereum keystore (passphrase: prompt or $FEDLEDGER_KEY_PASSPHRASE)."""
    passphrase = _passphrase(confirm=True)
    account = Account.create()
    write_keystore(out, account, passphrase)
    console.print(f"wrote keystore [bold]{out}[/bold] for address [bold]{account.address}[/bold]")
    console.print("fund this address with enough ETH for the stake and gas, then run `fedledger node join`")
    write_json(json_path, {"address": account.address, "keystore": str(out)})


@node_app.command("join")
def join_command(
    superlink: str = typer.Option(..., "--superlink", help="The consortium's Flower SuperLink, HOST:PORT."),
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the consortium's chain."),
    ledger: str = typer.Option(..., "--ledger", help="FederationLedger address."),
    key: Path = typer.Option(..., "--key", help="The node's keystore (from `node keygen`).", dir_okay=False),
    data: Path = typer.Option(..., "--data", help="Training data: CSV with a header row.", dir_okay=False),
    label: str = typer.Option(..., "--label", help="Label column of --data."),
    name: str = typer.Option("", "--name", help="Institution name recorded on the ledger when joining."),
    stake_eth: float = typer.Option(1.0, "--stake-eth", help="Stake sent when joining (ETH, at least the ledger's minimum)."),
    seed: int | None = typer.Option(None, "--seed", help="Training seed (default: derived from the address)."),
    work_dir: Path = typer.Option(Path(".fedledger-node"), "--work-dir", help="Logs and Flower's home.", file_okay=False),
    runtime_port: int = typer.Option(0, "--runtime-port", help="The SuperNode's local Runtime API port (default: a free one)."),
    root_cert: Path | None = typer.Option(None, "--root-cert", help="The consortium's CA certificate (ca.crt): TLS to the SuperLink.", dir_okay=False),
    auth_key: Path | None = typer.Option(
        None, "--auth-key", help="SuperNode authentication key (default: WORK_DIR/auth-key, made on first use; send AUTH_KEY.pub to the operator).", dir_okay=False
    ),
    insecure: bool = typer.Option(False, "--insecure", help="Plaintext to the SuperLink (only on 127.0.0.0/8)."),
    id_columns: list[str] = typer.Option([], "--id-column", help="A column of --data that identifies records, not a feature (repeatable)."),
    drop: list[str] = typer.Option([], "--drop", help="A column of --data to leave out of the features (repeatable)."),
    isolation: str = typer.Option(
        "process", "--isolation",
        help="process: this process runs the ClientApp for every message (long-lived); subprocess: a fresh flwr-clientapp per message.",
    ),
    admission_wait: float | None = typer.Option(
        None, "--admission-wait", min=0,
        help="Seconds to keep retrying while the SuperLink has not admitted this node's authentication key (default 120).",
    ),
    key_share: Path | None = typer.Option(
        None, "--key-share", help="This node's sealed key share (threshold custody): the node is that key custodian; the share stays in this process.", dir_okay=False
    ),
    share_passphrase_file: Path | None = typer.Option(
        None, "--share-passphrase-file", help="File holding --key-share's passphrase (default: `custody keygen`'s default).", dir_okay=False
    ),
    poll_interval: float = typer.Option(
        DEFAULT_POLL_INTERVAL_S, "--poll-interval",
        help="Longest wait (s) of the SuperNode between pulls from the SuperLink and between checks for its ClientApp's reply (Flower hard-codes 3 s and 0.5 s).",
    ),
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Join the ledger (if not yet a member) with a stake, then serve rounds through a Flower SuperNode until stopped."""
    from fl_node.transport.node import ADMISSION_WAIT_S, NodeConfig, prepare_node, serve_node
    from fl_node.transport.tls import require_plaintext_allowed, split_address

    import torch

    split_address(superlink)
    if isolation not in ISOLATION_MODES:
        raise BadInput(f"--isolation must be {' or '.join(ISOLATION_MODES)}, got {isolation!r}")
    if root_cert is None and not insecure:
        raise BadInput("give --root-cert CA.crt (TLS to the SuperLink), or --insecure for a SuperLink on 127.0.0.0/8")
    if root_cert is not None and insecure:
        raise BadInput("--root-cert and --insecure exclude each other")
    if insecure:
        require_plaintext_allowed(superlink)
    if key_share is not None and not key_share.is_file():
        raise BadInput(f"--key-share {key_share} is not a file")
    poll_interval_flag(poll_interval)

    torch.set_num_threads(1)
    config = NodeConfig(
        superlink=superlink,
        rpc=rpc,
        ledger=ledger,
        key=key,
        data=data,
        label=label,
        name=name,
        stake_wei=int(round(stake_eth * 10**18)),
        seed=seed,
        work_dir=work_dir,
        runtime_port=runtime_port,
        chain_id=chain_id,
        root_cert=root_cert,
        auth_key=auth_key,
        id_columns=tuple(id_columns),
        drop=tuple(drop),
        isolation=isolation,
        key_share=key_share,
        share_passphrase_file=share_passphrase_file,
        poll_interval_s=poll_interval,
    )
    with console.status("opening the key, checking membership on the ledger"):
        runtime, start = prepare_node(config, _passphrase(confirm=False))
    action = "joined with a stake of" if start.joined else "already a member, stake"
    console.print(
        f"[bold]{start.name}[/bold] {start.address}: {action} {start.stake_wei / 10**18:g} ETH; "
        f"{start.n_samples} training samples; connecting to SuperLink {superlink} "
        f"({'TLS' if root_cert else 'plaintext'}, authentication key {config.auth_key_path}.pub)"
        + (f"; key custodian {runtime.custodian.share.index} of {runtime.custodian.public.custodians}" if runtime.custodian else "")
    )
    write_json(
        json_path,
        {"address": start.address, "name": start.name, "joined": start.joined, "n_samples": start.n_samples, "stake_wei": start.stake_wei},
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    code = serve_node(runtime, config, stop, admission_wait_s=admission_wait if admission_wait is not None else ADMISSION_WAIT_S)
    if code:
        err_console.print(f"the SuperNode exited with code {code} (log: {work_dir / 'supernode.log'})")
        raise typer.Exit(2)
    console.print("node stopped")
