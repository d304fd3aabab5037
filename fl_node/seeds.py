"""The seed streams of a federation: every random draw derives from the task's seed and a stream number.

``SeedSequence([seed, stream, *index])`` gives independent streams, so adding a node or a
round never shifts another stream's numbers.
"""

from __future__ import annotations

import numpy as np

#: The initial global model's weights.
INITIAL_MODEL = 1
#: A node's local training and stochastic rounding (with the node's index).
NODE_TRAINING = 2
#: The centralized baseline's training.
CENTRALIZED = 3


def derive_seed(seed: int, stream: int, *index: int) -> int:
    """A 32-bit seed for ``stream`` (and ``index``) of the task seeded by ``seed``."""
    return int(np.random.SeedSequence([seed, stream, *index]).generate_state(1)[0])
