"""Local training (minibatch SGD/Adam, optional FedProx term) and evaluation (accuracy, AUC, loss).

Deterministic under a seed: minibatch order comes from a seeded ``torch.Generator`` and the
models have no dropout, so the same seed, data and starting weights give the same weights
(for a given torch thread count; the CLI uses one thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score
from torch import nn

from fl_node.data import ArraySplit
from fl_node.errors import ModelError

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """How a node trains locally in one round (and how the centralized baseline trains per round).

    Attributes
    ----------
    epochs : int (default: 5)
        Local epochs per round.
    batch_size : int (default: 16)
    lr : float (default: 0.1)
    optimizer : str (default: "sgd")
        ``sgd`` or ``adam``; a node builds a fresh optimizer every round.
    momentum : float (default: 0.0)
        SGD momentum.
    weight_decay : float (default: 0.0)
    prox_mu : float (default: 0.0)
        FedProx proximal weight: adds ``mu/2 * ||w - w_start||^2`` to the loss, where
        ``w_start`` are the weights training started from (the global model). 0 is FedAvg.
    """

    epochs: int = 5
    batch_size: int = 16
    lr: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.0
    weight_decay: float = 0.0
    prox_mu: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ModelError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ModelError(f"epochs and batch size must be positive, got {self.epochs}, {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)) or self.prox_mu < 0:
            raise ModelError(f"learning rate must be positive and mu non-negative, got {self.lr}, {self.prox_mu}")


@dataclass(frozen=True)
class FitResult:
    """What one call to :func:`fit` did: optimizer steps and the mean training loss of the last epoch."""

    steps: int
    loss: float


@dataclass(frozen=True)
class Metrics:
    """Evaluation of a model on a labelled set.

    Attributes
    ----------
    accuracy : float
        Fraction correct, in [0, 1].
    loss : float
        Mean cross-entropy (sklearn ``log_loss``).
    auc : float
        ROC AUC (binary) or one-vs-rest macro AUC (multiclass); NaN when the set lacks a class.
    n : int
        Number of samples.
    """

    accuracy: float
    loss: float
    auc: float
    n: int


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, over all of ``model``'s parameters."""
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def fit(
    model: nn.Module,
    data: ArraySplit,
    config: TrainConfig,
    seed: int | torch.Generator,
    optimizer: torch.optim.Optimizer | None = None,
) -> FitResult:
    """Train ``model`` in place for ``config.epochs`` epochs of shuffled minibatches.

    Parameters
    ----------
    model : nn.Module
    data : ArraySplit
        At least one sample.
    config : TrainConfig
    seed : int | torch.Generator
        Seeds the minibatch order; pass a generator to continue one stream across calls.
    optimizer : torch.optim.Optimizer | None (default: a fresh one from ``config``)
        Pass one to keep its state across calls (the centralized baseline does).
    """
    if len(data) == 0:
        raise ModelError("cannot train on an empty dataset")
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    optimizer = optimizer or make_optimizer(model, config)
    X = torch.from_numpy(np.ascontiguousarray(data.X, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(data.y, dtype=np.int64))
    anchor = [p.detach().clone() for p in model.parameters()] if config.prox_mu > 0 else None
    model.train()
    steps = 0
    epoch_loss = 0.0
    for _ in range(config.epochs):
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for start in range(0, len(y), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
            total += float(loss.detach()) * len(batch)
            if anchor is not None:
                loss = loss + 0.5 * config.prox_mu * sum(
                    torch.sum((p - a) ** 2) for p, a in zip(model.parameters(), anchor, strict=True)
                )
            loss.backward()
            optimizer.step()
            steps += 1
        epoch_loss = total / len(y)
    return FitResult(steps, epoch_loss)


def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Class probabilities, float64, rows summing to 1."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)))
    return torch.softmax(logits.to(torch.float64), dim=1).numpy()


def evaluate(model: nn.Module, data: ArraySplit) -> Metrics:
    """Accuracy, cross-entropy loss and ROC AUC of ``model`` on ``data`` (non-empty)."""
    if len(data) == 0:
        raise ModelError("cannot evaluate on an empty dataset")
    proba = predict_proba(model, data.X)
    n_classes = proba.shape[1]
    labels = list(range(n_classes))
    accuracy = float(np.mean(proba.argmax(axis=1) == data.y))
    loss = float(log_loss(data.y, proba, labels=labels))
    auc = float("nan")
    if len(np.unique(data.y)) == n_classes:
        if n_classes == 2:
            auc = float(roc_auc_score(data.y, proba[:, 1]))
        else:
            auc = float(roc_auc_score(data.y, proba, multi_class="ovr", labels=labels))
    return Metrics(accuracy, loss, auc, len(data))


def quick_evaluate(model: nn.Module, data: ArraySplit) -> Metrics:
    """Accuracy and cross-entropy loss of ``model`` on ``data`` without the AUC (NaN): what a contribution scorer's utility needs.

    The loss is sklearn's ``log_loss`` (probabilities clipped at float64 eps), computed directly:
    a scorer evaluates hundreds of coalition models per round, and the library's input checks cost more than the model.
    """
    if len(data) == 0:
        raise ModelError("cannot evaluate on an empty dataset")
    proba = predict_proba(model, data.X)
    labels = np.asarray(data.y, dtype=np.int64)
    picked = np.clip(proba[np.arange(len(labels)), labels], np.finfo(np.float64).eps, 1.0)
    return Metrics(float(np.mean(proba.argmax(axis=1) == labels)), float(-np.mean(np.log(picked))), float("nan"), len(data))


def train_centralized(
    model: nn.Module,
    data: ArraySplit,
    config: TrainConfig,
    rounds: int,
    seed: int,
    test: ArraySplit,
) -> list[Metrics]:
    """The centralized baseline with the federated budget: ``rounds`` x ``config.epochs`` epochs on pooled data.

    One optimizer and one minibatch stream run through all epochs (the strongest use of
    the same budget); the model is evaluated on ``test`` after each round's worth of epochs.
    The FedProx term has no meaning here and is dropped.
    """
    config = replace(config, prox_mu=0.0)
    generator = torch.Generator().manual_seed(int(seed))
    optimizer = make_optimizer(model, config)
    curve = []
    for _ in range(rounds):
        fit(model, data, config, generator, optimizer)
        curve.append(evaluate(model, test))
    return curve
