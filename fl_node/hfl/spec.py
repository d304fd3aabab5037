"""What a federation task publishes: its spec (the model-spec hash), its validation split, its models as bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.codec import CodecConfig
from fl_node.crypto.keys import check_public_key_bits, public_key_from_bytes
from fl_node.data import ArraySplit, Standardization
from fl_node.dp_sgd import PrivateTrainer, RecordDp
from fl_node.errors import FlNodeError
from fl_node.hfl.gating import AGGREGATIONS, valid_norm_factor
from fl_node.hfl.keyholder import Custody, KeyHolder
from fl_node.hfl.schemes import EncryptedSums, EncryptedUpdates, PlainSums, PlainUpdates
from fl_node.models import ModelConfig, n_parameters
from fl_node.privacy import ClientDp
from fl_node.training import TrainConfig
from incentive.contribution import make_scorer
from incentive.cohort import MIN_COHORT

UTILITIES = ("accuracy", "loss")


#: Smallest Paillier modulus a spec may name (the floor of the vertical-FL and transfer-learning settings too).
MIN_KEY_BITS = 512

@dataclass(frozen=True)
class FederationSpec:
    """The public description of a federation task; its keccak256 is the task's model-spec hash.

    Attributes
    ----------
    model : ModelConfig
    train : TrainConfig
        Local training each node is asked to run.
    encrypt : bool
    codec : CodecConfig
        Quantization, clipping and headroom of the packed codec (also the clip of plaintext runs).
    public_key : bytes
        The key holder's Paillier public key (empty for plaintext runs).
    sample_counts : Mapping[str, int]
        Every participant's public sample count, by address: the FedAvg weights.
    scorer : str
        Contribution scorer (``loo``, ``exact``, ``tmc``, ``gtg``).
    utility : str
        ``accuracy`` or ``loss`` (negative validation loss) of a subset's model.
    seed : int
        Seeds the scorer's sampling in every round (with the round id).
    min_participants : int (default: 3)
        Usable submissions a round needs to be finalized; at least the ledger's minimum cohort
        (:data:`~incentive.ledger.MIN_COHORT`): with fewer, each participant could read the
        others' updates from the published model.
    key_bits : int (default: 2048)
        The task's Paillier modulus size: the public key must have exactly this many bits
        (at least :data:`MIN_KEY_BITS`), so a participant never encrypts under a smaller key.
    features : tuple[str, ...] (default: none)
        The feature columns every node's CSV must have, in order (consortium tasks).
    labels : tuple[str, ...] (default: none)
        The label list: class ``k`` is ``labels[k]`` at every node (consortium tasks).
    standardization : Standardization | None (default: None)
        The federated mean and deviation every node standardizes its raw features with.
    aggregation : str (default: "fedavg")
        ``fedavg`` (every verified update) or ``gated`` (participants scoring at or below
        ``gate_threshold`` in the round are left out, see :func:`fl_node.hfl.gating.gated_out`).
    gate_threshold : float (default: 0.0)
    gate_memory : float (default: 0.0, this round's score alone)
        γ in [0, 1]: the gate compares each participant's reputation ``γ R_(t-1) + s_t`` (its
        discounted recorded scores, see :mod:`fl_node.hfl.gating`) with ``gate_threshold``.
    gate_norm_factor : float (default: 0.0, no norm rule)
        κ, 0 or at least 1: a gated task leaves out, before scoring, each participant whose update's
        L2 norm exceeds κ times the round's median (:func:`fl_node.hfl.gating.norm_outliers`).
    dp_clip : float (default: 0.0, no differential privacy)
        Client-level DP: each node clips its unweighted update to this L2 norm and weighs it ``1/n``.
    dp_noise_multiplier : float (default: 0.0)
        σ: the Gaussian noise in the sum of the ``n`` weighted updates has standard deviation
        ``σ * dp_clip / n``, each node adding its share (see :mod:`fl_node.privacy`).
    dp_delta : float (default: 0.0)
        The δ the task's ε is accounted at.
    dp_sgd_clip : float (default: 0.0, no DP-SGD)
        Record-level DP: each node trains by DP-SGD, clipping each record's gradient to this L2 norm
        (see :mod:`fl_node.dp_sgd`).
    dp_sgd_noise_multiplier : float (default: 0.0)
        σ of DP-SGD: the noise on each batch's gradient sum has standard deviation ``σ * dp_sgd_clip``.
    dp_sgd_delta : float (default: 0.0)
        The δ each node's record-level ε is accounted at.
    """

    model: ModelConfig
    train: TrainConfig
    encrypt: bool
    codec: CodecConfig
    public_key: bytes
    sample_counts: Mapping[str, int]
    scorer: str = "gtg"
    utility: str = "loss"
    seed: int = 0
    min_participants: int = MIN_COHORT
    features: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    standardization: Standardization | None = None
    aggregation: str = "fedavg"
    gate_threshold: float = 0.0
    gate_memory: float = 0.0
    gate_norm_factor: float = 0.0
    dp_clip: float = 0.0
    dp_noise_multiplier: float = 0.0
    dp_delta: float = 0.0
    dp_sgd_clip: float = 0.0
    dp_sgd_noise_multiplier: float = 0.0
    dp_sgd_delta: float = 0.0
    key_bits: int = 2048

    def __post_init__(self) -> None:
        if self.utility not in UTILITIES:
            raise FlNodeError(f"unknown utility {self.utility!r}; choose one of {', '.join(UTILITIES)}")
        if self.aggregation not in AGGREGATIONS:
            raise FlNodeError(f"unknown aggregation {self.aggregation!r}; choose one of {', '.join(AGGREGATIONS)}")
        if not 0 <= self.gate_memory <= 1:
            raise FlNodeError(f"gate memory must be in [0, 1], got {self.gate_memory}")
        if not valid_norm_factor(self.gate_norm_factor):
            raise FlNodeError(f"gate norm factor must be 0 (off) or a finite number of at least 1, got {self.gate_norm_factor}")
        if self.dp_clip < 0 or self.dp_noise_multiplier < 0 or not 0 <= self.dp_delta < 1:
            raise FlNodeError(
                f"DP clip and noise multiplier must be non-negative and delta in [0, 1), got "
                f"{self.dp_clip}, {self.dp_noise_multiplier}, {self.dp_delta}"
            )
        if self.dp_sgd_clip < 0 or self.dp_sgd_noise_multiplier < 0 or not 0 <= self.dp_sgd_delta < 1:
            raise FlNodeError(
                f"DP-SGD clip and noise multiplier must be non-negative and delta in [0, 1), got "
                f"{self.dp_sgd_clip}, {self.dp_sgd_noise_multiplier}, {self.dp_sgd_delta}"
            )
        if self.dp_sgd_clip > 0 and self.train.prox_mu > 0:
            raise FlNodeError("DP-SGD cannot train with a FedProx term: its gradient is not clipped per record")
        make_scorer(self.scorer)
        if self.min_participants < MIN_COHORT:
            raise FlNodeError(f"min_participants must be at least the minimum cohort {MIN_COHORT}, got {self.min_participants}")
        if self.encrypt:
            if self.key_bits < MIN_KEY_BITS:
                raise FlNodeError(f"key_bits must be at least {MIN_KEY_BITS}, got {self.key_bits}")
            check_public_key_bits(public_key_from_bytes(self.public_key), self.key_bits, who="the spec's public key")

    @property
    def n_params(self) -> int:
        return n_parameters(self.model.build())

    def paillier_public_key(self) -> PaillierPublicKey:
        """The key holder's public key; plaintext federations have none."""
        if not self.encrypt:
            raise FlNodeError("a plaintext federation has no public key")
        return public_key_from_bytes(self.public_key)

    def scheme(self) -> PlainUpdates | EncryptedUpdates:
        """The public update scheme every participant and the aggregator use."""
        if self.encrypt:
            return EncryptedUpdates(self.paillier_public_key(), self.n_params, self.codec)
        return PlainUpdates(self.n_params, self.codec.clip)

    def key_holder(self, private_key: PaillierPrivateKey | Custody | None) -> KeyHolder:
        """The key holder of this federation: decrypts sums with ``private_key`` (None for plaintext runs).

        A :class:`~fl_node.hfl.keyholder.Custody` in place of the private key gives a threshold key holder.
        """
        if self.encrypt and private_key is None:
            raise FlNodeError("an encrypted federation needs the key holder's private key")
        if isinstance(private_key, Custody):
            if not self.encrypt:
                raise FlNodeError("a plaintext federation has no key custodians")
            return private_key.key_holder(self.codec)
        return KeyHolder(EncryptedSums(private_key, self.codec) if self.encrypt else PlainSums())

    def client_dp(self) -> ClientDp | None:
        """What each node does under the task's client-level DP (None without)."""
        if self.dp_clip <= 0:
            return None
        return ClientDp(self.dp_clip, self.dp_noise_multiplier)

    def record_dp(self) -> RecordDp | None:
        """How each node trains under the task's DP-SGD (None without)."""
        if self.dp_sgd_clip <= 0:
            return None
        return RecordDp(self.dp_sgd_clip, self.dp_sgd_noise_multiplier)

    def private_trainer(self) -> PrivateTrainer | None:
        """A new DP-SGD trainer for one node, its accountant at zero (None without DP-SGD); a node keeps it over the task's rounds."""
        dp = self.record_dp()
        return PrivateTrainer(dp) if dp is not None else None

    def _optional(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in OPTIONAL_DEFAULTS}

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys): the bytes whose hash goes on chain."""
        payload = {
            "model": asdict(self.model),
            "train": asdict(self.train),
            "encrypt": self.encrypt,
            "codec": asdict(self.codec),
            "public_key": self.public_key.hex(),
            "sample_counts": dict(sorted(self.sample_counts.items())),
            "scorer": self.scorer,
            "utility": self.utility,
            "seed": self.seed,
            "min_participants": self.min_participants,
            "key_bits": self.key_bits,
        }
        # only when set, so the hashes of tasks that carry none stay what they were
        if self.features:
            payload["features"] = list(self.features)
        if self.labels:
            payload["labels"] = list(self.labels)
        if self.standardization is not None:
            payload["standardization"] = self.standardization.to_json()
        # added only when set, so that the hashes of earlier tasks' specs do not change
        payload.update({name: value for name, value in self._optional().items() if value != OPTIONAL_DEFAULTS[name]})
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> FederationSpec:
        """Parse :meth:`to_bytes` output; anything else raises FlNodeError."""
        try:
            raw = json.loads(data)
            return cls(
                model=ModelConfig(**raw["model"]),
                train=TrainConfig(**raw["train"]),
                encrypt=bool(raw["encrypt"]),
                codec=CodecConfig(**raw["codec"]),
                public_key=bytes.fromhex(raw["public_key"]),
                sample_counts={str(k): int(v) for k, v in raw["sample_counts"].items()},
                scorer=str(raw["scorer"]),
                utility=str(raw["utility"]),
                seed=int(raw["seed"]),
                min_participants=int(raw["min_participants"]),
                key_bits=int(raw["key_bits"]),
                features=tuple(str(v) for v in raw.get("features", [])),
                labels=tuple(str(v) for v in raw.get("labels", [])),
                standardization=Standardization.from_json(raw["standardization"]) if "standardization" in raw else None,
                **{name: type(default)(raw.get(name, default)) for name, default in OPTIONAL_DEFAULTS.items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise FlNodeError(f"not a federation spec: {exc}") from exc


#: Spec fields written to its bytes only when they differ from these defaults.
OPTIONAL_DEFAULTS: dict[str, object] = {
    "aggregation": "fedavg", "gate_threshold": 0.0, "gate_memory": 0.0, "gate_norm_factor": 0.0, "dp_clip": 0.0, "dp_noise_multiplier": 0.0, "dp_delta": 0.0,
    "dp_sgd_clip": 0.0, "dp_sgd_noise_multiplier": 0.0, "dp_sgd_delta": 0.0,
}


def validation_to_bytes(split: ArraySplit) -> bytes:
    """Canonical bytes of the evaluator's validation split; its keccak256 is the task's validation-spec hash."""
    payload = {"X": np.asarray(split.X, dtype=np.float64).tolist(), "y": np.asarray(split.y).astype(int).tolist()}
    return json.dumps(payload, separators=(",", ":")).encode()


def validation_from_bytes(data: bytes) -> ArraySplit:
    """Inverse of :func:`validation_to_bytes`."""
    try:
        raw = json.loads(data)
        return ArraySplit(np.asarray(raw["X"], dtype=np.float64), np.asarray(raw["y"], dtype=np.int64))
    except (ValueError, KeyError, TypeError) as exc:
        raise FlNodeError(f"not a validation split: {exc}") from exc


def model_to_bytes(params: np.ndarray) -> bytes:
    """A flat model as stored: float32 little-endian, so that ``keccak(bytes) == model_hash(params)``."""
    return np.ascontiguousarray(params, dtype="<f4").tobytes()


def model_from_bytes(data: bytes) -> np.ndarray:
    """Inverse of :func:`model_to_bytes`."""
    if len(data) % 4:
        raise FlNodeError(f"a stored model has a multiple of 4 bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<f4").copy()
