"""Contribution scorers behind one interface: leave-one-out, exact, TMC- and GTG-Shapley.

A scorer values each participant of a round from a utility over coalitions of participants
(built by the caller, e.g. the accuracy of the previous global model plus the coalition's
aggregated update); ``make_scorer(name, **options)`` builds one by name. Per-round values add up
in :class:`CumulativeScores`; :func:`incentive.fixedpoint.to_fixed` puts them on the ledger.
"""

from incentive.contribution.agreement import Agreement, agreement
from incentive.contribution.base import CachedUtility, ScoreResult, Scorer, Utility
from incentive.contribution.cumulative import CumulativeScores
from incentive.contribution.exact import MAX_EXACT_PARTICIPANTS, ExactShapley
from incentive.contribution.gtg import GtgShapley
from incentive.contribution.loo import LeaveOneOut
from incentive.contribution.registry import SCORERS, make_scorer, scorer_options
from incentive.contribution.tmc import TmcShapley

__all__ = [
    "MAX_EXACT_PARTICIPANTS",
    "SCORERS",
    "Agreement",
    "CachedUtility",
    "CumulativeScores",
    "ExactShapley",
    "GtgShapley",
    "LeaveOneOut",
    "ScoreResult",
    "Scorer",
    "TmcShapley",
    "Utility",
    "agreement",
    "make_scorer",
    "scorer_options",
]
