"""Datasets, seeded splits, partitioners over nodes, and federated standardization.

Where the data come from: scikit-learn's bundled ``breast_cancer``, ``digits`` and ``wine``
(nothing is downloaded) or a user CSV file with numeric features and one label column.

Splits: a stratified test set and a validation set (the evaluator's, for contribution
scores) are held out first; the rest is the training data, partitioned across the nodes.

Standardization is federated: every node computes the count, sum and sum of squares of its
own training features (:class:`FeatureStats`); the sums are added, giving the mean and the
standard deviation of the pooled training data exactly, and every node, the validation set
and the test set are standardized with those global statistics. A node reveals only these
per-feature sums (no rows); the centralized baseline uses the very same statistics, so the
two runs see identical inputs.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sklearn import datasets as sk_datasets
from sklearn.model_selection import train_test_split

from fl_node.errors import DataError

BUILTIN_DATASETS = ("breast_cancer", "digits", "wine")

_LOADERS = {
    "breast_cancer": sk_datasets.load_breast_cancer,
    "digits": sk_datasets.load_digits,
    "wine": sk_datasets.load_wine,
}

# Draws a Dirichlet partition may take before it gives up on giving every node its minimum.
_MAX_PARTITION_DRAWS = 100


@dataclass(frozen=True)
class Dataset:
    """Features and integer labels of a whole dataset, before any split.

    Attributes
    ----------
    name : str
        Dataset name, or the CSV file name.
    X : np.ndarray
        Features, float64, shape (n_samples, n_features).
    y : np.ndarray
        Class indices 0 … n_classes-1, int64, shape (n_samples,).
    feature_names, class_names : tuple[str, ...]
        Column names and the label value behind each class index.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class ArraySplit:
    """A set of samples ready for torch: float32 features, int64 labels."""

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.y.shape[0])


def load_builtin(name: str) -> Dataset:
    """Load one of :data:`BUILTIN_DATASETS` from scikit-learn's bundled files."""
    if name not in _LOADERS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN_DATASETS)} or give --data FILE")
    bunch = _LOADERS[name]()
    classes = tuple(str(c) for c in getattr(bunch, "target_names", np.unique(bunch.target)))
    return Dataset(
        name=name,
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=tuple(str(f) for f in bunch.feature_names),
        class_names=classes,
    )


def load_csv(
    path: Path | str,
    label: str,
    *,
    id_columns: Sequence[str] = (),
    drop: Sequence[str] = (),
    labels: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
) -> Dataset:
    """Load a CSV file with a header row: numeric feature columns and one label column.

    Parameters
    ----------
    path : Path | str
        The file.
    label : str
        Name of the label column; its values may be numbers or strings.
    id_columns, drop : Sequence[str] (default: none)
        Columns that are not features (record identifiers, free text, anything left out); they
        are never read as numbers. Each must exist in the header.
    labels : Sequence[str] | None (default: None)
        The published label list: class ``k`` is ``labels[k]``, so every node numbers the classes
        alike. A value matches an entry as the same string or, when both are numbers, the same
        number (``1`` and ``1.0``). Without it, each distinct value is one class, in sorted order.
    features : Sequence[str] | None (default: None)
        The feature columns the task's spec names, in order; the file's must be exactly these.

    Raises
    ------
    DataError
        Missing file, no header, no such label, identifier or dropped column, feature columns
        that differ from ``features`` (naming them), a missing or non-numeric feature value, a
        row with the wrong number of fields, a label outside ``labels``, or fewer than two classes.
    """
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from exc
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path}: empty file, expected a header row and data rows")
    header = [cell.strip() for cell in rows[0]]
    if label not in header:
        raise DataError(f"{path}: no label column {label!r} (columns: {', '.join(header)})")
    excluded = _excluded_columns(path, header, label, id_columns, drop)
    label_at = header.index(label)
    feature_at = [i for i in range(len(header)) if i != label_at and header[i] not in excluded]
    if not feature_at:
        raise DataError(f"{path}: no feature columns besides the label {label!r} and the excluded columns")
    if features is not None:
        check_feature_columns(path, [header[i] for i in feature_at], features)
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: header only, no data rows")
    X = np.empty((len(body), len(feature_at)), dtype=np.float64)
    raw_labels: list[str] = []
    for r, row in enumerate(body):
        line = r + 2
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        raw_label = row[label_at].strip()
        if not raw_label:
            raise DataError(f"{path}: line {line} has no value in label column {label!r}")
        raw_labels.append(raw_label)
        for c, i in enumerate(feature_at):
            cell = row[i].strip()
            if not cell:
                raise DataError(f"{path}: line {line} column {header[i]!r} is missing a value")
            try:
                value = float(cell)
            except ValueError:
                raise DataError(f"{path}: line {line} column {header[i]!r} is not numeric: {cell!r}") from None
            if not math.isfinite(value):
                raise DataError(f"{path}: line {line} column {header[i]!r} is not finite: {cell!r}")
            X[r, c] = value
    if labels is None:
        class_names = _sorted_labels(set(raw_labels))
        if len(class_names) < 2:
            raise DataError(f"{path}: label column {label!r} holds a single class {class_names[0]!r}; need at least two")
        index = {name: k for k, name in enumerate(class_names)}
        y = np.array([index[v] for v in raw_labels], dtype=np.int64)
    else:
        class_names = tuple(str(v) for v in labels)
        y = map_labels(path, raw_labels, class_names)
    return Dataset(path.name, X, y, tuple(header[i] for i in feature_at), class_names)


