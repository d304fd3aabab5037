"""`fedledger train`: horizontal federated training with Paillier-encrypted updates, beside its centralized baseline."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from incentive.atomic import write_atomic
from fl_node.cli.key_options import KeyPassphraseFileOption, key_passphrase
from fl_node.crypto.codec import TASK_CODEC
from fl_node.hfl.gating import NORM_FACTOR, valid_norm_factor
from incentive.cohort import MIN_COHORT

if TYPE_CHECKING:
    from fl_node.data import Dataset
    from fl_node.simulation import SeedResult, SimulationConfig


@app.command("train")
def train_command(
    dataset: str = typer.Option("breast_cancer", "--dataset", help="breast_cancer, digits or wine (ignored with --data)."),
    data: Path | None = typer.Option(None, "--data", help="A CSV file with numeric features and a label column.", dir_okay=False),
    label: str | None = typer.Option(None, "--label", help="The CSV's label column."),
    id_columns: list[str] = typer.Option([], "--id-column", help="A column of --data that identifies records, not a feature (repeatable)."),
    drop: list[str] = typer.Option([], "--drop", help="A column of --data to leave out of the features (repeatable)."),
    nodes: int = typer.Option(10, "--nodes", help="Participants."),
    rounds: int = typer.Option(20, "--rounds", help="Federated rounds."),
    patience: int = typer.Option(0, "--patience", min=0, help="Stop after this many rounds without a better validation metric (0: off); the best round's model is released."),
    partition: str = typer.Option("dirichlet:0.5", "--partition", help="iid, dirichlet:ALPHA or quantity:ALPHA."),
    model: str = typer.Option("mlp", "--model", help="logreg, mlp or cnn (square images: digits)."),
    hidden: int = typer.Option(32, "--hidden", help="MLP hidden width."),
    encrypt: bool = typer.Option(True, "--encrypt/--no-encrypt", help="Paillier-encrypt the updates (default) or send float32."),
    seed: int | None = typer.Option(None, "--seed", help="One seed (default 0)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Run seeds 0..K-1; top-level accuracies are their means."),
    local_epochs: int = typer.Option(5, "--local-epochs", help="Local epochs per round."),
    lr: float = typer.Option(0.1, "--lr", help="Learning rate."),
    batch_size: int = typer.Option(16, "--batch-size", help="Minibatch size."),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd or adam."),
    mu: float = typer.Option(0.0, "--mu", help="FedProx proximal weight (0: FedAvg)."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size for a fresh key pair."),
    key: Path | None = typer.Option(None, "--key", help="Use this Paillier private key file instead of a fresh pair.", dir_okay=False),
    key_passphrase_file: Path | None = KeyPassphraseFileOption,
    bits: int = typer.Option(TASK_CODEC.bits, "--bits", help="Quantization bits of the packed codec."),
    degree: int = typer.Option(TASK_CODEC.degree, "--degree", help="Damgård–Jurik degree of the packed codec (1: Paillier; 0: automatic, 4 or 1, whichever sends fewer bytes)."),
    randomness: str = typer.Option(TASK_CODEC.randomness, "--randomness", help="Encryption randomness: full (r^n) or short (DJN h^a, extra assumption)."),
    clip: float = typer.Option(TASK_CODEC.clip, "--clip", help="Clip bound of each weighted-delta value (0: automatic, 1/nodes; under DP it covers the noise)."),
    min_participants: int = typer.Option(MIN_COHORT, "--min-participants", help="Submissions a round needs to complete (at least 3)."),
    aggregation: str = typer.Option("fedavg", "--aggregation", help="fedavg, or gated: each round leaves out participants whose reputation (discounted GTG contributions) is at or below --gate-threshold."),
    gate_threshold: float = typer.Option(0.0, "--gate-threshold", help="Reputation at or below which gated aggregation leaves a participant out."),
    gate_memory: float = typer.Option(0.0, "--gate-memory", help="Gated: reputation = this x previous reputation + round score (0: this round only, 1: cumulative)."),
    gate_norm_factor: float = typer.Option(NORM_FACTOR, "--gate-norm-factor", help="Gated: also leave out each update whose L2 norm exceeds this times the round's median norm (0: off)."),
    dp_epsilon: float = typer.Option(0.0, "--dp-epsilon", help="Client-level DP budget over all rounds (0: no DP)."),
    dp_delta: float = typer.Option(1e-5, "--dp-delta", help="δ of --dp-epsilon and --dp-sgd-epsilon."),
    dp_clip: float = typer.Option(1.0, "--dp-clip", help="L2 bound of each node's update under DP."),
    dp_sgd_epsilon: float = typer.Option(0.0, "--dp-sgd-epsilon", help="Record-level DP: each node trains by DP-SGD (Opacus) within this budget over all rounds (0: off)."),
    dp_sgd_clip: float = typer.Option(1.0, "--dp-sgd-clip", help="L2 bound of each record's gradient under DP-SGD."),
    compare_plaintext: bool = typer.Option(
        False, "--compare-plaintext", help="Also run each seed without encryption and report the differences."
    ),
    json_path: Path | None = JsonOption,
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of federated vs centralized accuracy per round.", dir_okay=False),
) -> None:
    """Train a model federatedly (encrypted updates, weighted FedAvg) and centrally with the same budget."""
    if randomness not in ("full", "short"):
        raise BadInput(f"--randomness must be 'full' or 'short', got {randomness!r}")
    if compare_plaintext and not encrypt:
        raise BadInput("--compare-plaintext compares an encrypted run with a plaintext one; drop --no-encrypt")
    if seed is not None and seeds is not None:
        raise BadInput("give --seed S or --seeds K, not both")
    if seeds is not None and seeds < 1:
        raise BadInput(f"--seeds must be at least 1, got {seeds}")
    if not MIN_COHORT <= min_participants <= nodes:
        raise BadInput(f"--min-participants must be in {MIN_COHORT}..{nodes} (a round of fewer would show each its peers' updates), got {min_participants}")
    if aggregation not in ("fedavg", "gated"):
        raise BadInput(f"unknown aggregation {aggregation!r}; choose fedavg or gated")
    if not valid_norm_factor(gate_norm_factor):
        raise BadInput(f"--gate-norm-factor must be 0 (off) or at least 1, got {gate_norm_factor}")
    if dp_epsilon < 0 or not 0 < dp_delta < 1 or dp_clip <= 0:
        raise BadInput("--dp-epsilon must be non-negative, --dp-delta in (0, 1) and --dp-clip positive")
    if dp_sgd_epsilon < 0 or dp_sgd_clip <= 0:
        raise BadInput("--dp-sgd-epsilon must be non-negative and --dp-sgd-clip positive")
    if dp_sgd_epsilon > 0 and mu > 0:
        raise BadInput("--dp-sgd-epsilon cannot train with --mu: the FedProx gradient is not clipped per record")
    seed_list = list(range(seeds)) if seeds is not None else [0 if seed is None else seed]
    # torch and the rest load here, not at import, so that every other command starts fast
    import torch

    from fl_node.crypto.keys import generate_keypair, load_private_key
    from fl_node.data import load_dataset
    from fl_node.simulation import RoundConfig, SimulationConfig, run_seed
    from fl_node.task import CustodyConfig, DataConfig, ModelChoice, PrivacyConfig, ScoringConfig, TaskConfig
    from fl_node.training import TrainConfig

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    ds = load_dataset(None if data is not None else dataset, csv_path=data, label=label, id_columns=id_columns, drop=drop)
    task_config = TaskConfig(
        data=DataConfig(partition=partition, nodes=nodes),
        model=ModelChoice(model, hidden),
        training=TrainConfig(epochs=local_epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, prox_mu=mu),
        codec=replace(TASK_CODEC, bits=bits, clip=clip, max_participants=1, degree=degree, randomness=randomness),
        custody=CustodyConfig(encrypt=encrypt, key_bits=key_bits),
        scoring=ScoringConfig(aggregation=aggregation, gate_threshold=gate_threshold, gate_memory=gate_memory, gate_norm_factor=gate_norm_factor),
        privacy=PrivacyConfig(dp_epsilon, dp_delta, dp_clip, dp_sgd_epsilon, dp_sgd_clip),
        rounds=rounds,
        patience=patience,
    )
    config = SimulationConfig(task_config, round=RoundConfig(min_participants=min_participants))
    _check_inputs(config, ds, seed_list[0])
    keypair = None
    if encrypt:
        if key is not None:
            private = load_private_key(key, passphrase=key_passphrase(key_passphrase_file))
            keypair = (private.public_key, private)
            # the task's key size is the given key's (its spec refuses a public key of any other size)
            task_config = replace(task_config, custody=replace(task_config.custody, key_bits=private.public_key.n.bit_length()))
        else:
            with console.status(f"generating a {key_bits}-bit Paillier key pair"):
                keypair = generate_keypair(key_bits)

    results: list[SeedResult] = []
    plain_results: list[SeedResult] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:
        task = progress.add_task("training", total=len(seed_list) * rounds * (2 if compare_plaintext else 1))

        def run(s: int, encrypted: bool) -> SeedResult:
            progress.update(task, description=f"seed {s} {'encrypted' if encrypted else 'plaintext'}")
            return run_seed(
                replace(config, task=replace(task_config, custody=replace(task_config.custody, encrypt=encrypted)), check_exact=compare_plaintext),
                ds, s, keypair if encrypted else None,
                lambda _record: progress.advance(task),
            )

        for s in seed_list:
            results.append(run(s, encrypt))
            if compare_plaintext:
                plain_results.append(run(s, False))

    payload = _payload(config, ds, results, plain_results)
    _print_tables(payload, seed_list)
    write_json(json_path, payload)
    if plot is not None:
        _plot(payload, ds.name, plot)


def _check_inputs(config: SimulationConfig, ds: Dataset, seed: int) -> None:
    """Fail on bad data, partition or model before spending time on keys."""
    from fl_node.data import federate

    task = config.task
    data = federate(ds, task.data.nodes, task.data.partition, seed=seed, split=config.split)
    task.model.build(data.n_features, data.n_classes)
    if task.rounds < 1:
        raise BadInput(f"--rounds must be at least 1, got {task.rounds}")


def _payload(config: SimulationConfig, ds: Dataset, results: list[SeedResult], plain: list[SeedResult]) -> dict[str, Any]:
    task = config.task

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    rounds = [
        {
            "round": r + 1,
            "accuracy": mean([res.rounds[r].accuracy for res in results]),
            "loss": mean([res.rounds[r].loss for res in results]),
            "seconds": mean([res.rounds[r].seconds for res in results]),
            "bytes_up": int(round(mean([res.rounds[r].bytes_up for res in results]))),
            "centralized_accuracy": mean([res.rounds[r].centralized_accuracy for res in results]),
            "auc": mean([res.rounds[r].auc for res in results]),
            "clipped": int(sum(res.rounds[r].clipped for res in results)),
        }
        for r in range(min(len(res.rounds) for res in results))  # every seed's rounds (--patience may stop a seed early)
    ]
    per_seed = []
    for k, res in enumerate(results):
        entry: dict[str, Any] = {
            "seed": res.seed,
            "final_accuracy": res.final_accuracy,
            "best_round": res.best_round,
            "best_accuracy": res.best_accuracy,
            "stopped_early": res.stopped_early,
            "centralized_accuracy": res.centralized_accuracy,
            "param_error_bound": sum(r.error_bound for r in res.rounds),
        }
        if plain:
            ref = plain[k]
            entry["plaintext_final_accuracy"] = ref.final_accuracy
            entry["accuracy_diff_samples"] = int(round(abs(res.final_accuracy - ref.final_accuracy) * res.test_samples))
            entry["max_param_diff"] = float(np.max(np.abs(res.final_params.astype(np.float64) - ref.final_params)))
            entry["max_round_deviation"] = max(r.exact_deviation for r in res.rounds)
            entry["max_round_deviation_over_bound"] = max(r.exact_deviation / r.error_bound for r in res.rounds)
        per_seed.append(entry)
    return {
        "rounds": rounds,
        "final_accuracy": mean([res.final_accuracy for res in results]),
        "best_accuracy": mean([res.best_accuracy for res in results]),
        "centralized_accuracy": mean([res.centralized_accuracy for res in results]),
        "test_samples": results[0].test_samples,
        "encrypted": task.custody.encrypt,
        "aggregation": task.scoring.aggregation,
        # client-level DP: ε spent over the rounds (Opacus RDP accountant), None without DP
        "dp": None if task.privacy.epsilon <= 0 else {
            "epsilon": task.privacy.epsilon, "delta": task.privacy.delta, "clip": task.privacy.clip,
            "epsilon_spent": max(res.epsilon_spent for res in results),
        },
        # record-level DP (DP-SGD in every node): the largest ε a node spent, None without
        "dp_sgd": None if task.privacy.sgd_epsilon <= 0 else {
            "epsilon": task.privacy.sgd_epsilon, "delta": task.privacy.delta, "clip": task.privacy.sgd_clip,
            "epsilon_spent": max(res.record_epsilon_spent for res in results),
        },
        "per_seed": per_seed,
        "config": {
            "dataset": ds.name,
            "nodes": task.data.nodes,
            "rounds": task.rounds,
            "partition": task.data.partition,
            "model": task.model.name,
            "n_params": results[0].n_params,
            "local_epochs": task.training.epochs,
            "lr": task.training.lr,
            "batch_size": task.training.batch_size,
            "optimizer": task.training.optimizer,
            "mu": task.training.prox_mu,
            "bits": task.codec.bits,
            "degree": results[0].codec.degree,
            "randomness": task.codec.randomness,
            "clip": results[0].codec.clip,
            "seeds": [res.seed for res in results],
        },
    }


def _print_tables(payload: dict[str, Any], seed_list: list[int]) -> None:
    title = "per round" if len(seed_list) == 1 else f"per round, mean over {len(seed_list)} seeds"
    table = Table(title=title)
    for column in ("round", "accuracy", "loss", "seconds", "bytes sent", "centralized"):
        table.add_column(column, justify="right")
    for r in payload["rounds"]:
        table.add_row(
            str(r["round"]), f"{100 * r['accuracy']:.2f}%", f"{r['loss']:.4f}", f"{r['seconds']:.2f}",
            f"{r['bytes_up']:,}", f"{100 * r['centralized_accuracy']:.2f}%",
        )
    console.print(table)
    if len(seed_list) > 1 or "max_param_diff" in payload["per_seed"][0]:
        seeds_table = Table(title="per seed")
        columns = ["seed", "fed %", "central %"]
        compare = "max_param_diff" in payload["per_seed"][0]
        if compare:
            columns += ["plain %", "Δ samples", "max|Δθ|", "Σ bounds", "dev/bound"]
        for column in columns:
            seeds_table.add_column(column, justify="right")
        for s in payload["per_seed"]:
            row = [str(s["seed"]), f"{100 * s['final_accuracy']:.2f}", f"{100 * s['centralized_accuracy']:.2f}"]
            if compare:
                row += [
                    f"{100 * s['plaintext_final_accuracy']:.2f}", str(s["accuracy_diff_samples"]),
                    f"{s['max_param_diff']:.1e}", f"{s['param_error_bound']:.1e}",
                    f"{s['max_round_deviation_over_bound']:.2f}",
                ]
            seeds_table.add_row(*row)
        console.print(seeds_table)
    mode = "encrypted" if payload["encrypted"] else "plaintext"
    console.print(
        f"federated ({mode}) {100 * payload['final_accuracy']:.2f}%  centralized "
        f"{100 * payload['centralized_accuracy']:.2f}%  on {payload['test_samples']} test samples"
    )
    for key, level in (("dp", "client-level"), ("dp_sgd", "record-level (DP-SGD)")):
        if payload[key] is not None:
            console.print(f"{level} DP: ε = {payload[key]['epsilon_spent']:.3f} spent of {payload[key]['epsilon']:g} at δ = {payload[key]['delta']:g}")


def _plot(payload: dict[str, Any], name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rounds = [r["round"] for r in payload["rounds"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    mode = "encrypted" if payload["encrypted"] else "plaintext"
    ax.plot(rounds, [100 * r["accuracy"] for r in payload["rounds"]], marker="o", label=f"federated ({mode})")
    ax.plot(rounds, [100 * r["centralized_accuracy"] for r in payload["rounds"]], marker="s", label="centralized, same budget")
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy (%)")
    seeds = payload["config"]["seeds"]
    ax.set_title(f"{name}: mean over {len(seeds)} seed(s)" if len(seeds) > 1 else f"{name}: seed {seeds[0]}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format=Path(path).suffix[1:].lower() or "png", dpi=120)
    plt.close(fig)
    write_atomic(path, image.getvalue())
