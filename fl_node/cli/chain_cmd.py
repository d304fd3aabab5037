"""`fedledger chain up|info`: a local anvil node with persistent state, and what a node is."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fl_node.cli.app import JsonOption, app, console, write_json
from incentive.chain import DEV_CHAIN_ID, Chain, connect, start_anvil

chain_app = typer.Typer(help="Chain backends: start a local node, inspect one.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")

RpcOption = typer.Option(
    None, "--rpc", help="JSON-RPC URL of a node (default: the embedded in-process chain).", metavar="URL"
)
ChainIdOption = typer.Option(None, "--chain-id", help="Refuse to work unless the chain has this id.")
DEFAULT_STATE = Path(".fedledger") / "anvil-state.json"


def open_chain(rpc: str | None, chain_id: int | None) -> Chain:
    """The embedded chain, or the node at ``rpc`` (checked against ``chain_id``)."""
    return connect(rpc, chain_id=chain_id)


def chain_facts(chain: Chain, rpc: str | None) -> dict[str, Any]:
    """Chain id, head block, client, and whether a development funder is available."""
    return {
        "rpc": rpc,
        "backend": chain.backend,
        "chain_id": chain.chain_id,
        "block_number": chain.w3.eth.block_number,
        "client": chain.w3.client_version,
        "dev_funder": chain.funder.address if chain.funder else None,
    }


@chain_app.command("up")
def chain_up(
    port: int = typer.Option(8545, "--port", min=1, max=65535, help="Port on 127.0.0.1."),
    state: Path = typer.Option(
        DEFAULT_STATE, "--state", dir_okay=False, help="State file: loaded at start, written on stop."
    ),
    json_path: Path | None = JsonOption,
) -> None:
    """Start anvil on 127.0.0.1 with persistent state; Ctrl-C stops it and saves the state."""
    node = start_anvil(port=port, state=state, chain_id=DEV_CHAIN_ID)
    # Both signals stop the node, also when started in the background (where SIGINT is inherited as ignored).
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        facts = chain_facts(open_chain(node.url, DEV_CHAIN_ID), node.url)
        facts.update(state=str(node.state), pid=node.process.pid)
        write_json(json_path, facts)
        console.print(facts_table("anvil is up", facts))
        console.print(f"Use [bold]--rpc {node.url}[/bold]. Ctrl-C stops the node and writes {node.state}.")
        node.process.wait()
        console.print(f"anvil exited with code {node.process.returncode}")
    except KeyboardInterrupt:
        console.print("stopping anvil ...")
    finally:
        node.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(f"stopped; state saved to {node.state}")


@chain_app.command("info")
def chain_info(
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Show the chain id, head block and client of a node (or of the embedded chain)."""
    facts = chain_facts(open_chain(rpc, chain_id), rpc)
    write_json(json_path, facts)
    console.print(facts_table("chain", facts))


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def facts_table(title: str, facts: dict[str, Any]) -> Table:
    """A two-column table of ``facts``."""
    table = Table(title=title, show_header=False)
    for key, value in facts.items():
        table.add_row(key, str(value))
    return table
