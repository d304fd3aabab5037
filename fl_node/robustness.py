"""Attacks against a federation and the defences that meet them: the runs behind `fedledger bench robustness`.

One *cell* is (dataset, attack, attacker fraction, defence, seed) → final test accuracy. Every
defence sees the same nodes, data partitions, seeds and attacks (:func:`fl_node.behaviours.attack_roster`),
so round 1's updates are identical across defences:

- ``fedavg`` and ``gated`` run the federation's own coordinator (:func:`fl_node.simulation.run_seed`)
  on plaintext updates: FedAvg of every update, or contribution-gated aggregation
  (:mod:`fl_node.hfl.gating`, the task's default rule), which decrypts coalition sums only and
  would run unchanged on encrypted updates; ``fedavg-encrypted`` is FedAvg on Paillier-encrypted updates.
- ``fedmedian``, ``fedtrimmedavg`` and ``krum`` need every node's plaintext update: each round
  the nodes' updates (decoded from the same plaintext blobs) go to Flower's own aggregation
  functions (``flwr.server.strategy.aggregate``), with Flower's defaults (trimmed mean cuts 20%
  at each end; Krum keeps one update and is told the true number of attackers, its best case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from flwr.server.strategy.aggregate import aggregate_krum, aggregate_median, aggregate_trimmed_avg
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.behaviours import ATTACKS, attack_roster
from fl_node.data import Dataset, FederatedData, federate
from fl_node.errors import FlNodeError
from fl_node.hfl.envelope import SignedBlob
from fl_node.hfl.participant import Participant, RoundPlan
from fl_node.hfl.runner import initial_params
from fl_node.models import unflatten
from fl_node.seeds import NODE_TRAINING, derive_seed
from fl_node.simulation import SimulationConfig, node_ids, run_seed
from fl_node.task import CustodyConfig, DataConfig, ModelChoice, TaskConfig, build_task
from fl_node.crypto.codec import CodecConfig
from fl_node.training import TrainConfig, evaluate
from incentive.cohort import MIN_COHORT

#: Defences of the robustness benchmark; the first three run the federation's coordinator.
DEFENCES = ("fedavg", "gated", "fedavg-encrypted", "fedmedian", "fedtrimmedavg", "krum")
#: Flower's plaintext aggregation rules, by defence name.
FLOWER_DEFENCES = ("fedmedian", "fedtrimmedavg", "krum")
#: Flower's FedTrimmedAvg default: the fraction cut at each end of every coordinate.
TRIM_FRACTION = 0.2


def robustness_task(dataset: str, rounds: int = 10) -> TaskConfig:
    """The benchmark's task: 10 nodes, Dirichlet 0.5, MLP of width 32, ``rounds`` rounds of 5 local epochs, plaintext."""
    return TaskConfig(
        data=DataConfig(dataset=dataset, partition="dirichlet:0.5", nodes=10),
        model=ModelChoice(hidden=32),
        training=TrainConfig(),
        codec=CodecConfig(max_participants=1),
        custody=CustodyConfig(encrypt=False),
        rounds=rounds,
        min_participants=MIN_COHORT,
    )


@dataclass(frozen=True)
class Cell:
    """One benchmark cell (the seed aside)."""

    dataset: str
    attack: str
    fraction: float
    defence: str


def run_cell(
    task: TaskConfig,
    dataset: Dataset,
    cell: Cell,
    seed: int,
    keypair: tuple[PaillierPublicKey, PaillierPrivateKey] | None = None,
    scale: float = 10.0,
) -> float:
    """Final test accuracy of one cell and seed.

    Parameters
    ----------
    task : TaskConfig
        Its custody is replaced by the defence's (plaintext, or encrypted for ``fedavg-encrypted``).
    dataset : Dataset
    cell : Cell
    seed : int
    keypair : (PaillierPublicKey, PaillierPrivateKey) | None
        Needed by ``fedavg-encrypted``.
    scale : float (default: 10.0)
        λ of the scaled attack.

    Raises
    ------
    FlNodeError
        Unknown defence or attack, or ``fedavg-encrypted`` without a key pair.
    """
    if cell.defence not in DEFENCES:
        raise FlNodeError(f"unknown defence {cell.defence!r}; choose from {', '.join(DEFENCES)}")
    if cell.attack not in ATTACKS:
        raise FlNodeError(f"unknown attack {cell.attack!r}; choose from {', '.join(ATTACKS)}")

    def roster(data: FederatedData):
        return attack_roster(len(data.nodes), cell.attack, cell.fraction, data.n_classes, scale)

    if cell.defence in FLOWER_DEFENCES:
        return _flower_run(replace(task, seed=seed), dataset, cell, roster)
    encrypt = cell.defence == "fedavg-encrypted"
    if encrypt and keypair is None:
        raise FlNodeError("fedavg-encrypted needs a Paillier key pair")
    aggregation = "gated" if cell.defence == "gated" else "fedavg"
    custody = replace(task.custody, encrypt=encrypt)
    if encrypt:
        custody = replace(custody, key_bits=keypair[0].n.bit_length())
    task = replace(
        task,
        custody=custody,
        scoring=replace(task.scoring, aggregation=aggregation),
    )
    return run_seed(SimulationConfig(task=task), dataset, seed, keypair if encrypt else None, behaviours=roster).final_accuracy


