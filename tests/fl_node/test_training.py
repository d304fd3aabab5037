"""Local training, FedProx, evaluation metrics and the centralized baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from fl_node.data import ArraySplit, federate, load_builtin
from fl_node.errors import ModelError
from fl_node.models import ModelConfig, flatten, unflatten
from fl_node.training import TrainConfig, evaluate, fit, predict_proba, train_centralized


@pytest.fixture(scope="module")
def cancer():
    return federate(load_builtin("breast_cancer"), 1, "iid", seed=0)


def test_fit_learns_and_is_deterministic_under_a_seed(cancer) -> None:
    config = ModelConfig("mlp", cancer.n_features, cancer.n_classes)
    data = cancer.nodes[0]
    before = evaluate(config.build(seed=0), cancer.test)

    runs = []
    for seed in (5, 5, 6):
        model = config.build(seed=0)
        fit(model, data, TrainConfig(epochs=3), seed=seed)
        runs.append(flatten(model))

    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    after = evaluate(unflatten(config.build(), runs[0]), cancer.test)
    assert after.accuracy > 0.9 and after.loss < before.loss


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_both_optimizers_reduce_the_training_loss(cancer, optimizer: str) -> None:
    model = ModelConfig("logreg", cancer.n_features, cancer.n_classes).build(seed=0)
    start = evaluate(model, cancer.nodes[0]).loss

    result = fit(model, cancer.nodes[0], TrainConfig(epochs=2, optimizer=optimizer, lr=0.01), seed=0)

    assert result.steps == 2 * -(-len(cancer.nodes[0]) // 16)
    assert evaluate(model, cancer.nodes[0]).loss < start


def test_fedprox_term_keeps_the_local_model_closer_to_the_global_one(cancer) -> None:
    config = ModelConfig("mlp", cancer.n_features, cancer.n_classes)
    start = flatten(config.build(seed=0))

    def distance(mu: float) -> float:
        model = unflatten(config.build(), start)
        fit(model, cancer.nodes[0], TrainConfig(epochs=3, prox_mu=mu), seed=1)
        return float(np.linalg.norm(flatten(model) - start))

    assert distance(1.0) < 0.8 * distance(0.0)


def test_evaluate_matches_sklearn_metrics_binary_and_multiclass() -> None:
    for name in ("breast_cancer", "wine"):
        fed = federate(load_builtin(name), 1, "iid", seed=0)
        model = ModelConfig("logreg", fed.n_features, fed.n_classes).build(seed=3)
        fit(model, fed.nodes[0], TrainConfig(epochs=1, lr=0.01), seed=0)
        proba = predict_proba(model, fed.test.X)

        metrics = evaluate(model, fed.test)

        assert metrics.n == len(fed.test)
        assert metrics.accuracy == pytest.approx(np.mean(proba.argmax(1) == fed.test.y))
        assert metrics.loss == pytest.approx(log_loss(fed.test.y, proba))
        expected_auc = (
            roc_auc_score(fed.test.y, proba[:, 1]) if fed.n_classes == 2
            else roc_auc_score(fed.test.y, proba, multi_class="ovr")
        )
        assert metrics.auc == pytest.approx(expected_auc)


def test_auc_is_nan_when_a_class_is_missing() -> None:
    model = ModelConfig("logreg", 2, 3).build()
    data = ArraySplit(np.zeros((4, 2), dtype=np.float32), np.array([0, 1, 0, 1]))

    metrics = evaluate(model, data)

    assert np.isnan(metrics.auc) and 0 <= metrics.accuracy <= 1


def test_centralized_baseline_runs_the_same_budget_and_reports_each_round(cancer) -> None:
    config = ModelConfig("logreg", cancer.n_features, cancer.n_classes)
    train = TrainConfig(epochs=2, prox_mu=0.5)

    curve = train_centralized(config.build(seed=0), cancer.nodes[0], train, rounds=3, seed=0, test=cancer.test)
    once = config.build(seed=0)
    fit(once, cancer.nodes[0], TrainConfig(epochs=6), seed=torch.Generator().manual_seed(0))

    assert len(curve) == 3
    assert curve[-1].accuracy == evaluate(once, cancer.test).accuracy  # one optimizer and stream, no prox term


@pytest.mark.parametrize(
    "kwargs", [{"optimizer": "lbfgs"}, {"epochs": 0}, {"batch_size": 0}, {"lr": 0.0}, {"prox_mu": -1.0}]
)
def test_bad_train_configs(kwargs: dict) -> None:
    with pytest.raises(ModelError):
        TrainConfig(**kwargs)


def test_empty_data_cannot_be_trained_or_evaluated() -> None:
    model = ModelConfig("logreg", 2, 2).build()
    empty = ArraySplit(np.zeros((0, 2), dtype=np.float32), np.zeros(0, dtype=np.int64))

    with pytest.raises(ModelError, match="empty"):
        fit(model, empty, TrainConfig(), seed=0)
    with pytest.raises(ModelError, match="empty"):
        evaluate(model, empty)
