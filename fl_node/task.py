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
import json
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pathlib import Path

from eth_account.signers.local import LocalAccount
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.codec import TASK_CODEC, CodecConfig
from fl_node.crypto.keys import generate_keypair, key_fingerprint, public_key_to_bytes, save_keypair
from fl_node.crypto.knowledge import with_degree
from fl_node.crypto.threshold import SHARE_SUFFIX, load_share, save_share, share_path, split_private_key
from fl_node.data import Standardization
from fl_node.dp_sgd import noise_multiplier_for_records
from fl_node.errors import FlNodeError
from fl_node.hfl.gating import NORM_FACTOR
from fl_node.hfl.keyholder import ThresholdCustody
from fl_node.hfl.spec import FederationSpec
from fl_node.models import ModelConfig, n_parameters
from fl_node.privacy import noise_multiplier_for
from fl_node.training import TrainConfig
from incentive.chain import Chain
from incentive.ledger import LedgerClient
from incentive.cohort import MIN_COHORT

TOKEN = 10**18

def automatic_clip(members: int, min_participants: int, dp_clip: float = 0.0, noise_multiplier: float = 0.0) -> float:
    """The codec clip of a task whose codec asks for the automatic one (clip 0).

    A node sends its weighted delta ``w_k·δ_k``; with ``members`` nodes the mean weight is
    ``1/members``, so a clip of ``1/members`` lets a node of mean size move each parameter by up
    to 1 per round, and spends the quantization range on values that occur. Under DP a node
    sends ``clip(δ_k)/n`` plus its noise share ``σ·C/(n·√n)`` for the round's ``n`` nodes
    (:mod:`fl_node.privacy`); the clip then covers the clipped value plus six standard deviations
    of the noise share at the smallest cohort, so that the codec never cuts the noise.
    """
    if dp_clip > 0:
        n = max(min(members, min_participants), 1)
        return dp_clip / n * (1 + 6 * noise_multiplier / math.sqrt(n))
    return 1 / max(members, 1)


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from, how it is split among the nodes, and which CSV columns it uses.

    Attributes
    ----------
    dataset : str (default: "breast_cancer")
        Bundled data set of a rehearsal (``demo``); a consortium's nodes bring their own CSVs.
    partition : str (default: "iid")
    nodes : int (default: 5)
    label : str (default: "label")
        Label column of the CSV files (the evaluator's validation file, the nodes' data).
    id_columns : tuple[str, ...] (default: none)
        Record identifiers: never features.
    drop : tuple[str, ...] (default: none)
        Other columns left out of the features.
    labels : tuple[str, ...] (default: none)
        The label list of a consortium task: class ``k`` is ``labels[k]``; none: the sorted
        distinct labels of the validation file and the nodes.
    standardize : bool (default: True)
        A consortium task publishes the federated mean and deviation of the nodes' raw
        features in its spec, and every node standardizes with them.
    """

    dataset: str = "breast_cancer"
    partition: str = "iid"
    nodes: int = 5
    label: str = "label"
    id_columns: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    standardize: bool = True


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
    custodians : int (default: 0)
        N key custodians for threshold custody; 0: one key holder holds the whole key.
    threshold : int (default: 0)
        t custodians needed to decrypt (threshold custody only).
    """

    encrypt: bool = True
    key_bits: int = 2048
    custodians: int = 0
    threshold: int = 0

    def __post_init__(self) -> None:
        if self.custodians or self.threshold:
            if not self.encrypt:
                raise FlNodeError("threshold key custody needs encrypted updates")
            if self.custodians < 2 or not 1 <= self.threshold <= self.custodians:
                raise FlNodeError(f"threshold custody needs 2+ custodians and 1 <= t <= N, got {self.threshold}-of-{self.custodians}")

    @property
    def threshold_custody(self) -> bool:
        """True when t of N custodians hold shares instead of one key holder holding the key."""
        return self.custodians > 0

    @classmethod
    def parse(cls, key_custody: str, encrypt: bool = True, key_bits: int = 2048) -> CustodyConfig:
        """From ``"single"`` or ``"threshold:T-of-N"`` (the ``--key-custody`` flag)."""
        if key_custody == "single":
            return cls(encrypt, key_bits)
        kind, _, counts = key_custody.partition(":")
        t, _, n = counts.partition("-of-")
        if kind != "threshold" or not (t.isdigit() and n.isdigit()):
            raise FlNodeError(f"key custody must be 'single' or 'threshold:T-of-N', got {key_custody!r}")
        return cls(encrypt, key_bits, int(n), int(t))


