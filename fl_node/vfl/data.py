"""The vertical-FL demo data: breast_cancer split between a guest and a host over partly shared IDs.

The demo data follow FATE's ``breast_hetero`` example: scikit-learn's breast_cancer, the guest
holding the first 10 features and the label, the host the other 20. Each party holds a
different, partially overlapping set of samples: a fraction ``overlap`` of all samples is held
by both, the rest is split evenly between guest-only and host-only samples, and each party's
rows are shuffled independently.
(The table type itself, :class:`~fl_node.twoparty.tables.PartyData`, is shared with transfer learning.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_node.errors import DataError, FeatureCountError
from fl_node.twoparty.tables import PartyData

__all__ = ["VerticalSplit", "breast_cancer_vertical", "DEMO_GUEST_FEATURES"]

DEMO_GUEST_FEATURES = 10


@dataclass(frozen=True)
class VerticalSplit:
    """Guest and host tables of one vertically split dataset.

    Attributes
    ----------
    guest, host : PartyData
    expected_intersection : int
        Number of IDs the two tables share (known to the demo harness, not to the parties).
    """

    guest: PartyData
    host: PartyData
    expected_intersection: int


def breast_cancer_vertical(overlap: float = 0.8, *, guest_features: int = DEMO_GUEST_FEATURES, seed: int = 0) -> VerticalSplit:
    """breast_cancer split as in FATE's breast_hetero, over partially overlapping sample IDs.

    Parameters
    ----------
    overlap : float (default: 0.8)
        Fraction of the 569 samples held by both parties, in (0, 1].
    guest_features : int (default: 10)
        The guest holds the first ``guest_features`` columns, the host the rest.
    seed : int (default: 0)
        Seeds which samples overlap and each party's row order.
    """
    if not 0.0 < overlap <= 1.0:
        raise DataError(f"overlap must be in (0, 1], got {overlap}")
    from sklearn.datasets import load_breast_cancer  # here, not at module level: party processes never need it

    bunch = load_breast_cancer()
    X, y = bunch.data, bunch.target.astype(np.int64)
    n_samples, n_total = X.shape
    if not 1 <= guest_features < n_total:
        raise FeatureCountError(f"the guest must hold between 1 and {n_total - 1} of the {n_total} features, got {guest_features}")
    rng = np.random.default_rng(seed)
    ids = np.array([f"patient-{value:06d}" for value in rng.choice(1_000_000, size=n_samples, replace=False)])
    order = rng.permutation(n_samples)
    n_common = int(round(overlap * n_samples))
    n_guest_only = (n_samples - n_common) // 2
    common = order[:n_common]
    guest_rows = rng.permutation(np.concatenate([common, order[n_common : n_common + n_guest_only]]))
    host_rows = rng.permutation(np.concatenate([common, order[n_common + n_guest_only :]]))
    names = [str(name) for name in bunch.feature_names]
    guest = PartyData(
        ids=tuple(ids[guest_rows]),
        features=X[guest_rows, :guest_features],
        feature_names=tuple(names[:guest_features]),
        labels=y[guest_rows],
        name="guest",
    )
    host = PartyData(ids=tuple(ids[host_rows]), features=X[host_rows, guest_features:], feature_names=tuple(names[guest_features:]), name="host")
    return VerticalSplit(guest=guest, host=host, expected_intersection=n_common)
