"""`fedledger ftl demo`: secure federated transfer learning between a labelled source and a target party."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from fl_node.cli.chain_cmd import ChainIdOption, RpcOption, open_chain
from fl_node.cli.existing_ledger import AdminKeyOption, AggregatorKeyOption, EvaluatorKeyOption, LedgerOption, PartyKeyOption, existing_ledger_roles

ftl_app = typer.Typer(help="Federated transfer learning: few shared samples, few shared features.", no_args_is_help=True)
app.add_typer(ftl_app, name="ftl")


@ftl_app.command("demo")
def ftl_demo(
    overlap: float = typer.Option(0.1, "--overlap", help="Fraction of the target's samples that the source holds too."),
    seed: int = typer.Option(0, "--seed", help="Seeds the split, the networks and the batches."),
    max_iter: int = typer.Option(100, "--max-iter", min=1, help="Training iterations."),
    dataset: str = typer.Option("digits", "--dataset", help="digits (digit >= 5, image halves) or breast_cancer."),
    target_size: int | None = typer.Option(None, "--target-size", min=2, help="Samples the target holds (default: 200 digits, 200 breast_cancer)."),
    dim: int = typer.Option(6, "--dim", min=1, help="Representation size d."),
    gamma: float = typer.Option(10.0, "--gamma", min=0.0, help="Alignment weight γ."),
    seeds: int = typer.Option(0, "--seeds", min=0, help="Also report the gain over the target-only model at seeds 0..K-1 (plaintext protocol); 0 skips it."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size of each party's key."),
    randomness: str = typer.Option("short", "--randomness", help="Encryption randomness: short (DJN, extra assumption) or full (standard r^n)."),
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    ledger_address: str | None = LedgerOption,
    admin_key: Path | None = AdminKeyOption,
    aggregator_key: Path | None = AggregatorKeyOption,
    evaluator_key: Path | None = EvaluatorKeyOption,
    party_keys: list[str] = PartyKeyOption,
    json_path: Path | None = JsonOption,
) -> None:
    """Run FTL encrypted and in the clear, compare with the target-only model, record the run on the ledger."""
    if randomness not in ("short", "full"):
        raise BadInput(f"--randomness must be 'short' or 'full', got {randomness!r}")
    roles = existing_ledger_roles(open_chain(rpc, chain_id), rpc, ledger_address, admin_key, aggregator_key, evaluator_key, party_keys)
    from fl_node.ftl.demo import DemoConfig, run_demo
    from fl_node.ftl.protocol import FTLConfig

    protocol = FTLConfig(dim=dim, gamma=gamma, max_iter=max_iter, key_bits=key_bits, randomness=randomness)
    config = DemoConfig(overlap=overlap, dataset=dataset, target_size=target_size, seed=seed, protocol=protocol, rpc=rpc, chain_id=chain_id, seeds=seeds, roles=roles)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True) as progress:
        tasks = {mode: progress.add_task(f"FTL {mode}", total=max_iter) for mode in ("encrypted", "plaintext")}
        if seeds:
            tasks["seeds"] = progress.add_task("FTL plaintext, seed sweep", total=seeds)
        result = run_demo(config, on_iteration=lambda mode, i: progress.update(tasks[mode], completed=i))
    console.print(result["split"], highlight=False)
    table = Table(title=f"Federated transfer learning (seed {seed}, {result['iterations']} iterations)")
    table.add_column("model")
    table.add_column("AUC on the target's held-out samples", justify="right")
    table.add_row("FTL, Paillier-encrypted", f"{result['auc']:.4f}")
    table.add_row("FTL, same protocol in the clear", f"{result['plaintext_auc']:.4f}")
    table.add_row(f"target only ({result['target_only']['labelled']} labels, LR, C={result['target_only']['C']:g})", f"{result['target_only_auc']:.4f}")
    console.print(table)
    ledger = result["ledger"]
    console.print(
        f"gain over target-only {result['gain']:+.4f}; encrypted vs plaintext {result['encrypted_vs_plaintext']:.4f}; "
        f"Shapley source {result['shapley']['source']:+.4f}, target {result['shapley']['target']:+.4f}",
        highlight=False,
    )
    if "seed_sweep" in result:
        sweep = result["seed_sweep"]
        console.print(
            f"plaintext FTL over seeds 0..{seeds - 1}: mean gain {sweep['mean_gain']:+.4f}, min {sweep['min_gain']:+.4f} "
            f"({', '.join(f'{g:+.3f}' for g in sweep['gains'])})",
            highlight=False,
        )
    console.print(f"ledger {ledger['address']} on chain {ledger['chain_id']}: task {ledger['task_id']}, round {ledger['round_id']}, rewards {ledger['rewards']}", highlight=False)
    write_json(json_path, result)
