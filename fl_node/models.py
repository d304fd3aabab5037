"""Torch models, their flat float32 parameter vector, and the canonical model hash.

The flat vector is what travels between rounds: every parameter in ``named_parameters()``
order (the order the layers are declared in), flattened row-major, float32. The canonical
model hash written on chain is keccak256 of that vector's little-endian bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from eth_hash.auto import keccak
from torch import nn

from fl_node.errors import ModelError

MODEL_NAMES = ("logreg", "mlp", "cnn")


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one linear layer producing class logits."""

    def __init__(self, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """One hidden ReLU layer."""

    def __init__(self, n_features: int, n_classes: int, hidden: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_features, hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x)))


class SmallCNN(nn.Module):
    """Two 3x3 conv + 2x2 max-pool blocks and a linear head, for square single-channel images (digits: 8x8)."""

    def __init__(self, side: int, n_classes: int, channels: tuple[int, int] = (8, 16)) -> None:
        super().__init__()
        self.side = side
        self.conv1 = nn.Conv2d(1, channels[0], 3, padding=1)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, padding=1)
        self.head = nn.Linear(channels[1] * (side // 4) ** 2, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, self.side, self.side)
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


@dataclass(frozen=True)
class ModelConfig:
    """Which model to build for which data.

    Attributes
    ----------
    name : str
        ``logreg``, ``mlp`` or ``cnn``.
    n_features, n_classes : int
    hidden : int (default: 32)
        Width of the MLP's hidden layer.
    """

    name: str
    n_features: int
    n_classes: int
    hidden: int = 32

    def __post_init__(self) -> None:
        if self.name not in MODEL_NAMES:
            raise ModelError(f"unknown model {self.name!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.n_features < 1 or self.n_classes < 2:
            raise ModelError(f"a model needs at least one feature and two classes, got {self.n_features}, {self.n_classes}")
        if self.name == "cnn":
            side = math.isqrt(self.n_features)
            if side * side != self.n_features or side < 4:
                raise ModelError(
                    f"model 'cnn' needs square images of side >= 4 (e.g. digits, 8x8); got {self.n_features} features"
                )

    def build(self, seed: int = 0) -> nn.Module:
        """A fresh model whose initial weights depend only on ``seed`` (the global torch RNG is left as it was)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if self.name == "logreg":
                return LogisticRegression(self.n_features, self.n_classes)
            if self.name == "mlp":
                return MLP(self.n_features, self.n_classes, self.hidden)
            return SmallCNN(math.isqrt(self.n_features), self.n_classes)

    def factory(self) -> Callable[[], nn.Module]:
        """A no-argument model factory (weights are overwritten by the global vector anyway)."""
        return self.build


def n_parameters(model: nn.Module) -> int:
    """Number of scalars in the flat vector."""
    return sum(p.numel() for p in model.parameters())


def flatten(model: nn.Module) -> np.ndarray:
    """All parameters as one float32 vector, in ``named_parameters()`` order."""
    with torch.no_grad():
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).to(torch.float32).numpy().copy()


def unflatten(model: nn.Module, vector: np.ndarray) -> nn.Module:
    """Load a flat vector into ``model`` in place (and return it); a wrong length raises ModelError."""
    vector = np.asarray(vector)
    expected = n_parameters(model)
    if vector.ndim != 1 or vector.shape[0] != expected:
        raise ModelError(f"parameter vector has shape {vector.shape}, the model needs ({expected},)")
    flat = torch.from_numpy(vector.astype(np.float32, copy=False))
    offset = 0
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(flat[offset : offset + p.numel()].reshape(p.shape))
            offset += p.numel()
    return model


def model_hash(vector: np.ndarray) -> bytes:
    """Canonical model hash (bytes32): keccak256 of the float32 little-endian bytes of the flat vector."""
    return keccak(np.ascontiguousarray(vector, dtype="<f4").tobytes())
