"""How a round's cost grows with nodes (N) and model size (P): what `fedledger bench scale` measures.

Each cell of the grid N × P is one encrypted federation on the embedded chain (py-evm), run in
its own process (so its peak resident memory is its own) through
:func:`~fl_node.hfl.runner.run_federation`: digits (sklearn) split IID over N nodes, an MLP
whose hidden width makes it about P parameters, the packed codec, GTG scoring capped at
``score_budget`` evaluations per round, and the ledger's transactions. Every call that matters
is charged to a phase by a :class:`~fl_node.phase_clock.PhaseClock`; per round the JSON holds
the self seconds of

- ``training``: local fits (all N nodes, one after another, as the in-process transport runs them);
- ``encryption``: quantize, pack and encrypt each update and prove knowledge of its plaintexts
  (worker processes; precomputed randomness is drawn in the background while the next node trains);
- ``aggregation``: parse the blobs, verify their proofs and add ciphertexts (the round's sum);
- ``decryption``: the key holder's decryptions: each update alone (its validity check) and the
  round's sum; scoring adds each coalition's sum from the singletons' integers and decrypts none;
- ``scoring``: the scorer's own time: adding each coalition's update and evaluating its model on
  the validation split;
- ``chain``: every ledger call (open, N commits, reads, finalize), with the gas of each transaction;
- ``other``: the rest of the round (artifact store, hashing, verification).

A cell that runs past ``cell_timeout_s`` is killed and recorded as such; a cell above
``max_values`` (N·P) is skipped and recorded as such. Nothing is extrapolated. Where the
scorer's budget ends before GTG's first cycle of permutations, the round is finalized with
GTG's estimate from the permutations it walked (the mean marginal over them) and the record
says ``"scoring_complete": false`` with the evaluations and ``"permutations"`` made; where it
ends before a single permutation, with zero scores (``"permutations": 0``).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import resource
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.artifacts import ArtifactStore
from fl_node.crypto.codec import TASK_CODEC, CodecConfig
from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.crypto.paillier import RandomnessMode
from fl_node.crypto.parallel import shared_pool
from fl_node.data import federate, load_dataset
from fl_node.errors import FlNodeError
from fl_node.hfl.coordinator import Coordinator, RoundOutcome, RoundUtility
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.participant import Participant
from fl_node.hfl.runner import RunObserver, run_federation
from fl_node.hfl.spec import validation_to_bytes
from fl_node.phase_clock import PhaseClock, Timed
from fl_node.seeds import NODE_TRAINING, derive_seed
from fl_node.task import CustodyConfig, DataConfig, ModelChoice, ScoringConfig, TaskConfig, bootstrap_ledger, build_task
from fl_node.models import ModelConfig
from fl_node.training import TrainConfig, fit
from fl_node.transport.inprocess import InProcessTransport
from incentive.chain import embedded_chain
from incentive.contribution import make_scorer
from incentive.contribution.registry import scorer_options
from incentive.errors import ScorerError
from incentive.ledger import TaskCreated
from incentive.ledger.events import Receipt
from incentive.ledger.records import node_key_hash

PHASES = ("training", "encryption", "aggregation", "decryption", "scoring", "chain", "other")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ScaleBenchConfig:
    """The grid and the federation of each cell.

    Attributes
    ----------
    nodes : tuple[int, ...] (default: 10, 25, 50, 100)
    params : tuple[int, ...] (default: 1_000, 100_000, 1_000_000)
        Target parameter counts; the MLP's hidden width is chosen to come closest.
    rounds : int (default: 3)
    key_bits : int (default: 2048)
    bits, degree : int (default: 8, 0: a task's defaults)
        The packed codec's quantization bits and Damgård–Jurik degree (0: automatic, each cell's
        own, recorded as the cell's ``degree``).
    randomness : {"full", "short"} (default: "short", the task default)
        The packed codec's encryption randomness.
    scorer : str (default: "gtg")
    score_budget : int | None (default: 300)
        Most coalition evaluations per round (the scorer's ``max_evaluations``); None: the scorer's own stopping rule.
    max_values : int | None (default: None)
        Cells with N·P above this are skipped (recorded as skipped).
    cell_timeout_s : float | None (default: None)
        A cell still running after this many seconds is killed (recorded as timed out).
    dataset : str (default: "digits")
    seed : int (default: 0)
    """

    nodes: tuple[int, ...] = (10, 25, 50, 100)
    params: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    rounds: int = 3
    key_bits: int = 2048
    bits: int = TASK_CODEC.bits
    degree: int = TASK_CODEC.degree
    randomness: RandomnessMode = TASK_CODEC.randomness  # type: ignore[assignment]
    scorer: str = "gtg"
    score_budget: int | None = 300
    max_values: int | None = None
    cell_timeout_s: float | None = None
    dataset: str = "digits"
    seed: int = 0
    training: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1, lr=0.05, batch_size=16))

    def __post_init__(self) -> None:
        if not self.nodes or min(self.nodes) < 2:
            raise FlNodeError(f"--nodes needs values of at least 2, got {list(self.nodes)}")
        if not self.params or min(self.params) < 100:
            raise FlNodeError(f"--params needs values of at least 100, got {list(self.params)}")
        if self.rounds < 1:
            raise FlNodeError(f"--rounds must be at least 1, got {self.rounds}")
        if self.score_budget is not None and self.score_budget < 2:
            raise FlNodeError(f"--score-budget must be at least 2 evaluations, got {self.score_budget}")


def mlp_hidden_for(params: int, n_features: int, n_classes: int) -> int:
    """Hidden width h of a one-hidden-layer MLP whose ``(F+1)·h + (h+1)·C`` parameters come closest to ``params``."""
    return max(1, round((params - n_classes) / (n_features + 1 + n_classes)))


def mlp_parameters(hidden: int, n_features: int, n_classes: int) -> int:
    """Parameters of that MLP."""
    return (n_features + 1) * hidden + (hidden + 1) * n_classes


def warm_up_model(n_features: int, n_classes: int) -> torch.nn.Module:
    """A tiny MLP to train once, untimed, before a cell's rounds."""
    return ModelConfig("mlp", n_features, n_classes, 4).build()


class _TimedCoordinator(Coordinator):
    """A coordinator whose aggregator scheme, key holder and scorer run under a phase clock."""

    def __init__(self, *args: Any, clock: PhaseClock, score_budget: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.aggregator.scheme = Timed(self.aggregator.scheme, clock, {"parse": "aggregation", "check_proof": "aggregation", "add": "aggregation"})
        self.key_holder = Timed(
            self.key_holder, clock, {"new_global": "decryption", "decrypt": "decryption", "check_updates": "decryption"}
        )
        options = {"max_evaluations": score_budget} if score_budget is not None and "max_evaluations" in scorer_options(self.spec.scorer) else {}
        self.scorer_options = options
        self.scoring_complete: list[bool] = []
        self.scoring_evaluations: list[int] = []
        self.scoring_permutations: list[int] = []

    def score(self, round_id: int, utility: RoundUtility) -> tuple[dict[str, float], int]:
        calls = [0]

        def counted(coalition: frozenset[int]) -> float:
            calls[0] += 1
            return utility(coalition)

        with self.clock.phase("scoring"):
            try:
                result = make_scorer(self.spec.scorer, **self.scorer_options).score(
                    list(range(len(utility.ids))), counted, rng=np.random.default_rng([self.spec.seed, round_id])
                )
            except ScorerError:  # the budget ended before one permutation was walked
                self.scoring_complete.append(False)
                self.scoring_evaluations.append(calls[0])
                self.scoring_permutations.append(0)
                return {a: 0.0 for a in utility.ids}, calls[0]
        self.scoring_complete.append(result.complete)
        self.scoring_evaluations.append(result.evaluations)
        self.scoring_permutations.append(result.permutations)
        return {utility.ids[i]: float(v) for i, v in result.values.items()}, result.evaluations


def tree_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, its reaped children and its live children (the codec's workers).

    Under load a round's wall time says more about the other processes on the machine than about
    the round; its CPU seconds are the work it needs, whatever the load.
    """
    reaped = os.times()
    total = time.process_time() + reaped.children_user + reaped.children_system
    me, tick = os.getpid(), os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # fields after the parenthesised command: state ppid ... utime (14th field) stime (15th)
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone since the listing, or not ours to read
            continue
        if int(fields[1]) == me:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class _RoundRecorder(RunObserver):
    """Per round: the clock's seconds by phase, the CPU seconds, the gas of the round's transactions, the outcome."""

    def __init__(self, clock: PhaseClock, receipts: list[tuple[str, int]], coordinator: _TimedCoordinator, nodes: int) -> None:
        self.clock = clock
        self.receipts = receipts
        self.coordinator = coordinator
        self.nodes = nodes
        self.rounds: list[dict[str, Any]] = []
        self._mark = (time.perf_counter(), clock.snapshot(), 0, dict(clock.nested))
        self._cpu_mark = tree_cpu_seconds()

    def on_start(self, resumed_from: int, params: np.ndarray) -> None:
        self._mark = (time.perf_counter(), self.clock.snapshot(), len(self.receipts), dict(self.clock.nested))
        self._cpu_mark = tree_cpu_seconds()

    def on_round(self, outcome: RoundOutcome) -> None:
        start, before, first_receipt, nested_before = self._mark
        cpu = tree_cpu_seconds()
        wall = time.perf_counter() - start
        now = self.clock.snapshot()
        seconds = {p: now.get(p, 0.0) - before.get(p, 0.0) for p in PHASES if p != "other"}
        seconds["other"] = max(0.0, wall - sum(seconds.values()))
        seconds["total"] = wall
        in_scoring = {
            child: value - nested_before.get((parent, child), 0.0)
            for (parent, child), value in self.clock.nested.items()
            if parent == "scoring"
        }
        gas: dict[str, int] = {}
        for method, used in self.receipts[first_receipt:]:
            gas[method] = gas.get(method, 0) + used
        self.rounds.append({
            "seconds": seconds,
            "cpu_s": cpu - self._cpu_mark,
            "seconds_inside_scoring": in_scoring,
            "evaluations": outcome.evaluations,
            "scoring_complete": self.coordinator.scoring_complete[-1] if self.coordinator.scoring_complete else True,
            "permutations": self.coordinator.scoring_permutations[-1] if self.coordinator.scoring_permutations else 0,
            "gas": gas,
            "gas_total": sum(gas.values()),
            "transactions": len(self.receipts) - first_receipt,
            "bytes_up_per_node": outcome.bytes_up / self.nodes,
            "accuracy": outcome.accuracy,
        })
        self._mark = (time.perf_counter(), now, len(self.receipts), dict(self.clock.nested))
        self._cpu_mark = tree_cpu_seconds()


def run_cell(
    config: ScaleBenchConfig, nodes: int, params: int, keys: tuple[PaillierPublicKey, PaillierPrivateKey]
) -> dict[str, Any]:
    """One federation of ``nodes`` nodes and a model of about ``params`` parameters; returns its record."""
    setup_start = time.perf_counter()
    load_at_start = list(os.getloadavg())
    torch.set_num_threads(1)  # N nodes train one after another; more threads only contend on a shared box
    data = federate(load_dataset(config.dataset), nodes, "iid", seed=config.seed)
    hidden = mlp_hidden_for(params, data.n_features, data.n_classes)
    task = TaskConfig(
        data=DataConfig(config.dataset, "iid", nodes),
        model=ModelChoice("mlp", hidden),
        training=config.training,
        codec=CodecConfig(bits=config.bits, clip=1.0, max_participants=nodes, degree=config.degree, randomness=config.randomness),
        custody=CustodyConfig(encrypt=True, key_bits=config.key_bits),
        scoring=ScoringConfig(config.scorer, "loss"),
        rounds=config.rounds,
        seed=config.seed,
    )
    # torch's first fit in a process pays seconds of one-off set-up; keep it out of round 1's training
    fit(warm_up_model(data.n_features, data.n_classes), data.nodes[0], config.training, seed=0)
    public_key, private_key = keys
    chain = embedded_chain()
    roles = bootstrap_ledger(chain, task.rewards)
    accounts = [chain.new_account(task.rewards.stake_wei + 10**19) for _ in range(nodes)]
    for k, account in enumerate(accounts):
        roles.ledger.join(account, f"node-{k}", node_key_hash(account), stake_wei=task.rewards.stake_wei)
    spec = build_task(
        task, data.n_features, data.n_classes, {a.address: len(part) for a, part in zip(accounts, data.nodes)},
        public_key_to_bytes(public_key),
    )
    clock = PhaseClock()
    receipts: list[tuple[str, int]] = []

    def keep_gas(method: str, result: Any) -> None:
        if isinstance(result, Receipt):
            receipts.append((method, result.gas_used))

    # every public ledger call is chain time: transactions (open, commit, decryption records, finalize) and reads
    ledger_calls = [name for name in dir(type(roles.ledger)) if not name.startswith("_")]
    ledger = Timed(roles.ledger, clock, dict.fromkeys(ledger_calls, "chain"), keep_gas)
    with tempfile.TemporaryDirectory(prefix="fedledger-scale-") as root:
        store = ArtifactStore(Path(root))
        task_id = roles.ledger.create_task(
            roles.admin, store.put(spec.to_bytes()), store.put(validation_to_bytes(data.validation)),
            task.rewards.reward_per_round, task.min_participants,
        ).event(TaskCreated).task_id
        scheme = Timed(spec.scheme(), clock, {"encode": "encryption", "encode_proved": "encryption"})
        members = [
            LedgerNode(
                f"node-{k}",
                Timed(
                    Participant(account.address, part, spec.model.factory(), task.training, scheme,  # type: ignore[arg-type]
                                seed=derive_seed(task.seed, NODE_TRAINING, k)),
                    clock, {"submit": "training"},
                ),  # type: ignore[arg-type]
                account,
                ledger,  # type: ignore[arg-type]
            )
            for k, (account, part) in enumerate(zip(accounts, data.nodes))
        ]
        coordinator = _TimedCoordinator(
            spec, ledger, task_id, roles.aggregator, roles.evaluator, private_key, data.validation, store,
            clock=clock, score_budget=config.score_budget,
        )
        recorder = _RoundRecorder(clock, receipts, coordinator, nodes)
        setup_s = time.perf_counter() - setup_start
        run_federation(coordinator, InProcessTransport(members), config.rounds, observers=[recorder])  # type: ignore[arg-type]
    return {
        "nodes": nodes,
        "params_target": params,
        "params": spec.n_params,
        "hidden": hidden,
        "degree": spec.codec.degree,
        "status": "measured",
        "setup_s": setup_s,
        "rounds": recorder.rounds,
        "mean": _mean_round(recorder.rounds, nodes),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": {"start": load_at_start, "end": list(os.getloadavg())},
    }


def _mean_round(rounds: Sequence[dict[str, Any]], nodes: int) -> dict[str, Any]:
    keys = (*PHASES, "total")
    scoring_s = [r["seconds"]["scoring"] + sum(r["seconds_inside_scoring"].values()) for r in rounds]
    return {
        "seconds": {k: float(np.mean([r["seconds"][k] for r in rounds])) for k in keys},
        "scoring_with_its_decryptions_s": float(np.mean(scoring_s)),
        "cpu_s": float(np.mean([r["cpu_s"] for r in rounds])),
        "seconds_per_evaluation": float(np.sum(scoring_s) / max(1, sum(r["evaluations"] for r in rounds))),
        "evaluations": float(np.mean([r["evaluations"] for r in rounds])),
        "scoring_complete": all(r["scoring_complete"] for r in rounds),
        "permutations": float(np.mean([r["permutations"] for r in rounds])),
        "gas_total": float(np.mean([r["gas_total"] for r in rounds])),
        "gas_finalize": float(np.mean([r["gas"].get("finalize", 0) for r in rounds])),
        "gas_commit_per_node": float(np.mean([r["gas"].get("commit", 0) for r in rounds])) / nodes,
        "bytes_up_per_node": float(np.mean([r["bytes_up_per_node"] for r in rounds])),
    }


def _cell_process(config: ScaleBenchConfig, nodes: int, params: int, keys: tuple, answers: multiprocessing.Queue) -> None:
    os.setsid()  # its own process group, so that a timed-out cell is killed with its codec workers
    try:
        answers.put(run_cell(config, nodes, params, keys))
    except Exception as exc:  # reported in the cell's record, not lost in a dead process
        answers.put({"nodes": nodes, "params_target": params, "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
    finally:
        shared_pool().close()


def _run_isolated(config: ScaleBenchConfig, nodes: int, params: int, keys: tuple) -> dict[str, Any]:
    """:func:`run_cell` in a fresh process; killed (process group) after ``config.cell_timeout_s``."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    process = context.Process(target=_cell_process, args=(config, nodes, params, keys, answers))
    start = time.perf_counter()
    process.start()
    try:
        record = answers.get(timeout=config.cell_timeout_s)
    except queue.Empty:
        os.killpg(process.pid, signal.SIGKILL)
        record = {"nodes": nodes, "params_target": params, "status": "timed_out",
                  "error": f"still running after {config.cell_timeout_s:g} s; killed"}
    process.join(timeout=30)
    if process.is_alive():  # the codec's forked workers keep a finished cell from exiting
        os.killpg(process.pid, signal.SIGKILL)
        process.join()
    record["wall_s"] = time.perf_counter() - start
    return record


def run_scale_bench(
    config: ScaleBenchConfig, progress: Progress | None = None, on_cell: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Every cell of the grid (smallest N·P first), then the growth fits; the JSON of `fedledger bench scale`.

    ``on_cell`` gets the document so far after each cell (the CLI writes it, so a stopped run keeps its cells).
    """
    report = progress or (lambda message: None)
    report(f"generating a {config.key_bits}-bit Paillier key pair")
    keys = generate_keypair(config.key_bits)
    cells: list[dict[str, Any]] = []
    for nodes, params in sorted(((n, p) for n in config.nodes for p in config.params), key=lambda c: (c[0] * c[1], c)):
        if config.max_values is not None and nodes * params > config.max_values:
            cells.append({"nodes": nodes, "params_target": params, "status": "skipped",
                          "error": f"N·P = {nodes * params:,} is above --max-values {config.max_values:,}"})
            continue
        report(f"N = {nodes}, P ≈ {params:,}")
        cells.append(_run_isolated(config, nodes, params, keys))
        if on_cell is not None:
            on_cell(_document(config, cells))
    return _document(config, cells)


def _document(config: ScaleBenchConfig, cells: list[dict[str, Any]]) -> dict[str, Any]:
    settings = asdict(config)
    settings["training"] = asdict(config.training)
    return {
        "config": settings,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": list(os.getloadavg())},
        "cells": cells,
        "measured": [[c["nodes"], c["params_target"]] for c in cells if c["status"] == "measured"],
        "not_measured": [[c["nodes"], c["params_target"], c["status"]] for c in cells if c["status"] != "measured"],
        "growth": growth_exponents(cells),
    }


GROWTH_MEASURES = (*PHASES, "total", "cpu_s", "evaluations", "seconds_per_evaluation", "gas_total", "bytes_up_per_node", "peak_rss_mb")


def _measure(cell: dict[str, Any], name: str) -> float:
    """A cell's mean per-round value of ``name`` (NaN where the cell does not hold it)."""
    mean = cell["mean"]
    if name == "peak_rss_mb":
        return float(cell["peak_rss_mb"])
    return float(mean["seconds"].get(name, mean.get(name, math.nan)))


def growth_exponents(cells: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Least-squares slope of log(cost) against log(N) at each measured P, and against log(P) at each measured N.

    ``{"n": {measure: {"P=<params>": exponent}}, "p": {measure: {"N=<nodes>": exponent}}}``; a line
    needs two measured cells with positive costs, so a fixed value with fewer is left out.
    """
    measured = [c for c in cells if c["status"] == "measured"]
    growth: dict[str, dict[str, dict[str, float]]] = {"n": {}, "p": {}}
    for axis, fixed_key, varying_key, label in (("n", "params_target", "nodes", "P"), ("p", "nodes", "params", "N")):
        for name in GROWTH_MEASURES:
            fits: dict[str, float] = {}
            for fixed in sorted({c[fixed_key] for c in measured}):
                line = [(c[varying_key], _measure(c, name)) for c in measured if c[fixed_key] == fixed]
                line = [(x, y) for x, y in line if y > 0]  # NaN and zero costs have no logarithm
                if len({x for x, _ in line}) >= 2:
                    xs, ys = np.log([x for x, _ in line]), np.log([y for _, y in line])
                    fits[f"{label}={fixed}"] = float(np.polyfit(xs, ys, 1)[0])
            if fits:
                growth[axis][name] = fits
    return growth
