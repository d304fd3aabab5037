"""Each party's representation network (its own torch model, never shared) and its artifact bytes."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from fl_node.twoparty.wire import pack

__all__ = ["representation_network", "network_artifact"]


def representation_network(n_features: int, dim: int, hidden: int, seed: int) -> nn.Module:
    """A map from a party's features to ``R^dim``: linear if ``hidden == 0``, else one tanh hidden layer.

    Parameters
    ----------
    n_features : int
    dim : int
        Representation size d (shared by both parties).
    hidden : int
        Hidden units; 0 for a linear map.
    seed : int
        Seeds the initialization (torch's default uniform ±1/√fan_in) with a private generator,
        so parties running in threads of one process do not share random state.
    """
    layers: list[nn.Module] = [nn.Linear(n_features, dim)] if hidden == 0 else [nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, dim)]
    model = nn.Sequential(*layers).to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


def network_artifact(model: nn.Module, extra: dict[str, np.ndarray] | None = None) -> bytes:
    """Deterministic bytes of a party's model share: parameter names and shapes, then float64 values.

    ``extra`` adds named arrays (the source's Φ) after the parameters.
    """
    arrays = [(name, tensor.detach().cpu().numpy()) for name, tensor in model.state_dict().items()]
    arrays += sorted((extra or {}).items())
    header = {"format": "fedledger/ftl-share/v1", "arrays": [[name, list(np.shape(value))] for name, value in arrays]}
    blob = b"".join(np.ascontiguousarray(value, dtype="<f8").tobytes() for _, value in arrays)
    return pack(header, blob)
