"""`fedledger demo`: the main job, a hospital consortium federating on the ledger, end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import EXIT_CHECK_FAILED, BadInput, JsonOption, app, console, write_json
from fl_node.cli.audit_cmd import print_audit
from fl_node.cli.chain_cmd import ChainIdOption, RpcOption, open_chain
from fl_node.cli.explorer_cmd import check_port, explorer_command_line, serve
from fl_node.cli.task_cmd import refuse_task_flags
from fl_node.crypto.keys import load_private_key
from fl_node.dp_sgd import largest_epsilon_spent
from fl_node.demo import DemoConfig, DemoResult, DemoRound, Federation, run_demo, setup_federation
from fl_node.explorer.views import Explorer
from fl_node.explorer.web import DEFAULT_PORT
from fl_node.plots import plot_accuracy, plot_contributions
from fl_node.hfl.gating import AGGREGATIONS, NORM_FACTOR, valid_norm_factor
from fl_node.hfl.spec import FederationSpec
from fl_node.privacy import epsilon_spent
from fl_node.task import CustodyConfig, DataConfig, ModelChoice, PrivacyConfig, ScoringConfig, TaskConfig
from fl_node.task_file import load_task_file
from fl_node.training import TrainConfig
from incentive.contribution import SCORERS
from incentive.fixedpoint import from_fixed

TOKEN = 10**18
#: Options that define the task, refused beside --task FILE (the file holds them).
TASK_FLAGS = (
    "nodes", "rounds", "patience", "scorer", "utility", "seed", "dataset", "partition", "model", "key_bits", "local_epochs", "lr",
    "encrypt", "key_custody", "aggregation", "gate_threshold", "gate_memory", "gate_norm_factor", "dp_epsilon", "dp_delta", "dp_clip",
    "dp_sgd_epsilon", "dp_sgd_clip",
)


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    task_file: Path | None = typer.Option(
        None, "--task", help="Task file (`fedledger task init`): the task's options instead of the flags below.", dir_okay=False
    ),
    nodes: int = typer.Option(5, "--nodes", help="Hospital nodes."),
    free_riders: int = typer.Option(1, "--free-riders", help="Nodes that send zero updates."),
    label_flippers: int = typer.Option(1, "--label-flippers", help="Nodes that train on flipped labels."),
    rounds: int = typer.Option(8, "--rounds", help="Federated rounds."),
    patience: int = typer.Option(0, "--patience", min=0, help="Stop after this many rounds without a better validation metric (0: off); the best round's model is released."),
    scorer: str = typer.Option("gtg", "--scorer", help=f"Contribution scorer: {', '.join(SCORERS)}."),
    utility: str = typer.Option("loss", "--utility", help="Scorer utility: loss (negative validation loss) or accuracy."),
    seed: int = typer.Option(0, "--seed", help="Seeds data splits, training, rounding and the scorer."),
    dataset: str = typer.Option("breast_cancer", "--dataset", help="breast_cancer, digits or wine."),
    partition: str = typer.Option("iid", "--partition", help="iid, dirichlet:ALPHA or quantity:ALPHA."),
    model: str = typer.Option("mlp", "--model", help="logreg, mlp or cnn."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size."),
    local_epochs: int = typer.Option(2, "--local-epochs", help="Local epochs per round."),
    lr: float = typer.Option(0.05, "--lr", help="Local learning rate."),
    encrypt: bool = typer.Option(True, "--encrypt/--no-encrypt", help="Paillier-encrypt updates (default)."),
    aggregation: str = typer.Option("fedavg", "--aggregation", help="fedavg, or gated: each round leaves out participants whose reputation (discounted GTG contributions) is at or below --gate-threshold."),
    gate_threshold: float = typer.Option(0.0, "--gate-threshold", help="Reputation at or below which gated aggregation leaves a participant out."),
    gate_memory: float = typer.Option(0.0, "--gate-memory", help="Gated: reputation = this x previous reputation + round score (0: this round only, 1: cumulative)."),
    gate_norm_factor: float = typer.Option(NORM_FACTOR, "--gate-norm-factor", help="Gated: also leave out each update whose L2 norm exceeds this times the round's median norm (0: off)."),
    dp_epsilon: float = typer.Option(0.0, "--dp-epsilon", help="Client-level DP budget over all rounds (0: no DP)."),
    dp_delta: float = typer.Option(1e-5, "--dp-delta", help="δ of --dp-epsilon and --dp-sgd-epsilon."),
    dp_clip: float = typer.Option(1.0, "--dp-clip", help="L2 bound of each node's update under DP."),
    dp_sgd_epsilon: float = typer.Option(0.0, "--dp-sgd-epsilon", help="Record-level DP: each node trains by DP-SGD (Opacus) within this budget over all rounds (0: off)."),
    dp_sgd_clip: float = typer.Option(1.0, "--dp-sgd-clip", help="L2 bound of each record's gradient under DP-SGD."),
    key_custody: str = typer.Option("single", "--key-custody", help="single (one key holder) or threshold:T-of-N (T of N custodians decrypt)."),
    key_shares: Path | None = typer.Option(None, "--key-shares", file_okay=False, help="Pre-generated custodian share files (fedledger custody keygen) for threshold custody."),
    rpc: str | None = RpcOption,
    chain_id: int | None = ChainIdOption,
    out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the artifact store, the key holder's key and plots.", file_okay=False),
    json_path: Path | None = JsonOption,
    explorer: bool = typer.Option(False, "--explorer", help="At the end, serve the ledger explorer until Ctrl-C."),
    explorer_port: int = typer.Option(DEFAULT_PORT, "--explorer-port", min=1, max=65535, help="Port of --explorer on 127.0.0.1."),
) -> None:
    """Run a federation of hospitals on the ledger: encrypted rounds, contribution scores, rewards, audit."""
    start = time.perf_counter()
    if task_file is not None:
        refuse_task_flags(ctx, TASK_FLAGS)
        task = load_task_file(task_file)
        scorer, rounds, dataset, nodes = task.scoring.scorer, task.rounds, task.data.dataset, task.data.nodes
    if scorer not in SCORERS:
        raise BadInput(f"unknown scorer {scorer!r}; choose one of {', '.join(SCORERS)}")
    if rounds < 1:
        raise BadInput(f"--rounds must be at least 1, got {rounds}")
    if explorer:
        check_port(explorer_port, "--explorer-port")
    custody = task.custody if task_file is not None else CustodyConfig.parse(key_custody, encrypt, key_bits)
    if key_shares is not None and not custody.threshold_custody:
        raise BadInput("--key-shares needs --key-custody threshold:T-of-N")
    if key_shares is not None and not key_shares.is_dir():
        raise BadInput(f"--key-shares {key_shares} is not a directory")
    torch.set_num_threads(1)
    if task_file is None:
        task = TaskConfig(
            data=DataConfig(dataset, partition, nodes),
            model=ModelChoice(model),
            training=TrainConfig(epochs=local_epochs, lr=lr, batch_size=16),
            custody=custody,
            scoring=ScoringConfig(scorer, utility, aggregation, gate_threshold, gate_memory, gate_norm_factor),
            privacy=PrivacyConfig(dp_epsilon, dp_delta, dp_clip, dp_sgd_epsilon, dp_sgd_clip),
            rounds=rounds,
            patience=patience,
            seed=seed,
        )
    config = DemoConfig(task, free_riders, label_flippers)
    config.behaviours()
    if task.scoring.aggregation not in AGGREGATIONS:
        raise BadInput(f"unknown aggregation {task.scoring.aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")
    if not valid_norm_factor(task.scoring.gate_norm_factor):
        raise BadInput(f"gate norm factor must be 0 (off) or at least 1, got {task.scoring.gate_norm_factor}")
    if task.privacy.epsilon < 0 or not 0 < task.privacy.delta < 1 or task.privacy.clip <= 0:
        raise BadInput("--dp-epsilon must be non-negative, --dp-delta in (0, 1) and --dp-clip positive")
    if task.privacy.sgd_epsilon < 0 or task.privacy.sgd_clip <= 0:
        raise BadInput("--dp-sgd-epsilon must be non-negative and --dp-sgd-clip positive")
    if task.privacy.sgd_epsilon > 0 and task.training.prox_mu > 0:
        raise BadInput("DP-SGD cannot train with a FedProx term: its gradient is not clipped per record")
    chain = open_chain(rpc, chain_id)
    with console.status("deploying the ledger, joining the nodes, publishing the task"):
        federation = setup_federation(config, chain, out, key_shares)
    console.print(
        f"ledger [bold]{federation.ledger.address}[/bold] on chain {chain.chain_id} "
        f"({rpc or 'embedded py-evm'}), task {federation.task_id}, {nodes} nodes joined"
    )
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    with progress:
        bar = progress.add_task("rounds", total=rounds)

        def on_round(record: DemoRound) -> None:
            o = record.outcome
            progress.console.print(
                f"round {o.round_id}: test accuracy {record.test_accuracy:.3f} "
                f"(centralized {record.centralized_accuracy:.3f}), validation {o.accuracy:.3f}, "
                f"{o.evaluations} evaluations, {o.seconds:.1f} s"
                + (f", dropped {len(o.dropped)}" if o.dropped else "")
                + (f", slashed {len(o.slashed)}" if o.slashed else "")
                + (f", gated out {len(o.gated)}" if o.gated else "")
            )
            progress.advance(bar)

        result = run_demo(federation, on_round=on_round)
    _print_nodes(result)
    if result.stopped_early or result.best_round != result.rounds[-1].outcome.round_id:
        console.print(
            f"released the model of round {result.best_round} (best validation metric): test accuracy {result.best.test_accuracy:.3f}"
            + (f"; stopped early after {len(result.rounds)} rounds" if result.stopped_early else "")
        )
    console.print(
        f"global model accuracy [bold]{result.rounds[-1].test_accuracy:.3f}[/bold], "
        f"centralized {result.centralized_accuracy:.3f} (test set of {len(federation.data.test)})"
    )
    spent = privacy_spent(federation.coordinator.spec, len(result.rounds))
    if spent is not None:
        console.print(
            f"client-level DP: ε = [bold]{spent['epsilon_spent']:.3f}[/bold] spent at δ = {spent['delta']:g} "
            f"(Opacus RDP accountant, noise multiplier {spent['noise_multiplier']:.3f}, clip {spent['clip']:g})"
        )
    records = record_privacy_spent(federation)
    if records is not None:
        console.print(
            f"record-level DP (DP-SGD): largest ε a node spent = [bold]{records['epsilon_spent']:.3f}[/bold] at δ = {records['delta']:g} "
            f"(Opacus RDP accountant, noise multiplier {records['noise_multiplier']:.3f}, clip {records['clip']:g} per record)"
        )
    print_audit(result.audit)
    payload = demo_json(result, rpc, out, time.perf_counter() - start)
    payload["privacy"] = spent
    payload["dp_sgd"] = records
    plot_accuracy(
        out / "accuracy.png",
        [r.test_accuracy for r in result.rounds],
        [r.centralized_accuracy for r in result.rounds],
        title=f"{dataset}: federated (encrypted) vs centralized",
    )
    plot_contributions(
        out / "contributions.png",
        {f"{n.name} ({n.behaviour_name})": [r.outcome.scores[n.participant_id] for r in result.rounds] for n in federation.nodes},
    )
    write_json(json_path, payload)
    console.print(f"ledger {federation.ledger.address}; artifacts {out / 'artifacts'}; plots in {out}")
    if rpc is not None:
        console.print("explore it: " + explorer_command_line(federation.ledger.address, rpc, out / "artifacts", federation.key_path), soft_wrap=True)
    elif not explorer:
        console.print("explore it: the embedded chain ends with this command; `fedledger demo --explorer` serves the explorer at the end")
    if explorer:
        key = load_private_key(federation.key_path) if federation.key_path is not None else None
        serve(Explorer(chain, federation.ledger.address, out / "artifacts", key), explorer_port, None, {"rpc": rpc})
    if not result.audit.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


def privacy_spent(spec: FederationSpec, rounds: int) -> dict[str, float] | None:
    """The task's client-level DP after ``rounds`` rounds: ε spent (Opacus RDP), δ, noise multiplier, clip; None without DP."""
    if spec.client_dp() is None:
        return None
    return {
        "epsilon_spent": epsilon_spent(spec.dp_noise_multiplier, spec.dp_delta, rounds),
        "delta": spec.dp_delta,
        "noise_multiplier": spec.dp_noise_multiplier,
        "clip": spec.dp_clip,
    }


