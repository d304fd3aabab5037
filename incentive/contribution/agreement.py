"""How close an approximate valuation is to exact Shapley: Pearson, relative L2 and Spearman."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from incentive.errors import ScorerError


@dataclass(frozen=True)
class Agreement:
    """Agreement of approximate values with reference values.

    Attributes
    ----------
    pearson : float
        Linear correlation; NaN when either side is constant.
    rel_l2 : float
        ``||approx - exact|| / ||exact||``; 0 when both are all zero, inf when only ``exact`` is.
    spearman : float
        Rank correlation (ties share their average rank); NaN when either side is constant.
    """

    pearson: float
    rel_l2: float
    spearman: float


def agreement(approx: Mapping[int, float], exact: Mapping[int, float]) -> Agreement:
    """Compare two valuations of the same participants.

    Raises
    ------
    ScorerError
        When the two do not value the same participants.
    """
    if set(approx) != set(exact):
        raise ScorerError(
            f"valuations cover different participants: {sorted(set(approx) ^ set(exact))} appear in only one"
        )
    ids = sorted(exact)
    a = np.array([approx[i] for i in ids], dtype=float)
    e = np.array([exact[i] for i in ids], dtype=float)
    error, scale = float(np.linalg.norm(a - e)), float(np.linalg.norm(e))
    if scale > 0:
        rel_l2 = error / scale
    else:
        rel_l2 = 0.0 if error == 0 else float("inf")
    return Agreement(pearson=_pearson(a, e), rel_l2=rel_l2, spearman=_pearson(_ranks(a), _ranks(e)))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt(np.dot(dx, dx) * np.dot(dy, dy)))
    return float(np.dot(dx, dy)) / denominator if denominator > 0 else float("nan")


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks
