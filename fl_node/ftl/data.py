"""The transfer-learning split: a labelled source party and a target party with other samples and features.

Source party A holds most samples, their labels and one block of features; target party B holds
the remaining samples plus a fraction ``overlap`` of its rows that A holds too (the only samples
the two parties share), and mostly other features. B holds no labels: its true labels are kept
apart (:attr:`TransferSplit.target_labels`) for the evaluator and the target-only baseline.

Datasets (scikit-learn's bundled copies, nothing downloaded):

``"digits"`` (default)
    1,797 8×8 images of handwritten digits, binary task "digit ≥ 5". A sees image columns 0–4
    (40 pixels), B sees columns 4–7 (32 pixels): the two share one image column (8 pixels),
    the rest of B's view is pixels A never sees. B holds 200 samples by default.
``"breast_cancer"``
    569 tumours, malignant vs benign. A holds the 10 "mean" and 10 "worst" measurements, B
    the 10 "standard error" measurements plus mean radius and mean texture (shared with A).
    B holds 200 samples by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits

from fl_node.errors import FTLConfigError
from fl_node.twoparty.tables import PartyData

__all__ = ["TransferSplit", "transfer_split", "DATASETS"]

DATASETS = ("digits", "breast_cancer")
_TARGET_SIZE = {"digits": 200, "breast_cancer": 200}


@dataclass(frozen=True)
class TransferSplit:
    """Source and target tables of one transfer-learning split, and the labels B does not hold.

    Attributes
    ----------
    source : PartyData
        A: sample IDs, features, 0/1 labels.
    target : PartyData
        B: sample IDs and features, no labels.
    target_labels : np.ndarray
        B's true labels, row-aligned with ``target.ids`` (evaluator only).
    overlap_ids : tuple[str, ...]
        The IDs both parties hold, sorted (known to the harness, found by PSI in the protocol).
    dataset : str
    description : str
        One line stating the split.
    """

    source: PartyData
    target: PartyData
    target_labels: np.ndarray
    overlap_ids: tuple[str, ...]
    dataset: str
    description: str

    def held_out(self) -> tuple[tuple[str, ...], np.ndarray]:
        """B's samples A does not hold (the evaluation set) and their labels."""
        shared = set(self.overlap_ids)
        rows = [i for i, value in enumerate(self.target.ids) if value not in shared]
        return tuple(self.target.ids[i] for i in rows), self.target_labels[rows]

    def overlap_labels(self) -> np.ndarray:
        """Labels of the overlapping samples (A's labels), in ``overlap_ids`` order."""
        _, labels = self.source.select(self.overlap_ids)
        return labels


def transfer_split(overlap: float = 0.1, *, dataset: str = "digits", target_size: int | None = None, seed: int = 0) -> TransferSplit:
    """Split a bundled dataset into a source party A and a target party B (module docstring).

    Parameters
    ----------
    overlap : float (default: 0.1)
        Fraction of B's samples that A holds too, in (0, 1).
    dataset : {"digits", "breast_cancer"} (default: "digits")
    target_size : int | None (default: 200)
        Number of samples B holds.
    seed : int (default: 0)
        Seeds the sample assignment, the IDs and each party's row order.

    Raises
    ------
    FTLConfigError
        For an unknown dataset, an overlap outside (0, 1), or a target size that leaves no
        overlap, no held-out sample or too few source samples.
    """
    if dataset not in DATASETS:
        raise FTLConfigError(f"unknown FTL dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if not 0.0 < overlap < 1.0:
        raise FTLConfigError(f"overlap must be a fraction in (0, 1), got {overlap}")
    X, y, source_columns, target_columns, names = _load(dataset)
    n_samples = len(y)
    size = _TARGET_SIZE[dataset] if target_size is None else int(target_size)
    n_common = int(round(overlap * size))
    if n_common < 1 or n_common >= size:
        raise FTLConfigError(f"overlap {overlap} of {size} target samples gives {n_common} shared samples; need 1 to {size - 1}")
    if size > n_samples // 2:
        raise FTLConfigError(f"target size {size} leaves the source fewer samples than the target ({n_samples} in all)")
    rng = np.random.default_rng(seed)
    ids = np.array([f"sample-{value:07d}" for value in rng.choice(10_000_000, size=n_samples, replace=False)])
    order = rng.permutation(n_samples)
    target_rows = rng.permutation(order[:size])
    common = order[:n_common]
    source_rows = rng.permutation(np.concatenate([common, order[size:]]))
    source = PartyData(
        ids=tuple(ids[source_rows]),
        features=X[np.ix_(source_rows, source_columns)],
        feature_names=tuple(names[i] for i in source_columns),
        labels=y[source_rows],
        name="source",
    )
    target = PartyData(
        ids=tuple(ids[target_rows]),
        features=X[np.ix_(target_rows, target_columns)],
        feature_names=tuple(names[i] for i in target_columns),
        name="target",
    )
    shared_features = len(set(source_columns) & set(target_columns))
    description = (
        f"{dataset}: source {len(source_rows)} labelled samples x {len(source_columns)} features; "
        f"target {size} samples x {len(target_columns)} features ({shared_features} shared with the source), "
        f"{n_common} samples shared; evaluation on the target's other {size - n_common} samples"
    )
    return TransferSplit(
        source=source,
        target=target,
        target_labels=y[target_rows],
        overlap_ids=tuple(sorted(ids[common])),
        dataset=dataset,
        description=description,
    )


def _load(dataset: str) -> tuple[np.ndarray, np.ndarray, list[int], list[int], list[str]]:
    if dataset == "digits":
        bunch = load_digits()
        y = (bunch.target >= 5).astype(np.int64)
        names = [f"pixel_{row}_{column}" for row in range(8) for column in range(8)]
        source = [row * 8 + column for row in range(8) for column in range(0, 5)]
        target = [row * 8 + column for row in range(8) for column in range(4, 8)]
        return bunch.data.astype(np.float64), y, source, target, names
    bunch = load_breast_cancer()
    names = [str(name) for name in bunch.feature_names]
    source = list(range(0, 10)) + list(range(20, 30))
    target = list(range(10, 20)) + [0, 1]
    return bunch.data, bunch.target.astype(np.int64), source, target, names
