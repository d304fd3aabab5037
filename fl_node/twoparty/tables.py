"""A party's table for the two-party protocols: sample IDs, its own feature columns, optional labels.

Used by vertical FL (guest and host) and transfer learning (source and target): each party
holds its rows under its own sample IDs; :mod:`fl_node.twoparty.psi` finds the shared ones.
Standardization is per party, on its own rows (:class:`Standardizer`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fl_node.errors import DataError, FeatureCountError, MissingColumnError
from fl_node.twoparty.psi import check_unique

__all__ = ["PartyData", "Standardizer", "load_party_csv"]


@dataclass(frozen=True)
class PartyData:
    """One party's table: sample IDs, its feature columns and (guest only) 0/1 labels.

    Attributes
    ----------
    ids : tuple[str, ...]
        Unique sample IDs, one per row.
    features : np.ndarray
        float64, shape (rows, len(feature_names)).
    feature_names : tuple[str, ...]
    labels : np.ndarray | None (default: None)
        int64 0/1 labels per row (the guest's); None for the host.
    name : str (default: "party")
        Used in error messages.
    """

    ids: tuple[str, ...]
    features: np.ndarray
    feature_names: tuple[str, ...]
    labels: np.ndarray | None = None
    name: str = "party"

    def __post_init__(self) -> None:
        features = np.asarray(self.features, dtype=np.float64)
        if features.ndim != 2:
            raise FeatureCountError(f"{self.name} features must be a 2-D table, got {features.ndim} dimension(s)")
        if features.shape[1] != len(self.feature_names):
            raise FeatureCountError(f"{self.name} has {features.shape[1]} feature columns but {len(self.feature_names)} feature names")
        if features.shape[1] == 0:
            raise FeatureCountError(f"{self.name} has no feature columns")
        if features.shape[0] != len(self.ids):
            raise FeatureCountError(f"{self.name} has {features.shape[0]} feature rows but {len(self.ids)} sample IDs")
        if not np.isfinite(features).all():
            raise DataError(f"{self.name} features hold NaN or infinite values")
        check_unique(list(self.ids), who=self.name)
        object.__setattr__(self, "ids", tuple(str(i) for i in self.ids))
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != (len(self.ids),):
                raise DataError(f"{self.name} has {labels.shape[0] if labels.ndim else 0} labels for {len(self.ids)} rows")
            if not np.isin(labels, (0, 1)).all():
                raise DataError(f"{self.name} labels must be 0 or 1, found {sorted(set(labels.tolist()) - {0, 1})[:3]}")
            object.__setattr__(self, "labels", labels.astype(np.int64))

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return self.features.shape[1]

    def select(self, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows for ``ids`` in that order: (features, labels or None)."""
        position = {value: row for row, value in enumerate(self.ids)}
        try:
            rows = np.fromiter((position[value] for value in ids), dtype=np.int64, count=len(ids))
        except KeyError as exc:
            raise DataError(f"{self.name} has no sample with ID {exc.args[0]!r}") from exc
        labels = None if self.labels is None else self.labels[rows]
        return self.features[rows], labels


def load_party_csv(path: Path | str, *, id_column: str = "id", label_column: str | None = None, name: str | None = None) -> PartyData:
    """Read a party's CSV table: an ID column, numeric feature columns and optionally a 0/1 label.

    Parameters
    ----------
    path : Path | str
        CSV file with a header row.
    id_column : str (default: "id")
        Column holding the sample IDs.
    label_column : str | None (default: None)
        The guest's label column; None for the host (every other column is a feature).
    name : str | None (default: None)
        Party name for messages; defaults to the file name.

    Raises
    ------
    MissingColumnError
        If the ID column (or the label column) is missing.
    FeatureCountError
        If a row has a different number of fields than the header, or no feature column remains.
    DuplicateIDError
        If an ID repeats.
    DataError
        If the file cannot be read or a value is not a number.
    """
    path = Path(path)
    who = name or path.name
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {who} table {path}: {exc}") from exc
    if not rows:
        raise DataError(f"{who} table {path} is empty")
    header = [column.strip() for column in rows[0]]
    if id_column not in header:
        raise MissingColumnError(f"{who} table {path} has no ID column {id_column!r} (columns: {', '.join(header)})")
    if label_column is not None and label_column not in header:
        raise MissingColumnError(f"{who} table {path} has no label column {label_column!r} (columns: {', '.join(header)})")
    id_at = header.index(id_column)
    label_at = header.index(label_column) if label_column is not None else None
    feature_at = [i for i in range(len(header)) if i not in (id_at, label_at)]
    if not feature_at:
        raise FeatureCountError(f"{who} table {path} has no feature columns besides the ID and label")
    body = [row for row in rows[1:] if row]
    ids, features, labels = [], [], []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise FeatureCountError(f"{who} table {path} line {line} has {len(row)} fields, the header has {len(header)}")
        ids.append(row[id_at].strip())
        features.append([_number(row[i], who, line, header[i]) for i in feature_at])
        if label_at is not None:
            labels.append(_number(row[label_at], who, line, header[label_at]))
    matrix = np.array(features, dtype=np.float64).reshape(len(body), len(feature_at))
    label_array = None
    if label_at is not None:
        label_array = np.array(labels)
        if not np.isin(label_array, (0.0, 1.0)).all():
            raise DataError(f"{who} labels in column {label_column!r} must be 0 or 1")
    return PartyData(
        ids=tuple(ids), features=matrix, feature_names=tuple(header[i] for i in feature_at), labels=label_array, name=who
    )


def _number(text: str, who: str, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{who} line {line} column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{who} line {line} column {column!r}: {text!r} is not a finite number")
    return value


@dataclass(frozen=True)
class Standardizer:
    """Per-column mean and standard deviation of one party's training rows (constant columns: sd 1)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> Standardizer:
        """Statistics of ``features`` (rows are samples)."""
        scale = features.std(axis=0)
        return cls(mean=features.mean(axis=0), scale=np.where(scale > 0, scale, 1.0))

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Standardize ``features`` with the fitted statistics."""
        if features.shape[1] != self.mean.shape[0]:
            raise FeatureCountError(f"expected {self.mean.shape[0]} feature columns, got {features.shape[1]}")
        return (features - self.mean) / self.scale
