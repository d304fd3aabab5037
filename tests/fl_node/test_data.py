"""Datasets, CSV loading, splits, partitioners and federated standardization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fl_node.data import (
    BUILTIN_DATASETS,
    DirichletPartitioner,
    FeatureStats,
    IIDPartitioner,
    QuantityPartitioner,
    federate,
    load_builtin,
    load_csv,
    load_dataset,
    parse_partition,
)
from fl_node.errors import DataError


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_builtin_datasets_load_with_integer_labels(name: str) -> None:
    ds = load_builtin(name)

    assert ds.X.shape == (ds.n_samples, ds.n_features) and ds.n_samples > 100
    assert set(np.unique(ds.y)) == set(range(ds.n_classes))


def test_unknown_dataset_is_a_data_error() -> None:
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        load_builtin("mnist")


@pytest.mark.parametrize("spec", ["iid", "dirichlet:0.5", "quantity:1"])
def test_federate_is_reproducible_and_disjoint(spec: str) -> None:
    ds = load_builtin("wine")

    a = federate(ds, 5, spec, seed=3)
    b = federate(ds, 5, spec, seed=3)
    c = federate(ds, 5, spec, seed=4)

    for x, y in zip(a.nodes, b.nodes, strict=True):
        np.testing.assert_array_equal(x.X, y.X)
        np.testing.assert_array_equal(x.y, y.y)
    assert any(len(x) != len(z) or not np.array_equal(x.X, z.X) for x, z in zip(a.nodes, c.nodes, strict=True))
    assert sum(a.sample_counts) + len(a.validation) + len(a.test) == ds.n_samples
    assert min(a.sample_counts) >= 1
    rows = np.concatenate([n.X for n in a.nodes] + [a.validation.X, a.test.X])
    assert len(np.unique(rows, axis=0)) == ds.n_samples  # every sample in exactly one place


def test_held_out_sets_are_stratified_fractions() -> None:
    ds = load_builtin("breast_cancer")

    fed = federate(ds, 10, "iid", seed=0)

    assert len(fed.test) == pytest.approx(0.2 * ds.n_samples, abs=1)
    assert len(fed.validation) == pytest.approx(0.1 * ds.n_samples, abs=1)
    assert abs(fed.test.y.mean() - ds.y.mean()) < 0.02


def test_federated_standardization_equals_pooled_statistics() -> None:
    ds = load_builtin("breast_cancer")
    fed = federate(ds, 7, "dirichlet:0.5", seed=1)
    pooled = fed.pooled().X.astype(np.float64)

    combined = FeatureStats.combine([FeatureStats.of(n.X) for n in fed.nodes])

    # the nodes' standardized data has global mean 0 and std 1 over the pooled training set
    np.testing.assert_allclose(pooled.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(pooled.std(axis=0), 1.0, atol=1e-4)
    assert combined.count == len(pooled)


def test_feature_stats_combine_exactly_and_constant_features_get_unit_std() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(50, 4))
    X[:, 2] = 7.0

    parts = FeatureStats.combine([FeatureStats.of(X[:10]), FeatureStats.of(X[10:35]), FeatureStats.of(X[35:])])

    np.testing.assert_allclose(parts.mean, X.mean(axis=0))
    np.testing.assert_allclose(parts.std[[0, 1, 3]], X.std(axis=0)[[0, 1, 3]])
    assert parts.std[2] == 1.0
    assert np.all(parts.standardize(X)[:, 2] == 0)


def test_dirichlet_small_alpha_skews_labels_more_than_iid() -> None:
    y = np.repeat(np.arange(4), 100)
    rng = np.random.default_rng(0)

    def mean_majority_share(parts: list[np.ndarray]) -> float:
        return float(np.mean([np.bincount(y[p], minlength=4).max() / len(p) for p in parts]))

    skewed = DirichletPartitioner(0.1).split(y, 8, rng)
    iid = IIDPartitioner().split(y, 8, rng)

    assert mean_majority_share(skewed) > mean_majority_share(iid) + 0.3
    assert sorted(np.concatenate(skewed).tolist()) == list(range(len(y)))


def test_quantity_skew_gives_unequal_sizes_with_a_minimum() -> None:
    y = np.zeros(1000, dtype=np.int64)

    parts = QuantityPartitioner(0.3, min_samples=5).split(y, 10, np.random.default_rng(2))

    sizes = [len(p) for p in parts]
    assert sum(sizes) == 1000 and min(sizes) >= 5
    assert max(sizes) > 3 * min(sizes)


@pytest.mark.parametrize("spec", ["iid", "dirichlet:0.5", "quantity:0.5"])
def test_more_nodes_than_samples_is_a_clear_error(spec: str) -> None:
    ds = load_builtin("wine")

    with pytest.raises(DataError, match="200 nodes but only .* training samples"):
        federate(ds, 200, spec, seed=0)


def test_dirichlet_that_cannot_fill_every_node_gives_up_with_an_error() -> None:
    y = np.array([0] * 6 + [1] * 6)

    with pytest.raises(DataError, match="left a node with fewer than 1 sample"):
        DirichletPartitioner(0.001).split(y, 12, np.random.default_rng(0))


@pytest.mark.parametrize("bad", ["", "dirichlet", "dirichlet:", "dirichlet:-1", "dirichlet:nan", "quantity:x", "shards:2"])
def test_bad_partition_specs_are_rejected(bad: str) -> None:
    with pytest.raises(DataError, match="partition"):
        parse_partition(bad)


def test_partition_specs_parse() -> None:
    assert parse_partition("IID").spec == "iid"
    assert parse_partition("dirichlet:0.5") == DirichletPartitioner(0.5)
    assert parse_partition("quantity:2").spec == "quantity:2"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_csv_loads_numeric_features_and_string_labels(tmp_path: Path) -> None:
    path = _write(tmp_path, "age,bp,diagnosis\n50,120,sick\n30,110.5,well\n41,1e2,sick\n")

    ds = load_dataset(csv_path=path, label="diagnosis")

    assert ds.feature_names == ("age", "bp")
    assert ds.class_names == ("sick", "well")
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    np.testing.assert_allclose(ds.X, [[50, 120], [30, 110.5], [41, 100]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("age,bp,y\n50,,1\n30,1,0\n", "line 2 column 'bp' is missing a value"),
        ("age,bp,y\n50,high,1\n30,1,0\n", "line 2 column 'bp' is not numeric: 'high'"),
        ("age,bp,y\n50,inf,1\n30,1,0\n", "not finite"),
        ("age,bp,z\n50,1,1\n30,1,0\n", "no label column 'y'"),
        ("age,bp,y\n50,1\n30,1,0\n", "line 2 has 2 fields"),
        ("age,bp,y\n50,1,1\n30,1,1\n", "single class"),
        ("age,bp,y\n", "header only"),
        ("", "empty file"),
        ("age,bp,y\n50,1,\n30,1,0\n", "no value in label column"),
    ],
)
def test_bad_csv_is_a_one_line_data_error(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(DataError, match=message) as err:
        load_csv(path, "y")
    assert "\n" not in str(err.value)


def test_missing_csv_file_and_missing_label_option(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read CSV"):
        load_csv(tmp_path / "absent.csv", "y")
    with pytest.raises(DataError, match="--label"):
        load_dataset(csv_path=tmp_path / "absent.csv")
