"""A federation task's configuration, every command's options mapped onto one typed tree.

:class:`TaskConfig` holds what a task is (data, model, local training, codec, key custody,
scoring, rewards, rounds); the commands add only what is theirs (simulated misbehaviour,
deployment paths). :func:`build_task` turns it into the task's public
:class:`~fl_node.hfl.spec.FederationSpec`; :func:`bootstrap_ledger` deploys the ledger with its
three role accounts. :func:`to_flat` / :func:`from_flat` write any such dataclass tree as the
flat kebab-case table of a Flower run config and read it back.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pathlib import Path

from eth_account.signers.local import LocalAccount
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.codec import CodecConfig
from fl_node.crypto.keys import generate_keypair, key_fingerprint, public_key_to_bytes, save_keypair
from fl_node.errors import FlNodeError
from fl_node.hfl.spec import FederationSpec
from fl_node.models import ModelConfig
from fl_node.training import TrainConfig
from incentive.chain import Chain
from incentive.ledger import LedgerClient

TOKEN = 10**18


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is split among the nodes.

    Attributes
    ----------
    dataset : str (default: "breast_cancer")
    partition : str (default: "iid")
    nodes : int (default: 5)
    """

    dataset: str = "breast_cancer"
    partition: str = "iid"
    nodes: int = 5


@dataclass(frozen=True)
class ModelChoice:
    """The model architecture (its input and output sizes come from the data).

    Attributes
    ----------
    name : str (default: "mlp")
    hidden : int (default: 16)
    """

    name: str = "mlp"
    hidden: int = 16

    def build(self, n_features: int, n_classes: int) -> ModelConfig:
        return ModelConfig(self.name, n_features, n_classes, self.hidden)


@dataclass(frozen=True)
class CustodyConfig:
    """Who can read updates: Paillier encryption and the key holder's key size.

    Attributes
    ----------
    encrypt : bool (default: True)
    key_bits : int (default: 2048)
    """

    encrypt: bool = True
    key_bits: int = 2048


@dataclass(frozen=True)
class ScoringConfig:
    """How contributions are valued.

    Attributes
    ----------
    scorer : str (default: "gtg")
    utility : str (default: "loss")
        Negative validation loss (smooth) or validation accuracy.
    """

    scorer: str = "gtg"
    utility: str = "loss"


@dataclass(frozen=True)
class RewardConfig:
    """What a round pays and what membership costs.

    Attributes
    ----------
    reward_tokens : int (default: 100)
        Reward per round, whole tokens of 18 decimals (a run-config integer cannot hold the units).
    stake_wei : int (default: 1 ETH)
    slash_wei : int (default: 0.1 ETH)
        Slashed from a member whose blob differs from its commitment (capped at its stake).
    """

    reward_tokens: int = 100
    stake_wei: int = 10**18
    slash_wei: int = 10**17

    @property
    def reward_per_round(self) -> int:
        """Reward per round in token units."""
        return self.reward_tokens * TOKEN


