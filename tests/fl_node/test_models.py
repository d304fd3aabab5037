"""Models, flatten/unflatten of the parameter vector, and the canonical model hash."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eth_hash.auto import keccak

from fl_node.errors import ModelError
from fl_node.models import MODEL_NAMES, ModelConfig, flatten, model_hash, n_parameters, unflatten


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_maps_a_batch_to_class_logits(name: str) -> None:
    model = ModelConfig(name, n_features=64, n_classes=10).build(seed=0)

    out = model(torch.zeros(5, 64))

    assert out.shape == (5, 10)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_flatten_unflatten_round_trip(name: str) -> None:
    config = ModelConfig(name, n_features=64, n_classes=3)
    source, target = config.build(seed=1), config.build(seed=2)
    vector = flatten(source)
    x = torch.randn(4, 64)

    unflatten(target, vector)

    assert vector.dtype == np.float32 and vector.shape == (n_parameters(source),)
    np.testing.assert_array_equal(flatten(target), vector)
    torch.testing.assert_close(target(x), source(x))


def test_flat_order_is_declaration_order() -> None:
    model = ModelConfig("mlp", n_features=3, n_classes=2, hidden=4).build(seed=0)

    vector = flatten(model)

    np.testing.assert_array_equal(vector[:12], model.hidden.weight.detach().numpy().ravel())
    np.testing.assert_array_equal(vector[12:16], model.hidden.bias.detach().numpy())
    np.testing.assert_array_equal(vector[-2:], model.out.bias.detach().numpy())


def test_build_is_seeded_and_leaves_the_global_rng_alone() -> None:
    config = ModelConfig("mlp", n_features=10, n_classes=2)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)

    a, b, c = config.build(seed=7), config.build(seed=7), config.build(seed=8)

    np.testing.assert_array_equal(flatten(a), flatten(b))
    assert not np.array_equal(flatten(a), flatten(c))
    assert torch.equal(torch.rand(1), expected_next)


def test_unflatten_rejects_a_vector_of_the_wrong_size() -> None:
    model = ModelConfig("logreg", n_features=4, n_classes=2).build()

    with pytest.raises(ModelError, match=r"shape \(9,\), the model needs \(10,\)"):
        unflatten(model, np.zeros(9, dtype=np.float32))


def test_model_hash_is_keccak_of_little_endian_float32() -> None:
    vector = np.array([1.0, -2.5, 3.25], dtype=np.float32)

    digest = model_hash(vector)

    assert digest == keccak(b"\x00\x00\x80\x3f" + b"\x00\x00\x20\xc0" + b"\x00\x00\x50\x40")
    assert len(digest) == 32
    assert model_hash(vector.astype(">f4")) == digest  # byte order of the input does not matter
    assert model_hash(np.array([1.0, -2.5, 3.2500002], dtype=np.float32)) != digest


@pytest.mark.parametrize(
    ("name", "features", "classes", "message"),
    [
        ("resnet", 4, 2, "unknown model 'resnet'"),
        ("cnn", 30, 2, "needs square images"),
        ("mlp", 4, 1, "two classes"),
    ],
)
def test_bad_model_configs(name: str, features: int, classes: int, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        ModelConfig(name, features, classes)
