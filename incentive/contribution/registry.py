"""Building a scorer from its name and options, as the CLI and the round loop do."""

from __future__ import annotations

from dataclasses import fields

from incentive.contribution.base import Scorer
from incentive.contribution.exact import ExactShapley
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
