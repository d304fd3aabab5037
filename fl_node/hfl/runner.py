"""The rounds of a federation: initial model, retries, resume from the chain, observers.

:func:`run_federation` owns the loop the way Flower's ``Strategy.start`` does: every caller
(the demo, the consortium in process and over Flower) hands it a
:class:`~fl_node.hfl.coordinator.Coordinator` and a transport, and watches the rounds through
:class:`RunObserver` objects (progress, status files, probes) instead of writing its own loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fl_node.errors import RoundAborted
from fl_node.hfl.coordinator import Coordinator, RoundOutcome, RoundUtility
from fl_node.hfl.spec import FederationSpec
from fl_node.models import flatten
from fl_node.seeds import INITIAL_MODEL, derive_seed
from fl_node.transport.inprocess import Transport

log = logging.getLogger(__name__)


def initial_params(spec: FederationSpec) -> np.ndarray:
    """The task's first global model: built from the spec's seed (the same on every transport)."""
    return flatten(spec.model.build(derive_seed(spec.seed, INITIAL_MODEL)))


class RunObserver:
    """Watches a run; the base class ignores everything, subclasses override what they need."""

    def on_start(self, resumed_from: int, params: np.ndarray) -> None:
        """Before the first round of this run: ``resumed_from`` rounds were already finalized on chain."""

    def on_utility(self, round_id: int, utility: RoundUtility) -> None:
        """A round's utility over its verified participants, before the coordinator scores and finalizes it."""

    def on_round(self, outcome: RoundOutcome) -> None:
        """After each finalized round."""

    def on_retry(self, error: RoundAborted, attempt: int) -> None:
        """A round was aborted (cancelled on chain) and is opened again; ``attempt`` counts from 1."""


@dataclass(frozen=True)
class FederationRun:
    """What :func:`run_federation` did.

    Attributes
    ----------
    resumed_from : int
        Rounds of the task already finalized on chain when the run started (0 without resume).
    outcomes : list[RoundOutcome]
        The rounds this run finalized.
    final_params : np.ndarray
        The global model at the end.
    best : RoundOutcome | None (default: None)
        This run's round with the best validation metric (the task's utility: lowest loss or
        highest accuracy; the earliest of equals): its model is the one to release.
    stopped_early : bool (default: False)
        The run stopped after ``patience`` rounds without a better validation metric.
    """

    resumed_from: int
    outcomes: list[RoundOutcome]
    final_params: np.ndarray
    best: RoundOutcome | None = None
    stopped_early: bool = False


def validation_metric(spec: FederationSpec, outcome: RoundOutcome) -> float:
    """The round's validation metric, higher is better: negative loss, or accuracy (the task's utility)."""
    return outcome.accuracy if spec.utility == "accuracy" else -outcome.loss


def run_federation(
    coordinator: Coordinator,
    transport: Transport,
    rounds: int,
    *,
    retries: int = 0,
    resume: bool = False,
    observers: Sequence[RunObserver] = (),
    patience: int = 0,
) -> FederationRun:
    """Run rounds until the task has ``rounds`` rounds finalized (this run's rounds, without ``resume``).

    Parameters
    ----------
    coordinator : Coordinator
    transport : Transport
    rounds : int
    retries : int (default: 0)
        Times a round short of ``min_participants`` (cancelled on chain) is opened again.
    resume : bool (default: False)
        Cancel rounds an earlier run left open, count the rounds finalized on chain and start
        from the last aggregated model; otherwise start from :func:`initial_params`.
    observers : Sequence[RunObserver] (default: none)
    patience : int (default: 0, run every round)
        Stop once this many rounds in a row brought no better validation metric than the best
        round's (see :class:`FederationRun`).

    The round with the best validation metric is marked on the ledger as the task's released
    model (unless an earlier run of the task released one).

    Raises
    ------
    RoundAborted
        A round still short of ``min_participants`` after ``retries`` retries.
    """
    if patience < 0:
        raise ValueError(f"patience must be 0 (off) or positive, got {patience}")
    resumed_from, params = 0, None
    if resume:
        coordinator.cancel_open_rounds()
        resumed_from = len(coordinator.finalized_rounds())
        params = coordinator.last_model()
    if params is None:
        params = initial_params(coordinator.spec)
    log.info("task %d: %d rounds finalized on chain, running %d more",
             coordinator.task_id, resumed_from, max(0, rounds - resumed_from))
    for observer in observers:
        observer.on_start(resumed_from, params)
    outcomes: list[RoundOutcome] = []
    best_at = 0
    stopped_early = False
    for _ in range(resumed_from, rounds):
        outcome = _run_with_retries(coordinator, transport, params, retries, observers)
        params = outcome.global_params
        outcomes.append(outcome)
        if validation_metric(coordinator.spec, outcome) > validation_metric(coordinator.spec, outcomes[best_at]):
            best_at = len(outcomes) - 1
        for observer in observers:
            observer.on_round(outcome)
        if patience and len(outcomes) - 1 - best_at >= patience and len(outcomes) < rounds - resumed_from:
            log.info("task %d: no better validation metric in %d rounds since round %d; stopping",
                     coordinator.task_id, patience, outcomes[best_at].round_id)
            stopped_early = True
            break
    best = outcomes[best_at] if outcomes else None
    if best is not None:
        coordinator.release_model(best.round_id)
    return FederationRun(resumed_from, outcomes, params, best, stopped_early)


def _run_with_retries(
    coordinator: Coordinator, transport: Transport, params: np.ndarray, retries: int, observers: Sequence[RunObserver]
) -> RoundOutcome:
    def probe(round_id: int, utility: RoundUtility) -> None:
        for observer in observers:
            observer.on_utility(round_id, utility)

    attempt = 1
    while True:
        try:
            return coordinator.run_round(params, transport, probe)
        except RoundAborted as exc:
            if attempt > retries:
                raise
            log.warning("%s; opening the round again", exc)
            for observer in observers:
                observer.on_retry(exc, attempt)
            attempt += 1
