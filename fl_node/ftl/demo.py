"""The FTL demo: split a bundled dataset, run the encrypted and the plaintext protocol, compare, record.

Everything ``fedledger ftl demo`` reports comes from :func:`run_demo`; the CLI only prints it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from fl_node.ftl.data import transfer_split
from fl_node.ftl.evaluation import held_out_auc, target_only_baseline
from fl_node.ftl.protocol import FTLConfig, FTLRun, run_ftl
from fl_node.ftl.record import record_ftl_run
from fl_node.task import LedgerRoles
from incentive.fixedpoint import to_fixed

__all__ = ["DemoConfig", "run_demo", "seed_sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs.

    Attributes
    ----------
    overlap : float (default: 0.1)
        Fraction of the target's samples the source holds too.
    dataset : str (default: "digits")
        :data:`fl_node.ftl.data.DATASETS`.
    target_size : int | None (default: the dataset's default)
    seed : int (default: 0)
        Seeds the split and the protocol (networks, batches).
    protocol : FTLConfig (default: FTLConfig())
        Protocol settings; its seed is replaced by ``seed``.
    rpc : str | None (default: None)
        JSON-RPC URL of the chain; None uses the embedded chain.
    chain_id : int | None (default: None)
        Refuse a chain with another id.
    roles : LedgerRoles | None (default: None, deploy a fresh ledger)
        Record the run as a task of this existing ledger (on the chain at ``rpc``).
    seeds : int (default: 0)
        Also run the plaintext protocol and the target-only baseline at seeds 0..seeds-1 (the
        split and the protocol reseeded together) and report the gain at each; 0 skips it.
    """

    overlap: float = 0.1
    dataset: str = "digits"
    target_size: int | None = None
    seed: int = 0
    protocol: FTLConfig = FTLConfig()
    rpc: str | None = None
    chain_id: int | None = None
    seeds: int = 0
    roles: LedgerRoles | None = None


def run_demo(config: DemoConfig, *, on_iteration: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Run the demo; returns the JSON payload of ``fedledger ftl demo``.

    ``on_iteration(mode, i)`` is called after iteration ``i`` of the "encrypted" and the
    "plaintext" run, and with mode "seeds" after the ``i``-th seed of the sweep. Keys: ``overlap``, ``auc`` (encrypted protocol), ``target_only_auc``,
    ``plaintext_auc``, ``iterations``, ``ledger`` {``address``, ``chain_id``, ...}, and the split,
    seeds, settings, Shapley values, rewards and timings; ``seed_sweep`` (:func:`seed_sweep`)
    when ``config.seeds`` > 0.
    """
    from incentive.chain import connect

    split = transfer_split(config.overlap, dataset=config.dataset, target_size=config.target_size, seed=config.seed)
    protocol = replace(config.protocol, seed=config.seed)
    runs: dict[str, FTLRun] = {}
    seconds: dict[str, float] = {}
    for mode, encrypted in (("encrypted", True), ("plaintext", False)):
        callback = None if on_iteration is None else (lambda i, m=mode: on_iteration(m, i))
        start = time.perf_counter()
        runs[mode] = run_ftl(split.source, split.target, replace(protocol, encrypted=encrypted), record=True, on_iteration=callback)
        seconds[mode] = time.perf_counter() - start
    auc = held_out_auc(split, runs["encrypted"].target.scores)
    plaintext_auc = held_out_auc(split, runs["plaintext"].target.scores)
    start = time.perf_counter()
    baseline = target_only_baseline(split, seed=config.seed)
    seconds["target_only"] = time.perf_counter() - start
    start = time.perf_counter()
    held_ids, _ = split.held_out()
    encrypted_run = runs["encrypted"]
    spec = {"settings": asdict(protocol), "split": split.description, "seed": config.seed}
    record, shapley = record_ftl_run(
        connect(config.rpc, chain_id=config.chain_id), encrypted_run, spec=spec, held_out_ids=held_ids, auc=auc, target_only_auc=baseline.auc,
        roles=config.roles,
    )
    seconds["ledger"] = time.perf_counter() - start
    sweep = {}
    if config.seeds > 0:
        start = time.perf_counter()
        callback = None if on_iteration is None else (lambda i: on_iteration("seeds", i))
        sweep = {"seed_sweep": seed_sweep(config, on_seed=callback)}
        seconds["seed_sweep"] = time.perf_counter() - start
    log.info("FTL demo: AUC %.4f (plaintext %.4f), target-only %.4f", auc, plaintext_auc, baseline.auc)
    return {
        "overlap": config.overlap,
        "auc": auc,
        "target_only_auc": baseline.auc,
        "plaintext_auc": plaintext_auc,
        "iterations": encrypted_run.target.iterations,
        "ledger": record.to_json() | {"performance": to_fixed(auc), "scores": {name: to_fixed(v) for name, v in shapley.items()}},
        "gain": auc - baseline.auc,
        "encrypted_vs_plaintext": abs(auc - plaintext_auc),
        "shapley": shapley,
        "seed": config.seed,
        "dataset": split.dataset,
        "split": split.description,
        "shared_samples": len(encrypted_run.target.overlap),
        "held_out_samples": len(held_ids),
        "target_only": {"C": baseline.C, "labelled": baseline.labelled},
        "settings": {
            "dim": protocol.dim,
            "gamma": protocol.gamma,
            "source_weight": protocol.source_weight,
            "source_hidden": protocol.source_hidden,
            "target_hidden": protocol.target_hidden,
            "learning_rate": protocol.learning_rate,
            "target_weight_decay": protocol.target_weight_decay,
            "precision_bits": protocol.precision_bits,
            "key_bits": protocol.key_bits,
            "randomness": protocol.randomness,
            "batch_size": protocol.batch_size,
        },
        "bytes_exchanged": {mode: run.bytes_exchanged for mode, run in runs.items()},
        "seconds": seconds | {f"encrypted_{phase}": value for phase, value in encrypted_run.target.seconds.items()},
    } | sweep


def seed_sweep(config: DemoConfig, *, on_seed: Callable[[int], None] | None = None) -> dict[str, Any]:
    """FTL (plaintext protocol) against the target-only model at seeds 0..``config.seeds``-1.

    Each seed draws a new split (which samples are shared and held out) and new initial
    networks; the plaintext protocol matches the encrypted one within the quantization bound,
    so the sweep runs in the clear. Returns ``{"seeds", "ftl_auc", "target_only_auc", "gains",
    "mean_gain", "min_gain", "negative_seeds"}`` (lists indexed by seed).
    """
    ftl_auc: list[float] = []
    baseline_auc: list[float] = []
    for seed in range(config.seeds):
        split = transfer_split(config.overlap, dataset=config.dataset, target_size=config.target_size, seed=seed)
        run = run_ftl(split.source, split.target, replace(config.protocol, seed=seed, encrypted=False))
        ftl_auc.append(held_out_auc(split, run.target.scores))
        baseline_auc.append(target_only_baseline(split, seed=seed).auc)
        if on_seed is not None:
            on_seed(seed + 1)
    gains = [a - b for a, b in zip(ftl_auc, baseline_auc)]
    return {
        "seeds": config.seeds,
        "ftl_auc": ftl_auc,
        "target_only_auc": baseline_auc,
        "gains": gains,
        "mean_gain": float(sum(gains) / len(gains)),
        "min_gain": min(gains),
        "negative_seeds": [seed for seed, gain in enumerate(gains) if gain < 0],
    }
