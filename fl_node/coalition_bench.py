"""What one coalition evaluation of a round's scorer costs: what `fedledger bench coalitions` measures.

GTG walks permutations of N opened updates (random integer slot values, as the key holder's
validity check leaves them) on a digits MLP of about P parameters. Each coalition's model is
built as the round's utility builds it (:class:`~fl_node.hfl.coalition_sums.AddedCoalitions`)
and evaluated on the validation split as it is (one model object loaded in place, the loss of
:func:`~fl_node.training.quick_evaluate`). Per N, milliseconds per evaluation (wall and CPU of
this process) with each sum built from the previous coalition's (``incremental``, the scorer's
way) and from scratch (``from_scratch``: |S| additions per coalition, the cost before), and how
the incremental time splits between building the model and the validation pass. Both ways give
the same models, so GTG makes the same walk and the same scores (``same_scores``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from fl_node.data import federate, load_dataset
from fl_node.errors import FlNodeError
from fl_node.hfl.coalition_sums import AddedCoalitions
from fl_node.models import ModelConfig, flatten, unflatten
from fl_node.scale_bench import mlp_hidden_for
from fl_node.training import quick_evaluate
from incentive.contribution.gtg import GtgShapley

SCALE = 2.0**8
"""Quantization scale of the synthetic slot values (an 8-bit codec's)."""


@dataclass(frozen=True)
class CoalitionBenchConfig:
    """What ``fedledger bench coalitions`` runs.

    Attributes
    ----------
    nodes : tuple[int, ...] (default: 10, 100)
    params : int (default: 100_000)
        Target parameter count of the MLP.
    evaluations : int (default: 2_000)
        GTG's ``max_evaluations`` per N (within-round truncation off, so every walk runs to its end).
    seed : int (default: 0)
    """

    nodes: tuple[int, ...] = (10, 100)
    params: int = 100_000
    evaluations: int = 2_000
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.nodes or min(self.nodes) < 2:
            raise FlNodeError(f"--nodes needs values of at least 2, got {list(self.nodes)}")
        if self.params < 100:
            raise FlNodeError(f"--params must be at least 100, got {self.params}")
        if self.evaluations < 2:
            raise FlNodeError(f"--evaluations must be at least 2, got {self.evaluations}")


def run_coalition_bench(config: CoalitionBenchConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every N of ``config``, both ways; returns the JSON document (module docstring)."""
    report = progress or (lambda message: None)
    torch.set_num_threads(1)  # as the scale bench's rounds run
    data = federate(load_dataset("digits"), 2, "iid", seed=config.seed)
    hidden = mlp_hidden_for(config.params, data.n_features, data.n_classes)
    model = ModelConfig("mlp", data.n_features, data.n_classes, hidden).build()
    global_params = flatten(model)
    rows = []
    for n in config.nodes:
        rng = np.random.default_rng([config.seed, n])
        quanta = {f"node-{k:03d}": rng.integers(-128, 128, global_params.size, dtype=np.int64) for k in range(n)}
        ways: dict[str, dict[str, Any]] = {}
        for way in ("incremental", "from_scratch"):
            report(f"N = {n}, {way}")
            ways[way] = _one_way(way, quanta, global_params, model, data.validation, config)
        rows.append({
            "nodes": n,
            "params": int(global_params.size),
            "validation_samples": len(data.validation),
            **{way: {k: v for k, v in record.items() if k != "scores"} for way, record in ways.items()},
            "same_scores": ways["incremental"]["scores"] == ways["from_scratch"]["scores"],
        })
    return {"config": asdict(config), "hidden": hidden, "results": rows}


def _one_way(way: str, quanta: dict[str, np.ndarray], global_params: np.ndarray, model: torch.nn.Module,
             validation: Any, config: CoalitionBenchConfig) -> dict[str, Any]:
    ids = sorted(quanta)
    added = AddedCoalitions(quanta, global_params, SCALE, 1.0)
    spent = {"build": 0.0, "validation": 0.0}

    def utility(coalition: frozenset[int]) -> float:
        start = time.perf_counter()
        if coalition:
            builder = added if way == "incremental" else AddedCoalitions(quanta, global_params, SCALE, 1.0)
            params = builder.model(frozenset(ids[i] for i in coalition))
        else:
            params = global_params
        built = time.perf_counter()
        loss = quick_evaluate(unflatten(model, params), validation).loss
        spent["build"] += built - start
        spent["validation"] += time.perf_counter() - built
        return -loss

    wall, cpu = time.perf_counter(), time.process_time()
    result = GtgShapley(within_tolerance=0.0, max_evaluations=config.evaluations).score(
        range(len(ids)), utility, rng=np.random.default_rng(config.seed)
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per = 1000.0 / result.evaluations
    return {
        "evaluations": result.evaluations,
        "permutations": result.permutations,
        "ms_per_evaluation": wall * per,
        "cpu_ms_per_evaluation": cpu * per,
        "build_ms_per_evaluation": spent["build"] * per,
        "validation_ms_per_evaluation": spent["validation"] * per,
        "scores": result.values,
    }
