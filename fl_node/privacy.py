"""Client-level differential privacy of a federation: clipping, equal weights, distributed Gaussian noise, Opacus's RDP accountant.

Under DP every node's update counts equally: node ``k`` clips its unweighted update
``delta_k`` to L2 norm ``C``, scales it by ``1/n`` for the round's ``n`` selected nodes
(instead of its sample weight ``w_k``) and adds Gaussian noise of standard deviation
``σ C / (n sqrt(n))`` before encrypting. Nobody adds noise centrally, yet the noise in the
decrypted sum has standard deviation ``σ C / n``, while one node's data moves the sum by at
most ``C / n`` (its sensitivity): the sum is the Gaussian mechanism with noise multiplier
``σ``, and every round uses every node (sampling rate 1). The privacy spent over the rounds
is what Opacus's RDP accountant says for that mechanism; nothing here computes ε.

Equal weights are DP-FedAvg's (McMahan, Ramage, Talwar, Zhang, "Learning Differentially
Private Recurrent Language Models", ICLR 2018, with every node's weight capped at the mean):
with sample weights the sensitivity, hence the noise, would be set by the largest node's
weight ``max_k w_k`` (0.3-0.5 of the sum with 10 nodes under Dirichlet 0.5, against 0.1).
The selected nodes' sample weights add up to 1, so the full sum's FedAvg step is exactly
the mean of the clipped updates plus the noise.
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

    def privatize(self, delta: np.ndarray, participants: int, rng: np.random.Generator) -> np.ndarray:
        """``clip(delta_k) / n`` plus this node's share of the round's noise.

        Parameters
        ----------
        delta : np.ndarray
            The unweighted update.
        participants : int
            The round's selected nodes ``n``; each node's weight is ``1/n``.
        rng : np.random.Generator
        """
        norm = float(np.linalg.norm(delta))
        clipped = delta * min(1.0, self.clip / norm) if norm > 0 else delta
        share = self.noise_multiplier * self.clip / participants / np.sqrt(participants)
        return clipped / participants + rng.normal(0.0, share, size=delta.shape)


def noise_multiplier_for(epsilon: float, delta: float, rounds: int) -> float:
    """The σ that spends ``epsilon`` at ``delta`` over ``rounds`` rounds (Opacus's RDP calibration).

    Raises
    ------
    FlNodeError
        ε or δ out of range, or fewer than one round.
    """
    if not epsilon > 0 or not 0 < delta < 1 or rounds < 1:
        raise FlNodeError(f"DP needs epsilon > 0, delta in (0, 1) and at least one round, got {epsilon}, {delta}, {rounds}")
    return rdp_noise_multiplier(epsilon, delta, SAMPLE_RATE, rounds)


def epsilon_spent(noise_multiplier: float, delta: float, rounds: int) -> float:
    """ε spent at ``delta`` after ``rounds`` rounds of the Gaussian mechanism with ``noise_multiplier`` (Opacus RDP); 0 before any round."""
    if rounds < 1:
        return 0.0
    return rdp_epsilon(noise_multiplier, SAMPLE_RATE, rounds, delta)


def rdp_noise_multiplier(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """Opacus's RDP calibration: the σ with which ``steps`` subsampled Gaussian steps at ``sample_rate`` spend ``epsilon`` at ``delta``."""
    return float(
        get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate, steps=steps, accountant="rdp")
    )


def rdp_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε at ``delta`` that Opacus's RDP accountant gives ``steps`` subsampled Gaussian steps of ``noise_multiplier`` at ``sample_rate``."""
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta))