@dataclass(frozen=True)
class TaskConfig:
    """One federation task; the defaults are the demo's.

    Attributes
    ----------
    data : DataConfig
    model : ModelChoice
    training : TrainConfig (default: 2 local epochs, lr 0.05, batch 16, SGD)
    codec : CodecConfig
    custody : CustodyConfig
    scoring : ScoringConfig
    rewards : RewardConfig
    rounds : int (default: 8)
    min_participants : int (default: 2)
    seed : int (default: 0)
        Seeds the data split, the initial model, local training, rounding and the scorer.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelChoice = field(default_factory=ModelChoice)
    training: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, lr=0.05, batch_size=16))
    codec: CodecConfig = field(default_factory=CodecConfig)
    custody: CustodyConfig = field(default_factory=CustodyConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    rewards: RewardConfig = field(default_factory=RewardConfig)
    rounds: int = 8
    min_participants: int = 2
    seed: int = 0

    def codec_for(self, participants: int) -> CodecConfig:
        """The codec of a task with ``participants`` members: headroom for at least all of them."""
        return dataclasses.replace(self.codec, max_participants=max(self.codec.max_participants, participants))


def build_task(
    config: TaskConfig,
    n_features: int,
    n_classes: int,
    sample_counts: Mapping[str, int],
    public_key: bytes = b"",
) -> FederationSpec:
    """The task's public spec: ``config`` for the members in ``sample_counts`` (address → sample count).

    Parameters
    ----------
    config : TaskConfig
    n_features, n_classes : int
        Of the task's data.
    sample_counts : Mapping[str, int]
    public_key : bytes (default: none)
        The key holder's Paillier public key; required when ``config.custody.encrypt``.
    """
    if config.custody.encrypt and not public_key:
        raise FlNodeError("an encrypted task needs the key holder's public key")
    return FederationSpec(
        model=config.model.build(n_features, n_classes),
        train=config.training,
        encrypt=config.custody.encrypt,
        codec=config.codec_for(len(sample_counts)),
        public_key=public_key,
        sample_counts=dict(sample_counts),
        scorer=config.scoring.scorer,
        utility=config.scoring.utility,
        seed=config.seed,
        min_participants=config.min_participants,
    )


@dataclass(frozen=True)
class KeyHolderKey:
    """A new key holder's key pair, written to its key file (empty for plaintext tasks)."""

    private_key: PaillierPrivateKey | None = None
    public_key: bytes = b""
    path: Path | None = None


def key_holder_path(keys_dir: Path, public_key: PaillierPublicKey) -> Path:
    """Where the key holder's private key of ``public_key`` lives: ``keyholder-<fingerprint>.key``."""
    return Path(keys_dir) / f"keyholder-{key_fingerprint(public_key).hex()[:12]}.key"


def new_key_holder_key(custody: CustodyConfig, keys_dir: Path) -> KeyHolderKey:
    """Generate the key holder's Paillier key pair and save it under ``keys_dir`` (nothing for plaintext tasks)."""
    if not custody.encrypt:
        return KeyHolderKey()
    public_key, private_key = generate_keypair(custody.key_bits)
    path, _ = save_keypair(key_holder_path(keys_dir, public_key), public_key, private_key)
    return KeyHolderKey(private_key, public_key_to_bytes(public_key), path)


@dataclass(frozen=True)
class LedgerRoles:
    """The deployed ledger and the accounts holding its three roles."""

    ledger: LedgerClient
    admin: LocalAccount
    aggregator: LocalAccount
    evaluator: LocalAccount


def bootstrap_ledger(chain: Chain, rewards: RewardConfig, role_funding_wei: int = 10**19) -> LedgerRoles:
    """Fund the admin, aggregator and evaluator accounts and deploy the ledger with their roles."""
    admin, aggregator, evaluator = (chain.new_account(role_funding_wei) for _ in range(3))
    ledger = LedgerClient.deploy(
        chain, admin, min_stake_wei=rewards.stake_wei, aggregator=aggregator.address, evaluator=evaluator.address
    )
    return LedgerRoles(ledger, admin, aggregator, evaluator)


# ---------------------------------------------------------------- flat run-config tables

T = TypeVar("T")


def to_flat(config: Any, prefix: str = "") -> dict[str, Any]:
    """A dataclass tree as a flat table: ``section-field`` kebab-case keys, scalar values."""
    flat: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        key = prefix + f.name.replace("_", "-")
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            flat.update(to_flat(value, key + "-"))
        else:
            flat[key] = value
    return flat


def from_flat(cls: type[T], table: Mapping[str, Any], prefix: str = "", base: Any = None) -> T:
    """Inverse of :func:`to_flat`: missing keys keep their defaults (``base``'s values, else the field
    defaults), unknown keys are ignored, values are cast to the field types."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name.replace("_", "-")
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            inner = getattr(base, f.name) if base is not None else _field_default(f)
            values[f.name] = from_flat(kind, table, key + "-", inner)
        elif key in table:
            values[f.name] = kind(table[key])
        elif base is not None:
            values[f.name] = getattr(base, f.name)
    return cls(**values)


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default
