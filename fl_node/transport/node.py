"""A node operator's side of consortium mode: membership on the ledger, local data, one round's training.

:class:`NodeRuntime` answers what the ClientApp forwards (through :mod:`fl_node.transport.worker`):
``info`` (address and sample count, for the task's spec) and ``train`` (a round plan). Before
training it checks the plan against the ledger, so a rogue aggregator cannot make a node train
on another model or encrypt under another key: the spec's keccak256 must be the task's
model-spec hash, and the global model's hash the round's recorded global-model hash. It then
trains and commits with :class:`~fl_node.hfl.node.LedgerNode`, the same code as the
in-process federation.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak

from fl_node.dp_sgd import PrivateTrainer
from fl_node.data import ArraySplit, Dataset, FeatureStats, check_feature_columns, load_csv, map_labels
from fl_node.crypto.keys import read_passphrase_file
from fl_node.crypto.threshold import load_share
from fl_node.errors import DataError, DecryptionRefused, MembershipRefused, PlanRejected
from fl_node.hfl.envelope import ledger_binding
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.spec import FederationSpec, model_from_bytes
from fl_node.hfl.participant import Participant, RoundPlan
from fl_node.models import model_hash
from fl_node.transport.clientapp_runner import ClientAppRunner, write_superexec_secret
from fl_node.task import SHARE_PASSPHRASE
from fl_node.transport.custodian import NodeCustodian, partials_to_json
from fl_node.transport.deployment import DEFAULT_POLL_INTERVAL_S, flower_env, supernode_command
from fl_node.transport.keystore import load_account
from fl_node.transport.processes import LOOPBACK, ManagedProcess, free_port, log_to_file, start_process
from fl_node.transport.worker import WORKER_SOCKET, NodeWorker
from fl_node.transport.tls import auth_key_hash, ensure_auth_keypair, load_auth_public_key, require_ca_certificate
from incentive.chain import connect
from incentive.ledger import LedgerClient, MemberStatus, RoundStatus, to_bytes32

log = logging.getLogger(__name__)

#: How long a node keeps restarting a SuperNode whose key is not registered yet, and how often.
ADMISSION_WAIT_S = 120.0
ADMISSION_RETRY_S = 2.0
#: Exit code reported when the SuperLink never admitted the node's key (Flower's own: 305).
EXIT_NOT_ADMITTED = 305


def load_node_data(path: Path, label: str, id_columns: Sequence[str] = (), drop: Sequence[str] = ()) -> ArraySplit:
    """A node's training data from a CSV file; integer labels keep their value as the class index.

    Labels that are not all integers are numbered in sorted order; ``id_columns`` and ``drop``
    are left out of the features (see :func:`fl_node.data.load_csv`).
    """
    return node_split(load_csv(path, label, id_columns=id_columns, drop=drop), path)


def node_split(dataset: Dataset, path: Path | str) -> ArraySplit:
    """:func:`load_node_data` of a loaded CSV: the features as float32, integer labels as their own index."""
    try:
        values = [int(float(name)) for name in dataset.class_names]
        exact = all(float(v) == float(name) for v, name in zip(values, dataset.class_names))
    except ValueError:
        exact = False
    y = np.asarray(values, dtype=np.int64)[dataset.y] if exact else dataset.y
    if exact and min(values) < 0:
        raise DataError(f"{path}: integer labels must be class indices 0, 1, …; got {min(values)}")
    return ArraySplit(dataset.X.astype(np.float32), y.astype(np.int64))


def node_seed(address: str) -> int:
    """The default training seed of a node: derived from its address (stable across restarts)."""
    return int.from_bytes(keccak(bytes.fromhex(address[2:]))[:4], "big")


def require_active_member(ledger: LedgerClient, address: str) -> None:
    """Raise MembershipRefused unless ``address`` may commit: the ledger's own rule, checked up front.

    An active member commits with at least the minimum stake, or without one when the admin
    admitted it without a stake (``stake_exempt``); a member that asked to leave commits no more.
    """
    member = ledger.member(address)
    if member.status == MemberStatus.NONE:
        raise MembershipRefused(f"{address} is not a member of the ledger at {ledger.address}")
    if member.status == MemberStatus.PENDING:
        raise MembershipRefused(f"{address} asked to join but the ledger's admin has not admitted it yet")
    if member.status == MemberStatus.LEFT:
        raise MembershipRefused(f"{address} left the consortium; join again with a new stake")
    if member.status == MemberStatus.LEAVING:
        raise MembershipRefused(f"{address} asked to leave the consortium; its stake is unbonding")
    minimum = ledger.min_stake()
    if not member.may_commit(minimum):
        raise MembershipRefused(
            f"{address}'s stake {member.stake} wei is below the ledger's minimum {minimum} wei "
            "(slashed, or the minimum rose): top it up before taking part"
        )


def ensure_member(ledger: LedgerClient, account: LocalAccount, name: str, node_key_hash: bytes, stake_wei: int) -> bool:
    """Join with ``stake_wei`` when ``account`` is not yet a member; returns whether it joined now.

    Raises
    ------
    MembershipRefused
        Pending, left, or slashed below the minimum stake (see :func:`require_active_member`),
        or a stake below the minimum.
    """
    status = ledger.member(account.address).status
    joined = False
    if status == MemberStatus.NONE:
        minimum = ledger.min_stake()
        if stake_wei < minimum:
            raise MembershipRefused(f"a stake of {stake_wei} wei is below the ledger's minimum {minimum} wei")
        ledger.join(account, name, node_key_hash, stake_wei=stake_wei)
        joined = True
    require_active_member(ledger, account.address)
    return joined


@dataclass
class NodeRuntime:
    """One node: its key, its ledger connection and its data.

    Attributes
    ----------
    name : str
    account : LocalAccount
        Signs the node's commitments.
    ledger : LedgerClient
    data : ArraySplit
        The data of a task whose spec names no columns, label list or standardization.
    seed : int
        With the round id, seeds local training and rounding (same role as in the in-process demo).
    table : Dataset | None (default: None)
        The raw CSV (feature names, label values as written): a task whose spec names its
        columns, label list and standardization gets its data from this.
    custodian : NodeCustodian | None (default: None)
        This node's key custodian under threshold custody (its share stays in this process).
    """

    name: str
    account: LocalAccount
    ledger: LedgerClient
    data: ArraySplit
    seed: int
    table: Dataset | None = None
    custodian: NodeCustodian | None = None
    _specs: dict[bytes, FederationSpec] = field(default_factory=dict, repr=False)
    _schemes: dict[bytes, Any] = field(default_factory=dict, repr=False)
    _data: dict[bytes, ArraySplit] = field(default_factory=dict, repr=False)
    _trainers: dict[bytes, PrivateTrainer | None] = field(default_factory=dict, repr=False)

    @property
    def address(self) -> str:
        return self.account.address

    def info(self) -> dict[str, Any]:
        """What the aggregator needs to put this node in a task's spec.

        With the raw CSV also its feature columns, its label values and, for the federated
        standardization, its count, per-feature sums and sums of squares (JSON texts; no rows).
        """
        info: dict[str, Any] = {
            "address": self.address,
            "name": self.name,
            "n-samples": len(self.data),
            "n-features": int(self.data.X.shape[1]),
            "labels": sorted(int(v) for v in np.unique(self.data.y)),
        }
        if self.custodian is not None:
            info.update(self.custodian.info())
        if self.table is not None:
            info["features"] = json.dumps(list(self.table.feature_names))
            info["classes"] = json.dumps([self.table.class_names[k] for k in np.unique(self.table.y)])
            info["stats"] = json.dumps(FeatureStats.of(self.table.X).to_json())
        return info

    def _task_data(self, task_id: int, spec: FederationSpec) -> ArraySplit:
        """This node's data as ``spec`` asks: its columns checked, labels mapped, features standardized."""
        if not (spec.features or spec.labels or spec.standardization):
            return self.data
        if self.table is None:
            raise PlanRejected(f"task {task_id} names its columns and label list; this node holds no raw CSV")
        table = self.table
        try:
            if spec.features:
                check_feature_columns(table.name, table.feature_names, spec.features)
            y = map_labels(table.name, [table.class_names[k] for k in table.y], spec.labels) if spec.labels else self.data.y
            X = spec.standardization.apply(table.X) if spec.standardization is not None else table.X.astype(np.float32)
        except DataError as exc:
            raise PlanRejected(f"task {task_id}: {exc}") from exc
        return ArraySplit(X, y)

    def spec_for(self, task_id: int, spec_bytes: bytes) -> FederationSpec:
        """The task's spec, after checking its hash against the ledger (PlanRejected otherwise)."""
        digest = keccak(spec_bytes)
        if digest not in self._specs:
            expected = to_bytes32(self.ledger.task(task_id).model_spec_hash)
            if digest != expected:
                raise PlanRejected(f"task {task_id}: the spec sent has hash 0x{digest.hex()}, the ledger records 0x{expected.hex()}")
            spec = FederationSpec.from_bytes(spec_bytes)
            data = self._task_data(task_id, spec)
            if spec.model.n_features != data.X.shape[1]:
                raise PlanRejected(f"task {task_id} expects {spec.model.n_features} features, this node's data has {data.X.shape[1]}")
            if int(data.y.max()) >= spec.model.n_classes:
                raise PlanRejected(f"task {task_id} has {spec.model.n_classes} classes, this node's labels go up to {int(data.y.max())}")
            self._specs[digest] = spec
            self._data[digest] = data
            self._schemes[digest] = spec.scheme()
            self._trainers[digest] = spec.private_trainer()
        return self._specs[digest]

    def train(self, header: dict[str, Any], binary: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Check the plan against the ledger, train, commit with this node's key; reply with the blob."""
        start = time.perf_counter()
        task_id, round_id = int(header["task"]), int(header["round"])
        spec = self.spec_for(task_id, binary["spec"])
        params = model_from_bytes(binary["params"])
        record = self.ledger.round(round_id)
        if record.task_id != task_id or record.status != RoundStatus.OPEN:
            raise PlanRejected(f"round {round_id} is not an open round of task {task_id}")
        if "0x" + model_hash(params).hex() != record.global_model_hash:
            raise PlanRejected(f"round {round_id}: the global model sent is not the one the ledger records")
        require_active_member(self.ledger, self.address)
        sample_counts = {str(k): int(v) for k, v in json.loads(header["sample-counts"]).items()}
        digest = keccak(binary["spec"])
        data = self._data[digest]
        participant = Participant(
            self.address, data, spec.model.factory(), spec.train, self._schemes[digest], seed=self.seed,
            privacy=spec.client_dp(), private_training=self._trainers[digest], secret_noise=True,
        )
        submission = LedgerNode(self.name, participant, self.account, self.ledger).submit(
            RoundPlan(round_id, params, sample_counts, *ledger_binding(self.ledger), task_id)
        )
        log.info(
            "round %d: trained on %d samples and committed 0x%s in %.2f s",
            round_id, len(data), submission.blob_hash.hex(), time.perf_counter() - start,
        )
        if (trainer := self._trainers[digest]) is not None:
            log.info("task %d: DP-SGD has spent record-level epsilon %.3f at delta %g", task_id, trainer.epsilon_spent(spec.dp_sgd_delta), spec.dp_sgd_delta)
        reply = {
            "address": self.address,
            "n-samples": submission.n_samples,
            "clipped": submission.clipped,
            "train-loss": submission.train_loss,
        }
        return reply, {"blob": submission.blob}

    def decrypt(self, header: dict[str, Any], binary: dict[str, bytes]) -> dict[str, Any]:
        """This node's custodian's partial decryptions of a batch of recorded sums (DecryptionRefused otherwise)."""
        if self.custodian is None:
            raise DecryptionRefused(f"{self.name} holds no key share")
        task_id = int(header["task"])
        spec = self.spec_for(task_id, binary["spec"])
        sums = [binary[f"sum-{i}"] for i in range(sum(name.startswith("sum-") for name in binary))]
        blobs = [value for name, value in binary.items() if name.startswith("blob-")]
        partials = self.custodian.answer(task_id, spec, json.loads(header["requests"]), sums, blobs)
        log.info("task %d: answered %d partial decryptions as custodian %d", task_id, len(partials), self.custodian.share.index)
        return {"partials": partials_to_json(partials)}


# ---------------------------------------------------------------- the operator's process


@dataclass(frozen=True)
class NodeConfig:
    """``fedledger node join``: who the node is, where its data is, where the consortium is.

    Attributes
    ----------
    superlink : str
        The consortium's SuperLink, ``HOST:PORT``.
    rpc : str
    ledger : str
    key : Path
        The node's keystore (or hex key file).
    data : Path
        Training data, CSV with a header row.
    label : str
        Label column of ``data``.
    name : str (default: "")
        Display name on the ledger (default: ``node-`` and the address's first hex digits).
    stake_wei : int (default: 10**18)
        Stake sent when joining (at least the ledger's minimum).
    seed : int | None (default: derived from the address)
    work_dir : Path (default: ``.fedledger-node``)
        Logs and Flower's home.
    runtime_port : int (default: a free port)
        The SuperNode's own Runtime API port (loopback).
    chain_id : int | None (default: any)
        Refuse to work unless the chain at ``rpc`` has this id.
    root_cert : Path | None (default: None, plaintext)
        The consortium CA: the SuperNode talks TLS to a SuperLink with a certificate it issued.
    auth_key : Path | None (default: ``auth-key`` in ``work_dir``)
        SuperNode authentication key; its hash is the ``nodeKeyHash`` recorded when joining.
    id_columns, drop : tuple[str, ...] (default: none)
        Columns of ``data`` that are not features.
    isolation : str (default: "process")
        ``process``: this process runs the ClientApp for every message (one long-lived runner);
        ``subprocess``: the SuperNode starts a fresh ``flwr-clientapp`` per message.
    key_share : Path | None (default: None)
        This node's sealed key share (threshold custody): the node is that key custodian.
    share_passphrase_file : Path | None (default: None)
        File holding the share's passphrase (default: the one ``custody keygen`` uses by default).
    poll_interval_s : float (default: :data:`~fl_node.transport.deployment.DEFAULT_POLL_INTERVAL_S`)
        The longest the SuperNode waits between pulls from the SuperLink and between checks for
        its ClientApp's reply (Flower: 3 s and 0.5 s), and how often the ClientApp runner asks for a task.
    """

    superlink: str
    rpc: str
    ledger: str
    key: Path
    data: Path
    label: str
    name: str = ""
    stake_wei: int = 10**18
    seed: int | None = None
    work_dir: Path = Path(".fedledger-node")
    runtime_port: int = 0
    chain_id: int | None = None
    root_cert: Path | None = None
    auth_key: Path | None = None
    id_columns: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    isolation: str = "process"
    key_share: Path | None = None
    share_passphrase_file: Path | None = None
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S

    @property
    def auth_key_path(self) -> Path:
        """The SuperNode authentication key (default: ``auth-key`` in the work folder, made on first use)."""
        return self.auth_key or self.work_dir / "auth-key"


@dataclass(frozen=True)
class NodeStart:
    """What ``node join`` did before it started serving."""

    address: str
    name: str
    joined: bool
    n_samples: int
    stake_wei: int


def prepare_node(config: NodeConfig, passphrase: str | None = None) -> tuple[NodeRuntime, NodeStart]:
    """Open the key, join the ledger if needed (refusing non-members and slashed members), load the data."""
    account = load_account(config.key, passphrase)
    table = load_csv(config.data, config.label, id_columns=config.id_columns, drop=config.drop)
    data = node_split(table, config.data)
    if config.root_cert is not None:
        require_ca_certificate(config.root_cert)
    key_hash = auth_key_hash(load_auth_public_key(ensure_auth_keypair(config.auth_key_path).public))
    ledger = LedgerClient.at(connect(config.rpc, chain_id=config.chain_id), config.ledger)
    name = config.name or f"node-{account.address[2:10].lower()}"
    joined = ensure_member(ledger, account, name, key_hash, config.stake_wei)
    member = ledger.member(account.address)
    if to_bytes32(member.node_key_hash) != key_hash:
        raise MembershipRefused(
            f"{account.address} joined with node key hash {member.node_key_hash}; the authentication key "
            f"{config.auth_key_path} hashes to 0x{key_hash.hex()} (use the key it joined with)"
        )
    seed = config.seed if config.seed is not None else node_seed(account.address)
    custodian = None
    if config.key_share is not None:
        share_passphrase = read_passphrase_file(config.share_passphrase_file).decode() if config.share_passphrase_file else SHARE_PASSPHRASE
        custodian = NodeCustodian(load_share(config.key_share, share_passphrase), ledger)
    runtime = NodeRuntime(member.name or name, account, ledger, data, seed, table, custodian)
    return runtime, NodeStart(account.address, runtime.name, joined, len(data), member.stake)


def serve_node(runtime: NodeRuntime, config: NodeConfig, stop: Any, admission_wait_s: float = ADMISSION_WAIT_S) -> int:
    """Run the node worker and a SuperNode until ``stop`` (a threading.Event) is set or the SuperNode exits.

    The SuperNode joins this process's group, so stopping the group stops it too. A SuperNode
    whose authentication key the SuperLink has not registered yet exits at once; it is started
    again, every few seconds, for up to ``admission_wait_s`` (the consortium's operator admits a
    new member's key once its join is on chain). Returns the SuperNode's exit code (0 when
    stopped on request).
    """
    work_dir = config.work_dir.resolve()
    log_to_file(work_dir / "node.log")
    # Unix socket paths are limited to ~100 bytes: keep the socket in a short private folder
    socket_dir = Path(tempfile.mkdtemp(prefix="fedledger-node-"))
    worker = NodeWorker(runtime, socket_dir / "worker.sock")
    worker.start()
    supernode = None
    runner = None
    secret_path = None
    deadline = time.monotonic() + admission_wait_s
    try:
        env = flower_env(work_dir / "flwr-home")
        runtime_port = config.runtime_port or free_port()
        if config.isolation == "process":
            secret_path = socket_dir / "superexec.secret"
            runner = ClientAppRunner(f"{LOOPBACK}:{runtime_port}", write_superexec_secret(secret_path), poll_s=config.poll_interval_s)
            runner.start()
        cmd = supernode_command(
            config.superlink,
            runtime_port,
            {WORKER_SOCKET: str(worker.socket_path)},
            root_cert=config.root_cert.resolve() if config.root_cert else None,
            auth_key=config.auth_key_path.resolve() if config.root_cert else None,
            superexec_secret=secret_path,
            poll_interval_s=config.poll_interval_s,
        )
        log_path = work_dir / "supernode.log"
        while True:
            offset = log_path.stat().st_size if log_path.exists() else 0
            supernode = start_process("supernode", cmd, log_path, env, new_session=False)
            refused = False
            while not stop.wait(0.5):
                # a refused SuperNode logs why, then may linger while its SuperExec shuts down
                refused = _not_admitted_yet(log_path, offset)
                if refused or not supernode.alive():
                    break
            else:
                return 0
            if refused:
                _end(supernode, grace_s=2.0)
            code = int(supernode.process.returncode or 0) or (EXIT_NOT_ADMITTED if refused else 0)
            if not (refused and time.monotonic() < deadline):
                return code
            log.info("the SuperLink has not admitted this node's authentication key yet; trying again")
            if stop.wait(ADMISSION_RETRY_S):
                return 0
    finally:
        if supernode is not None:
            _end(supernode, grace_s=10.0)
        if runner is not None:
            runner.stop()
        if secret_path is not None:
            secret_path.unlink(missing_ok=True)
        worker.stop()
        socket_dir.rmdir()


def _end(supernode: ManagedProcess, grace_s: float) -> None:
    """Terminate the SuperNode (it shares this process's group: signal it alone), kill it after ``grace_s``."""
    if not supernode.alive():
        return
    supernode.process.terminate()
    try:
        supernode.process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        supernode.process.kill()
        supernode.process.wait()


def _not_admitted_yet(log_path: Path, offset: int) -> bool:
    """Whether the SuperNode logged, past ``offset``, that its key is not registered (Flower: "Failed to activate SuperNode")."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except OSError:
        return False
    return "Failed to activate SuperNode" in text
