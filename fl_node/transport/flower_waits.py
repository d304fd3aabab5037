"""Shorter waits inside Flower's SuperNode and ServerApp Grid, which Flower 1.42 hard-codes.

A Flower round spends most of its overhead asleep, in waits that are neither flags nor
environment variables:

- the SuperNode's main loop (``flwr.supernode.start_client_internal``) sleeps 3 s whenever a
  pull from the SuperLink brought no message, so a plan waits 0–3 s before a node sees it; it
  checks for its ClientApp's reply every 0.5 s, and for that reply's content every 0.5 s;
- an object announced but not yet uploaded is retried after 1 s, 2 s, 4 s, … (up to 10 s), in
  the SuperNode receiving a plan and in the ServerApp's Grid
  (``flwr.superlink.grid.http_grid``) receiving a reply;
- the Grid's ``send_and_receive`` sleeps 3 s between pulls.

Rather than fork Flower, :func:`shorten_waits` rebinds the two names those modules look these
waits up by, at call time, in the running process only: their ``time`` becomes a
:class:`CappedTime` (the ``time`` module, except that ``sleep`` sleeps at most the poll
interval) and their ``pull_objects`` the same function with a back-off that starts at the poll
interval and stays there (tries unlimited, Flower's overall time limit kept: a reply's message
reaches the SuperLink before its objects, so the ServerApp often asks for objects still on their
way, and a 1 s, 2 s, … back-off then delays every reply pulled after it). Nothing else of
Flower changes.

``python -m fl_node.transport.flower_waits --poll-interval S flower-supernode ARGS…`` runs
Flower's own ``flower-supernode ARGS…`` with its waits so shortened (the program name stays
in the command line, so the process is recognisable as the SuperNode); the ServerApp shortens
its Grid's waits itself (:func:`shorten_grid_waits`). The interval's default and bounds are in
:mod:`fl_node.transport.deployment` (which the CLI imports without loading Flower).
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import flwr.superlink.grid.http_grid as http_grid
import flwr.supernode.start_client_internal as supernode_loop
from flwr.supercore.inflatable.inflatable_utils import pull_objects
from flwr.supernode.cli import flower_supernode

from fl_node.errors import TransportProcessError
from fl_node.transport.deployment import SUPERNODE_LAUNCHER, SUPERNODE_PROGRAM, check_poll_interval

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CappedTime:
    """The ``time`` module, except that :meth:`sleep` sleeps at most ``cap_s`` seconds.

    Attributes
    ----------
    cap_s : float
    """

    cap_s: float

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self.cap_s))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def shorten_waits(module: ModuleType, interval_s: float) -> None:
    """Cap ``module``'s sleeps at ``interval_s`` and, when it pulls objects, retry them every ``interval_s``.

    Raises
    ------
    TransportProcessError
        ``module`` does not look its waits up as Flower 1.42 does (``time``, ``pull_objects``):
        a Flower upgrade moved them, so the waits would silently stay long.
    """
    check_poll_interval(interval_s)
    clock = getattr(module, "time", None)
    if clock is not time and not isinstance(clock, CappedTime):
        raise TransportProcessError(f"{module.__name__} has no `time` module binding: this Flower version keeps its waits elsewhere")
    module.time = CappedTime(interval_s)  # type: ignore[attr-defined]
    puller = getattr(module, "pull_objects", None)
    if puller is not None:
        if getattr(puller, "func", puller) is not pull_objects:
            raise TransportProcessError(f"{module.__name__}.pull_objects is not Flower's: this Flower version pulls objects elsewhere")
        module.pull_objects = functools.partial(  # type: ignore[attr-defined]
            pull_objects,
            initial_backoff=interval_s,
            backoff_cap=interval_s,
            max_tries_per_object=None,  # Flower's limit on the total time still applies
        )
    log.info("%s: sleeps capped at %g s%s", module.__name__, interval_s, ", objects retried as often" if puller is not None else "")


def shorten_supernode_waits(interval_s: float) -> None:
    """Shorten the waits of a SuperNode run in this process (its main loop, reply checks, object pulls)."""
    shorten_waits(supernode_loop, interval_s)


def shorten_grid_waits(interval_s: float) -> None:
    """Shorten the waits of this process's ServerApp Grid (reply object pulls, ``send_and_receive``)."""
    shorten_waits(http_grid, interval_s)


def main(argv: Sequence[str] | None = None) -> None:
    """``--poll-interval S flower-supernode ARGS…``: Flower's SuperNode entry point, ARGS as its own, waits capped at S."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--poll-interval" or args[2] != SUPERNODE_PROGRAM:
        raise SystemExit(f"usage: python -m {SUPERNODE_LAUNCHER} --poll-interval S {SUPERNODE_PROGRAM} ARGS...")
    try:
        interval_s = check_poll_interval(float(args[1]))
    except ValueError as exc:
        raise SystemExit(f"--poll-interval: {exc}") from None
    shorten_supernode_waits(interval_s)
    sys.argv = [SUPERNODE_PROGRAM, *args[3:]]
    flower_supernode()


if __name__ == "__main__":
    main()
