"""The three parties' programs: align samples by PSI, train hetero-LR, score jointly.

Each role is its own class with the same interface, ``run(channel, progress) -> report``;
the runner (:mod:`fl_node.twoparty.runner`) only starts them, in threads or in processes.

Guest: PSI with the host → draws the train/test split of the aligned rows (seeded, sent to
the host as positions in the sorted intersection) → standardizes its columns on its training
rows → trains → scores the test rows jointly → also trains a guest-only model in the clear
(the utility of the guest alone, for the contribution scores).
Host: PSI → receives the split → standardizes → trains → sends its partial predictors.
Arbiter: key generation, decryption of masked gradients and the loss, the stopping rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from eth_hash.auto import keccak

from fl_node.errors import DataError, EmptyIntersectionError, VFLProtocolError
from fl_node.twoparty.channel import Channel
from fl_node.twoparty.psi import EcdhPsi
from fl_node.twoparty.tables import PartyData, Standardizer
from fl_node.twoparty.wire import pack, unpack
from fl_node.vfl.hetero_lr import (
    ARBITER,
    GUEST,
    HOST,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    TrainingLog,
    fit_plain,
)

__all__ = ["VFLConfig", "GuestParty", "HostParty", "ArbiterParty", "GuestReport", "HostReport", "ArbiterReport", "Progress", "MIN_ALIGNED"]

Progress = Callable[[int, float, float], None]
"""(iteration, loss, seconds) after each training iteration."""

MIN_ALIGNED = 10


@dataclass(frozen=True)
class VFLConfig:
    """Everything the parties agree on before a run.

    Attributes
    ----------
    lr : HeteroLRConfig (default: HeteroLRConfig())
    test_fraction : float (default: 0.3)
        Share of the aligned rows held out for the AUC.
    split_seed : int (default: 0)
        Seeds the guest's train/test split.
    psi_workers : int | None (default: None)
        Threads for PSI curve arithmetic per party; None uses every core.
    """

    lr: HeteroLRConfig = field(default_factory=HeteroLRConfig)
    test_fraction: float = 0.3
    split_seed: int = 0
    psi_workers: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise DataError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


@dataclass(frozen=True)
class GuestReport:
    """The guest's view of a run."""

    intersection_size: int
    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    auc: float
    guest_only_auc: float
    training: TrainingLog
    model_hash: bytes = b""


@dataclass(frozen=True)
class HostReport:
    """The host's view of a run."""

    intersection_size: int
    training: TrainingLog
    model_hash: bytes = b""


@dataclass(frozen=True)
class ArbiterReport:
    """The arbiter's view of a run: the loss curve and the stopping decision."""

    training: TrainingLog
    key_bits: int


def weights_hash(weights: np.ndarray) -> bytes:
    """keccak256 of a party's weight vector (float64 little-endian): its commitment on the ledger."""
    return keccak(np.ascontiguousarray(weights, dtype="<f8").tobytes())


def _check_aligned(size: int, who: str) -> None:
    """Both parties apply the same rule, so both stop on a too-small intersection."""
    if size == 0:
        raise EmptyIntersectionError(f"{who}: the guest and host share no sample IDs; nothing to train on")
    if size < MIN_ALIGNED:
        raise EmptyIntersectionError(f"{who}: only {size} shared sample IDs; at least {MIN_ALIGNED} are needed to train and evaluate")


def _standardized(data: PartyData, ids: list[str], train: list[int], test: list[int]) -> tuple[np.ndarray, np.ndarray]:
    features, _ = data.select(ids)
    scaler = Standardizer.fit(features[train])
    return scaler.transform(features[train]), scaler.transform(features[test])


class GuestParty:
    """Role A's program (labels and its features).

    Parameters
    ----------
    data : PartyData
        The guest's table (with labels).
    config : VFLConfig
    """

    role = GUEST

    def __init__(self, data: PartyData, config: VFLConfig) -> None:
        if data.labels is None:
            raise DataError(f"{data.name} is the guest but holds no labels")
        self.data = data
        self.config = config

    def run(self, channel: Channel, progress: Progress | None = None) -> GuestReport:
        """Align, split, train and score; returns the AUCs on the held-out aligned rows."""
        from sklearn.metrics import roc_auc_score  # here: only the guest process pays for importing scikit-learn

        aligned = EcdhPsi(channel, HOST, workers=self.config.psi_workers).run(self.data.ids)
        _check_aligned(len(aligned), self.role)
        order = np.random.default_rng(self.config.split_seed).permutation(len(aligned))
        cut = max(2, int(round(self.config.test_fraction * len(aligned))))
        test, train = sorted(order[:cut].tolist()), sorted(order[cut:].tolist())
        channel.send(HOST, "split", pack({"train": train, "test": test}))

        _, labels = self.data.select(aligned)
        y_train, y_test = labels[train], labels[test]
        for part, values in (("training", y_train), ("test", y_test)):
            if len(set(values.tolist())) < 2:
                raise DataError(f"the {part} part of the {len(aligned)} aligned rows holds only one class; use more overlap or another split seed")
        x_train, x_test = _standardized(self.data, aligned, train, test)

        model = HeteroLRGuest(self.config.lr, x_train, y_train)
        training = model.fit(channel)
        auc = float(roc_auc_score(y_test, model.predict(channel, x_test)))
        alone = fit_plain(x_train, y_train, self.config.lr)
        guest_only_auc = float(roc_auc_score(y_test, alone.predict(x_test)))
        return GuestReport(
            intersection_size=len(aligned),
            train_ids=tuple(aligned[i] for i in train),
            test_ids=tuple(aligned[i] for i in test),
            auc=auc,
            guest_only_auc=guest_only_auc,
            training=training,
            model_hash=weights_hash(model.weights),
        )


class HostParty:
    """Role B's program (features only).

    Parameters
    ----------
    data : PartyData
        The host's table (labels, if any, are ignored).
    config : VFLConfig
    """

    role = HOST

    def __init__(self, data: PartyData, config: VFLConfig) -> None:
        self.data = data
        self.config = config

    def run(self, channel: Channel, progress: Progress | None = None) -> HostReport:
        """Align, follow the guest's split, train, and send partial predictors for the test rows."""
        aligned = EcdhPsi(channel, GUEST, workers=self.config.psi_workers).run(self.data.ids)
        _check_aligned(len(aligned), self.role)
        header, _ = unpack(channel.recv(GUEST, "split"), what="train/test split")
        train, test = header.get("train"), header.get("test")
        rows = set(range(len(aligned)))
        if not isinstance(train, list) or not isinstance(test, list) or set(train) | set(test) != rows or set(train) & set(test):
            raise VFLProtocolError("the guest's split does not partition the aligned rows")
        x_train, x_test = _standardized(self.data, aligned, train, test)
        model = HeteroLRHost(self.config.lr, x_train)
        training = model.fit(channel)
        model.predict(channel, x_test)
        return HostReport(intersection_size=len(aligned), training=training, model_hash=weights_hash(model.weights))


class ArbiterParty:
    """Role C's program (no data: the key pair and the stopping rule).

    Parameters
    ----------
    config : VFLConfig
    """

    role = ARBITER

    def __init__(self, config: VFLConfig) -> None:
        self.config = config

    def run(self, channel: Channel, progress: Progress | None = None) -> ArbiterReport:
        """Serve the training; ``progress`` gets each iteration's loss."""
        training = HeteroLRArbiter(self.config.lr, on_iteration=progress).fit(channel)
        return ArbiterReport(training=training, key_bits=self.config.lr.key_bits)

