"""Simulated participant behaviours for demos and tests: honest, free-rider, label-flipper, scaled or noisy updates.

Each is a :class:`fl_node.hfl.Behaviour`: it changes the data a participant trains on or the
update it reports, never the protocol, so commitments, encryption and scoring treat it like
any other participant. That is the point: the ledger must expose it by its score alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_node.data import ArraySplit
from fl_node.errors import FlNodeError
from fl_node.hfl.participant import Behaviour


class Honest(Behaviour):
    """Trains on its own data and reports its true update."""

    name = "honest"


class FreeRider(Behaviour):
    """Reports a zero update: takes the reward without contributing (trains nothing useful)."""

    name = "free-rider"

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.zeros_like(delta)


@dataclass
class LabelFlipper(Behaviour):
    """Trains on poisoned labels: class ``c`` becomes ``n_classes - 1 - c``.

    Attributes
    ----------
    n_classes : int
    """

    n_classes: int
    name = "label-flipper"

    def local_data(self, data: ArraySplit, rng: np.random.Generator) -> ArraySplit:
        return ArraySplit(data.X, (self.n_classes - 1 - data.y).astype(data.y.dtype))


@dataclass
class ScaledUpdate(Behaviour):
    """Reports its true update times ``factor`` (a boosting attack).

    Attributes
    ----------
    factor : float (default: 5.0)
    """

    factor: float = 5.0
    name = "scaled"

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.factor * delta


@dataclass
class NoisyUpdate(Behaviour):
    """Reports Gaussian noise of the same scale as an honest update instead of its update.

    Attributes
    ----------
    scale : float (default: 1.0)
        Noise standard deviation relative to the update's own standard deviation.
    """

    scale: float = 1.0
    name = "noisy"

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = self.scale * float(np.std(delta) or 1e-3)
        return rng.normal(0.0, sigma, size=delta.shape)


BEHAVIOURS = ("honest", "free-rider", "label-flipper", "scaled", "noisy")


def behaviour_roster(nodes: int, free_riders: int, label_flippers: int) -> list[str]:
    """Each node's behaviour, in node order: honest nodes first, then free-riders, then label-flippers.

    Raises
    ------
    FlNodeError
        Fewer than two nodes, negative counts, or no honest node left.
    """
    misbehaving = free_riders + label_flippers
    if nodes < 2 or free_riders < 0 or label_flippers < 0 or misbehaving >= nodes:
        raise FlNodeError(
            f"need at least two nodes and one honest node: {nodes} nodes, "
            f"{free_riders} free-riders, {label_flippers} label-flippers"
        )
    return ["honest"] * (nodes - misbehaving) + ["free-rider"] * free_riders + ["label-flipper"] * label_flippers


def make_behaviour(name: str, n_classes: int) -> Behaviour:
    """Build a behaviour by name (one of :data:`BEHAVIOURS`)."""
    if name == "honest":
        return Honest()
    if name == "free-rider":
        return FreeRider()
    if name == "label-flipper":
        return LabelFlipper(n_classes)
    if name == "scaled":
        return ScaledUpdate()
    if name == "noisy":
        return NoisyUpdate()
    raise FlNodeError(f"unknown behaviour {name!r}; choose one of {', '.join(BEHAVIOURS)}")