def _flower_run(task: TaskConfig, dataset: Dataset, cell: Cell, roster: Callable[[FederatedData], list]) -> float:
    """The same nodes and rounds as :func:`~fl_node.simulation.run_seed`, aggregated by one of Flower's rules."""
    data = federate(dataset, task.data.nodes, task.data.partition, seed=task.seed)
    ids = node_ids(task.data.nodes)
    spec = build_task(task, data.n_features, data.n_classes, {pid: len(part) for pid, part in zip(ids, data.nodes)})
    scheme = spec.scheme()
    behaviours = roster(data)
    attackers = sum(type(b).__name__ != "Honest" for b in behaviours)
    participants = [
        Participant(pid, part, spec.model.factory(), spec.train, scheme, seed=derive_seed(spec.seed, NODE_TRAINING, k), behaviour=b)
        for k, (pid, part, b) in enumerate(zip(ids, data.nodes, behaviours, strict=True))
    ]
    params = initial_params(spec).astype(np.float64)
    for r in range(1, task.rounds + 1):
        plan = RoundPlan(r, params.astype(np.float32), dict(spec.sample_counts))
        results = []
        for p in participants:
            weighted = scheme.parse(SignedBlob.parse(p.submit(plan).blob).payload).astype(np.float64)
            results.append(([params + weighted / plan.weight(p.participant_id)], p.n_samples))
        params = np.asarray(_flower_aggregate(cell.defence, results, attackers)[0], dtype=np.float64)
    return evaluate(unflatten(spec.model.build(), params.astype(np.float32)), data.test).accuracy


def _flower_aggregate(defence: str, results: list, attackers: int) -> list[np.ndarray]:
    if defence == "fedmedian":
        return aggregate_median(results)
    if defence == "fedtrimmedavg":
        return aggregate_trimmed_avg(results, TRIM_FRACTION)
    return aggregate_krum(results, num_malicious=attackers, to_keep=0)


@dataclass(frozen=True)
class SweepRow:
    """A cell's accuracy over seeds: ``accuracy`` is the mean of ``per_seed``."""

    dataset: str
    attack: str
    fraction: float
    defence: str
    per_seed: tuple[float, ...]

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.per_seed))

    def to_json(self) -> dict[str, object]:
        return {
            "attack": self.attack, "fraction": self.fraction, "defence": self.defence, "dataset": self.dataset,
            "accuracy": self.accuracy, "seeds": len(self.per_seed), "per_seed": list(self.per_seed),
        }


def sweep(
    datasets: dict[str, Dataset],
    attacks: list[str],
    fractions: list[float],
    defences: list[str],
    seeds: int,
    rounds: int = 10,
    keypair: tuple[PaillierPublicKey, PaillierPrivateKey] | None = None,
    on_run: Callable[[], None] | None = None,
) -> list[SweepRow]:
    """Every dataset × attack × fraction × defence over seeds ``0..seeds-1``.

    Without attackers every attack is the same federation: fraction 0 is run once per
    dataset, defence and seed, and its row is repeated under each attack.
    """
    rows: list[SweepRow] = []
    for name, dataset in datasets.items():
        task = robustness_task(name, rounds)
        clean: dict[str, tuple[float, ...]] = {}
        for attack in attacks:
            for fraction in fractions:
                for defence in defences:
                    if fraction == 0 and defence in clean:
                        rows.append(SweepRow(name, attack, fraction, defence, clean[defence]))
                        continue
                    per_seed = []
                    for seed in range(seeds):
                        per_seed.append(run_cell(task, dataset, Cell(name, attack, fraction, defence), seed, keypair))
                        if on_run is not None:
                            on_run()
                    if fraction == 0:
                        clean[defence] = tuple(per_seed)
                    rows.append(SweepRow(name, attack, fraction, defence, tuple(per_seed)))
    return rows


def runs_needed(datasets: int, attacks: int, fractions: list[float], defences: int, seeds: int) -> int:
    """Federations :func:`sweep` runs (fraction 0 once per dataset, defence and seed)."""
    nonzero = sum(f != 0 for f in fractions)
    clean = int(0 in fractions)
    return datasets * defences * seeds * (attacks * nonzero + clean)
