"""`fedledger explorer`: a read-only web page of a ledger, its contributions and its audit, or a static copy of it."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, open_chain
from fl_node.cli.key_options import KeyPassphraseFileOption, key_passphrase
from fl_node.crypto.keys import load_private_key
from fl_node.explorer.export import export_site
from fl_node.explorer.views import Explorer, PageError
from fl_node.explorer.web import DEFAULT_PORT, HOST, ExplorerServer

NO_RPC = (
    "fedledger explorer reads a chain over JSON-RPC: start a node with `fedledger chain up` and pass "
    "--rpc http://127.0.0.1:8545 (the embedded chain lives inside one process: use `fedledger demo --explorer`)"
)


@app.command("explorer")
def explorer_command(
    rpc: str | None = typer.Option(None, "--rpc", help="JSON-RPC URL of the node holding the ledger.", metavar="URL"),
    ledger_address: str | None = typer.Option(None, "--ledger", help="Address of the FederationLedger.", metavar="ADDR"),
    artifacts: Path | None = typer.Option(None, "--artifacts", help="The federation's artifact store (folder).", metavar="DIR"),
    key: Path | None = typer.Option(
        None, "--key", help="The key holder's Paillier private key: the audit recomputes aggregation and scores.", metavar="FILE"
    ),
    key_passphrase_file: Path | None = KeyPassphraseFileOption,
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
    export: Path | None = typer.Option(None, "--export", help="Write the pages as a static site to this folder and exit.", metavar="DIR"),
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Serve a read-only web explorer of a ledger on 127.0.0.1 (or write it as static pages with --export)."""
    if rpc is None:
        raise BadInput(NO_RPC)
    if ledger_address is None:
        raise BadInput("--ledger ADDR is required: the address of the FederationLedger to show")
    if artifacts is not None and not artifacts.is_dir():
        raise BadInput(f"artifact store {artifacts} is not a folder")
    private_key = load_private_key(key, passphrase=key_passphrase(key_passphrase_file)) if key is not None else None
    explorer = Explorer(open_chain(rpc, chain_id), ledger_address, artifacts, private_key)
    if export is not None:
        try:
            written = export_site(explorer, export)
        except PageError as exc:
            raise BadInput(str(exc)) from None
        write_json(json_path, {"ledger": ledger_address, "rpc": rpc, "export": str(export), "files": [str(p) for p in written]})
        console.print(f"wrote {len(written)} files of the explorer to {export} (open {export / 'index.html'})")
        return
    serve(explorer, port, json_path, {"rpc": rpc})


def check_port(port: int, option: str = "--port") -> None:
    """Refuse a port on 127.0.0.1 that another process listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            raise BadInput(f"port {port} on {HOST} is in use: pick another with {option}") from None


def explorer_command_line(ledger: str, rpc: str, artifacts: Path, key: Path | None) -> str:
    """The ``fedledger explorer`` command that opens a ledger recorded on the node at ``rpc``."""
    return f"fedledger explorer --rpc {rpc} --ledger {ledger} --artifacts {artifacts}" + (f" --key {key}" if key else "")


def serve(explorer: Explorer, port: int, json_path: Path | None, facts: dict[str, object]) -> None:
    """Build the event index, then serve ``explorer`` on 127.0.0.1:``port`` until Ctrl-C (a port in use is bad input)."""
    check_port(port)
    with console.status(f"indexing the events of {explorer.address}"):
        try:
            explorer.attach()
        except PageError:
            pass  # every page will say what is wrong; the server still starts
    server = ExplorerServer(explorer, port)
    write_json(json_path, {"url": server.url, "ledger": explorer.address, **facts})
    console.print(f"explorer of ledger {explorer.address} on [bold]{server.url}[/bold] (read-only); Ctrl-C stops it")
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has shut down
        pass
    console.print("explorer stopped")