def record_privacy_spent(federation: Federation) -> dict[str, float] | None:
    """The task's DP-SGD so far: the largest ε a node spent (its own Opacus RDP accountant), δ, noise multiplier, clip; None without."""
    spec = federation.coordinator.spec
    if spec.record_dp() is None:
        return None
    return {
        "epsilon_spent": largest_epsilon_spent((n.participant.private_training for n in federation.nodes), spec.dp_sgd_delta),
        "delta": spec.dp_sgd_delta,
        "noise_multiplier": spec.dp_sgd_noise_multiplier,
        "clip": spec.dp_sgd_clip,
    }


def _print_nodes(result: DemoResult) -> None:
    ledger = result.federation.ledger
    table = Table(title="nodes")
    for column in ("node", "address", "behaviour", "cumulative score", "reward", "tokens"):
        table.add_column(column, justify="right" if column in ("cumulative score", "reward", "tokens") else "left")
    for node in result.federation.nodes:
        member = ledger.member(node.participant_id)
        table.add_row(
            node.name,
            node.participant_id,
            node.behaviour_name,
            f"{from_fixed(member.cumulative_score):.4f}",
            f"{member.total_reward / TOKEN:.2f}",
            f"{ledger.token_balance(node.participant_id) / TOKEN:.2f}",
        )
    console.print(table)