def _excluded_columns(path: Path, header: Sequence[str], label: str, id_columns: Sequence[str], drop: Sequence[str]) -> set[str]:
    """The identifier and dropped columns, each checked against the header and the label."""
    excluded = set()
    for flag, names in (("--id-column", id_columns), ("--drop", drop)):
        for name in names:
            if name not in header:
                raise DataError(f"{path}: {flag} {name!r} is not a column (columns: {', '.join(header)})")
            if name == label:
                raise DataError(f"{path}: {flag} {name!r} is the label column")
            excluded.add(name)
    return excluded


def check_feature_columns(source: Path | str, columns: Sequence[str], expected: Sequence[str]) -> None:
    """Raise DataError naming the difference unless ``columns`` are exactly ``expected``, in order."""
    if list(columns) == list(expected):
        return
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected {', '.join(extra)} (drop them with --drop or --id-column)")
    if not parts:
        parts.append(f"in another order: {', '.join(columns)} instead of {', '.join(expected)}")
    raise DataError(f"{source}: feature columns do not match the task's spec: {'; '.join(parts)}")


def _label_key(value: str) -> str:
    """Numbers compare by value (``1`` = ``1.0``), other labels as written."""
    try:
        number = float(value)
    except ValueError:
        return value
    return repr(number) if math.isfinite(number) else value


def map_labels(source: Path | str, values: Sequence[str], label_list: Sequence[str]) -> np.ndarray:
    """Class indices of ``values`` in the published ``label_list``; DataError naming values outside it."""
    if len(label_list) < 2 or len({_label_key(v) for v in label_list}) != len(label_list):
        raise DataError(f"the label list must hold at least two distinct classes, got {list(label_list)}")
    index = {_label_key(name): k for k, name in enumerate(label_list)}
    unknown = sorted({v for v in values if _label_key(v) not in index})
    if unknown:
        raise DataError(f"{source}: labels {', '.join(repr(v) for v in unknown[:5])} are not in the task's label list {list(label_list)}")
    return np.array([index[_label_key(v)] for v in values], dtype=np.int64)


def label_list(values: Iterable[str]) -> tuple[str, ...]:
    """The label list of the label values seen anywhere: one entry per class (``1`` = ``1.0``), sorted."""
    first: dict[str, str] = {}
    for value in values:
        first.setdefault(_label_key(value), value)
    return _sorted_labels(set(first.values()))


def _sorted_labels(values: set[str]) -> tuple[str, ...]:
    """Numeric labels in numeric order, others in string order."""
    try:
        return tuple(sorted(values, key=float))
    except ValueError:
        return tuple(sorted(values))


