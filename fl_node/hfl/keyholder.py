"""The key holder: holds the decoder (the private key), decrypts sums only and applies weighted FedAvg.
"""

from __future__ import annotations

import numpy as np

from fl_node.errors import FlNodeError
from fl_node.hfl.aggregator import SummedUpdate
from fl_node.hfl.schemes import PublicScheme, SumDecoder


class KeyHolder:
    """Holds the decoder (the private key); decrypts sums only and applies weighted FedAvg.

    Parameters
    ----------
    decoder : SumDecoder
        :class:`EncryptedSums` (private key) or :class:`PlainSums`.
    """

    def __init__(self, decoder: SumDecoder) -> None:
        self.decoder = decoder

    def decrypt(self, summed: SummedUpdate) -> np.ndarray:
        """``sum(w_k * delta_k)`` over the summed participants, float64."""
        return self.decoder.decode(summed.payload)

    def new_global(self, global_params: np.ndarray, summed: SummedUpdate) -> np.ndarray:
        """``global + sum(w_k * delta_k) / sum(w_k)``: the sample-weighted FedAvg of the summed participants."""
        if summed.weight <= 0:
            raise FlNodeError("cannot average a sum with no weight")
        step = self.decrypt(summed) / summed.weight
        return (np.asarray(global_params, dtype=np.float64) + step).astype(np.float32)


def round_error_bound(scheme: PublicScheme, summed: SummedUpdate) -> float:
    """Largest per-parameter difference between this round's new global vector and the exact one.

    ``K * q / sum(w_k)`` for K summed participants and quantization step ``q`` (float32
    rounding for plaintext rounds), given the same clipped inputs.
    """
    return scheme.error_bound(len(summed.participant_ids)) / summed.weight
