"""Simulated participant behaviours for demos, tests and attacks: honest, free-rider, label-flipper, sign-flip, scaled, noisy, colluding.

Each is a :class:`fl_node.hfl.Behaviour`: it changes the data a participant trains on or the
update it reports, never the protocol, so commitments, encryption and scoring treat it like
any other participant. That is the point: the ledger must expose it by its score alone.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

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


@dataclass
class SignFlip(Behaviour):
    """Reports its true update with the sign reversed, times ``factor``: pushes the model uphill.

    Attributes
    ----------
    factor : float (default: 1.0)
    """

    factor: float = 1.0
    name = "sign-flip"

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return -self.factor * delta


class CollusionGroup:
    """The shared state of colluders: one malicious update per round, the same for every member.

    The first member to report in a round sets the round's update to ``-factor`` times its own
    true update; every other member then reports that same vector (members report once per
    round, in any order or thread).

    Parameters
    ----------
    factor : float (default: 3.0)
    """

    def __init__(self, factor: float = 3.0) -> None:
        self.factor = factor
        self._updates: list[np.ndarray] = []
        self._lock = threading.Lock()

    def update(self, report: int, delta: np.ndarray) -> np.ndarray:
        """The group's update for a member's ``report``-th report (0-based)."""
        with self._lock:
            if report == len(self._updates):
                self._updates.append(-self.factor * delta)
            return self._updates[report].copy()


@dataclass
class Colluding(Behaviour):
    """A member of a :class:`CollusionGroup`: reports the group's update, not its own.

    Attributes
    ----------
    group : CollusionGroup
    """

    group: CollusionGroup
    reports: int = field(default=0, init=False)
    name = "colluding"

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        update = self.group.update(self.reports, delta)
        self.reports += 1
        return update


BEHAVIOURS = ("honest", "free-rider", "label-flipper", "scaled", "noisy", "sign-flip", "colluding")
#: Behaviours of the robustness benchmark's attackers (``scaled`` is ×10, ``colluding`` share one update).
ATTACKS = ("label-flip", "sign-flip", "scaled", "noise", "colluding")


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
    if name == "sign-flip":
        return SignFlip()
    if name == "colluding":
        return Colluding(CollusionGroup())
    raise FlNodeError(f"unknown behaviour {name!r}; choose one of {', '.join(BEHAVIOURS)}")


def attack_roster(nodes: int, attack: str, fraction: float, n_classes: int, scale: float = 10.0) -> list[Behaviour]:
    """Each node's behaviour for an attack: the last ``round(fraction * nodes)`` nodes attack, the rest are honest.

    Parameters
    ----------
    nodes : int
    attack : str
        One of :data:`ATTACKS`: ``label-flip``, ``sign-flip``, ``scaled`` (true update × ``scale``,
        then clipped by the codec like any update), ``noise`` (Gaussian of an update's scale),
        ``colluding`` (one shared update, the sign-flipped update of one member × 3).
    fraction : float
        In [0, 0.5): attackers stay a minority.
    n_classes : int
    scale : float (default: 10.0)
        λ of the scaled attack.

    Raises
    ------
    FlNodeError
        Unknown attack, or a fraction outside [0, 0.5).
    """
    if attack not in ATTACKS:
        raise FlNodeError(f"unknown attack {attack!r}; choose one of {', '.join(ATTACKS)}")
    if not 0 <= fraction < 0.5:
        raise FlNodeError(f"attacker fraction must be in [0, 0.5), got {fraction}")
    attackers = int(round(fraction * nodes))
    group = CollusionGroup()
    build = {
        "label-flip": lambda: LabelFlipper(n_classes),
        "sign-flip": SignFlip,
        "scaled": lambda: ScaledUpdate(scale),
        "noise": NoisyUpdate,
        "colluding": lambda: Colluding(group),
    }[attack]
    return [Honest() for _ in range(nodes - attackers)] + [build() for _ in range(attackers)]
