"""One vertical-FL run end to end: PSI, hetero-LR, AUC against a centralized baseline, contributions.

:func:`run_vfl` starts the three parties (threads, or processes with ``processes=True``) on the
guest's and host's tables and returns a :class:`VFLResult`. The centralized baseline is not
part of the protocol: the harness, which has both tables, fits scikit-learn's
``LogisticRegression`` on the same aligned training rows (same per-party standardization,
L2 matched: ``C = 1 / (alpha · rows)``, intercept unpenalized) and scores the same test rows.

Contributions are exact Shapley values over the two data parties with AUC as utility:
U(∅) = 0.5, U({host}) = 0.5 (the host has no labels, so alone it can do no better than
chance), U({guest}) = AUC of the guest-only model, U({guest, host}) = AUC of the joint model.
So host = ½·(U(both) − U(guest)) and guest = ½·(U(guest) − 0.5) + ½·(U(both) − 0.5).

On the ledger (:mod:`fl_node.twoparty.ledger`): :meth:`VFLResult.party_run` is the run as one task
with one round: the joint AUC as performance, each party's Shapley value as its score, and the
keccak256 of each party's final weights (which never leave the party) as its commitment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from fl_node.twoparty.channel import LocalHub
from fl_node.twoparty.ledger import PartyRun, two_party_shapley
from fl_node.twoparty.runner import run_processes, run_threads
from fl_node.twoparty.tables import PartyData, Standardizer
from fl_node.vfl.hetero_lr import ARBITER, GUEST, HOST, check_batch_rows
from fl_node.vfl.parties import ArbiterParty, GuestParty, GuestReport, HostParty, Progress, VFLConfig

__all__ = ["VFLResult", "run_vfl", "centralized_auc", "shapley_contributions", "CHANCE_AUC"]

CHANCE_AUC = 0.5


@dataclass(frozen=True)
class VFLResult:
    """Outcome of one run.

    Attributes
    ----------
    intersection_size : int
        Aligned rows found by PSI.
    expected_intersection : int | None
        Shared IDs as known to the harness (None if unknown).
    iterations, converged, loss
        From the arbiter: iterations run, whether ``tol`` was reached first, loss per iteration.
    auc, centralized_auc, guest_only_auc : float
        Test AUC of the joint model, of scikit-learn on the pooled features, of the guest alone.
    contributions : dict[str, float]
        Shapley values of "guest" and "host".
    seconds_per_iteration : tuple[float, ...]
        Wall-clock seconds of each iteration (the arbiter's clock).
    train_rows, test_rows : int
    key_bits : int
    model_hashes : dict[str, bytes] (default: empty)
        Each data party's commitment: keccak256 of its final weights (which it keeps).
    test_ids : tuple[str, ...] (default: ())
        The held-out aligned IDs the AUC is measured on.
    ledger_address : str | None (default: None)
    chain_id : int | None (default: None)
    """

    intersection_size: int
    expected_intersection: int | None
    iterations: int
    converged: bool
    loss: tuple[float, ...]
    auc: float
    centralized_auc: float
    guest_only_auc: float
    contributions: dict[str, float]
    seconds_per_iteration: tuple[float, ...]
    train_rows: int
    test_rows: int
    key_bits: int
    model_hashes: dict[str, bytes] = field(default_factory=dict)
    test_ids: tuple[str, ...] = ()
    ledger_address: str | None = None
    chain_id: int | None = None

    def party_run(self, spec: dict[str, Any]) -> PartyRun:
        """What goes on the ledger: the joint AUC, each party's Shapley value and weights commitment."""
        return PartyRun(
            spec={"protocol": "vfl-hetero-lr", **spec},
            validation={"test_ids": list(self.test_ids)},
            performance=self.auc,
            contributions=dict(self.contributions),
            model_hashes=dict(self.model_hashes),
        )

    def with_ledger(self, address: str, chain_id: int) -> VFLResult:
        """A copy naming the ledger the run was recorded on."""
        return replace(self, ledger_address=address, chain_id=chain_id)

    def to_json(self) -> dict[str, Any]:
        """The ``fedledger vfl demo --json`` payload."""
        return {
            "intersection_size": self.intersection_size,
            "expected_intersection": self.expected_intersection,
            "iterations": self.iterations,
            "converged": self.converged,
            "loss": list(self.loss),
            "auc": self.auc,
            "centralized_auc": self.centralized_auc,
            "contributions": {GUEST: self.contributions[GUEST], HOST: self.contributions[HOST]},
            "ledger": {"address": self.ledger_address, "chain_id": self.chain_id},
        }


def run_vfl(
    guest: PartyData,
    host: PartyData,
    config: VFLConfig | None = None,
    *,
    processes: bool = False,
    expected_intersection: int | None = None,
    progress: Progress | None = None,
    hub: LocalHub | None = None,
) -> VFLResult:
    """Run PSI and hetero-LR with the guest, host and arbiter; score against the baselines.

    Parameters
    ----------
    guest, host : PartyData
        The guest's table (with labels) and the host's.
    config : VFLConfig | None (default: None, meaning VFLConfig())
    processes : bool (default: False)
        Run the parties as three OS processes talking gRPC on 127.0.0.1 instead of threads.
    expected_intersection : int | None (default: None)
        Reported beside the PSI result (the demo knows it).
    progress : callable (iteration, loss, seconds) | None (default: None)
    hub : LocalHub | None (default: None)
        In-process transport to use (e.g. one that records messages); threads only.

    Raises
    ------
    BatchSizeError
        Before any party starts, if ``config.lr.batch_size`` is below
        :func:`~fl_node.vfl.hetero_lr.min_batch_rows` of the two tables (the arbiter refuses a
        smaller batch found later, e.g. all aligned rows when too few are shared).
    """
    config = config if config is not None else VFLConfig()
    if config.lr.batch_size is not None:
        check_batch_rows(config.lr.batch_size, guest.n_features, host.n_features)
    parties = {GUEST: GuestParty(guest, config), HOST: HostParty(host, config), ARBITER: ArbiterParty(config)}
    if processes:
        reports = run_processes(parties, progress=progress)
    else:
        reports = run_threads(parties, hub=hub, progress=progress)
    guest_report: GuestReport = reports[GUEST]
    training = reports[ARBITER].training
    baseline = centralized_auc(guest, host, guest_report.train_ids, guest_report.test_ids, alpha=config.lr.alpha)
    return VFLResult(
        intersection_size=guest_report.intersection_size,
        expected_intersection=expected_intersection,
        iterations=training.iterations,
        converged=training.converged,
        loss=training.losses,
        auc=guest_report.auc,
        centralized_auc=baseline,
        guest_only_auc=guest_report.guest_only_auc,
        contributions=shapley_contributions(guest_only_auc=guest_report.guest_only_auc, joint_auc=guest_report.auc),
        seconds_per_iteration=training.seconds,
        train_rows=len(guest_report.train_ids),
        test_rows=len(guest_report.test_ids),
        key_bits=reports[ARBITER].key_bits,
        model_hashes={GUEST: guest_report.model_hash, HOST: reports[HOST].model_hash},
        test_ids=guest_report.test_ids,
    )


def centralized_auc(guest: PartyData, host: PartyData, train_ids: tuple[str, ...], test_ids: tuple[str, ...], *, alpha: float) -> float:
    """Test AUC of scikit-learn's LogisticRegression on the pooled features of the same rows.

    Each party's columns are standardized on the training rows, as the parties do; the L2
    strength matches hetero-LR's ``alpha`` (``C = 1 / (alpha · training rows)``).
    """
    parts_train, parts_test = [], []
    for data in (guest, host):
        train, _ = data.select(train_ids)
        test, _ = data.select(test_ids)
        scaler = Standardizer.fit(train)
        parts_train.append(scaler.transform(train))
        parts_test.append(scaler.transform(test))
    _, y_train = guest.select(train_ids)
    _, y_test = guest.select(test_ids)
    if alpha > 0:
        model = LogisticRegression(C=1.0 / (alpha * len(train_ids)), max_iter=10_000)
    else:
        model = LogisticRegression(penalty=None, max_iter=10_000)
    model.fit(np.hstack(parts_train), y_train)
    return float(roc_auc_score(y_test, model.decision_function(np.hstack(parts_test))))


def shapley_contributions(*, guest_only_auc: float, joint_auc: float) -> dict[str, float]:
    """Exact Shapley values of guest and host with AUC as utility (module docstring)."""
    return two_party_shapley(
        GUEST, HOST, first_alone=guest_only_auc, second_alone=CHANCE_AUC, joint=joint_auc, empty=CHANCE_AUC
    )