"""Raw hospital CSVs: identifier and dropped columns, published label lists, column checks, federated standardization."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.clinical import FEATURES, ID_COLUMN, LABEL_COLUMN, LABELS, write_clinical_csv
from fl_node.data import (
    FeatureStats,
    Standardization,
    check_feature_columns,
    federated_standardization,
    load_csv,
    load_dataset,
)
from fl_node.errors import DataError


@pytest.fixture
def clinical(tmp_path):
    return write_clinical_csv(tmp_path / "hospital.csv", 300, seed=3)


def test_identifier_columns_are_not_features(clinical):
    data = load_csv(clinical, LABEL_COLUMN, id_columns=[ID_COLUMN], labels=LABELS)

    assert data.feature_names == FEATURES
    assert data.X.shape == (300, len(FEATURES))
    assert data.class_names == LABELS
    # the values stay unscaled clinical measurements
    assert data.X[:, FEATURES.index("glucose")].mean() > 50


def test_without_id_column_a_string_identifier_is_refused_by_name(clinical):
    with pytest.raises(DataError, match="column 'patient_id' is not numeric"):
        load_csv(clinical, LABEL_COLUMN)


def test_drop_removes_a_numeric_column_and_unknown_columns_are_named(clinical):
    data = load_csv(clinical, LABEL_COLUMN, id_columns=[ID_COLUMN], drop=["insulin"])
    assert "insulin" not in data.feature_names and len(data.feature_names) == len(FEATURES) - 1
    with pytest.raises(DataError, match="--drop 'weight' is not a column"):
        load_csv(clinical, LABEL_COLUMN, id_columns=[ID_COLUMN], drop=["weight"])
    with pytest.raises(DataError, match="--id-column 'outcome' is the label column"):
        load_csv(clinical, LABEL_COLUMN, id_columns=[LABEL_COLUMN])
    with pytest.raises(DataError, match="apply to a CSV file"):
        load_dataset("wine", id_columns=["x"])


def test_the_published_label_list_fixes_the_class_order(tmp_path):
    # a node that has only one class, spelled the way its own system writes numbers
    path = tmp_path / "node.csv"
    path.write_text("id,a,label\nx1,1.5,1.0\nx2,2.5,1.0\n")
    data = load_csv(path, "label", id_columns=["id"], labels=["0", "1"])
    assert data.y.tolist() == [1, 1] and data.class_names == ("0", "1")
    # the same list reversed gives the other index: order comes from the list, not the file
    assert load_csv(path, "label", id_columns=["id"], labels=["1", "0"]).y.tolist() == [0, 0]
    with pytest.raises(DataError, match=r"labels '1.0' are not in the task's label list \['healthy', 'diabetic'\]"):
        load_csv(path, "label", id_columns=["id"], labels=LABELS)
    with pytest.raises(DataError, match="at least two distinct classes"):
        load_csv(path, "label", id_columns=["id"], labels=["1", "1.0"])


def test_columns_that_differ_from_the_spec_are_named_in_one_line(clinical):
    expected = list(FEATURES[:-1]) + ["weight"]
    with pytest.raises(DataError) as info:
        load_csv(clinical, LABEL_COLUMN, id_columns=[ID_COLUMN], features=expected)
    message = str(info.value)
    assert "missing weight" in message and "unexpected age" in message and "\n" not in message
    with pytest.raises(DataError, match="in another order"):
        check_feature_columns("x.csv", ["b", "a"], ["a", "b"])
    check_feature_columns("x.csv", ["a", "b"], ["a", "b"])


def test_federated_standardization_equals_the_pooled_statistics(tmp_path):
    parts = [load_csv(write_clinical_csv(tmp_path / f"h{k}.csv", 100 + 50 * k, seed=k), LABEL_COLUMN, id_columns=[ID_COLUMN]) for k in range(3)]
    pooled = np.concatenate([p.X for p in parts])

    # each node sends only its count and sums, as JSON
    sent = [FeatureStats.of(p.X).to_json() for p in parts]
    received = [FeatureStats.from_json(s, n_features=len(FEATURES)) for s in sent]
    standardization = federated_standardization(received)

    np.testing.assert_allclose(standardization.mean, pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(standardization.std, pooled.std(axis=0), rtol=1e-9)
    z = standardization.apply(pooled)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    assert Standardization.from_json(standardization.to_json()) == standardization


def test_malformed_statistics_and_standardizations_are_refused():
    with pytest.raises(DataError, match="the task has 8"):
        FeatureStats.from_json({"count": 3, "sum": [1.0], "sum_sq": [1.0]}, n_features=8)
    with pytest.raises(DataError, match="count >= 1"):
        FeatureStats.from_json({"count": 0, "sum": [1.0], "sum_sq": [1.0]})
    with pytest.raises(DataError, match="negative sum of squares"):
        FeatureStats.from_json({"count": 2, "sum": [1.0], "sum_sq": [-1.0]})
    with pytest.raises(DataError, match="malformed feature statistics"):
        FeatureStats.from_json({"count": 2})
    with pytest.raises(DataError, match="std > 0"):
        Standardization.from_json({"mean": [0.0], "std": [0.0]})
    with pytest.raises(DataError, match="3 features"):
        Standardization((0.0,), (1.0,)).apply(np.zeros((2, 3)))
