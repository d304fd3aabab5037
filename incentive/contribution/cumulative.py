"""Contribution summed over rounds, in floats and in the ledger's fixed point."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from incentive.fixedpoint import to_fixed


@dataclass
class CumulativeScores:
    """Running totals of per-round contribution scores.

    ``fixed_totals`` adds up each round's :func:`~incentive.fixedpoint.to_fixed` value, which is
    what the ledger records round by round, so it equals an on-chain sum to the unit (converting
    the float total instead could differ by a unit per round). A participant absent from a round
    (a dropout) simply gains nothing that round.
    """

    totals: dict[int, float] = field(default_factory=dict)
    fixed_totals: dict[int, int] = field(default_factory=dict)
    rounds: int = 0

    @classmethod
    def from_rounds(cls, rounds: Iterable[Mapping[int, float]]) -> CumulativeScores:
        """Totals over a sequence of per-round ``participant -> score`` dicts."""
        cumulative = cls()
        for values in rounds:
            cumulative.add(values)
        return cumulative

    def add(self, values: Mapping[int, float]) -> None:
        """Fold one round's ``participant -> score`` into the totals.

        Raises
        ------
        FixedPointError
            When a score cannot be written as fixed point (NaN, infinite); nothing is added then.
        """
        fixed = {p: to_fixed(v) for p, v in values.items()}
        for participant, value in values.items():
            self.totals[participant] = self.totals.get(participant, 0.0) + float(value)
            self.fixed_totals[participant] = self.fixed_totals.get(participant, 0) + fixed[participant]
        self.rounds += 1