@dataclass(frozen=True)
class ScoringConfig:
    """How contributions are valued.

    Attributes
    ----------
    scorer : str (default: "gtg")
    utility : str (default: "loss")
        Negative validation loss (smooth) or validation accuracy.
    aggregation : str (default: "fedavg")
        ``gated``: each round leaves out participants whose reputation is at or below ``gate_threshold``.
    gate_threshold : float (default: 0.0)
    gate_memory : float (default: 0.0, this round's score alone)
        γ of the reputation ``γ R_(t-1) + s_t`` gated on (:mod:`fl_node.hfl.gating`); 1: the cumulative score.
    gate_norm_factor : float (default: :data:`~fl_node.hfl.gating.NORM_FACTOR`)
        κ: ``gated`` also leaves out, before scoring, each update whose L2 norm exceeds κ times the
        round's median (:func:`fl_node.hfl.gating.norm_outliers`); 0 turns this off.
    """

    scorer: str = "gtg"
    utility: str = "loss"
    aggregation: str = "fedavg"
    gate_threshold: float = 0.0
    gate_memory: float = 0.0
    gate_norm_factor: float = NORM_FACTOR


@dataclass(frozen=True)
class PrivacyConfig:
    """Client-level differential privacy of the task (:mod:`fl_node.privacy`).

    Attributes
    ----------
    epsilon : float (default: 0.0, no DP)
        Privacy budget over all the task's rounds; the noise multiplier is calibrated to it.
    delta : float (default: 1e-5)
    clip : float (default: 1.0)
        L2 bound of each node's unweighted update.
    sgd_epsilon : float (default: 0.0, no DP-SGD)
        Record-level budget of each node over all the task's rounds, at ``delta``: the nodes train by
        DP-SGD (:mod:`fl_node.dp_sgd`) with the noise multiplier calibrated to it.
    sgd_clip : float (default: 1.0)
        L2 bound of each record's gradient under DP-SGD.
    """

    epsilon: float = 0.0
    delta: float = 1e-5
    clip: float = 1.0
    sgd_epsilon: float = 0.0
    sgd_clip: float = 1.0


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
    privacy : PrivacyConfig
    rounds : int (default: 8)
    patience : int (default: 0, off)
        Stop after this many rounds without a better validation metric than the best round's,
        whose model is the one released.
    min_participants : int (default: 3)
        Usable submissions a round needs; at least the ledger's minimum cohort (3).
    seed : int (default: 0)
        Seeds the data split, the initial model, local training, rounding and the scorer.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelChoice = field(default_factory=ModelChoice)
    training: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=2, lr=0.05, batch_size=16))
    codec: CodecConfig = TASK_CODEC
    custody: CustodyConfig = field(default_factory=CustodyConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    rewards: RewardConfig = field(default_factory=RewardConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    rounds: int = 8
    patience: int = 0
    min_participants: int = MIN_COHORT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_participants < MIN_COHORT:
            raise FlNodeError(f"min_participants must be at least the minimum cohort {MIN_COHORT}, got {self.min_participants}")

    def codec_for(self, participants: int, n_params: int, noise_multiplier: float = 0.0) -> CodecConfig:
        """The codec of a task with ``participants`` members and a model of ``n_params`` parameters: headroom for at least all members.

        An automatic clip (0) is set by :func:`automatic_clip`, with the DP noise multiplier
        ``noise_multiplier`` the task's budget calibrates (0 without DP); an automatic degree (0)
        by :func:`~fl_node.crypto.knowledge.with_degree`. Under threshold custody the
        degree is 1, the only one the custodians' shares decrypt (:func:`threshold_custody`).
        """
        codec = dataclasses.replace(self.codec, max_participants=max(self.codec.max_participants, participants))
        if codec.clip == 0:
            dp_clip = self.privacy.clip if self.privacy.epsilon > 0 else 0.0
            codec = dataclasses.replace(codec, clip=automatic_clip(participants, self.min_participants, dp_clip, noise_multiplier))
        if self.custody.threshold_custody:
            return dataclasses.replace(codec, degree=1)
        return with_degree(codec, self.custody.key_bits, n_params)


def build_task(
    config: TaskConfig,
    n_features: int,
    n_classes: int,
    sample_counts: Mapping[str, int],
    public_key: bytes = b"",
    *,
    features: Sequence[str] = (),
    labels: Sequence[str] = (),
    standardization: Standardization | None = None,
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
    features, labels, standardization : (default: none)
        The feature columns, label list and federated standardization of a consortium task.
    """
    if config.custody.encrypt and not public_key:
        raise FlNodeError("an encrypted task needs the key holder's public key")
    dp = config.privacy
    if dp.epsilon > 0 and dp.clip <= 0:
        raise FlNodeError(f"DP needs a positive clip norm, got {dp.clip}")
    sigma = noise_multiplier_for(dp.epsilon, dp.delta, config.rounds) if dp.epsilon > 0 else 0.0
    if dp.sgd_epsilon > 0 and dp.sgd_clip <= 0:
        raise FlNodeError(f"DP-SGD needs a positive clip norm, got {dp.sgd_clip}")
    sgd_sigma = 0.0
    if dp.sgd_epsilon > 0:
        train = config.training
        sgd_sigma = noise_multiplier_for_records(dp.sgd_epsilon, dp.delta, sample_counts.values(), train.batch_size, train.epochs, config.rounds)
    model = config.model.build(n_features, n_classes)
    return FederationSpec(
        model=model,
        train=config.training,
        encrypt=config.custody.encrypt,
        codec=config.codec_for(len(sample_counts), n_parameters(model.build()), sigma),
        public_key=public_key,
        sample_counts=dict(sample_counts),
        scorer=config.scoring.scorer,
        utility=config.scoring.utility,
        seed=config.seed,
        min_participants=config.min_participants,
        features=tuple(features),
        labels=tuple(labels),
        standardization=standardization,
        aggregation=config.scoring.aggregation,
        gate_threshold=config.scoring.gate_threshold,
        gate_memory=config.scoring.gate_memory if config.scoring.aggregation == "gated" else 0.0,
        gate_norm_factor=config.scoring.gate_norm_factor if config.scoring.aggregation == "gated" else 0.0,
        dp_clip=dp.clip if dp.epsilon > 0 else 0.0,
        dp_noise_multiplier=sigma,
        dp_delta=dp.delta if dp.epsilon > 0 else 0.0,
        dp_sgd_clip=dp.sgd_clip if dp.sgd_epsilon > 0 else 0.0,
        dp_sgd_noise_multiplier=sgd_sigma,
        dp_sgd_delta=dp.delta if dp.sgd_epsilon > 0 else 0.0,
        key_bits=config.custody.key_bits,
    )


SHARE_PASSPHRASE = "fedledger-demo"
"""Passphrase of the demo's share files (a consortium node uses its own, like its keystore's)."""


@dataclass(frozen=True)
class KeyHolderKey:
    """A new key holder's key pair, written to its key file (empty for plaintext tasks)."""

    private_key: PaillierPrivateKey | None = None
    public_key: bytes = b""
    path: Path | None = None


def key_holder_path(keys_dir: Path, public_key: PaillierPublicKey) -> Path:
    """Where the key holder's private key of ``public_key`` lives: ``keyholder-<fingerprint>.key``."""
    return Path(keys_dir) / f"keyholder-{key_fingerprint(public_key).hex()[:12]}.key"


def threshold_custody(custody: CustodyConfig, keys_dir: Path, key_shares: Path | None = None, passphrase: str = SHARE_PASSPHRASE, names: Mapping[int, str] | None = None) -> ThresholdCustody:
    """The custodians' shares: read from ``key_shares``, else a fresh key split by a trusted dealer.

    A dealt key is generated, split into ``custody.custodians`` shares sealed under
    ``keys_dir/shares`` and dropped; pre-generated shares (``fedledger custody keygen``,
    distributed) must match ``custody``'s t-of-N. Both decrypt Damgård–Jurik degree 1 only, so
    a threshold task's codec uses degree 1 (:meth:`TaskConfig.codec_for`).
    """
    if key_shares is not None:
        paths = sorted(Path(key_shares).glob(f"custodian-*{SHARE_SUFFIX}"))
        if not paths:
            raise FlNodeError(f"no share files (custodian-*{SHARE_SUFFIX}) in {key_shares}")
        shares = tuple(sorted((load_share(path, passphrase) for path in paths), key=lambda s: s.index))
        public = shares[0].public
        if (public.threshold, public.custodians) != (custody.threshold, custody.custodians):
            raise FlNodeError(f"shares in {key_shares} are {public.threshold}-of-{public.custodians}, the task asks for {custody.threshold}-of-{custody.custodians}")
        if any(share.public != public for share in shares) or len({s.index for s in shares}) != len(shares):
            raise FlNodeError(f"share files in {key_shares} belong to different keys or repeat a custodian")
    else:
        _, private_key = generate_keypair(custody.key_bits)
        shares = tuple(split_private_key(private_key, custody.custodians, custody.threshold))
        del private_key
        for share in shares:
            save_share(share_path(Path(keys_dir) / "shares", share.index), share, passphrase)
    return ThresholdCustody(shares, dict(names or {}))


def new_key_holder_key(custody: CustodyConfig, keys_dir: Path) -> KeyHolderKey:
    """Generate the key holder's Paillier key pair and save it under ``keys_dir`` (nothing for plaintext tasks)."""
    if not custody.encrypt:
        return KeyHolderKey()
    public_key, private_key = generate_keypair(custody.key_bits)
    path, _ = save_keypair(key_holder_path(keys_dir, public_key), public_key, private_key)
    return KeyHolderKey(private_key, public_key_to_bytes(public_key), path)


@dataclass(frozen=True)
class LedgerRoles:
    """The deployed ledger, the accounts holding its three roles, and the parties' own keys where given.

    ``parties`` maps a multi-party run's party name (``guest``, ``host``, ``source``, ``target``…)
    to the funded key it joins and commits with; a party without one gets a fresh key funded by
    the chain's development account.
    """

    ledger: LedgerClient
    admin: LocalAccount
    aggregator: LocalAccount
    evaluator: LocalAccount
    parties: Mapping[str, LocalAccount] = field(default_factory=dict)


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
    """A dataclass tree as a flat table: ``section-field`` kebab-case keys, scalar values.

    A tuple becomes its JSON list as a string (a run config holds scalars only).
    """
    flat: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        key = prefix + f.name.replace("_", "-")
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            flat.update(to_flat(value, key + "-"))
        elif isinstance(value, tuple):
            flat[key] = json.dumps(list(value))
        else:
            flat[key] = value
    return flat


def from_flat(cls: type[T], table: Mapping[str, Any], prefix: str = "", base: Any = None) -> T:
    """Inverse of :func:`to_flat`: missing keys keep their defaults (``base``'s values, else the field
    defaults), unknown keys are ignored, values are read as the field types (:func:`flat_value`).

    Raises
    ------
    FlNodeError
        A value of the wrong type (naming its key), or values the configuration refuses.
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name.replace("_", "-")
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            inner = getattr(base, f.name) if base is not None else _field_default(f)
            values[f.name] = from_flat(kind, table, key + "-", inner)
        elif key in table:
            values[f.name] = flat_value(kind, key, table[key])
        elif base is not None:
            values[f.name] = getattr(base, f.name)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise FlNodeError(f"{prefix.rstrip('-') or cls.__name__}: {exc}") from None


def flat_value(kind: type, key: str, value: Any) -> Any:
    """``value`` as a ``kind`` (bool, int, float, str or ``tuple[str, ...]``) without loss: ``"true"``/``1``
    are booleans, ``3.0`` and ``"3"`` integers, a tuple is read from :func:`to_flat`'s JSON list (or a
    list); anything else (``3.5`` for an int, ``"no"`` read as truth, None) is a :class:`FlNodeError`
    naming ``key``."""
    wrong = FlNodeError(f"{key} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__} {str(value)[:40]!r}")
    if typing.get_origin(kind) is tuple:
        try:
            items = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            raise wrong from None
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise wrong
        return tuple(items)
    if kind is bool:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise wrong
    if kind is int:
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise wrong
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise wrong from None
        raise wrong
    if kind is str and isinstance(value, str):
        return value
    if kind is not str and isinstance(value, kind):
        return value
    raise wrong


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default
