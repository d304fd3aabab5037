"""Record-level differential privacy of a node's local training: DP-SGD through Opacus.

Client-level DP (:mod:`fl_node.privacy`) hides whether a *node* took part, from whoever sees
the aggregate. DP-SGD hides whether one *record* of a node's data did, from whoever sees the
node's own updates, the key holder included (it opens each update for the validity check).
Each node trains with Opacus's :class:`~opacus.PrivacyEngine` (Abadi et al., "Deep Learning
with Differential Privacy", CCS 2016): batches drawn by Poisson sampling, each sample's
gradient clipped to L2 norm ``C``, Gaussian noise of standard deviation ``σ C`` added to each
batch's sum. The task publishes ``σ`` and ``C``; every node keeps one accountant over all its
rounds and reports the ε it has spent (Opacus's RDP accountant; nothing here computes ε).

A node of ``n`` samples draws each step's batch with every record in it with probability
``q = 1 / ceil(n / batch_size)`` and takes ``int(1 / q)`` steps per epoch (Opacus's Poisson
loader for the task's batch size): ``ceil(n / batch_size)`` steps, or one fewer where the
division rounds down (lengths of 93 batches and more, about one in twelve). Its ε over the
task depends on ``n``, so ``σ`` is calibrated for the member that spends the most, counting
``ceil(n / batch_size)`` steps per epoch: no node exceeds the task's ε.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from opacus import PrivacyEngine
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fl_node.data import ArraySplit
from fl_node.errors import FlNodeError, ModelError
from fl_node.privacy import rdp_epsilon, rdp_noise_multiplier
from fl_node.training import FitResult, TrainConfig, make_optimizer


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Optimizer steps of one epoch over ``n_samples`` records at ``batch_size``: Opacus's Poisson loader's length."""
    return int(1 / sample_rate(n_samples, batch_size))


def sample_rate(n_samples: int, batch_size: int) -> float:
    """Probability that one record is in a step's batch (Opacus's ``1 / len(data_loader)``)."""
    return 1 / math.ceil(n_samples / batch_size)


def noise_multiplier_for_records(
    epsilon: float, delta: float, sample_counts: Iterable[int], batch_size: int, epochs: int, rounds: int
) -> float:
    """The σ with which no member spends more than ``epsilon`` at ``delta`` over the task (Opacus's RDP calibration).

    Parameters
    ----------
    epsilon, delta : float
        The task's record-level budget.
    sample_counts : Iterable[int]
        Every member's number of training records.
    batch_size, epochs, rounds : int
        The task's local batch size and epochs per round, and its rounds.

    Raises
    ------
    FlNodeError
        ε or δ out of range, or no member.
    """
    counts = sorted(set(int(n) for n in sample_counts))
    if not epsilon > 0 or not 0 < delta < 1 or rounds < 1 or not counts or counts[0] < 1:
        raise FlNodeError(f"DP-SGD needs epsilon > 0, delta in (0, 1), at least one round and members with data, got {epsilon}, {delta}, {rounds}")
    lengths = sorted({math.ceil(n / batch_size) for n in counts})  # members with as many batches per epoch spend alike

    # the fewest batches per epoch (the highest sampling rate) usually spend the most; the others are checked, not assumed
    sigma = rdp_noise_multiplier(epsilon, delta, 1 / lengths[0], rounds * epochs * lengths[0])
    for length in lengths[1:]:
        if rdp_epsilon(sigma, 1 / length, rounds * epochs * length, delta) > epsilon:
            sigma = max(sigma, rdp_noise_multiplier(epsilon, delta, 1 / length, rounds * epochs * length))
    return sigma


def largest_epsilon_spent(trainers: Iterable[PrivateTrainer | None], delta: float) -> float:
    """The largest ε at ``delta`` that any of the nodes' trainers has spent (None: a node without DP-SGD)."""
    return max(t.epsilon_spent(delta) for t in trainers if t is not None)


@contextmanager
def _quiet_opacus() -> Iterator[None]:
    """Silence what Opacus says every round about choices made here.

    Secure mode is off by choice (docs/threat-model.md); a node whose behaviour rewrites its
    data (a label flipper) hands in a new object for the same records; the per-sample hooks fire
    on a model whose inputs need no gradient, as expected.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off", category=UserWarning)
        warnings.filterwarnings("ignore", message="PrivacyEngine detected new dataset object", category=UserWarning)
        warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
        yield


@dataclass(frozen=True)
class RecordDp:
    """What a node does in local training under DP-SGD.

    Attributes
    ----------
    clip : float
        L2 bound of each record's gradient.
    noise_multiplier : float
        σ: the noise added to each batch's gradient sum has standard deviation ``σ * clip``.
    """

    clip: float
    noise_multiplier: float


class PrivateTrainer:
    """One node's DP-SGD over a task's rounds: trains with Opacus and keeps the node's accountant.

    Parameters
    ----------
    dp : RecordDp
    """

    def __init__(self, dp: RecordDp) -> None:
        self.dp = dp
        with _quiet_opacus():
            self.engine = PrivacyEngine(accountant="rdp")
        self._data: tuple[ArraySplit, TensorDataset] | None = None

    def _dataset(self, data: ArraySplit) -> TensorDataset:
        """The node's records as one dataset object over all rounds: Opacus accounts per dataset."""
        if self._data is None or self._data[0] is not data:
            X = torch.from_numpy(np.ascontiguousarray(data.X, dtype=np.float32))
            y = torch.from_numpy(np.ascontiguousarray(data.y, dtype=np.int64))
            self._data = (data, TensorDataset(X, y))
        return self._data[1]

    def fit(self, model: nn.Module, data: ArraySplit, config: TrainConfig, seed: int) -> FitResult:
        """Train ``model`` in place for ``config.epochs`` epochs of DP-SGD; the steps are added to this node's accountant.

        Deterministic under ``seed`` (Poisson batches and noise come from one seeded generator).

        Raises
        ------
        ModelError
            No data, or a FedProx term (its gradient is not per record, so it would escape the clipping).
        """
        if len(data) == 0:
            raise ModelError("cannot train on an empty dataset")
        if config.prox_mu > 0:
            raise ModelError("DP-SGD cannot train with a FedProx term: its gradient is not clipped per record")
        generator = torch.Generator().manual_seed(int(seed))
        loader = DataLoader(self._dataset(data), batch_size=config.batch_size, generator=generator)
        with _quiet_opacus():
            private, optimizer, loader = self.engine.make_private(
                module=model,
                optimizer=make_optimizer(model, config),
                data_loader=loader,
                noise_multiplier=self.dp.noise_multiplier,
                max_grad_norm=self.dp.clip,
                poisson_sampling=True,
                noise_generator=generator,
            )
            private.train()
            steps = 0
            epoch_loss = 0.0
            for _ in range(config.epochs):
                total, seen = 0.0, 0
                for X, y in loader:
                    optimizer.zero_grad()
                    # a Poisson batch may be empty: its step still adds noise and is accounted
                    loss = nn.functional.cross_entropy(private(X), y, reduction="sum") / max(len(y), 1)
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach()) * len(y)
                    seen += len(y)
                    steps += 1
                epoch_loss = total / max(seen, 1)
        return FitResult(steps, epoch_loss)

    def epsilon_spent(self, delta: float) -> float:
        """ε this node has spent at ``delta`` over all its DP-SGD steps so far (0 before any)."""
        if not self.engine.accountant.history:
            return 0.0
        return float(self.engine.accountant.get_epsilon(delta))
