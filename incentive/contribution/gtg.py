"""GTG-Shapley: guided truncation gradient Shapley for one federated round.

Liu, Chen, Ye, Yu, "GTG-Shapley: Efficient and Accurate Participant Contribution Evaluation in
Federated Learning", ACM TIST 13(4), 2022. The utility of a coalition is reconstructed from the
round's own updates (the caller's utility aggregates that coalition's updates onto the previous
global model and evaluates it), so nothing is retrained.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from incentive.contribution.base import (
    BudgetExhausted,
    CachedUtility,
    ScoreResult,
    Utility,
    check_option,
    check_participants,
)
from incentive.contribution.exact import exact_values
from incentive.contribution.sampling import (
    StratifiedEstimate,
    covers_all,
    latin_cycle,
    relative_drift,
    truncated_walk,
)
from incentive.errors import ScorerError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GtgShapley:
    """GTG-Shapley: the paper's four ingredients, plus exact small coalitions.

    1. Between-round truncation: if ``|U(all) - U(empty)| <= round_tolerance`` the round moved the
       model too little to be worth valuing; every participant gets 0 and ``truncated`` is set.
    2. Within-round truncation: a permutation stops being evaluated once its coalition's utility is
       within ``within_tolerance`` of ``U(all)``; the rest of it is credited 0.
    3. Guided sampling: permutations come in cycles of N forming a random Latin square, so that
       each participant leads once per cycle (the paper's guidance) and also takes every other
       position once.
    4. Convergence: after at least ``min_permutations`` (rounded up to whole cycles), sampling stops
       at the end of a cycle once the estimate moved by at most ``convergence_tolerance``
       (relative L1) over the last ``convergence_window`` permutations (rounded up to cycles).

    Addition: marginal contributions in FL vary most when few updates are averaged (a label
    flipper's update dominates a coalition of two, and is diluted in one of eight). So every
    coalition of up to m participants is evaluated, m as large as ``small_coalition_evaluations``
    allows, and the Shapley value is averaged stratum by stratum (by the size of the coalition
    joined): strata below m are exact, the others average the walks' marginals at that position.
    The estimate is then shifted equally for all participants (except null players: those whose
    every evaluated marginal was exactly 0 stay at 0) so that it adds up to
    ``U(all) - U(empty)`` like Shapley values do; being the L2 projection onto that constraint, the
    shift never moves it away from them. With ``small_coalition_evaluations=0`` the estimator is
    the paper's (up to that projection). Whenever all 2^N coalitions end up evaluated (small
    rounds), the exact Shapley value is returned.

    Under ``max_evaluations``, a budget that ends before the first cycle is complete (N
    permutations; ≈ N² evaluations at N = 100) leaves strata with no marginal, so the stratified
    average is not defined. The estimate is then the mean marginal over the permutations walked
    to their end (each row of a Latin cycle is, alone, a uniformly random permutation, so this is
    the plain Monte Carlo Shapley estimate, with the exact small-coalition strata in place of
    their samples; see :meth:`StratifiedEstimate.walk_mean`), projected the same way; the result
    says ``complete=False`` and ``converged=False``, with the permutations walked. Its error is
    larger than a cycle's: read it as an estimate from those permutations only. Without a single
    permutation walked, scoring raises :class:`ScorerError`.

    Parameters
    ----------
    within_tolerance : float (default: 0.001)
        Absolute, in utility units (0.001 = 0.1 accuracy points); 0 disables within-round truncation.
    round_tolerance : float (default: 0.001)
        Absolute, in utility units; 0 skips only rounds that changed the utility not at all.
    small_coalition_evaluations : int (default: 200)
        Most evaluations spent on enumerating small coalitions (N = 10: all coalitions of up to
        3 participants, 175 evaluations). Under ``max_evaluations`` m is also kept small enough
        to leave room for one cycle of permutations.
    convergence_tolerance : float (default: 0.05)
    convergence_window : int (default: 10)
    min_permutations : int (default: 20)
        Raised to at least N and to a whole number of cycles.
    max_permutations : int (default: 500)
        Raised to a whole number of cycles, and to at least ``min_permutations``.
    max_evaluations : int | None (default: None)
        Hard cap on distinct utility evaluations, U(empty) and U(all) included; sampling stops (not
        converged) before the evaluation that would exceed it, the walk it interrupts discarded.
        None: no cap.
    """

    within_tolerance: float = 0.001
    round_tolerance: float = 0.001
    small_coalition_evaluations: int = 200
    convergence_tolerance: float = 0.05
    convergence_window: int = 10
    min_permutations: int = 20
    max_permutations: int = 500
    max_evaluations: int | None = None
    name: str = field(default="gtg", init=False)

    def __post_init__(self) -> None:
        check_option("within_tolerance", self.within_tolerance, minimum=0)
        check_option("round_tolerance", self.round_tolerance, minimum=0)
        check_option("small_coalition_evaluations", self.small_coalition_evaluations, minimum=0, integer=True)
        check_option("convergence_tolerance", self.convergence_tolerance, minimum=0, exclusive=True)
        check_option("convergence_window", self.convergence_window, minimum=1, integer=True)
        check_option("min_permutations", self.min_permutations, minimum=1, integer=True)
        check_option("max_permutations", self.max_permutations, minimum=1, integer=True)
        if self.max_evaluations is not None:
            check_option("max_evaluations", self.max_evaluations, minimum=2, integer=True)

    def exact_sizes(self, n: int) -> int:
        """m: coalitions of up to m of ``n`` participants are all evaluated (see the class notes)."""
        m, spent = 0, 0
        while m < n - 1:
            spent += math.comb(n, m + 1)
            one_cycle = 2 + spent + (n - 2 - m) * n
            if spent > self.small_coalition_evaluations or (
                self.max_evaluations is not None and one_cycle > self.max_evaluations
            ):
                break
            m += 1
        return m

    def score(self, participants: Sequence[int], utility: Utility, *, rng: np.random.Generator) -> ScoreResult:
        """Score one round's ``participants``; ``utility(frozenset())`` is the previous global model's.

        Raises
        ------
        ScorerError
            When ``max_evaluations`` runs out before one permutation is walked to its end.
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

        m = self.exact_sizes(n)
        for size in range(1, m + 1):
            for members in itertools.combinations(ids, size):
                cached(frozenset(members))
        estimate = StratifiedEstimate(ids, cached, exact_below=m)
        min_cycles = math.ceil(max(self.min_permutations, n) / n)
        max_cycles = max(math.ceil(self.max_permutations / n), min_cycles)
        history: deque[np.ndarray] = deque(maxlen=math.ceil(self.convergence_window / n) + 1)
        permutations = cycles = 0
        converged = covers_all(ids, cached)
        try:
            while not converged and cycles < max_cycles:
                for positions in latin_cycle(n, rng):
                    order = [ids[p] for p in positions]
                    estimate.add(positions, truncated_walk(order, cached, v_empty, v_full, self.within_tolerance))
                    permutations += 1
                cycles += 1
                history.append(estimate.values())
                converged = covers_all(ids, cached) or (
                    cycles >= min_cycles
                    and len(history) == history.maxlen
                    and relative_drift(history) <= self.convergence_tolerance
                )
        except BudgetExhausted:
            pass
        logger.debug(
            "gtg: m=%d, %d permutations, %d evaluations, converged=%s", m, permutations, cached.evaluations, converged
        )
        complete = True
        if covers_all(ids, cached):
            values = exact_values(ids, cached)
        elif estimate.walks == 0:
            raise ScorerError(
                f"max_evaluations={self.max_evaluations} ran out before one permutation of {n} participants was walked"
            )
        else:
            complete = estimate.complete
            if not complete:
                logger.info("gtg: budget ended after %d of a cycle's %d permutations; mean marginal over them", permutations, n)
            estimated = estimate.values() if complete else estimate.walk_mean()
            # Project onto sum = U(all) - U(empty) with the null players (no marginal ever nonzero) kept at 0,
            # which the Shapley values satisfy: never farther from them in L2. A participant that adds nothing
            # to any coalition (a free-rider's zero update) is thus valued 0, not given a share of the shift.
            moved = estimate.moved if estimate.moved.any() else np.ones(n, dtype=bool)
            estimated[moved] += (v_full - v_empty - estimated.sum()) / int(moved.sum())
            values = dict(zip(ids, estimated.tolist()))
        return ScoreResult(
            values=values,
            evaluations=cached.evaluations,
            seconds=time.perf_counter() - start,
            permutations=permutations,
            converged=converged,
            complete=complete,
        )

