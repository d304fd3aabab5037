"""Contribution-gated aggregation: who is left out of a round's aggregate, from the scores on record.

The evaluator scores every verified participant on decrypted coalition sums (as for rewards)
before it forms the new global model. Each participant's *reputation* is its discounted sum
of scores, this round's included: ``R_t = memory * R_(t-1) + s_t`` over the task's finalized
rounds, with each earlier round's score as recorded on chain (a participant absent from a
round scores 0 there). :func:`gated_out` then names the participants whose reputation is at or
below the task's published threshold. The round's model is the FedAvg of the others' summed
update (one more decrypted sum, never an individual update), and the ledger records each
left-out participant as excluded (no reward).

``memory = 0`` (the default) gates on this round's score alone. With memory, one noisy
converged round (every score near 0, its sign set by the evaluator's small validation set)
cannot outweigh a participant's record; but an attacker that scaled a good first update also
keeps the credit it earned early. This is the reputation of RFFL (Xu and Lyu, "A Reputation
Mechanism Is All You Need: Collaborative Fairness and Adversarial Robustness in Federated
Learning", arXiv:2011.10464): its moving average ``r_t = γ r_(t-1) + (1 - γ) s_t`` from
``r_0 = 0`` is ``(1 - γ) R_t``, so at threshold 0 both gate alike; here the per-round
contribution is the GTG-Shapley value. On the robustness benchmark (30% label-flip or ×10
scaled attackers, 3 seeds) memory 0.5 or 1 did not beat memory 0, hence the default.

Attackers are assumed a minority, as by the median, trimmed-mean and Krum rules: when the
round's median reputation is at or below the threshold, the attackers' damage has been spread
over every Shapley value (they add up to the full coalition's gain), so only those below the
median are left out, never half or more.
The rule is a pure function of the recorded scores, so an auditor with the key recomputes it.

Before any score, a gated task may leave out *norm outliers* (:func:`norm_outliers`): a
participant whose update's L2 norm exceeds ``κ`` times the round's median norm. This is the
norm-bounding defence of Sun et al. ("Can You Really Backdoor Federated Learning?",
arXiv:1911.07963), which bounds each update's norm; here the key holder cannot rescale an
update inside the encrypted sum, so an outlier is left out rather than clipped, with the bound
set relative to the round's median so that it needs no absolute scale. It meets what the
contribution rule cannot: a boosted update (an honest step times 10) can score strongly
*positive* in the first rounds (a large step from the random initial model helps) and, once
aggregated, spreads its damage over every later Shapley value. The norms come from the
participants' own decrypted updates, which the key holder opens anyway for the validity check
(:meth:`fl_node.hfl.keyholder.KeyHolder.check_updates`), so the rule reveals nothing new to it;
left-out participants are not scored (their recorded score is 0) and the others are scored
among themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

#: ``FederationSpec.aggregation`` values: plain FedAvg of every verified update, or contribution-gated.
AGGREGATIONS = ("fedavg", "gated")
#: Default κ of :func:`norm_outliers` for new gated tasks (a published spec without one has none).
NORM_FACTOR = 3.0


def reputations(rounds: Iterable[Mapping[str, int]], memory: float) -> dict[str, float]:
    """Each participant's reputation after ``rounds`` (oldest first), from their recorded fixed-point scores.

    Parameters
    ----------
    rounds : Iterable[Mapping[str, int]]
        Each round's recorded scores by address; an address missing from a round scores 0 there.
    memory : float
        The discount ``γ`` in [0, 1] of ``R_t = γ R_(t-1) + s_t``; 1 is the plain cumulative score.
    """
    reputation: dict[str, float] = {}
    for scores in rounds:
        reputation = next_reputations(reputation, scores, memory)
    return reputation


def next_reputations(previous: Mapping[str, float], scores: Mapping[str, int], memory: float) -> dict[str, float]:
    """``memory * previous + scores``, for every address in either (see :func:`reputations`)."""
    return {a: memory * previous.get(a, 0.0) + scores.get(a, 0) for a in sorted(previous.keys() | scores.keys())}


def gated_out(
    scores: Mapping[str, int],
    threshold: int,
    min_included: int,
    history: Mapping[str, float] | None = None,
    memory: float = 0.0,
) -> tuple[str, ...]:
    """The participants left out of the aggregate, sorted.

    A participant is left out when its reputation ``memory * history + score`` is at or below
    ``threshold`` (a zero adds nothing to the sum). When the round's median reputation is itself
    at or below ``threshold``, only those strictly below the median are: attackers are a
    minority, so a majority scoring low means their damage has been spread over every value
    (Shapley values add up to the full coalition's utility gain) rather than that most
    participants harm the model, and the gate never leaves out half or more. At least
    ``min_included`` participants stay (the best reputations, ties by address).

    Parameters
    ----------
    scores : Mapping[str, int]
        Each verified participant's score this round, in the ledger's fixed point (as recorded on chain).
    threshold : int
        The task's gate threshold, same fixed point.
    min_included : int
        The task's minimum cohort.
    history : Mapping[str, float] | None (default: none)
        Reputations after the task's earlier rounds (:func:`reputations`).
    memory : float (default: 0.0, this round's score alone)
    """
    if not scores:
        return ()
    history = history or {}
    standing = {a: memory * history.get(a, 0.0) + v for a, v in scores.items()}
    median = float(np.median(list(standing.values())))
    if median > threshold:
        out = [a for a, v in standing.items() if v <= threshold]
    else:
        out = [a for a, v in standing.items() if v < median]
    return _keep_cohort(out, len(standing), min_included, worst_first=lambda a: (standing[a], a))


def valid_norm_factor(factor: float) -> bool:
    """Whether ``factor`` can be a task's κ: 0 (the norm rule off) or a finite number of at least 1."""
    return factor == 0 or 1 <= factor < float("inf")


def update_norm(weighted: np.ndarray, weight: float) -> float:
    """L2 norm of a participant's own update ``delta_k``, from its decrypted weighted update ``w_k * delta_k``."""
    return float(np.linalg.norm(np.asarray(weighted, dtype=np.float64))) / weight


def norm_outliers(norms: Mapping[str, float], factor: float, min_included: int) -> tuple[str, ...]:
    """The participants whose update norm exceeds ``factor`` times the round's median norm, sorted.

    With ``factor >= 1`` at most half can exceed it. A round whose median norm is 0 (most
    updates empty) leaves nobody out: an empty update adds nothing to the sum. At least
    ``min_included`` participants stay (the smallest norms, ties by address).

    Parameters
    ----------
    norms : Mapping[str, float]
        Each verified participant's update norm (:func:`update_norm`).
    factor : float
        κ, the task's published bound; 0 turns the rule off.
    min_included : int
        The task's minimum cohort.
    """
    if factor <= 0 or not norms:
        return ()
    median = float(np.median(list(norms.values())))
    if median <= 0:
        return ()
    out = [a for a, v in norms.items() if v > factor * median]
    return _keep_cohort(out, len(norms), min_included, worst_first=lambda a: (-norms[a], a))


def _keep_cohort(out: list[str], count: int, min_included: int, worst_first: Callable[[str], Any]) -> tuple[str, ...]:
    """``out``, sorted, cut to the worst (by ``worst_first``) so that at least ``min_included`` of ``count`` stay in."""
    room = max(count - max(min_included, 1), 0)
    if len(out) > room:
        out = sorted(out, key=worst_first)[:room]
    return tuple(sorted(out))
