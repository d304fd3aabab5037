"""The scorer interface: utilities over coalitions, results, and the memoizing evaluation counter."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from incentive.errors import ScorerError


Utility = Callable[[frozenset[int]], float]
"""Coalition of participant ids -> utility, e.g. validation accuracy of the model built from that
coalition's aggregated update; ``utility(frozenset())`` is the previous global model's."""


@dataclass(frozen=True)
class ScoreResult:
    """One scorer run over one round.

    Attributes
    ----------
    values : dict[int, float]
        Participant id -> contribution, in units of the utility, in the order participants were given.
    evaluations : int
        Distinct coalitions whose utility was computed (repeated coalitions are served from a cache).
    seconds : float
        Wall-clock time of the run, utility evaluations included.
    truncated : bool (default: False)
        True when the round was skipped as a whole (GTG's between-round truncation): all values are 0.
    permutations : int (default: 0)
        Permutations sampled by the Monte Carlo scorers; 0 for the others.
    converged : bool (default: True)
        False when a Monte Carlo scorer stopped on its budget before its convergence criterion held.
    complete : bool (default: True)
        False when GTG's budget ended before its first cycle of N permutations: the values are the
        mean marginal over the ``permutations`` walked (:class:`~incentive.contribution.gtg.GtgShapley`),
        an estimate with more error than a full cycle's.
    """

    values: dict[int, float]
    evaluations: int
    seconds: float
    truncated: bool = False
    permutations: int = 0
    converged: bool = True
    complete: bool = True


class Scorer(Protocol):
    """What every contribution scorer offers; built by name with :func:`make_scorer`."""

    name: str

    def score(self, participants: Sequence[int], utility: Utility, *, rng: np.random.Generator) -> ScoreResult:
        """Value each participant's contribution to ``utility(frozenset(participants))``."""
        ...


class CachedUtility:
    """Wrap a utility so that each coalition is evaluated once, counting distinct evaluations.

    A budget turns the call that would exceed it into :class:`BudgetExhausted`, so a scorer can stop
    cleanly without ever spending more than it was allowed.
    """

    def __init__(self, utility: Utility, *, max_evaluations: int | None = None) -> None:
        self._utility = utility
        self._cache: dict[frozenset[int], float] = {}
        self._max_evaluations = max_evaluations

    @property
    def evaluations(self) -> int:
        """Distinct coalitions evaluated so far."""
        return len(self._cache)

    def __contains__(self, coalition: frozenset[int]) -> bool:
        return coalition in self._cache

    def __call__(self, coalition: frozenset[int]) -> float:
        cached = self._cache.get(coalition)
        if cached is not None:
            return cached
        if self._max_evaluations is not None and len(self._cache) >= self._max_evaluations:
            raise BudgetExhausted(len(self._cache))
        value = float(self._utility(coalition))
        if not math.isfinite(value):
            raise ScorerError(f"utility of coalition {sorted(coalition)} is {value!r}, not a finite number")
        self._cache[coalition] = value
        return value


class BudgetExhausted(Exception):
    """Internal signal: the next evaluation would exceed a scorer's ``max_evaluations``."""


def check_participants(participants: Sequence[int]) -> tuple[int, ...]:
    """Participant ids as a tuple of distinct ints, or :class:`ScorerError` naming what is wrong."""
    try:
        ids = tuple(operator.index(p) for p in participants)
    except TypeError:
        raise ScorerError(f"participant ids must be integers, got {list(participants)!r}") from None
    if len(set(ids)) != len(ids):
        duplicates = sorted({p for p in ids if ids.count(p) > 1})
        raise ScorerError(f"participant ids must be distinct, repeated: {duplicates}")
    return ids


def check_option(name: str, value: object, *, minimum: float, exclusive: bool = False, integer: bool = False) -> None:
    """Raise :class:`ScorerError` unless option ``value`` is a finite number (an int if ``integer``) above ``minimum``."""
    kinds = (int,) if integer else (int, float)
    ok = (
        isinstance(value, kinds)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > minimum if exclusive else value >= minimum)
    )
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ScorerError(f"scorer option {name} must be {kind} {'>' if exclusive else '>='} {minimum}, got {value!r}")
