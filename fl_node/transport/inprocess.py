"""The in-process transport: nodes in this process, called one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fl_node.hfl.aggregator import Collected, collect_submissions
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.participant import RoundPlan


class Transport(Protocol):
    """Moves a round's plan to the nodes and their submissions back; the round logic is elsewhere."""

    def collect(self, plan: RoundPlan) -> Collected:
        """Every selected node trains and commits; returns the submissions and who failed."""
        ...


@dataclass
class InProcessTransport:
    """Nodes in this process, called one after the other (each signs its own commitment).

    Attributes
    ----------
    nodes : Sequence[LedgerNode]
    deadline_s : float | None (default: None)
        Submissions not in by then are dropouts.
    max_workers : int (default: 1)
        Nodes trained at once (threads). More than one only for nodes that do not share a
        chain connection (e.g. on a :class:`~fl_node.hfl.null_ledger.NullLedger`), whose
        transaction nonces must not interleave.
    """

    nodes: Sequence[LedgerNode]
    deadline_s: float | None = None
    max_workers: int = 1

    def collect(self, plan: RoundPlan) -> Collected:
        selected = [n for n in self.nodes if n.participant_id in plan.sample_counts]
        return collect_submissions(selected, plan, self.deadline_s, self.max_workers)
