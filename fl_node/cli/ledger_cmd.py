"""`fedledger ledger deploy|show|events|walkthrough`: the on-chain incentive ledger from the shell."""

from __future__ import annotations

import dataclasses
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from eth_account.signers.local import LocalAccount
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, RpcOption, facts_table, open_chain
from incentive.chain import Chain, load_key_file
from incentive.fixedpoint import from_fixed
from incentive.ledger import LedgerClient, LedgerEvent
from incentive.walkthrough import WalkthroughResult, participant_name, run_walkthrough

ledger_app = typer.Typer(help="The on-chain incentive ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

LedgerOption = typer.Option(..., "--ledger", help="Address of a deployed FederationLedger.", metavar="ADDR")
KeyOption = typer.Option(
    None, "--key", dir_okay=False, help="File holding the signer's hex private key (default: the dev chain's funded key)."
)
WEI_PER_ETH = 10**18


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, tuples and bytes as plain JSON values (enums by name)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def event_json(event: LedgerEvent) -> dict[str, Any]:
    """One event as ``{"event": name, ...fields}``."""
    return {"event": type(event).__name__, **jsonable(event)}


def _signer(chain: Chain, key: Path | None) -> LocalAccount:
    if key is not None:
        return load_key_file(key)
    if chain.funder is None:
        raise BadInput("this chain has no funded development key: pass the deployer's key with --key FILE")
    return chain.funder


def _eth(wei: int) -> str:
    return f"{wei / WEI_PER_ETH:.4f}"


@ledger_app.command("deploy")
def ledger_deploy(
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    key: Path | None = KeyOption,
    min_stake_wei: int = typer.Option(10**17, "--min-stake-wei", min=0, help="Least stake to join without approval."),
    aggregator: str | None = typer.Option(None, "--aggregator", help="AGGREGATOR_ROLE holder (default: the deployer)."),
    evaluator: str | None = typer.Option(None, "--evaluator", help="EVALUATOR_ROLE holder (default: the deployer)."),
    token_name: str = typer.Option("Federation Reward", "--token-name", help="Reward token name."),
    token_symbol: str = typer.Option("FRW", "--token-symbol", help="Reward token symbol."),
    merkle_scores: bool = typer.Option(
        False, "--merkle-scores", help="Finalize stores one score root; each score is settled later with a proof."
    ),
    json_path: Path | None = JsonOption,
) -> None:
    """Deploy a reward token and a FederationLedger, and grant the aggregator and evaluator roles."""
    from web3 import Web3

    for option, value in (("--aggregator", aggregator), ("--evaluator", evaluator)):
        if value is not None and not Web3.is_address(value):
            raise BadInput(f"{option} is not an address: {value!r}")
    key_account = load_key_file(key) if key is not None else None  # a bad key fails before any connection
    chain = open_chain(rpc, chain_id)
    deployer = key_account or _signer(chain, None)
    ledger = LedgerClient.deploy(
        chain,
        deployer,
        min_stake_wei=min_stake_wei,
        aggregator=aggregator or deployer.address,
        evaluator=evaluator or deployer.address,
        token_name=token_name,
        token_symbol=token_symbol,
        merkle_scores=merkle_scores,
    )
    result = {
        "ledger": ledger.address,
        "token": ledger.token,
        "chain_id": chain.chain_id,
        "rpc": rpc,
        "deployer": deployer.address,
        "aggregator": aggregator or deployer.address,
        "evaluator": evaluator or deployer.address,
        "min_stake_wei": min_stake_wei,
        "deployment_block": ledger.deployment_block,
        "settlement": "merkle" if merkle_scores else "eager",
    }
    write_json(json_path, result)
    console.print(facts_table("FederationLedger deployed", result))
    if rpc is None:
        console.print("[yellow]embedded chain: this ledger lives only as long as this process; use --rpc URL[/yellow]")


@ledger_app.command("show")
def ledger_show(
    ledger_address: str = LedgerOption,
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Show a ledger: members, tasks, rounds with their participants, stake accounting."""
    chain = open_chain(rpc, chain_id)
    ledger = LedgerClient.at(chain, ledger_address)
    members, tasks, rounds = ledger.members(), ledger.tasks(), ledger.rounds()
    totals = ledger.stake_totals()
    result = {
        "ledger": ledger.address,
        "token": ledger.token,
        "chain_id": chain.chain_id,
        "min_stake_wei": ledger.min_stake(),
        "stake_totals": jsonable(totals),
        "members": jsonable(members),
        "tasks": jsonable(tasks),
        "rounds": jsonable(rounds),
    }
    write_json(json_path, result)
    console.print(f"FederationLedger {ledger.address} on chain {chain.chain_id}; reward token {ledger.token}")
    console.print(members_table(members))
    if tasks:
        table = Table(title="Tasks")
        for col in ("task", "reward / round", "required", "model spec", "validation spec"):
            table.add_column(col)
        for t in tasks:
            table.add_row(
                str(t.task_id), _eth(t.reward_per_round), str(t.required_participants),
                t.model_spec_hash[:18] + "…", t.validation_spec_hash[:18] + "…",
            )
        console.print(table)
    if rounds:
        table = Table(title="Rounds")
        for col in ("round", "task", "status", "participants", "dropped", "performance", "rewarded", "dust"):
            table.add_column(col)
        for r in rounds:
            table.add_row(
                str(r.round_id), str(r.task_id), r.status.name, str(r.participant_count), str(r.dropped_count),
                f"{from_fixed(r.performance):.6f}", _eth(r.rewarded), str(r.dust),
            )
        console.print(table)
    console.print(
        f"stakes: {_eth(totals.staked)} ETH in, {_eth(totals.returned)} returned, {_eth(totals.slashed)} slashed"
    )


@ledger_app.command("events")
def ledger_events(
    ledger_address: str = LedgerOption,
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    from_block: int | None = typer.Option(None, "--from-block", min=0, help="First block (default: deployment)."),
    to_block: int | None = typer.Option(None, "--to-block", min=0, help="Last block (default: latest)."),
    json_path: Path | None = JsonOption,
) -> None:
    """List a ledger's events, decoded."""
    chain = open_chain(rpc, chain_id)
    ledger = LedgerClient.at(chain, ledger_address)
    events = ledger.events(from_block, to_block)
    write_json(json_path, {"ledger": ledger.address, "chain_id": chain.chain_id, "events": [event_json(e) for e in events]})
    table = Table(title=f"{len(events)} events of {ledger.address}")
    for col in ("block", "event", "details"):
        table.add_column(col)
    for event in events:
        details = {k: v for k, v in jsonable(event).items() if k not in ("block_number", "tx_hash", "log_index")}
        table.add_row(str(event.block_number), type(event).__name__, ", ".join(f"{k}={v}" for k, v in details.items()))
    console.print(table)


@ledger_app.command("walkthrough")
def ledger_walkthrough(
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    key: Path | None = KeyOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Deploy, join five members, run one round (commit, finalize with scores), claim, slash; print it."""
    key_account = load_key_file(key) if key is not None else None
    chain = open_chain(rpc, chain_id)
    admin = key_account or _signer(chain, None)
    result = run_walkthrough(chain, admin=admin)
    write_json(json_path, jsonable(result))
    print_walkthrough(result)


def members_table(members: list[Any]) -> Table:
    """Members with stake, cumulative score and rewards."""
    table = Table(title="Members")
    for col in ("member", "address", "status", "stake (ETH)", "cum. score", "pending", "claimed"):
        table.add_column(col)
    for m in members:
        table.add_row(
            m.name, m.address[:10] + "…", m.status.name, _eth(m.stake), f"{from_fixed(m.cumulative_score):+.6f}",
            _eth(m.pending_reward), _eth(m.claimed_reward),
        )
    return table


def print_walkthrough(result: WalkthroughResult) -> None:
    """The walk-through as rich tables."""
    r = result.round
    console.print(
        f"[bold]Ledger walk-through[/bold] on the {result.backend} chain {result.chain_id}: "
        f"ledger {result.ledger}, reward token {result.token}"
    )
    table = Table(title=f"Round {r.round_id} (task {r.task_id}): {r.status.name}, performance {from_fixed(r.performance):.4f}")
    for col in ("#", "participant", "commitment", "score", "reward (FRW)", "dropped"):
        table.add_column(col)
    for p in r.participants:
        table.add_row(
            str(p.index), participant_name(result, p), p.commitment[:14] + "…", f"{from_fixed(p.score):+.6f}",
            _eth(p.reward), "yes" if p.dropped else "",
        )
    console.print(table)
    console.print(
        f"budget {r.budget} = rewarded {r.rewarded} + dust {r.dust} (smallest units); "
        f"off-chain mirror agrees to the unit: {'yes' if result.mirror_matches else 'NO'}"
    )
    console.print(members_table(list(result.members)))
    s = result.slashed
    console.print(f"slashed {_eth(s['amount'])} ETH of {s['account']} (evidence {s['evidence_hash'][:18]}…)")
    gas = Table(title="Gas")
    gas.add_column("transaction")
    gas.add_column("gas", justify="right")
    for name, used in result.gas.items():
        gas.add_row(name, f"{used:,}")
    console.print(gas)
