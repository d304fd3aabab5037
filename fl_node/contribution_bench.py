"""Contribution scorers compared on real encrypted federated rounds: what `fedledger bench contribution` measures.

A federation of N nodes (two free-riders and one label-flipper among them by default) trains
for a few rounds with Paillier-encrypted updates. In every round each scorer values the same
verified updates with the same utility the ledger's evaluator uses (validation metric of the
model built from a subset's decrypted sum), each with its own empty cache, so its evaluation
count and seconds are its own. Approximate scorers are compared with exact Shapley per round
(Pearson, relative L2, Spearman; averaged over rounds) and on the values summed over rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fl_node.behaviours import behaviour_roster, make_behaviour
from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.data import federate, load_dataset
from fl_node.errors import FlNodeError
from fl_node.hfl.coordinator import RoundUtility
from fl_node.hfl.aggregator import Aggregator, collect_submissions
from fl_node.hfl.participant import Participant, RoundPlan
from fl_node.models import flatten
from fl_node.task import DataConfig, TaskConfig, build_task
from incentive.contribution import MAX_EXACT_PARTICIPANTS, agreement, make_scorer


@dataclass(frozen=True)
class ContributionBenchConfig:
    """A scorer comparison.

    Attributes
    ----------
    task : TaskConfig (default: 10 nodes, 3 rounds)
        Its data, model, local training, custody and utility; the scorer is every scorer.
    free_riders, label_flippers : int (default: 2, 1)
    gtg_budget : float (default: 0.3)
        GTG's cap on evaluations as a fraction of exact's 2^N (from N = 8; below, one
        guided cycle alone needs more than that fraction).
    """

    task: TaskConfig = field(default_factory=lambda: TaskConfig(data=DataConfig(nodes=10), rounds=3))
    free_riders: int = 2
    label_flippers: int = 1
    gtg_budget: float = 0.3

    def scorers(self) -> dict[str, tuple[str, dict[str, object]]]:
        """Label -> (scorer name, options) for every scorer compared."""
        nodes = self.task.data.nodes
        return {
            "exact": ("exact", {}),
            "gtg": ("gtg", {"max_evaluations": int(self.gtg_budget * 2**nodes)} if nodes >= 8 else {}),
            "tmc": ("tmc", {}),
            "loo": ("loo", {}),
        }


def run_contribution_bench(
    config: ContributionBenchConfig, on_step: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Run the rounds and every scorer; returns the JSON document of `fedledger bench contribution`."""
    task = config.task
    nodes = task.data.nodes
    if not 2 <= nodes <= MAX_EXACT_PARTICIPANTS:
        raise FlNodeError(f"--nodes must be 2..{MAX_EXACT_PARTICIPANTS} so that exact Shapley can run, got {nodes}")
    data = federate(load_dataset(task.data.dataset), nodes, task.data.partition, seed=task.seed)
    behaviours = behaviour_roster(nodes, config.free_riders, config.label_flippers)
    ids = [f"node-{k}" for k in range(nodes)]
    public_key, private_key = generate_keypair(task.custody.key_bits) if task.custody.encrypt else (None, None)
    public_key_bytes = public_key_to_bytes(public_key) if public_key is not None else b""
    spec = build_task(
        task, data.n_features, data.n_classes, {pid: len(part) for pid, part in zip(ids, data.nodes)}, public_key_bytes
    )
    model = spec.model
    scheme = spec.scheme()
    aggregator, key_holder = Aggregator(scheme), spec.key_holder(private_key)
    participants = [
        Participant(pid, part, model.factory(), task.training, scheme, seed=k, behaviour=make_behaviour(b, data.n_classes))
        for k, (pid, part, b) in enumerate(zip(ids, data.nodes, behaviours))
    ]
    global_params = flatten(model.build(task.seed))
    per_scorer: dict[str, dict[str, list]] = {
        label: {"evaluations": [], "seconds": [], "values": []} for label in config.scorers()
    }
    for r in range(1, task.rounds + 1):
        plan = RoundPlan(r, global_params, dict(spec.sample_counts))
        verified = aggregator.verify(plan, collect_submissions(participants, plan).submissions)
        for label, (name, options) in config.scorers().items():
            if on_step is not None:
                on_step(f"round {r}: {label}")
            utility = RoundUtility(spec, verified, key_holder, global_params, data.validation)
            order = utility.ids
            start = time.perf_counter()
            result = make_scorer(name, **options).score(
                list(range(len(order))), utility, rng=np.random.default_rng([task.seed, r])
            )
            per_scorer[label]["seconds"].append(time.perf_counter() - start)
            per_scorer[label]["evaluations"].append(result.evaluations)
            per_scorer[label]["values"].append({order[i]: v for i, v in result.values.items()})
        global_params = key_holder.new_global(global_params, verified.sum())
    return _summary(config, behaviours, ids, per_scorer)


def _summary(
    config: ContributionBenchConfig, behaviours: list[str], ids: list[str], per_scorer: dict[str, dict[str, list]]
) -> dict[str, object]:
    task = config.task
    exact_rounds = per_scorer["exact"]["values"]
    exact_total = {pid: sum(v[pid] for v in exact_rounds) for pid in ids}
    scorers: dict[str, dict[str, object]] = {}
    for label, record in per_scorer.items():
        entry: dict[str, object] = {
            "evaluations": int(np.sum(record["evaluations"])),
            "seconds": float(np.sum(record["seconds"])),
            "evaluations_per_round": record["evaluations"],
            "evaluation_fraction": float(np.sum(record["evaluations"])) / (task.rounds * 2**task.data.nodes),
            "options": config.scorers()[label][1],
            "cumulative": {pid: sum(v[pid] for v in record["values"]) for pid in ids},
        }
        if label != "exact":
            per_round = [agreement(_indexed(v, ids), _indexed(e, ids)) for v, e in zip(record["values"], exact_rounds)]
            total = agreement(_indexed(entry["cumulative"], ids), _indexed(exact_total, ids))
            entry.update(
                pearson=float(np.mean([a.pearson for a in per_round])),
                rel_l2=float(np.mean([a.rel_l2 for a in per_round])),
                spearman=float(np.mean([a.spearman for a in per_round])),
                pearson_min=float(np.min([a.pearson for a in per_round])),
                rel_l2_max=float(np.max([a.rel_l2 for a in per_round])),
                cumulative_pearson=total.pearson,
                cumulative_rel_l2=total.rel_l2,
                cumulative_spearman=total.spearman,
            )
        scorers[label] = entry
    return {
        "nodes": task.data.nodes,
        "rounds": task.rounds,
        "dataset": task.data.dataset,
        "encrypted": task.custody.encrypt,
        "key_bits": task.custody.key_bits if task.custody.encrypt else None,
        "utility": task.scoring.utility,
        "behaviours": dict(zip(ids, behaviours)),
        "scorers": scorers,
    }


def _indexed(values: dict[str, float], ids: list[str]) -> dict[int, float]:
    return {i: values[pid] for i, pid in enumerate(ids)}
