"""Contribution-gated aggregation: who is left out of a round's aggregate, from the round's own scores.

The evaluator scores every verified participant on decrypted coalition sums (as for rewards)
before it forms the new global model; :func:`gated_out` then names the participants whose
contribution is at or below the task's published threshold. The round's model is the FedAvg
of the others' summed update (one more decrypted sum, never an individual update), and the
ledger records each left-out participant as excluded (no reward). The rule is a pure function
of the recorded scores, so an auditor with the key recomputes it.
"""

from __future__ import annotations

from collections.abc import Mapping

#: ``FederationSpec.aggregation`` values: plain FedAvg of every verified update, or contribution-gated.
AGGREGATIONS = ("fedavg", "gated")


def gated_out(scores: Mapping[str, int], threshold: int, min_included: int) -> tuple[str, ...]:
    """The participants left out of the aggregate, sorted.

    A participant is left out when its score is at or below ``threshold`` (a zero score adds
    nothing to the sum); when nobody scores above it, only those strictly below are. At least
    ``min_included`` participants stay (the best-scoring ones, ties by address).

    Parameters
    ----------
    scores : Mapping[str, int]
        Each verified participant's score, in the ledger's fixed point (as recorded on chain).
    threshold : int
        The task's gate threshold, same fixed point.
    min_included : int
        The task's minimum cohort.
    """
    anyone_above = any(v > threshold for v in scores.values())
    out = [a for a, v in scores.items() if v < threshold or (anyone_above and v == threshold)]
    room = max(len(scores) - max(min_included, 1), 0)
    if len(out) > room:
        out = sorted(out, key=lambda a: (scores[a], a))[:room]
    return tuple(sorted(out))
