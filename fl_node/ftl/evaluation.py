"""Scoring an FTL run on the target's held-out samples, and the target-only baseline it must beat."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from fl_node.errors import FTLConfigError
from fl_node.ftl.data import TransferSplit
from fl_node.twoparty.tables import Standardizer

__all__ = ["Baseline", "held_out_auc", "target_only_baseline", "C_GRID"]

log = logging.getLogger(__name__)

#: Inverse regularization strengths the baseline's cross-validation chooses from.
C_GRID = tuple(float(c) for c in np.logspace(-3, 3, 13))


@dataclass(frozen=True)
class Baseline:
    """The target-only model: what B reaches alone with the labels of the shared samples.

    Attributes
    ----------
    auc : float
        AUC on B's held-out samples.
    C : float
        Regularization chosen by cross-validation.
    labelled : int
        Labelled samples it was trained on.
    """

    auc: float
    C: float
    labelled: int


def held_out_auc(split: TransferSplit, scores: Mapping[str, float]) -> float:
    """AUC of ``scores`` (ID -> score) on B's held-out samples.

    Raises
    ------
    FTLConfigError
        If a held-out sample has no score, or the held-out labels hold one class only.
    """
    ids, labels = split.held_out()
    missing = [value for value in ids if value not in scores]
    if missing:
        raise FTLConfigError(f"{len(missing)} held-out target samples have no score, e.g. {missing[0]!r}")
    if len(set(labels.tolist())) < 2:
        raise FTLConfigError("the held-out target samples hold one class only; AUC is undefined")
    return float(roc_auc_score(labels, [scores[value] for value in ids]))


def target_only_baseline(split: TransferSplit, *, seed: int = 0) -> Baseline:
    """Logistic regression on B's features of the shared samples, with A's labels for them.

    B is given exactly the labels FTL uses (those of the shared samples), standardized with B's
    own statistics like the FTL run; C is chosen from :data:`C_GRID` by stratified k-fold
    cross-validation on AUC (k = min(5, smaller class count); a fixed C = 1 when a class has
    fewer than 2 samples).
    """
    standardizer = Standardizer.fit(split.target.features)
    shared = split.overlap_ids
    X = standardizer.transform(split.target.select(shared)[0])
    y = split.overlap_labels()
    if len(set(y.tolist())) < 2:
        raise FTLConfigError("the shared samples hold one class only; the target-only baseline cannot be trained")
    folds = int(min(5, np.bincount(y).min()))
    held_ids, held_labels = split.held_out()
    X_held = standardizer.transform(split.target.select(held_ids)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.9 announces LogisticRegressionCV API changes
        if folds >= 2:
            model = LogisticRegressionCV(
                Cs=list(C_GRID), cv=StratifiedKFold(folds, shuffle=True, random_state=seed), scoring="roc_auc", max_iter=5000
            ).fit(X, y)
            C = float(model.C_[0])
        else:
            model = LogisticRegression(C=1.0, max_iter=5000).fit(X, y)
            C = 1.0
    auc = float(roc_auc_score(held_labels, model.decision_function(X_held)))
    log.info("target-only baseline: %d labelled samples, C=%g, AUC %.4f", len(y), C, auc)
    return Baseline(auc=auc, C=C, labelled=len(y))