def load_dataset(
    name: str | None = None,
    csv_path: Path | str | None = None,
    label: str | None = None,
    id_columns: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> Dataset:
    """Load a bundled dataset by ``name``, or a CSV file when ``csv_path`` is given (``label`` required; see :func:`load_csv`)."""
    if csv_path is not None:
        if not label:
            raise DataError("a CSV file needs --label COLUMN naming its label column")
        return load_csv(csv_path, label, id_columns=id_columns, drop=drop)
    if id_columns or drop:
        raise DataError("--id-column and --drop apply to a CSV file given with --data")
    if name is None:
        raise DataError("give a dataset name or a CSV file")
    return load_builtin(name)


@dataclass(frozen=True)
class FeatureStats:
    """Count, per-feature sum and sum of squares of some samples; add them to combine nodes.

    The combination is exact: the stats of the union of disjoint sets are the sum of theirs.
    """

    count: int
    total: np.ndarray
    total_sq: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray) -> FeatureStats:
        X = np.asarray(X, dtype=np.float64)
        return cls(int(X.shape[0]), X.sum(axis=0), np.square(X).sum(axis=0))

    def __add__(self, other: FeatureStats) -> FeatureStats:
        return FeatureStats(self.count + other.count, self.total + other.total, self.total_sq + other.total_sq)

    @classmethod
    def combine(cls, parts: Sequence[FeatureStats]) -> FeatureStats:
        """Sum the stats of several nodes (at least one)."""
        if not parts:
            raise DataError("no feature statistics to combine")
        out = parts[0]
        for part in parts[1:]:
            out = out + part
        return out

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation; constant features get 1 so they standardize to 0."""
        var = np.maximum(self.total_sq / self.count - np.square(self.mean), 0.0)
        std = np.sqrt(var)
        return np.where(std > 1e-12, std, 1.0)

    def standardize(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / std`` as float32."""
        return ((np.asarray(X, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict:
        """What a node sends for federated standardization: its count and per-feature sums, no rows."""
        return {"count": self.count, "sum": [float(v) for v in self.total], "sum_sq": [float(v) for v in self.total_sq]}

    @classmethod
    def from_json(cls, payload: dict, n_features: int | None = None) -> FeatureStats:
        """Parse :meth:`to_json` output; DataError on a malformed or inconsistent payload."""
        try:
            count = int(payload["count"])
            total = np.asarray(payload["sum"], dtype=np.float64)
            total_sq = np.asarray(payload["sum_sq"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed feature statistics ({exc.__class__.__name__}: {exc})") from None
        if count < 1 or total.ndim != 1 or total.shape != total_sq.shape or not (np.all(np.isfinite(total)) and np.all(np.isfinite(total_sq))):
            raise DataError("malformed feature statistics: need count >= 1 and finite sums of one length")
        if n_features is not None and total.shape[0] != n_features:
            raise DataError(f"feature statistics over {total.shape[0]} features, the task has {n_features}")
        if np.any(total_sq < 0):
            raise DataError("malformed feature statistics: a negative sum of squares")
        return cls(count, total, total_sq)


@dataclass(frozen=True)
class Standardization:
    """The published per-feature mean and standard deviation every party standardizes with.

    Part of a task's spec (so its hash binds them); made from the nodes' summed
    :class:`FeatureStats` by :func:`federated_standardization`.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_stats(cls, stats: FeatureStats) -> Standardization:
        return cls(tuple(float(v) for v in stats.mean), tuple(float(v) for v in stats.std))

    def apply(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean) / std`` as float32; DataError when the feature counts differ."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise DataError(f"data with {X.shape[-1]} features, the task's standardization has {len(self.mean)}")
        return ((X - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, payload: dict) -> Standardization:
        try:
            mean = tuple(float(v) for v in payload["mean"])
            std = tuple(float(v) for v in payload["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"malformed standardization ({exc.__class__.__name__}: {exc})") from None
        if len(mean) != len(std) or not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std):
            raise DataError("malformed standardization: mean and std of one length, finite, std > 0")
        return cls(mean, std)


def federated_standardization(parts: Sequence[FeatureStats]) -> Standardization:
    """The mean and deviation of the pooled data, from each node's count, sum and sum of squares alone."""
    return Standardization.from_stats(FeatureStats.combine(parts))


class Partitioner(Protocol):
    """Splits training indices over nodes; every node gets at least one sample or it raises DataError."""

    spec: str

    def split(self, y: np.ndarray, n_nodes: int, rng: np.random.Generator) -> list[np.ndarray]: ...


def _check_enough(n_samples: int, n_nodes: int, min_samples: int = 1) -> None:
    if n_nodes < 1:
        raise DataError(f"need at least one node, got {n_nodes}")
    if n_nodes * min_samples > n_samples:
        raise DataError(
            f"{n_nodes} nodes but only {n_samples} training samples: every node needs at least {min_samples}"
        )


@dataclass(frozen=True)
class IIDPartitioner:
    """Shuffle, then cut into ``n_nodes`` near-equal parts (``iid``)."""

    spec: str = "iid"

    def split(self, y: np.ndarray, n_nodes: int, rng: np.random.Generator) -> list[np.ndarray]:
        _check_enough(len(y), n_nodes)
        return [np.sort(part) for part in np.array_split(rng.permutation(len(y)), n_nodes)]


@dataclass(frozen=True)
class DirichletPartitioner:
    """Label skew (``dirichlet:ALPHA``): each class is spread over the nodes with Dirichlet(ALPHA) shares.

    Small ALPHA gives each node few classes. A draw that leaves a node with fewer than
    ``min_samples`` samples is redrawn (deterministically, from the same generator) up to 100
    times, then DataError.
    """

    alpha: float
    min_samples: int = 1

    @property
    def spec(self) -> str:
        return f"dirichlet:{self.alpha:g}"

    def split(self, y: np.ndarray, n_nodes: int, rng: np.random.Generator) -> list[np.ndarray]:
        _check_enough(len(y), n_nodes, self.min_samples)
        classes = np.unique(y)
        for _ in range(_MAX_PARTITION_DRAWS):
            parts: list[list[np.ndarray]] = [[] for _ in range(n_nodes)]
            for c in classes:
                members = rng.permutation(np.flatnonzero(y == c))
                shares = rng.dirichlet(np.full(n_nodes, self.alpha))
                cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
                for node, chunk in enumerate(np.split(members, cuts)):
                    parts[node].append(chunk)
            out = [np.sort(np.concatenate(p)) for p in parts]
            if min(len(p) for p in out) >= self.min_samples:
                return out
        raise DataError(
            f"{self.spec} left a node with fewer than {self.min_samples} sample(s) in {_MAX_PARTITION_DRAWS} draws "
            f"({len(y)} samples, {n_nodes} nodes); use fewer nodes or a larger alpha"
        )


@dataclass(frozen=True)
class QuantityPartitioner:
    """Quantity skew (``quantity:ALPHA``): node sizes follow Dirichlet(ALPHA) shares, labels stay mixed.

    Every node first gets ``min_samples`` samples; the rest is shared out by the Dirichlet draw.
    """

    alpha: float
    min_samples: int = 1

    @property
    def spec(self) -> str:
        return f"quantity:{self.alpha:g}"

    def split(self, y: np.ndarray, n_nodes: int, rng: np.random.Generator) -> list[np.ndarray]:
        _check_enough(len(y), n_nodes, self.min_samples)
        order = rng.permutation(len(y))
        spare = len(y) - n_nodes * self.min_samples
        extra = rng.multinomial(spare, rng.dirichlet(np.full(n_nodes, self.alpha)))
        sizes = extra + self.min_samples
        return [np.sort(part) for part in np.split(order, np.cumsum(sizes)[:-1])]


def parse_partition(spec: str) -> Partitioner:
    """Parse ``iid``, ``dirichlet:ALPHA`` or ``quantity:ALPHA`` (ALPHA > 0)."""
    text = spec.strip().lower()
    if text == "iid":
        return IIDPartitioner()
    kind, sep, value = text.partition(":")
    if sep and kind in ("dirichlet", "quantity"):
        try:
            alpha = float(value)
        except ValueError:
            alpha = float("nan")
        if not (math.isfinite(alpha) and alpha > 0):
            raise DataError(f"partition {spec!r}: ALPHA must be a positive number")
        return DirichletPartitioner(alpha) if kind == "dirichlet" else QuantityPartitioner(alpha)
    raise DataError(f"unknown partition {spec!r}; use iid, dirichlet:ALPHA or quantity:ALPHA")


@dataclass(frozen=True)
class SplitConfig:
    """Held-out fractions of the whole dataset.

    Attributes
    ----------
    test_fraction : float (default: 0.2)
    validation_fraction : float (default: 0.1)
        The evaluator's validation set (contribution scoring).
    """

    test_fraction: float = 0.2
    validation_fraction: float = 0.1


def _stratified_cut(
    X: np.ndarray, y: np.ndarray, size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off a fraction ``size``, stratified when every class allows it."""
    try:
        return train_test_split(X, y, test_size=size, random_state=seed, stratify=y)
    except ValueError:
        return train_test_split(X, y, test_size=size, random_state=seed)


@dataclass(frozen=True)
class FederatedData:
    """What one federation works on: standardized node partitions, validation and test sets.

    Attributes
    ----------
    nodes : tuple[ArraySplit, ...]
        Training data of each node, in node order.
    validation, test : ArraySplit
    n_features, n_classes : int
    stats : FeatureStats
        The combined training statistics used for standardization.
    partition : str
        The canonical partition spec.
    """

    nodes: tuple[ArraySplit, ...]
    validation: ArraySplit
    test: ArraySplit
    n_features: int
    n_classes: int
    stats: FeatureStats
    partition: str

    def pooled(self) -> ArraySplit:
        """All nodes' training data together (the centralized baseline)."""
        return ArraySplit(np.concatenate([n.X for n in self.nodes]), np.concatenate([n.y for n in self.nodes]))

    @property
    def sample_counts(self) -> list[int]:
        return [len(n) for n in self.nodes]


def federate(
    dataset: Dataset,
    n_nodes: int,
    partition: str | Partitioner = "iid",
    seed: int = 0,
    split: SplitConfig | None = None,
) -> FederatedData:
    """Hold out validation and test sets, partition the rest over ``n_nodes``, standardize federatedly.

    Parameters
    ----------
    dataset : Dataset
    n_nodes : int
    partition : str | Partitioner (default: "iid")
        A spec for :func:`parse_partition` or a partitioner.
    seed : int (default: 0)
        Seeds the splits and the partition; the same seed gives the same nodes.
    split : SplitConfig | None (default: SplitConfig())

    Raises
    ------
    DataError
        Too few samples for the held-out sets or for the nodes, a bad partition spec.
    """
    split = split or SplitConfig()
    partitioner = parse_partition(partition) if isinstance(partition, str) else partition
    n = dataset.n_samples
    held = split.test_fraction + split.validation_fraction
    n_test = math.ceil(n * split.test_fraction)
    n_val = math.ceil(n * split.validation_fraction)
    if not (0 < split.test_fraction and 0 < split.validation_fraction and held < 1) or n - n_test - n_val < 1:
        raise DataError(
            f"{dataset.name}: {n} samples cannot give a test set ({split.test_fraction:g}), "
            f"a validation set ({split.validation_fraction:g}) and training data"
        )
    split_seed, partition_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2))
    X_rest, X_test, y_rest, y_test = _stratified_cut(dataset.X, dataset.y, split.test_fraction, split_seed)
    X_train, X_val, y_train, y_val = _stratified_cut(
        X_rest, y_rest, split.validation_fraction / (1 - split.test_fraction), split_seed
    )
    parts = partitioner.split(y_train, n_nodes, np.random.default_rng(partition_seed))
    stats = FeatureStats.combine([FeatureStats.of(X_train[idx]) for idx in parts])
    nodes = tuple(ArraySplit(stats.standardize(X_train[idx]), y_train[idx].astype(np.int64)) for idx in parts)
    return FederatedData(
        nodes=nodes,
        validation=ArraySplit(stats.standardize(X_val), y_val.astype(np.int64)),
        test=ArraySplit(stats.standardize(X_test), y_test.astype(np.int64)),
        n_features=dataset.n_features,
        n_classes=dataset.n_classes,
        stats=stats,
        partition=partitioner.spec,
    )