def demo_json(result: DemoResult, rpc: str | None, out: Path, elapsed_s: float) -> dict[str, Any]:
    """The demo's JSON document (keys fixed by the CLI contract)."""
    federation = result.federation
    ledger = federation.ledger
    nodes = []
    for node in federation.nodes:
        member = ledger.member(node.participant_id)
        nodes.append(
            {
                "name": node.name,
                "address": node.participant_id,
                "behavior": node.behaviour_name,
                "score": from_fixed(member.cumulative_score),
                "reward": member.total_reward / TOKEN,
                "reward_units": member.total_reward,
                "tokens": ledger.token_balance(node.participant_id) / TOKEN,
            }
        )
    return {
        "ledger": {"address": ledger.address, "chain_id": federation.chain.chain_id, "rpc": rpc, "task_id": federation.task_id},
        "rounds": [
            {
                "round": r.outcome.round_id,
                "accuracy": r.test_accuracy,
                "validation_accuracy": r.outcome.accuracy,
                "centralized_accuracy": r.centralized_accuracy,
                "scores": r.outcome.scores,
                "rewards": {a: v / TOKEN for a, v in r.outcome.rewards.items()},
                "dropped": [d.participant_id for d in r.outcome.dropped],
                "gated": list(r.outcome.gated),
                "evaluations": r.outcome.evaluations,
                "seconds": r.outcome.seconds,
            }
            for r in result.rounds
        ],
        "nodes": nodes,
        "final_accuracy": result.rounds[-1].test_accuracy,
        "best_round": result.best_round,
        "best_accuracy": result.best.test_accuracy,
        "released_model_hash": ledger.round(result.best_round).aggregated_model_hash,
        "released_on_chain": _released_on_chain(ledger, federation.task_id),
        "stopped_early": result.stopped_early,
        "centralized_accuracy": result.centralized_accuracy,
        "audit": result.audit.to_json(),
        "artifacts": str(out / "artifacts"),
        "key": str(federation.key_path) if federation.key_path else None,
        "plots": [str(out / "accuracy.png"), str(out / "contributions.png")],
        "elapsed_s": elapsed_s,
    }


def _released_on_chain(ledger: Any, task_id: int) -> dict[str, object] | None:
    """The task's released model as the ledger marks it: ``{"round", "model_hash"}``, None if none."""
    released = ledger.released_model(task_id)
    return {"round": released[0], "model_hash": released[1]} if released else None
