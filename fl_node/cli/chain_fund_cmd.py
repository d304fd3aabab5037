"""`fedledger chain fund`: send ETH to a node's address (its stake and gas) from a funded key."""

from __future__ import annotations

from pathlib import Path

import typer
from web3 import Web3

from fl_node.cli.app import BadInput, JsonOption, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, chain_app, open_chain


@chain_app.command("fund")
def fund_command(
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the consortium's chain."),
    to: str = typer.Option(..., "--to", help="Address to fund (a node's, from `fedledger node keygen`)."),
    eth: float = typer.Option(..., "--eth", help="Amount in ETH (stake plus gas)."),
    key: Path | None = typer.Option(None, "--key", help="Key file of the paying account (default: the dev chain's funded account).", dir_okay=False),
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Send ETH to ``--to`` from ``--key`` (or a development chain's funded account); prints the new balance."""
    from incentive.chain import load_key_file

    if not Web3.is_address(to):
        raise BadInput(f"--to {to!r} is not an address")
    if not eth > 0:
        raise BadInput(f"--eth must be positive, got {eth}")
    chain = open_chain(rpc, chain_id)
    amount = int(round(eth * 10**18))
    if key is None:
        receipt = chain.fund(to, amount)
    else:
        receipt = chain.send(load_key_file(key), {"to": Web3.to_checksum_address(to), "value": amount}, gas=21_000)
    balance = chain.balance(to)
    console.print(f"sent {eth:g} ETH to {to}; balance {balance / 10**18:g} ETH")
    write_json(json_path, {"to": to, "amount_wei": amount, "balance_wei": balance, "tx": receipt["transactionHash"].hex()})
