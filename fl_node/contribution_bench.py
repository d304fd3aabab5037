"""Contribution scorers compared on real encrypted federated rounds: what `fedledger bench contribution` measures.

A federation of N nodes (two free-riders and one label-flipper among them by default) trains
for a few rounds with Paillier-encrypted updates: a non-scoring
:class:`~fl_node.hfl.coordinator.Coordinator` on a :class:`~fl_node.hfl.null_ledger.NullLedger`,
driven by :func:`~fl_node.hfl.runner.run_federation`. The scorers are a run observer
(:class:`ScorerComparison`): in every round each scorer values the same verified updates with
the same utility the ledger's evaluator uses (validation metric of the model built from a
subset's decrypted sum), each with its own empty cache, so its evaluation count and seconds
are its own. Approximate scorers are compared with exact Shapley per round
(Pearson, relative L2, Spearman; averaged over rounds) and on the values summed over rounds.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fl_node.artifacts import ArtifactStore
from fl_node.behaviours import behaviour_roster, make_behaviour
from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.data import federate, load_dataset
from fl_node.errors import FlNodeError
from fl_node.hfl.coordinator import Coordinator, RoundUtility
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from fl_node.hfl.participant import Participant
from fl_node.hfl.runner import RunObserver, run_federation
from fl_node.task import DataConfig, TaskConfig, build_task
from fl_node.transport.inprocess import InProcessTransport
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


class ScorerComparison(RunObserver):
    """Runs every scorer of ``config`` on each round's utility and keeps their evaluations, seconds and values.

    Each scorer gets a fresh :class:`RoundUtility` over the same verified updates (its own
    empty cache) and the evaluator's sampling seed ``[task seed, round id]``.
    """

    def __init__(self, config: ContributionBenchConfig, on_step: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.on_step = on_step
        self.per_scorer: dict[str, dict[str, list]] = {
            label: {"evaluations": [], "seconds": [], "values": []} for label in config.scorers()
        }

    def on_utility(self, round_id: int, utility: RoundUtility) -> None:
        for label, (name, options) in self.config.scorers().items():
            if self.on_step is not None:
                self.on_step(f"round {round_id}: {label}")
            fresh = RoundUtility(utility.spec, utility.verified, utility.key_holder, utility.global_params, utility.validation)
            order = fresh.ids
            start = time.perf_counter()
            result = make_scorer(name, **options).score(
                list(range(len(order))), fresh, rng=np.random.default_rng([self.config.task.seed, round_id])
            )
            record = self.per_scorer[label]
            record["seconds"].append(time.perf_counter() - start)
            record["evaluations"].append(result.evaluations)
            record["values"].append({order[i]: v for i, v in result.values.items()})


def run_contribution_bench(
    config: ContributionBenchConfig, on_step: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Run the rounds with every scorer observing them; returns the JSON document of `fedledger bench contribution`."""
    task = config.task
    nodes = task.data.nodes
    if not 2 <= nodes <= MAX_EXACT_PARTICIPANTS:
        raise FlNodeError(f"--nodes must be 2..{MAX_EXACT_PARTICIPANTS} so that exact Shapley can run, got {nodes}")
    data = federate(load_dataset(task.data.dataset), nodes, task.data.partition, seed=task.seed)
    behaviours = behaviour_roster(nodes, config.free_riders, config.label_flippers)
    ids = [f"node-{k:0{len(str(nodes - 1))}d}" for k in range(nodes)]
    public_key, private_key = generate_keypair(task.custody.key_bits) if task.custody.encrypt else (None, None)
    public_key_bytes = public_key_to_bytes(public_key) if public_key is not None else b""
    spec = build_task(
        task, data.n_features, data.n_classes, {pid: len(part) for pid, part in zip(ids, data.nodes)}, public_key_bytes
    )
    scheme = spec.scheme()
    ledger = NullLedger()
    transport = InProcessTransport([
        LedgerNode(
            pid,
            Participant(pid, part, spec.model.factory(), task.training, scheme, seed=k, behaviour=make_behaviour(b, data.n_classes)),
            NullAccount(pid),
            ledger,
        )
        for k, (pid, part, b) in enumerate(zip(ids, data.nodes, behaviours))
    ])
    comparison = ScorerComparison(config, on_step)
    with tempfile.TemporaryDirectory(prefix="fedledger-bench-") as store:
        coordinator = Coordinator(
            spec, ledger, 1, NullAccount("aggregator"), NullAccount("evaluator"), private_key, data.validation,
            ArtifactStore(store), score_contributions=False,
        )
        run_federation(coordinator, transport, task.rounds, observers=[comparison])
    return _summary(config, behaviours, ids, comparison.per_scorer)


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
