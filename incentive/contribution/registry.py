"""Building a scorer from its name and options, as the CLI and the round loop do."""

from __future__ import annotations

import itertools
from dataclasses import fields

from incentive.contribution.base import Scorer
from incentive.contribution.exact import MAX_EXACT_PARTICIPANTS, ExactShapley
from incentive.contribution.gtg import GtgShapley
from incentive.contribution.loo import LeaveOneOut
from incentive.contribution.tmc import TmcShapley
from incentive.errors import ScorerError

SCORERS: dict[str, type] = {"loo": LeaveOneOut, "exact": ExactShapley, "tmc": TmcShapley, "gtg": GtgShapley}
"""Scorer name -> class; each class's dataclass fields are its options."""


def scorer_options(name: str) -> dict[str, object]:
    """The options ``name`` accepts, with their defaults (for help texts and benchmark records)."""
    return {f.name: f.default for f in fields(_scorer_class(name)) if f.init}


def make_scorer(name: str, **options: object) -> Scorer:
    """Build the scorer called ``name`` ("loo", "exact", "tmc" or "gtg") with ``options``.

    Raises
    ------
    ScorerError
        For an unknown name or option, or an option value out of range, naming the valid choices.
    """
    cls = _scorer_class(name)
    accepted = scorer_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise ScorerError(f"scorer {name!r} has no option {', '.join(unknown)}; it takes: {takes}")
    scorer: Scorer = cls(**options)
    return scorer


def _scorer_class(name: str) -> type:
    try:
        return SCORERS[name]
    except (KeyError, TypeError):
        raise ScorerError(f"unknown scorer {name!r}; choose one of: {', '.join(sorted(SCORERS))}") from None


def planned_coalitions(name: str, participants: int) -> tuple[list[frozenset[int]], bool]:
    """The non-empty coalitions of ``range(participants)`` the scorer ``name`` evaluates, as far as known before it sees a utility.

    Returns the coalitions and whether that is all of them: leave-one-out and exact Shapley
    (up to its participant limit) do not adapt to the values they see, so their whole plan is
    known; TMC and GTG choose permutations and truncate on the values, so only the grand
    coalition (which both evaluate first) is.
    """
    _scorer_class(name)
    everyone = frozenset(range(participants))
    if not everyone:
        return [], True
    if name == "loo":
        return [everyone] + [everyone - {i} for i in range(participants) if participants > 1], True
    if name == "exact" and participants <= MAX_EXACT_PARTICIPANTS:
        return [frozenset(c) for k in range(1, participants + 1) for c in itertools.combinations(range(participants), k)], True
    return [everyone], False
