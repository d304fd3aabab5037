"""Client-level differential privacy of a federation: clipping, distributed Gaussian noise, Opacus's RDP accountant.

Each node clips its unweighted update ``delta_k`` to L2 norm ``C``, weights it (``w_k``) and adds
Gaussian noise of standard deviation ``σ C w_max / sqrt(n)`` before encrypting, for the round's
``n`` selected nodes and largest weight ``w_max``. Nobody adds noise centrally, yet the noise
in the decrypted sum has standard deviation ``σ C w_max``, while one node's data moves the sum
by at most ``C w_max`` (its sensitivity): the sum is the Gaussian mechanism with noise
multiplier ``σ``, and every round uses every node (sampling rate 1). The privacy spent over
the rounds is what Opacus's RDP accountant says for that mechanism; nothing here computes ε.
The noise shares assume the nodes are honest about adding them and that all ``n`` report
(a dropout leaves the sum with a little less noise than accounted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from fl_node.errors import FlNodeError

#: Every round uses every selected node.
SAMPLE_RATE = 1.0


@dataclass(frozen=True)
class ClientDp:
    """What a node does to its update under client-level DP.

    Attributes
    ----------
    clip : float
        L2 bound of a node's unweighted update.
    noise_multiplier : float
        σ of the Gaussian mechanism on the sum.
    """

    clip: float
    noise_multiplier: float

    def privatize(
        self, delta: np.ndarray, weight: float, max_weight: float, participants: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``w_k * clip(delta_k)`` plus this node's share of the round's noise.

        Parameters
        ----------
        delta : np.ndarray
            The unweighted update.
        weight : float
            This node's FedAvg weight ``w_k``.
        max_weight : float
            The largest weight of the round's selected nodes.
        participants : int
            The round's selected nodes ``n``.
        rng : np.random.Generator
        """
        norm = float(np.linalg.norm(delta))
        clipped = delta * min(1.0, self.clip / norm) if norm > 0 else delta
        share = self.noise_multiplier * self.clip * max_weight / np.sqrt(participants)
        return weight * clipped + rng.normal(0.0, share, size=delta.shape)


def noise_multiplier_for(epsilon: float, delta: float, rounds: int) -> float:
    """The σ that spends ``epsilon`` at ``delta`` over ``rounds`` rounds (Opacus's RDP calibration).

    Raises
    ------
    FlNodeError
        ε or δ out of range, or fewer than one round.
    """
    if not epsilon > 0 or not 0 < delta < 1 or rounds < 1:
        raise FlNodeError(f"DP needs epsilon > 0, delta in (0, 1) and at least one round, got {epsilon}, {delta}, {rounds}")
    return float(
        get_noise_multiplier(
            target_epsilon=epsilon, target_delta=delta, sample_rate=SAMPLE_RATE, steps=rounds, accountant="rdp"
        )
    )


def epsilon_spent(noise_multiplier: float, delta: float, rounds: int) -> float:
    """ε spent at ``delta`` after ``rounds`` rounds of the Gaussian mechanism with ``noise_multiplier`` (Opacus RDP); 0 before any round."""
    if rounds < 1:
        return 0.0
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, SAMPLE_RATE, rounds)]
    return float(accountant.get_epsilon(delta))
