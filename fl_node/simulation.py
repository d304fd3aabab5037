"""In-process federated training without a ledger, and its centralized baseline: what `fedledger train` runs.

For one seed: split and partition the data (:func:`fl_node.data.federate`), build the
participants, the aggregator and the key holder of :mod:`fl_node.hfl`, run the rounds, and
evaluate the global model on the test set after each one. The centralized baseline trains
the same model from the same initial weights on the pooled training data with the same
budget: ``rounds x local epochs`` epochs, same optimizer, learning rate and batch size.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.codec import CodecConfig
from fl_node.data import Dataset, SplitConfig, federate
from fl_node.errors import FlNodeError, RoundAborted
from fl_node.hfl.aggregator import Aggregator, Exclusion, collect_submissions
from fl_node.hfl.keyholder import KeyHolder, round_error_bound
from fl_node.hfl.participant import Participant, RoundPlan
from fl_node.hfl.schemes import EncryptedSums, EncryptedUpdates, PlainSums, PlainUpdates
from fl_node.models import flatten, unflatten
from fl_node.seeds import CENTRALIZED, INITIAL_MODEL, NODE_TRAINING, derive_seed
from fl_node.task import DataConfig, ModelChoice, TaskConfig
from fl_node.training import Metrics, TrainConfig, evaluate, train_centralized


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundConfig:
    """Dropout handling of a round.

    Attributes
    ----------
    min_participants : int (default: 1)
        Usable submissions needed to complete the round.
    deadline_s : float | None (default: None, wait for all)
        Submissions not in by then are dropped.
    max_workers : int (default: 1)
        Participants trained at once (threads).
    retries : int (default: 0)
        Times a round short of ``min_participants`` is run again before RoundAborted.
    """

    min_participants: int = 1
    deadline_s: float | None = None
    max_workers: int = 1
    retries: int = 0



@dataclass(frozen=True)
class RoundResult:
    """Outcome of :func:`run_round`.

    Attributes
    ----------
    round : int
    global_params : np.ndarray
        The new global vector.
    included : tuple[str, ...]
        Participants whose updates were averaged.
    dropped : tuple[Exclusion, ...]
        Failed or late in the last attempt.
    excluded : tuple[Exclusion, ...]
        Submitted but rejected by the aggregator in the last attempt.
    bytes_up : int
        Blob bytes sent to the aggregator over all attempts.
    clipped : int
        Values clipped in the included submissions.
    attempts : int
    error_bound : float
        :func:`round_error_bound` of the averaged sum.
    seconds : float
    """

    round: int
    global_params: np.ndarray
    included: tuple[str, ...]
    dropped: tuple[Exclusion, ...]
    excluded: tuple[Exclusion, ...]
    bytes_up: int
    clipped: int
    attempts: int
    error_bound: float
    seconds: float


def run_round(
    round_no: int,
    global_params: np.ndarray,
    participants: Sequence[Participant],
    aggregator: Aggregator,
    key_holder: KeyHolder,
    config: RoundConfig | None = None,
) -> RoundResult:
    """Run one whole round without a ledger: plan, collect (with dropouts), verify, sum, decrypt, average.

    Raises
    ------
    RoundAborted
        Fewer than ``config.min_participants`` usable submissions after ``config.retries`` retries.
    """
    config = config or RoundConfig()
    start = time.perf_counter()
    plan = RoundPlan(round_no, global_params, {p.participant_id: p.n_samples for p in participants})
    bytes_up = 0
    for attempt in range(1, config.retries + 2):
        collected = collect_submissions(participants, plan, config.deadline_s, config.max_workers)
        bytes_up += sum(s.bytes_up for s in collected.submissions)
        verified = aggregator.verify(plan, collected.submissions)
        if len(verified.updates) >= config.min_participants:
            break
        log.warning(
            "round %d attempt %d: %d usable submissions, %d needed",
            round_no, attempt, len(verified.updates), config.min_participants,
        )
    else:
        left_out = "; ".join(f"{e.participant_id}: {e.reason}" for e in (*collected.dropped, *verified.excluded))
        raise RoundAborted(
            f"round {round_no}: {len(verified.updates)} of {len(participants)} participants submitted usable updates, "
            f"fewer than min_participants={config.min_participants} after {config.retries + 1} attempt(s) ({left_out})"
        )
    summed = verified.sum()
    clipped = sum(s.clipped for s in collected.submissions if s.participant_id in verified.updates)
    return RoundResult(
        round=round_no,
        global_params=key_holder.new_global(global_params, summed),
        included=summed.participant_ids,
        dropped=collected.dropped,
        excluded=tuple(verified.excluded),
        bytes_up=bytes_up,
        clipped=clipped,
        attempts=attempt,
        error_bound=round_error_bound(aggregator.scheme, summed),
        seconds=time.perf_counter() - start,
    )


def default_train_task() -> TaskConfig:
    """``fedledger train``'s task: 10 nodes, Dirichlet 0.5, MLP of width 32, 20 rounds, TrainConfig() locally.

    The codec's headroom is the number of nodes (``max_participants=1`` lets
    :meth:`~fl_node.task.TaskConfig.codec_for` raise it to exactly that).
    """
    return TaskConfig(
        data=DataConfig(partition="dirichlet:0.5", nodes=10),
        model=ModelChoice(hidden=32),
        training=TrainConfig(),
        codec=CodecConfig(max_participants=1),
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
    """Everything one seed produced."""

    seed: int
    rounds: list[RoundRecord]
    centralized: list[Metrics]
    final_params: np.ndarray
    n_params: int
    test_samples: int

    @property
    def final_accuracy(self) -> float:
        return self.rounds[-1].accuracy

    @property
    def centralized_accuracy(self) -> float:
        return self.centralized[-1].accuracy


def run_seed(
    config: SimulationConfig,
    dataset: Dataset,
    seed: int,
    keypair: tuple[PaillierPublicKey, PaillierPrivateKey] | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
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
    """
    task = config.task
    if task.rounds < 1:
        raise FlNodeError(f"need at least one round, got {task.rounds}")
    data = federate(dataset, task.data.nodes, task.data.partition, seed=seed, split=config.split)
    model_config = task.model.build(data.n_features, data.n_classes)
    initial = flatten(model_config.build(derive_seed(seed, INITIAL_MODEL)))
    n_params = initial.shape[0]
    clip = task.codec.clip
    if task.custody.encrypt:
        if keypair is None:
            raise FlNodeError("an encrypted run needs a Paillier key pair")
        codec_config = task.codec_for(task.data.nodes)
        scheme: PlainUpdates | EncryptedUpdates = EncryptedUpdates(keypair[0], n_params, codec_config)
        key_holder = KeyHolder(EncryptedSums(keypair[1], codec_config))
    else:
        scheme = PlainUpdates(n_params, clip)
        key_holder = KeyHolder(PlainSums())
    def participants_for(scheme: PlainUpdates | EncryptedUpdates) -> list[Participant]:
        return [
            Participant(f"node-{k}", node, model_config.factory(), task.training, scheme, seed=derive_seed(seed, NODE_TRAINING, k))
            for k, node in enumerate(data.nodes)
        ]

    aggregator = Aggregator(scheme)
    participants = participants_for(scheme)
    exact = None
    if config.check_exact and task.custody.encrypt:
        plain = PlainUpdates(n_params, clip)
        exact = (participants_for(plain), Aggregator(plain), KeyHolder(PlainSums()))
    centralized = train_centralized(
        unflatten(model_config.build(), initial), data.pooled(), task.training, task.rounds, derive_seed(seed, CENTRALIZED), data.test
    )
    records: list[RoundRecord] = []
    global_params = initial
    for r in range(1, task.rounds + 1):
        result = run_round(r, global_params, participants, aggregator, key_holder, config.round)
        deviation = float("nan")
        if exact is not None:
            reference = run_round(r, global_params, *exact, config.round).global_params
            deviation = float(np.max(np.abs(result.global_params.astype(np.float64) - reference)))
        global_params = result.global_params
        metrics = evaluate(unflatten(model_config.build(), global_params), data.test)
        record = RoundRecord(
            round=r,
            accuracy=metrics.accuracy,
            loss=metrics.loss,
            auc=metrics.auc,
            seconds=result.seconds,
            bytes_up=result.bytes_up,
            included=len(result.included),
            clipped=result.clipped,
            error_bound=result.error_bound,
            centralized_accuracy=centralized[r - 1].accuracy,
            exact_deviation=deviation,
        )
        records.append(record)
        if on_round is not None:
            on_round(record)
    return SeedResult(seed, records, centralized, global_params, n_params, len(data.test))
