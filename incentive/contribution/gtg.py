"""GTG-Shapley: guided truncation gradient Shapley for one federated round.

Liu, Chen, Ye, Yu, "GTG-Shapley: Efficient and Accurate Participant Contribution Evaluation in
Federated Learning", ACM TIST 13(4), 2022. The utility of a coalition is reconstructed from the
round's own updates (the caller's utility aggregates that coalition's updates onto the previous
global model and evaluates it), so nothing is retrained.
"""

from __future__ import annotations

import logging
import math
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
from incentive.contribution.exact import MAX_EXACT_PARTICIPANTS, exact_values
from incentive.contribution.sampling import RunningEstimate, covers_all, truncated_walk
from incentive.errors import ScorerError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GtgShapley:
    """GTG-Shapley with its four ingredients, each a knob.

    1. Between-round truncation: if ``|U(all) - U(empty)| <= round_tolerance`` the round moved the
       model too little to be worth valuing; every participant gets 0 and ``truncated`` is set.
    2. Within-round truncation: a permutation stops being evaluated once its coalition's utility is
       within ``within_tolerance`` of ``U(all)``; the rest of it is credited 0.
    3. Guided sampling: permutations come in cycles of N, participant k leading the k-th
       permutation of each cycle, the rest in random order.
    4. Convergence: after at least ``min_permutations`` (rounded up to whole cycles), sampling stops
       at the end of a cycle once the running averages moved by at most ``convergence_tolerance``
       (relative L1) over the last ``convergence_window`` permutations.

    Small rounds: with at most ``exact_up_to`` participants all 2^N coalitions are evaluated and
    the exact Shapley value returned, since sampling would evaluate nearly all of them anyway; and
    whenever sampling happens to have evaluated all 2^N, it stops and does the same.

    Parameters
    ----------
    within_tolerance : float (default: 0.001)
        Absolute, in utility units (0.001 = 0.1 accuracy points); 0 disables within-round truncation.
    round_tolerance : float (default: 0.001)
        Absolute, in utility units; 0 disables between-round truncation except for no change at all.
    convergence_tolerance : float (default: 0.05)
    convergence_window : int (default: 10)
    min_permutations : int (default: 30)
        Raised to at least N and to a whole number of cycles.
    max_permutations : int (default: 500)
    max_evaluations : int | None (default: None)
        Hard cap on distinct utility evaluations, U(empty) and U(all) included; sampling stops (not
        converged) before the evaluation that would exceed it. None: no cap.
    exact_up_to : int (default: 5)
        Rounds with at most this many participants are valued exactly (2^N <= 32 evaluations)
        unless ``max_evaluations`` is smaller; 0 disables.
    """

    within_tolerance: float = 0.001
    round_tolerance: float = 0.001
    convergence_tolerance: float = 0.05
    convergence_window: int = 10
    min_permutations: int = 30
    max_permutations: int = 500
    max_evaluations: int | None = None
    exact_up_to: int = 5
    name: str = field(default="gtg", init=False)

    def __post_init__(self) -> None:
        check_option("within_tolerance", self.within_tolerance, minimum=0)
        check_option("round_tolerance", self.round_tolerance, minimum=0)
        check_option("convergence_tolerance", self.convergence_tolerance, minimum=0, exclusive=True)
        check_option("convergence_window", self.convergence_window, minimum=1, integer=True)
        check_option("min_permutations", self.min_permutations, minimum=1, integer=True)
        check_option("max_permutations", self.max_permutations, minimum=1, integer=True)
        if self.max_evaluations is not None:
            check_option("max_evaluations", self.max_evaluations, minimum=2, integer=True)
        check_option("exact_up_to", self.exact_up_to, minimum=0, integer=True)
        if self.exact_up_to > MAX_EXACT_PARTICIPANTS:
            raise ScorerError(f"scorer option exact_up_to must be <= {MAX_EXACT_PARTICIPANTS}, got {self.exact_up_to}")

    def score(self, participants: Sequence[int], utility: Utility, *, rng: np.random.Generator) -> ScoreResult:
        """Score one round's ``participants``; ``utility(frozenset())`` is the previous global model's.

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
        if abs(v_full - v_empty) <= self.round_tolerance:
            logger.info("round truncated: |U(all) - U(empty)| = %.3g <= %.3g", abs(v_full - v_empty), self.round_tolerance)
            return ScoreResult(
                values=dict.fromkeys(ids, 0.0),
                evaluations=cached.evaluations,
                seconds=time.perf_counter() - start,
                truncated=True,
            )

        if n <= self.exact_up_to and (self.max_evaluations is None or self.max_evaluations >= 1 << n):
            return ScoreResult(
                values=exact_values(ids, cached),
                evaluations=cached.evaluations,
                seconds=time.perf_counter() - start,
            )

        estimate = RunningEstimate(n, self.convergence_window)
        position = {p: k for k, p in enumerate(ids)}
        min_permutations = math.ceil(max(self.min_permutations, n) / n) * n
        converged = False
        try:
            while not converged and estimate.count < self.max_permutations:
                for leader in ids:
                    if estimate.count >= self.max_permutations or covers_all(ids, cached):
                        break
                    others = [p for p in ids if p != leader]
                    order = [leader, *(others[k] for k in rng.permutation(n - 1))]
                    marginals = truncated_walk(order, cached, v_empty, v_full, self.within_tolerance)
                    by_participant = np.zeros(n)
                    by_participant[[position[p] for p in order]] = marginals
                    estimate.add(by_participant)
                converged = covers_all(ids, cached) or (
                    estimate.count >= min_permutations
                    and estimate.relative_change() <= self.convergence_tolerance
                )
        except BudgetExhausted:
            pass
        logger.debug("gtg: %d permutations, %d evaluations, converged=%s", estimate.count, cached.evaluations, converged)
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
