"""`--ledger ADDR` of the multi-party demos: record the run on the consortium's ledger instead of a fresh one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fl_node.cli.app import BadInput

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from fl_node.task import LedgerRoles
    from incentive.chain import Chain

LedgerOption = typer.Option(
    None, "--ledger", metavar="ADDR", help="Add the run as a task of this existing FederationLedger (needs --rpc and the three role keys); default: deploy a fresh one."
)
AdminKeyOption = typer.Option(None, "--admin-key", help="With --ledger: key file of the ledger's admin (creates the task).", dir_okay=False)
AggregatorKeyOption = typer.Option(None, "--aggregator-key", help="With --ledger: key file of the account with AGGREGATOR_ROLE.", dir_okay=False)
EvaluatorKeyOption = typer.Option(None, "--evaluator-key", help="With --ledger: key file of the account with EVALUATOR_ROLE.", dir_okay=False)
PartyKeyOption = typer.Option(
    [], "--party-key", metavar="NAME=FILE",
    help="With --ledger (repeatable): the funded key file party NAME joins and commits with; a party without one gets a key funded by the chain's development account.",
)


def existing_ledger_roles(
    chain: Chain,
    rpc: str | None,
    ledger: str | None,
    admin_key: Path | None,
    aggregator_key: Path | None,
    evaluator_key: Path | None,
    party_keys: list[str] = (),
) -> LedgerRoles | None:
    """The ledger at ``ledger``, its role accounts (each role checked on chain) and the parties' keys (None without ``--ledger``)."""
    from fl_node.task import LedgerRoles
    from fl_node.transport.keystore import load_account
    from incentive.ledger import AGGREGATOR_ROLE, DEFAULT_ADMIN_ROLE, EVALUATOR_ROLE, LedgerClient

    keys = {"--admin-key": admin_key, "--aggregator-key": aggregator_key, "--evaluator-key": evaluator_key}
    if ledger is None:
        given = [flag for flag, path in keys.items() if path is not None]
        if party_keys:
            given.append("--party-key")
        if given:
            raise BadInput(f"{', '.join(given)} only with --ledger ADDR")
        return None
    if rpc is None:
        raise BadInput("--ledger ADDR needs --rpc URL of the chain that holds it")
    missing = [flag for flag, path in keys.items() if path is None]
    if missing:
        raise BadInput(f"--ledger ADDR needs {', '.join(missing)} (the accounts that create, open and finalize the task)")
    client = LedgerClient.at(chain, ledger)
    accounts = {flag: load_account(path) for flag, path in keys.items()}
    for (flag, account), role, name in zip(accounts.items(), (DEFAULT_ADMIN_ROLE, AGGREGATOR_ROLE, EVALUATOR_ROLE), ("admin", "aggregator", "evaluator")):
        if not client.has_role(role, account.address):
            raise BadInput(f"{flag}: {account.address} is not the {name} of the ledger at {client.address}")
    return LedgerRoles(client, *accounts.values(), parties=_party_keys(party_keys))


def _party_keys(values: list[str]) -> dict[str, LocalAccount]:
    """``NAME=FILE`` pairs of ``--party-key`` loaded into accounts, one per name."""
    from fl_node.transport.keystore import load_account

    parties: dict[str, LocalAccount] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise BadInput(f"--party-key must be NAME=FILE, got {value!r}")
        if name in parties:
            raise BadInput(f"--party-key names {name!r} twice")
        parties[name] = load_account(Path(path))
    return parties
