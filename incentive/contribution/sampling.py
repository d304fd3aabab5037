"""What the Monte Carlo scorers share: truncated walks along permutations and running estimates."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence

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


def relative_drift(history: Iterable[np.ndarray]) -> float:
    """``max over past estimates of ||latest - past||_1 / ||latest||_1`` (the last item is the latest).

    The L1 norm over all participants rather than a per-participant ratio, so that participants
    worth about 0 (free riders) do not prevent convergence.
    """
    estimates = list(history)
    latest = estimates[-1]
    drift = max(float(np.abs(latest - past).sum()) for past in estimates)
    if drift == 0.0:
        return 0.0
    scale = float(np.abs(latest).sum())
    return drift / scale if scale > 0 else float("inf")


class RunningEstimate:
    """Running mean of per-permutation marginals, with a history for the convergence test."""

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
        """:func:`relative_drift` over the last ``window`` permutations; inf until there were that many."""
        if len(self._history) < self._history.maxlen:  # type: ignore[operator]
            return float("inf")
        return relative_drift(self._history)


class StratifiedEstimate:
    """Shapley values averaged stratum by stratum, a stratum being the size of the coalition joined.

    ``value[i] = mean over s = 0..N-1 of (mean marginal of i joining a coalition of s others)``,
    which is the Shapley value exactly when each stratum mean is exact. Strata below
    ``exact_below`` are computed from every coalition of that size (they must all be in the
    cache); the others average the marginals that walks recorded at position ``s``.
    """

    def __init__(self, ids: tuple[int, ...], utility: CachedUtility, exact_below: int) -> None:
        n = len(ids)
        self._exact_below = exact_below
        self.walks = 0
        self._beyond_exact = np.zeros(n)
        self._exact = np.zeros(n)
        self._moved = np.zeros(n, dtype=bool)
        for k, participant in enumerate(ids):
            others = ids[:k] + ids[k + 1 :]
            for size in range(exact_below):
                marginals = [
                    utility(frozenset(c) | {participant}) - utility(frozenset(c))
                    for c in itertools.combinations(others, size)
                ]
                self._exact[k] += float(np.mean(marginals))
                self._moved[k] |= any(m != 0 for m in marginals)
        self._sums = np.zeros((n, n))
        self._counts = np.zeros((n, n), dtype=int)

    def add(self, positions: Sequence[int], marginals: np.ndarray) -> None:
        """Record one walk: ``positions[j]`` is the index (in ``ids``) of the participant at step j."""
        self._sums[positions, np.arange(len(positions))] += marginals
        self._counts[positions, np.arange(len(positions))] += 1
        self._moved[positions] |= np.asarray(marginals) != 0
        self._beyond_exact[list(positions[self._exact_below :])] += marginals[self._exact_below :]
        self.walks += 1

    @property
    def moved(self) -> np.ndarray:
        """Whether each participant (indexed like ``ids``) ever changed a coalition's utility; one that never did is a null player so far."""
        return self._moved.copy()

    @property
    def complete(self) -> bool:
        """Whether every sampled stratum of every participant holds at least one marginal."""
        return bool(np.all(self._counts[:, self._exact_below :] > 0))

    def values(self) -> np.ndarray:
        """Current estimate, indexed like ``ids``; needs :attr:`complete`."""
        sampled = self._sums[:, self._exact_below :] / np.maximum(self._counts[:, self._exact_below :], 1)
        return (self._exact + sampled.sum(axis=1)) / len(self._exact)

    def walk_mean(self) -> np.ndarray:
        """The estimate before every stratum holds a marginal: the mean marginal over the walks so far; needs one walk.

        Each walk's permutation must be uniformly random (as each of a :func:`latin_cycle`'s is,
        taken alone). Participant i's marginal is then an unbiased sample of its Shapley value,
        ``(1/N) Σ_s (mean marginal joining s others)``, position s being uniform. Positions below
        ``exact_below`` are replaced by their exact stratum means (a marginal there averages to
        ``exact/N``), which removes their variance: ``value = exact/N + mean over walks of the
        marginal at positions ≥ exact_below`` (0 elsewhere).
        """
        if self.walks == 0:
            raise ValueError("no walk recorded yet")
        return self._exact / len(self._exact) + self._beyond_exact / self.walks


def latin_cycle(n: int, rng: np.random.Generator) -> list[list[int]]:
    """N permutations of range(n) forming a random Latin square: each index once at each position.

    Row k puts ``sigma[(k + shift[s]) % n]`` at position s; random ``sigma`` and ``shift`` keep a
    participant's predecessors from being the same arc of one cyclic order in every row. Each row
    taken alone is a uniformly random permutation (``s -> (k + shift[s]) % n`` is one, ``shift``
    being uniform, and ``sigma`` relabels it independently); the rows of one cycle are not
    independent of each other.
    """
    sigma = rng.permutation(n)
    shift = rng.permutation(n)
    return [[int(sigma[(k + shift[s]) % n]) for s in range(n)] for k in range(n)]


def covers_all(ids: tuple[int, ...], utility: CachedUtility) -> bool:
    """Whether every one of the 2^N coalitions of ``ids`` has been evaluated."""
    return utility.evaluations == 1 << len(ids)
