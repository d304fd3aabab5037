"""`fedledger vfl demo`: PSI alignment and Paillier hetero logistic regression, guest/host/arbiter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, RpcOption, open_chain
from fl_node.cli.existing_ledger import AdminKeyOption, AggregatorKeyOption, EvaluatorKeyOption, LedgerOption, PartyKeyOption, existing_ledger_roles
from fl_node.twoparty.ledger import RecordedRun, record_party_run
from fl_node.twoparty.tables import load_party_csv
from fl_node.vfl.data import DEMO_GUEST_FEATURES, breast_cancer_vertical
from fl_node.vfl.demo import VFLResult, run_vfl
from fl_node.vfl.hetero_lr import HeteroLRConfig
from fl_node.vfl.parties import VFLConfig

vfl_app = typer.Typer(help="Vertical federated learning: guest and host features of shared users, arbiter-held key.", no_args_is_help=True)
app.add_typer(vfl_app, name="vfl")


@vfl_app.command("demo")
def vfl_demo(
    overlap: float = typer.Option(0.8, "--overlap", help="Fraction of samples held by both guest and host (breast_cancer demo)."),
    max_iter: int = typer.Option(100, "--max-iter", min=1, help="Iterations at most."),
    tol: float = typer.Option(1e-4, "--tol", min=0.0, help="Converged when the loss changes by less than this."),
    processes: bool = typer.Option(False, "--processes", help="Run guest, host and arbiter as three processes over gRPC on 127.0.0.1."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size (the arbiter's key)."),
    learning_rate: float = typer.Option(0.4, "--learning-rate", help="Initial learning rate η."),
    decay: float = typer.Option(0.01, "--decay", min=0.0, help="Schedule η_t = η / (1 + decay·t)."),
    alpha: float = typer.Option(0.1, "--alpha", min=0.0, help="L2 penalty (also used by the centralized baseline)."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Mini-batch rows; default all aligned training rows."),
    randomness: str = typer.Option("short", "--randomness", help="Encryption randomness: short (DJN, extra assumption) or full (standard r^n)."),
    test_fraction: float = typer.Option(0.3, "--test-fraction", help="Share of aligned rows held out for the AUC."),
    seed: int = typer.Option(0, "--seed", help="Seeds the demo's ID overlap, the split and the batches."),
    guest_features: int = typer.Option(DEMO_GUEST_FEATURES, "--guest-features", help="Columns of breast_cancer the guest holds (the host: the rest)."),
    guest_csv: Path | None = typer.Option(None, "--guest-csv", dir_okay=False, help="Guest table instead of the demo data (ID, label, features)."),
    host_csv: Path | None = typer.Option(None, "--host-csv", dir_okay=False, help="Host table instead of the demo data (ID, features)."),
    id_column: str = typer.Option("id", "--id-column", help="ID column of the CSV tables."),
    label_column: str = typer.Option("label", "--label-column", help="Label column of the guest CSV (0/1)."),
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    ledger: str | None = LedgerOption,
    admin_key: Path | None = AdminKeyOption,
    aggregator_key: Path | None = AggregatorKeyOption,
    evaluator_key: Path | None = EvaluatorKeyOption,
    party_keys: list[str] = PartyKeyOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Align the guest's and host's samples by PSI, train hetero-LR through the arbiter, compare with centralized LR."""
    if randomness not in ("short", "full"):
        raise BadInput(f"--randomness must be 'short' or 'full', got {randomness!r}")
    chain = open_chain(rpc, chain_id)
    roles = existing_ledger_roles(chain, rpc, ledger, admin_key, aggregator_key, evaluator_key, party_keys)
    if (guest_csv is None) != (host_csv is None):
        raise BadInput("give both --guest-csv and --host-csv, or neither for the breast_cancer demo")
    if guest_csv is not None and host_csv is not None:
        guest = load_party_csv(guest_csv, id_column=id_column, label_column=label_column, name="guest")
        host = load_party_csv(host_csv, id_column=id_column, name="host")
        expected = len(set(guest.ids) & set(host.ids))
        source = f"{guest_csv.name} (guest, {guest.n_features} features) + {host_csv.name} (host, {host.n_features} features)"
    else:
        split = breast_cancer_vertical(overlap, guest_features=guest_features, seed=seed)
        guest, host, expected = split.guest, split.host, split.expected_intersection
        source = f"breast_cancer: guest {guest.n_features} features + label, host {host.n_features} features, overlap {overlap:g}"
    config = VFLConfig(
        lr=HeteroLRConfig(
            key_bits=key_bits, learning_rate=learning_rate, decay=decay, alpha=alpha, max_iter=max_iter, tol=tol,
            batch_size=batch_size, randomness=randomness, seed=seed,  # type: ignore[arg-type]
        ),
        test_fraction=test_fraction,
        split_seed=seed,
    )
    console.print(f"{source}; guest {len(guest.ids)} IDs, host {len(host.ids)} IDs; "
                  f"{'3 processes over gRPC' if processes else 'in process'}, {key_bits}-bit Paillier ({randomness} randomness)")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("PSI, key set-up, training", total=max_iter)

        def progress(iteration: int, loss: float, seconds: float) -> None:
            bar.console.print(f"iteration {iteration + 1:3d}  loss {loss:.6f}  ({seconds:.2f} s)", highlight=False)
            bar.update(task, completed=iteration + 1, description=f"training, loss {loss:.5f}")

        result = run_vfl(guest, host, config, processes=processes, expected_intersection=expected, progress=progress)
        bar.update(task, total=result.iterations, completed=result.iterations)
    with console.status("recording the run on the ledger"):
        recorded = record_party_run(result.party_run({"source": source, "config": dataclasses.asdict(config)}), chain, roles=roles)
    result = result.with_ledger(recorded.address, recorded.chain_id)
    write_json(json_path, {**result.to_json(), "ledger": {**result.to_json()["ledger"], **recorded.to_json()}})
    console.print(_summary(result, recorded))


def _summary(result: VFLResult, recorded: RecordedRun) -> Table:
    steady = result.seconds_per_iteration[1:] or result.seconds_per_iteration
    table = Table(title="vertical FL: hetero logistic regression")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("aligned samples (PSI) / expected", f"{result.intersection_size} / {result.expected_intersection}"),
        ("train / test rows", f"{result.train_rows} / {result.test_rows}"),
        ("iterations", f"{result.iterations} ({'converged' if result.converged else 'max-iter reached, not converged'})"),
        ("final loss (Taylor)", f"{result.loss[-1]:.6f}"),
        ("AUC, hetero-LR", f"{result.auc:.4f}"),
        ("AUC, centralized LogisticRegression", f"{result.centralized_auc:.4f}"),
        ("AUC, guest alone", f"{result.guest_only_auc:.4f}"),
        ("contribution guest / host (Shapley, AUC)", f"{result.contributions['guest']:.4f} / {result.contributions['host']:.4f}"),
        ("seconds per iteration (mean after the first)", f"{sum(steady) / len(steady):.2f}"),
        ("ledger (task, round)", f"{recorded.address} ({recorded.task_id}, {recorded.round_id})"),
        ("reward guest / host (tokens)", f"{recorded.rewards['guest']:.2f} / {recorded.rewards['host']:.2f}"),
    ]
    for row in rows:
        table.add_row(*row)
    return table
