"""What the Monte Carlo scorers share: truncated walks along permutations and a running estimate."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from incentive.contribution.base import CachedUtility


def truncated_walk(
    order: Sequence[int], utility: CachedUtility, v_empty: float, v_full: float, tolerance: float
) -> np.ndarray:
    """Marginal contributions along one permutation, with truncation.

    Walking ``order`` adds one participant at a time; once the current coalition's utility is
    within ``tolerance`` of ``v_full`` (strictly), the remaining participants are credited 0 and
    not evaluated. ``tolerance = 0`` never truncates.

    Returns
    -------
    numpy.ndarray
        ``marginals[j]`` is the marginal contribution of ``order[j]``; the marginals sum to the
        last utility reached minus ``v_empty``.
    """
    marginals = np.zeros(len(order))
    previous = v_empty
    prefix: set[int] = set()
    for j, participant in enumerate(order):
        if abs(v_full - previous) < tolerance:
            break
        prefix.add(participant)
        current = utility(frozenset(prefix))
        marginals[j] = current - previous
        previous = current
    return marginals


class RunningEstimate:
    """Running mean of per-permutation marginals, with the convergence test on its recent history.

    The test is ``max over the last `window` estimates of ||phi_now - phi_then||_1 / ||phi_now||_1``:
    the L1 norm over all participants instead of a per-participant ratio, so that participants
    worth about 0 (free riders) do not stop convergence.
    """

    def __init__(self, size: int, window: int) -> None:
        self._total = np.zeros(size)
        self.count = 0
        self._history: deque[np.ndarray] = deque(maxlen=window + 1)

    @property
    def mean(self) -> np.ndarray:
        """Current estimate (zeros before any permutation)."""
        return self._total / max(self.count, 1)

    def add(self, marginals: np.ndarray) -> None:
        """Fold one permutation's marginals (indexed like the participants) into the mean."""
        self._total += marginals
        self.count += 1
        self._history.append(self.mean)

    def relative_change(self) -> float:
        """How much the estimate moved over the window, relative to its size; inf until the window is full."""
        if len(self._history) < self._history.maxlen:  # type: ignore[operator]
            return float("inf")
        now = self._history[-1]
        scale = float(np.abs(now).sum())
        drift = max(float(np.abs(now - then).sum()) for then in self._history)
        if drift == 0.0:
            return 0.0
        return drift / scale if scale > 0 else float("inf")


def covers_all(ids: tuple[int, ...], utility: CachedUtility) -> bool:
    """Whether every one of the 2^N coalitions of ``ids`` has been evaluated."""
    return utility.evaluations == 1 << len(ids)

