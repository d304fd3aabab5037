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
from fl_node.crypto.codec import CodecConfig
from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.data import federate, load_dataset
from fl_node.errors import FlNodeError
from fl_node.hfl.coordinator import RoundUtility
from fl_node.hfl.spec import FederationSpec
from fl_node.hfl.aggregator import Aggregator, collect_submissions
from fl_node.hfl.participant import Participant, RoundPlan
from fl_node.models import ModelConfig, flatten
from fl_node.training import TrainConfig
from incentive.contribution import MAX_EXACT_PARTICIPANTS, agreement, make_scorer


@dataclass(frozen=True)
class ContributionBenchConfig:
    """A scorer comparison.

    Attributes
    ----------
    nodes : int (default: 10)
    rounds : int (default: 3)
    dataset : str (default: "breast_cancer")
    free_riders, label_flippers : int (default: 2, 1)
    seed : int (default: 0)
    encrypt : bool (default: True)
    key_bits : int (default: 2048)
    utility : str (default: "loss")
    gtg_budget : float (default: 0.3)
        GTG's cap on evaluations as a fraction of exact's 2^N (from N = 8; below, one
        guided cycle alone needs more than that fraction).
    train : TrainConfig (default: 2 local epochs, lr 0.05)
    """

    nodes: int = 10
    rounds: int = 3
    dataset: str = "breast_cancer"
    free_riders: int = 2
    label_flippers: int = 1
    seed: int = 0
    encrypt: bool = True
    key_bits: int = 2048
    utility: str = "loss"
    gtg_budget: float = 0.3
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, lr=0.05, batch_size=16))

    def scorers(self) -> dict[str, tuple[str, dict[str, object]]]:
        """Label -> (scorer name, options) for every scorer compared."""
        return {
            "exact": ("exact", {}),
            "gtg": ("gtg", {"max_evaluations": int(self.gtg_budget * 2**self.nodes)} if self.nodes >= 8 else {}),
            "tmc": ("tmc", {}),
            "loo": ("loo", {}),
        }


def run_contribution_bench(
    config: ContributionBenchConfig, on_step: Callable[[str], None] | None = None
) -> dict[str, object]:
    """Run the rounds and every scorer; returns the JSON document of `fedledger bench contribution`."""
    if not 2 <= config.nodes <= MAX_EXACT_PARTICIPANTS:
        raise FlNodeError(f"--nodes must be 2..{MAX_EXACT_PARTICIPANTS} so that exact Shapley can run, got {config.nodes}")
    data = federate(load_dataset(config.dataset), config.nodes, "iid", seed=config.seed)
    model = ModelConfig("mlp", data.n_features, data.n_classes, 16)
    behaviours = behaviour_roster(config.nodes, config.free_riders, config.label_flippers)
    ids = [f"node-{k}" for k in range(config.nodes)]
    codec = CodecConfig(max_participants=max(16, config.nodes))
    public_key, private_key = generate_keypair(config.key_bits) if config.encrypt else (None, None)
    spec = FederationSpec(
        model=model,
        train=config.train,
        encrypt=config.encrypt,
        codec=codec,
        public_key=public_key_to_bytes(public_key) if public_key is not None else b"",
        sample_counts={pid: len(part) for pid, part in zip(ids, data.nodes)},
        utility=config.utility,
        seed=config.seed,
    )
    scheme = spec.scheme()
    aggregator, key_holder = Aggregator(scheme), spec.key_holder(private_key)
    participants = [
        Participant(pid, part, model.factory(), config.train, scheme, seed=k, behaviour=make_behaviour(b, data.n_classes))
        for k, (pid, part, b) in enumerate(zip(ids, data.nodes, behaviours))
    ]
    global_params = flatten(model.build(config.seed))
    per_scorer: dict[str, dict[str, list]] = {
        label: {"evaluations": [], "seconds": [], "values": []} for label in config.scorers()
    }
    for r in range(1, config.rounds + 1):
        plan = RoundPlan(r, global_params, dict(spec.sample_counts))
        verified = aggregator.verify(plan, collect_submissions(participants, plan).submissions)
        for label, (name, options) in config.scorers().items():
            if on_step is not None:
                on_step(f"round {r}: {label}")
            utility = RoundUtility(spec, verified, key_holder, global_params, data.validation)
            order = utility.ids
            start = time.perf_counter()
            result = make_scorer(name, **options).score(
                list(range(len(order))), utility, rng=np.random.default_rng([config.seed, r])
            )
            per_scorer[label]["seconds"].append(time.perf_counter() - start)
            per_scorer[label]["evaluations"].append(result.evaluations)
            per_scorer[label]["values"].append({order[i]: v for i, v in result.values.items()})
        global_params = key_holder.new_global(global_params, verified.sum())
    return _summary(config, behaviours, ids, per_scorer)


def _summary(
    config: ContributionBenchConfig, behaviours: list[str], ids: list[str], per_scorer: dict[str, dict[str, list]]
) -> dict[str, object]:
    exact_rounds = per_scorer["exact"]["values"]
    exact_total = {pid: sum(v[pid] for v in exact_rounds) for pid in ids}
    scorers: dict[str, dict[str, object]] = {}
    for label, record in per_scorer.items():
        entry: dict[str, object] = {
            "evaluations": int(np.sum(record["evaluations"])),
            "seconds": float(np.sum(record["seconds"])),
            "evaluations_per_round": record["evaluations"],
            "evaluation_fraction": float(np.sum(record["evaluations"])) / (config.rounds * 2**config.nodes),
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
        "nodes": config.nodes,
        "rounds": config.rounds,
        "dataset": config.dataset,
        "encrypted": config.encrypt,
        "key_bits": config.key_bits if config.encrypt else None,
        "utility": config.utility,
        "behaviours": dict(zip(ids, behaviours)),
        "scorers": scorers,
    }


def _indexed(values: dict[str, float], ids: list[str]) -> dict[int, float]:
    return {i: values[pid] for i, pid in enumerate(ids)}
