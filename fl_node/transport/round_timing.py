"""Where a Flower round's seconds go: the aggregator's view of one round's collection, per node and phase.

A round over Flower is the in-process round plus the way each node's plan and reply travel.
:class:`CollectTiming` splits each node's share of that into phases, from the aggregator's
clock (push, pull) and the time stamps the node's ClientApp put in its reply
(:mod:`fl_node.transport.flower_client`): all parties run on one machine's clock in
``consortium local``, so the differences are meaningful there (across machines they also
carry clock skew).

Phases of one node's reply:

``to_node_s``
    Plan pushed → the SuperLink hands it to the node's SuperNode (the SuperNode's pull interval, TLS).
``clientapp_start_s``
    SuperNode has it → the ClientApp begins (SuperExec's poll and a fresh ``flwr-clientapp``
    process, or the long-lived runner's poll).
``node_work_s``
    The node's worker: checks against the ledger, training, encryption, the commit transaction.
``back_s``
    Reply ready → the aggregator has it (SuperNode's push, its reply poll, the aggregator's pull poll).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any

PHASES = ("to_node_s", "clientapp_start_s", "node_work_s", "back_s")


@dataclass
class CollectTiming:
    """One round's collection (Unix seconds from ``time.time()``).

    Attributes
    ----------
    started : float
        The round's collection began (identifying connected nodes).
    pushed : float
        The plans were pushed.
    ended : float
        The last reply was in (or the round stopped waiting).
    nodes : dict[str, dict[str, float]]
        Per node: its phases (see the module docstring), for replies that carried time stamps.
    """

    started: float
    pushed: float = 0.0
    ended: float = 0.0
    nodes: dict[str, dict[str, float]] = field(default_factory=dict)

    def add_reply(self, who: str, pulled: float, timing_json: Any) -> None:
        """Record the reply of ``who`` pulled at ``pulled`` with the ClientApp's ``timing`` field (ignored when malformed)."""
        try:
            timing = json.loads(timing_json)
            delivered, started, work = (float(timing[k]) if timing[k] is not None else None for k in ("delivered", "started", "work_s"))
        except (TypeError, ValueError, KeyError):
            return
        if started is None or work is None:
            return
        phases = {"node_work_s": work, "back_s": pulled - started - work}
        if delivered is not None:
            phases |= {"to_node_s": delivered - self.pushed, "clientapp_start_s": started - delivered}
        self.nodes[who] = phases

    def summary(self) -> dict[str, float]:
        """``collect_s``, ``identify_s`` (before the push) and each phase's mean over the nodes that reported it."""
        out = {"collect_s": self.ended - self.started, "identify_s": self.pushed - self.started}
        for phase in PHASES:
            values = [n[phase] for n in self.nodes.values() if phase in n]
            if values:
                out[phase] = statistics.fmean(values)
        return out
