"""Coalitions' summed updates from their members' opened integer slot values, each sum built from the previous one."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fl_node.hfl.keyholder import fedavg_step


def exact_quanta(singletons: Mapping[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    """Each decrypted singleton's integer slot values (``round(v·scale)``), kept only where they give back ``v`` exactly."""
    quanta = {}
    for pid, values in singletons.items():
        ints = np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
        if np.array_equal(ints.astype(np.float64) / scale, values):
            quanta[pid] = ints
    return quanta


class CoalitionSums:
    """The integer sum of a coalition's updates, computed from the last coalition asked for.

    A scorer's permutation walk asks for S, S ∪ {a}, S ∪ {a, b}, …: each sum is the previous
    one plus the members that joined (minus those that left), |S Δ previous| vector additions
    instead of |S|, so one evaluation costs O(P) rather than O(|S|·P). Integer addition and
    subtraction are exact (slot values are far inside int64), so every sum equals the
    from-scratch sum bit for bit, whatever the order of the requests.

    Parameters
    ----------
    quanta : Mapping[str, numpy.ndarray]
        Integer slot values (int64, one length) of each member that has them (:func:`exact_quanta`).
    """

    def __init__(self, quanta: Mapping[str, np.ndarray]) -> None:
        self._quanta = dict(quanta)
        self._last: frozenset[str] = frozenset()
        self._total: np.ndarray | None = None

    def covers(self, members: frozenset[str]) -> bool:
        """Whether every one of ``members`` has integer slot values here."""
        return all(m in self._quanta for m in members)

    def __call__(self, members: frozenset[str]) -> np.ndarray:
        """The sum of ``members``' integer slot values (a new int64 array); needs :meth:`covers` and at least one member."""
        if not members:
            raise ValueError("a coalition sum needs at least one member")
        joined, left = members - self._last, self._last - members
        if self._total is None or len(joined) + len(left) >= len(members):
            first, *rest = sorted(members)
            total = self._quanta[first].copy()
            for m in rest:
                total += self._quanta[m]
        else:
            total = self._total
            for m in sorted(joined):
                total += self._quanta[m]
            for m in sorted(left):
                total -= self._quanta[m]
        self._last, self._total = members, total
        return total.copy()


class AddedCoalitions:
    """Coalition models built by adding their members' opened integer slot values to the global model.

    ``model(S)`` is ``global + (Σ_S quanta / scale) / weight`` in float64 then float32: the same
    arithmetic as decoding the coalition's decrypted sum and taking the FedAvg step
    (:func:`~fl_node.hfl.keyholder.fedavg_step`), so bit for bit the decrypted coalition's model.

    Parameters
    ----------
    quanta : Mapping[str, numpy.ndarray]
        Integer slot values by member (:func:`exact_quanta`).
    global_params : numpy.ndarray
    scale : float
        The codec's quantization scale.
    weight : float
        The FedAvg divisor (the weight of all the round's verified participants).
    """

    def __init__(self, quanta: Mapping[str, np.ndarray], global_params: np.ndarray, scale: float, weight: float) -> None:
        self._sums = CoalitionSums(quanta)
        self._global = np.asarray(global_params, dtype=np.float64)  # fedavg_step's first conversion, done once
        self._scale = scale
        self._weight = weight

    def covers(self, members: frozenset[str]) -> bool:
        """Whether every one of ``members`` has integer slot values here."""
        return self._sums.covers(members)

    def model(self, members: frozenset[str]) -> np.ndarray:
        """The model of ``members`` (non-empty, :meth:`covers`), built from the previous coalition's sum."""
        return fedavg_step(self._global, self._sums(members).astype(np.float64) / self._scale, self._weight)
