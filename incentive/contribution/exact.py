"""Exact Shapley values from all 2^N coalitions (N <= 12)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import factorial

import numpy as np

from incentive.contribution.base import CachedUtility, ScoreResult, Utility, check_participants
from incentive.errors import ScorerError

MAX_EXACT_PARTICIPANTS = 12


@dataclass(frozen=True)
class ExactShapley:
    """The Shapley value by enumeration: every coalition evaluated exactly once.

    ``value[i] = sum over S not containing i of |S|! (N-|S|-1)! / N! * (U(S + i) - U(S))``.
    The reference the approximations are measured against; 2^N evaluations, so N <= 12.
    """

    name: str = field(default="exact", init=False)

    def score(self, participants: Sequence[int], utility: Utility, *, rng: np.random.Generator) -> ScoreResult:
        """Score ``participants``; ``rng`` is unused (the method is deterministic).

        Raises
        ------
        ScorerError
            With more than 12 participants.
        """
        start = time.perf_counter()
        ids = check_participants(participants)
        n = len(ids)
        if n > MAX_EXACT_PARTICIPANTS:
            raise ScorerError(
                f"exact Shapley needs at most {MAX_EXACT_PARTICIPANTS} participants "
                f"(2^N utility evaluations), got {n}; use 'gtg' or 'tmc'"
            )
        if n == 0:
            return ScoreResult(values={}, evaluations=0, seconds=time.perf_counter() - start)
        cached = CachedUtility(utility)
        return ScoreResult(
            values=exact_values(ids, cached),
            evaluations=cached.evaluations,
            seconds=time.perf_counter() - start,
        )


def exact_values(ids: tuple[int, ...], utility: CachedUtility) -> dict[int, float]:
    """Shapley values of ``ids`` from all 2^N coalitions, evaluating those ``utility`` has not cached."""
    n = len(ids)
    masks = np.arange(1 << n)
    table = np.array([utility(_coalition(ids, mask)) for mask in range(1 << n)])
    sizes = np.array([mask.bit_count() for mask in range(1 << n)])
    weights = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    values: dict[int, float] = {}
    for bit, participant in enumerate(ids):
        without = masks[(masks >> bit) & 1 == 0]
        marginals = table[without | (1 << bit)] - table[without]
        values[participant] = float(np.dot(weights[sizes[without]], marginals))
    return values


def _coalition(ids: tuple[int, ...], mask: int) -> frozenset[int]:
    return frozenset(p for bit, p in enumerate(ids) if mask >> bit & 1)
