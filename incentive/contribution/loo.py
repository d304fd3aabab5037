"""Leave-one-out: each participant is worth what the grand coalition loses without it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from incentive.contribution.base import CachedUtility, ScoreResult, Utility, check_participants


@dataclass(frozen=True)
class LeaveOneOut:
    """``value[i] = U(all) - U(all without i)``; N + 1 evaluations, no sampling.

    Cheap but blind to redundancy: two participants holding the same data each score about 0,
    and the values need not add up to ``U(all) - U(empty)``.
    """

    name: str = field(default="loo", init=False)

    def score(self, participants: Sequence[int], utility: Utility, *, rng: np.random.Generator) -> ScoreResult:
        """Score ``participants``; ``rng`` is unused (the method is deterministic)."""
        start = time.perf_counter()
        ids = check_participants(participants)
        cached = CachedUtility(utility)
        values: dict[int, float] = {}
        if ids:
            everyone = frozenset(ids)
            full = cached(everyone)
            values = {i: full - cached(everyone - {i}) for i in ids}
        return ScoreResult(values=values, evaluations=cached.evaluations, seconds=time.perf_counter() - start)
