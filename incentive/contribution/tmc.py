"""TMC-Shapley: truncated Monte Carlo Shapley (Ghorbani & Zou, "Data Shapley", ICML 2019)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from incentive.contribution.base import (
    BudgetExhausted,
    CachedUtility,
    ScoreResult,
    Utility,
    check_participants,
    check_option,
)
from incentive.contribution.exact import exact_values
from incentive.contribution.sampling import RunningEstimate, covers_all, truncated_walk
from incentive.errors import ScorerError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TmcShapley:
    """Uniformly random permutations, each truncated once the coalition performs like everyone.

    A permutation stops being evaluated once ``|U(all) - U(prefix)| < truncation_tolerance *
    |U(all) - U(empty)|``; the rest of it is credited 0. The paper scales its "performance
    tolerance" by U(all) alone because its U(empty) is an untrained model's; in a federated round
    U(empty) is the previous global model, and a round that gains 0.01 accuracy would otherwise
    be truncated before its first participant. Sampling stops
    once at least ``min_permutations`` were drawn and the running averages moved by at most
    ``convergence_tolerance`` (relative L1) over the last ``convergence_window`` permutations. The
    paper's window of 100 permutations is meant for thousands of data points; with tens of
    participants a window of 10 keeps the cost below exhaustive enumeration. Once sampling has
    evaluated all 2^N coalitions it stops and returns the exact Shapley value from them.

    Parameters
    ----------
    truncation_tolerance : float (default: 0.01)
        Relative to ``|U(all) - U(empty)|``; 0 disables truncation.
    convergence_tolerance : float (default: 0.05)
    convergence_window : int (default: 10)
    min_permutations : int (default: 30)
    max_permutations : int (default: 500)
    max_evaluations : int | None (default: None)
        Hard cap on distinct utility evaluations, U(empty) and U(all) included; sampling stops (not
        converged) before the evaluation that would exceed it. None: no cap.
    """

    truncation_tolerance: float = 0.01
    convergence_tolerance: float = 0.05
    convergence_window: int = 10
    min_permutations: int = 30
    max_permutations: int = 500
    max_evaluations: int | None = None
    name: str = field(default="tmc", init=False)

    def __post_init__(self) -> None:
        check_option("truncation_tolerance", self.truncation_tolerance, minimum=0)
        check_option("convergence_tolerance", self.convergence_tolerance, minimum=0, exclusive=True)
        check_option("convergence_window", self.convergence_window, minimum=1, integer=True)
        check_option("min_permutations", self.min_permutations, minimum=1, integer=True)
        check_option("max_permutations", self.max_permutations, minimum=1, integer=True)
        if self.max_evaluations is not None:
            check_option("max_evaluations", self.max_evaluations, minimum=2, integer=True)

    def score(self, participants: Sequence[int], utility: Utility, *, rng: np.random.Generator) -> ScoreResult:
        """Score ``participants``.

        Raises
        ------
        ScorerError
            When ``max_evaluations`` runs out before a single permutation is complete.
        """
        start = time.perf_counter()
        ids = check_participants(participants)
        n = len(ids)
        cached = CachedUtility(utility, max_evaluations=self.max_evaluations)
        if n == 0:
            return ScoreResult(values={}, evaluations=0, seconds=time.perf_counter() - start)
        v_empty = cached(frozenset())
        v_full = cached(frozenset(ids))
        tolerance = self.truncation_tolerance * abs(v_full - v_empty)

        estimate = RunningEstimate(n, self.convergence_window)
        converged = False
        try:
            while not converged and estimate.count < self.max_permutations:
                order = rng.permutation(n)
                marginals = truncated_walk([ids[k] for k in order], cached, v_empty, v_full, tolerance)
                by_participant = np.zeros(n)
                by_participant[order] = marginals
                estimate.add(by_participant)
                converged = covers_all(ids, cached) or (
                    estimate.count >= self.min_permutations
                    and estimate.relative_change() <= self.convergence_tolerance
                )
        except BudgetExhausted:
            pass
        logger.debug("tmc: %d permutations, %d evaluations, converged=%s", estimate.count, cached.evaluations, converged)
        if covers_all(ids, cached):
            values = exact_values(ids, cached)
        elif estimate.count == 0:
            raise ScorerError(
                f"max_evaluations={self.max_evaluations} ran out before one permutation of {n} participants was complete"
            )
        else:
            values = dict(zip(ids, estimate.mean.tolist()))
        return ScoreResult(
            values=values,
            evaluations=cached.evaluations,
            seconds=time.perf_counter() - start,
            permutations=estimate.count,
            converged=converged,
        )
