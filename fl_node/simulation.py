"""In-process federated training without a chain, and its centralized baseline: what `fedledger train` runs.

For one seed: split and partition the data (:func:`fl_node.data.federate`), build the task's
spec, a :class:`~fl_node.hfl.coordinator.Coordinator` (no contribution scoring) on a
:class:`~fl_node.hfl.null_ledger.NullLedger` and the nodes of the in-process transport, run
the rounds with :func:`~fl_node.hfl.runner.run_federation`, and evaluate the global model on
the test set after each one. The centralized baseline trains
the same model from the same initial weights on the pooled training data with the same
budget: ``rounds x local epochs`` epochs, same optimizer, learning rate and batch size.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.artifacts import ArtifactStore
from fl_node.crypto.codec import TASK_CODEC, CodecConfig
from fl_node.crypto.keys import public_key_to_bytes
from fl_node.data import Dataset, FederatedData, SplitConfig, federate
from fl_node.dp_sgd import largest_epsilon_spent
from fl_node.errors import FlNodeError
from fl_node.hfl.coordinator import Coordinator, RoundOutcome
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from fl_node.hfl.participant import Behaviour, Participant
from fl_node.hfl.runner import RunObserver, initial_params, run_federation
from fl_node.hfl.spec import FederationSpec
from fl_node.models import unflatten
from fl_node.privacy import epsilon_spent
from fl_node.seeds import CENTRALIZED, NODE_TRAINING, derive_seed
from fl_node.task import DataConfig, ModelChoice, TaskConfig, build_task
from fl_node.training import Metrics, TrainConfig, evaluate, train_centralized
from fl_node.transport.inprocess import InProcessTransport
from incentive.cohort import MIN_COHORT


@dataclass(frozen=True)
class RoundConfig:
    """Dropout handling of a round.

    Attributes
    ----------
    min_participants : int (default: 3)
        Usable submissions needed to complete the round (at least the minimum cohort, 3).
    deadline_s : float | None (default: None, wait for all)
        Submissions not in by then are dropped.
    max_workers : int (default: 1)
        Participants trained at once (threads).
    retries : int (default: 0)
        Times a round short of ``min_participants`` is run again (same round number, so the
        same seeds) before RoundAborted.
    """

    min_participants: int = MIN_COHORT
    deadline_s: float | None = None
    max_workers: int = 1
    retries: int = 0



def default_train_task() -> TaskConfig:
    """``fedledger train``'s task: 10 nodes, Dirichlet 0.5, MLP of width 32, 20 rounds, TrainConfig() locally.

    The codec's headroom is the number of nodes (``max_participants=1`` lets
    :meth:`~fl_node.task.TaskConfig.codec_for` raise it to exactly that).
    """
    return TaskConfig(
        data=DataConfig(partition="dirichlet:0.5", nodes=10),
        model=ModelChoice(hidden=32),
        training=TrainConfig(),
        codec=replace(TASK_CODEC, max_participants=1),
        rounds=20,
    )


@dataclass(frozen=True)
class SimulationConfig:
    """One federated training run.

    Attributes
    ----------
    task : TaskConfig (default: :func:`default_train_task`)
        Its data partition, model, local training (also the baseline's per-round budget),
        codec (bits, clip: the bound on each weighted-delta value, both modes), custody
        (``encrypt``: Paillier packed codec, or float32 plaintext) and rounds.
    round : RoundConfig (default: RoundConfig())
    split : SplitConfig (default: SplitConfig())
    check_exact : bool (default: False)
        For encrypted runs: also compute each round's exact plaintext FedAvg from the same
        global vector, and record how far the decrypted one is from it
        (:attr:`RoundRecord.exact_deviation`, to compare with :attr:`RoundRecord.error_bound`).
    """

    task: TaskConfig = field(default_factory=default_train_task)
    round: RoundConfig = field(default_factory=RoundConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    check_exact: bool = False


@dataclass(frozen=True)
class RoundRecord:
    """The global model after one round, on the test set, beside the centralized baseline at the same budget.

    ``error_bound`` is the stated bound on the distance (max norm) between this round's new
    global vector and the exact FedAvg from the same starting vector; ``exact_deviation`` is
    that distance as measured (NaN unless ``check_exact``).
    """

    round: int
    accuracy: float
    loss: float
    auc: float
    seconds: float
    bytes_up: int
    included: int
    clipped: int
    error_bound: float
    centralized_accuracy: float
    exact_deviation: float = float("nan")


@dataclass(frozen=True)
class SeedResult:
    """Everything one seed produced; ``epsilon_spent`` is the client-level DP budget the rounds spent (inf without DP), ``codec`` the task's codec as built (its automatic clip and degree set), ``record_epsilon_spent`` the largest record-level ε a node's DP-SGD spent (inf without)."""

    seed: int
    rounds: list[RoundRecord]
    centralized: list[Metrics]
    final_params: np.ndarray
    n_params: int
    test_samples: int
    epsilon_spent: float = float("inf")
    best_round: int = 0
    stopped_early: bool = False
    codec: CodecConfig = TASK_CODEC
    record_epsilon_spent: float = float("inf")

    @property
    def final_accuracy(self) -> float:
        return self.rounds[-1].accuracy

    @property
    def best_accuracy(self) -> float:
        """Test accuracy of the round with the best validation metric (the released model)."""
        return self.rounds[self.best_round - 1].accuracy

    @property
    def centralized_accuracy(self) -> float:
        return self.centralized[-1].accuracy


def run_seed(
    config: SimulationConfig,
    dataset: Dataset,
    seed: int,
    keypair: tuple[PaillierPublicKey, PaillierPrivateKey] | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    behaviours: Callable[[FederatedData], Sequence[Behaviour]] | None = None,
) -> SeedResult:
    """Run the federation and its centralized baseline for one seed.

    Parameters
    ----------
    config : SimulationConfig
    dataset : Dataset
    seed : int
        Seeds the splits, the partition, the initial weights, local training and rounding.
    keypair : (PaillierPublicKey, PaillierPrivateKey) | None
        Required when ``config.task.custody.encrypt``; the result does not depend on which key is used.
    on_round : Callable[[RoundRecord], None] | None
        Called after each round (progress display).
    behaviours : Callable[[FederatedData], Sequence[Behaviour]] | None (default: all honest)
        Each node's behaviour, given the partitioned data (attack benchmarks).

    Raises
    ------
    RoundAborted
        A round short of ``config.round.min_participants`` after ``config.round.retries`` retries.
    """
    task = replace(config.task, seed=seed, min_participants=config.round.min_participants)
    if task.rounds < 1:
        raise FlNodeError(f"need at least one round, got {task.rounds}")
    if task.custody.encrypt and keypair is None:
        raise FlNodeError("an encrypted run needs a Paillier key pair")
    data = federate(dataset, task.data.nodes, task.data.partition, seed=seed, split=config.split)
    ids = node_ids(task.data.nodes)
    spec = build_task(
        task, data.n_features, data.n_classes, {pid: len(part) for pid, part in zip(ids, data.nodes)},
        public_key_to_bytes(keypair[0]) if keypair is not None and task.custody.encrypt else b"",
    )
    initial = initial_params(spec)
    centralized = train_centralized(
        unflatten(spec.model.build(), initial), data.pooled(), task.training, task.rounds, derive_seed(seed, CENTRALIZED), data.test
    )
    with tempfile.TemporaryDirectory(prefix="fedledger-train-") as tmp:
        private_key = keypair[1] if keypair is not None and spec.encrypt else None
        roster = behaviours(data) if behaviours is not None else None
        coordinator, transport = null_federation(spec, private_key, data, config.round, Path(tmp, "federated"), roster)
        exact = None
        if config.check_exact and spec.encrypt:
            exact = null_federation(replace(spec, encrypt=False, public_key=b""), None, data, config.round, Path(tmp, "exact"))
        recorder = _Recorder(spec, data, centralized, exact, on_round)
        run = run_federation(
            coordinator, transport, task.rounds, retries=config.round.retries, observers=[recorder], patience=task.patience
        )
    spent = epsilon_spent(spec.dp_noise_multiplier, spec.dp_delta, len(recorder.records)) if spec.client_dp() else float("inf")
    trainers = (n.participant.private_training for n in transport.nodes)
    record_spent = largest_epsilon_spent(trainers, spec.dp_sgd_delta) if spec.record_dp() else float("inf")
    best_round = 1 + [o.round_id for o in run.outcomes].index(run.best.round_id)
    return SeedResult(
        seed, recorder.records, centralized, run.final_params, len(initial), len(data.test), spent, best_round, run.stopped_early,
        spec.codec, record_spent,
    )


def node_ids(nodes: int) -> list[str]:
    """``node-0`` … in node order, zero-padded so that the coordinator's sorted order is the nodes' order (plaintext sums in a fixed order)."""
    width = len(str(nodes - 1))
    return [f"node-{k:0{width}d}" for k in range(nodes)]


def null_federation(
    spec: FederationSpec,
    private_key: PaillierPrivateKey | None,
    data: FederatedData,
    round_config: RoundConfig,
    store: Path,
    behaviours: Sequence[Behaviour] | None = None,
) -> tuple[Coordinator, InProcessTransport]:
    """A coordinator on its own null ledger, and its nodes (node ``k`` seeded by ``NODE_TRAINING, k``, behaving as ``behaviours[k]``).

    The coordinator scores contributions only when the task gates on them.
    """
    ledger = NullLedger()
    scheme = spec.scheme()
    behaviours = list(behaviours) if behaviours is not None else [Behaviour() for _ in spec.sample_counts]
    nodes = [
        LedgerNode(
            pid,
            Participant(
                pid, part, spec.model.factory(), spec.train, scheme, seed=derive_seed(spec.seed, NODE_TRAINING, k),
                behaviour=behaviour, privacy=spec.client_dp(), private_training=spec.private_trainer(),
            ),
            NullAccount(pid),
            ledger,
        )
        for k, (pid, part, behaviour) in enumerate(zip(spec.sample_counts, data.nodes, behaviours, strict=True))
    ]
    coordinator = Coordinator(
        spec, ledger, 1, NullAccount("aggregator"), NullAccount("evaluator"), private_key, data.validation,
        ArtifactStore(store), score_contributions=spec.aggregation == "gated",
    )
    return coordinator, InProcessTransport(nodes, round_config.deadline_s, round_config.max_workers)


class _Recorder(RunObserver):
    """Turns each finalized round into a :class:`RoundRecord` (test set, baseline, deviation from the exact FedAvg).

    ``exact``: a plaintext coordinator and transport run from each round's starting model, so
    that the round's decrypted FedAvg can be compared with the exact one.
    """

    def __init__(
        self,
        spec: FederationSpec,
        data: FederatedData,
        centralized: list[Metrics],
        exact: tuple[Coordinator, InProcessTransport] | None,
        on_round: Callable[[RoundRecord], None] | None,
    ) -> None:
        self.spec = spec
        self.data = data
        self.centralized = centralized
        self.exact = exact
        self.on_round_record = on_round
        self.records: list[RoundRecord] = []
        self.start = np.empty(0, dtype=np.float32)

    def on_start(self, resumed_from: int, params: np.ndarray) -> None:
        self.start = params

    def on_round(self, outcome: RoundOutcome) -> None:
        deviation = float("nan")
        if self.exact is not None:
            reference = self.exact[0].run_round(self.start, self.exact[1]).global_params
            deviation = float(np.max(np.abs(outcome.global_params.astype(np.float64) - reference)))
        self.start = outcome.global_params
        metrics = evaluate(unflatten(self.spec.model.build(), outcome.global_params), self.data.test)
        r = len(self.records) + 1
        record = RoundRecord(
            round=r,
            accuracy=metrics.accuracy,
            loss=metrics.loss,
            auc=metrics.auc,
            seconds=outcome.seconds,
            bytes_up=outcome.bytes_up,
            included=len(outcome.included),
            clipped=outcome.clipped,
            error_bound=outcome.error_bound,
            centralized_accuracy=self.centralized[r - 1].accuracy,
            exact_deviation=deviation,
        )
        self.records.append(record)
        if self.on_round_record is not None:
            self.on_round_record(record)
