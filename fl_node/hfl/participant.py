"""A participant of a horizontal-FL round: the round plan it gets, how it trains, what it submits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from eth_hash.auto import keccak
from torch import nn

from fl_node.data import ArraySplit
from fl_node.dp_sgd import PrivateTrainer
from fl_node.errors import FlNodeError
from fl_node.hfl.envelope import BlobHeader, seal
from fl_node.hfl.schemes import PublicScheme
from fl_node.models import flatten, unflatten
from fl_node.privacy import ClientDp
from fl_node.training import TrainConfig, fit


@dataclass(frozen=True)
class RoundPlan:
    """What the aggregator publishes to open a round.

    Attributes
    ----------
    round : int
    global_params : np.ndarray
        The global flat float32 vector.
    sample_counts : Mapping[str, int]
        Public sample count of every participant selected for the round.
    chain_id : int (default: 0)
        The ledger's chain; 0 is a null ledger (no keys: blobs are bound but not signed).
    ledger : str (default: "")
        The ledger's address.
    task_id : int (default: 0)
    """

    round: int
    global_params: np.ndarray
    sample_counts: Mapping[str, int]
    chain_id: int = 0
    ledger: str = ""
    task_id: int = 0

    @property
    def signed(self) -> bool:
        """Whether blobs of this round must be signed by their senders (every round on a chain)."""
        return self.chain_id != 0

    def header_for(self, sender: str) -> BlobHeader:
        """The header a blob of ``sender`` in this round must carry."""
        return BlobHeader(self.chain_id, self.ledger, self.task_id, self.round, sender)

    @property
    def total_samples(self) -> int:
        return sum(self.sample_counts.values())

    def weight(self, participant_id: str) -> float:
        """``w_k = n_k / N`` over the round's selected participants."""
        return self.sample_counts[participant_id] / self.total_samples


@dataclass(frozen=True)
class Submission:
    """A participant's answer to a round.

    Attributes
    ----------
    participant_id : str
    n_samples : int
    blob : bytes
        The signed blob (:mod:`fl_node.hfl.envelope`) of the encoded (encrypted or plaintext) weighted delta.
    blob_hash : bytes
        keccak256 of ``blob`` (bytes32): the commitment that goes on chain.
    bytes_up : int
        Bytes sent to the aggregator (the blob).
    clipped : int (default: 0)
        How many values were clipped to ``[-clip, clip]``.
    train_loss : float (default: nan)
        Mean loss of the last local epoch.
    """

    participant_id: str
    n_samples: int
    blob: bytes
    blob_hash: bytes
    bytes_up: int
    clipped: int = 0
    train_loss: float = float("nan")


class Behaviour:
    """How a participant treats its data and its update; this base class is honest.

    Subclasses model misbehaving participants (free-riders, label flippers, scalers) by
    overriding one or both hooks.
    """

    def local_data(self, data: ArraySplit, rng: np.random.Generator) -> ArraySplit:
        """The data the participant trains on."""
        return data

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The unweighted update ``local - global`` it reports."""
        return delta


class Participant:
    """A data holder: trains the global model on its data and submits its encoded weighted delta.

    Parameters
    ----------
    participant_id : str
    data : ArraySplit
        Its (standardized) training data.
    model_factory : Callable[[], nn.Module]
        Builds the model architecture; the global vector is loaded into it.
    train_config : TrainConfig
    scheme : PublicScheme
        How updates are encoded (public key only).
    seed : int (default: 0)
        With the round number, seeds minibatch order and stochastic rounding.
    behaviour : Behaviour | None (default: honest)
    privacy : ClientDp | None (default: None)
        Client-level DP: clip the update, weigh it equally with the round's other nodes and add this
        node's share of the noise before encoding.
    private_training : PrivateTrainer | None (default: None)
        Record-level DP: train by DP-SGD with this trainer, which keeps the node's accountant over
        the task's rounds (pass the same one every round).
    secret_noise : bool (default: False, noise drawn from ``seed``: reproducible runs in one process)
        Draw DP noise (and DP-SGD's batches) from the operating system's entropy instead of
        ``seed``. A node of a consortium must: its seed may be known (the default is derived
        from its address), and anyone who can redraw the noise can take it out of the sum.
    """

    def __init__(
        self,
        participant_id: str,
        data: ArraySplit,
        model_factory: Callable[[], nn.Module],
        train_config: TrainConfig,
        scheme: PublicScheme,
        seed: int = 0,
        behaviour: Behaviour | None = None,
        privacy: ClientDp | None = None,
        private_training: PrivateTrainer | None = None,
        secret_noise: bool = False,
    ) -> None:
        self.participant_id = participant_id
        self.data = data
        self.model_factory = model_factory
        self.train_config = train_config
        self.scheme = scheme
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        self.privacy = privacy
        self.private_training = private_training
        self.secret_noise = secret_noise

    @property
    def n_samples(self) -> int:
        return len(self.data)

    def submit(self, plan: RoundPlan) -> Submission:
        """Train from ``plan.global_params`` and return the encoded weighted delta in an unsigned blob bound to ``plan``."""
        if self.participant_id not in plan.sample_counts:
            raise FlNodeError(f"participant {self.participant_id} is not selected for round {plan.round}")
        train_seed, code_seed = np.random.SeedSequence([self.seed, plan.round]).spawn(2)
        rng = np.random.default_rng(code_seed)
        model = unflatten(self.model_factory(), plan.global_params)
        data = self.behaviour.local_data(self.data, rng)
        seed = int(train_seed.generate_state(1)[0])
        if self.private_training is None:
            result = fit(model, data, self.train_config, seed=seed)
        else:
            result = self.private_training.fit(model, data, self.train_config, seed=secrets.randbits(63) if self.secret_noise else seed)
        delta = self.behaviour.local_update(
            flatten(model).astype(np.float64) - np.asarray(plan.global_params, dtype=np.float64), rng
        )
        if self.privacy is None:
            weighted = plan.weight(self.participant_id) * delta
        else:
            noise = np.random.default_rng(secrets.randbits(128)) if self.secret_noise else rng
            weighted = self.privacy.privatize(delta, len(plan.sample_counts), noise)
        clip = self.scheme.clip
        clipped = int(np.count_nonzero(np.abs(weighted) > clip))
        header = plan.header_for(self.participant_id)
        payload, proof = self.scheme.encode_proved(np.clip(weighted, -clip, clip), rng, header.to_bytes())
        blob = seal(header, payload, proof)
        return Submission(
            participant_id=self.participant_id,
            n_samples=self.n_samples,
            blob=blob,
            blob_hash=keccak(blob),
            bytes_up=len(blob),
            clipped=clipped,
            train_loss=result.loss,
        )
