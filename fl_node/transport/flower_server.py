"""The aggregator's Flower ServerApp: the federation's rounds over Flower 1.42, around the coordinator.

Only the transport differs from the in-process federation: the round logic is
:meth:`fl_node.hfl.coordinator.Coordinator.run_round`; :class:`FlowerTransport` sends each
round's plan to the SuperNodes (whose ClientApp is :mod:`fl_node.transport.flower_client`)
and turns their replies into submissions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp
from phe import PaillierPrivateKey
from web3 import Web3

from fl_node.artifacts import ArtifactStore
from fl_node.crypto.keys import load_private_key, public_key_to_bytes
from fl_node.crypto.threshold import ThresholdPublicKey, load_public
from fl_node.data import ArraySplit, FeatureStats, check_feature_columns, federated_standardization, label_list, load_csv, map_labels
from fl_node.errors import ConsortiumError, DataError, FlowerMessageError, KeyMismatch, MembershipRefused
from fl_node.hfl.aggregator import Collected, Exclusion
from fl_node.hfl.coordinator import Coordinator, RoundOutcome
from fl_node.hfl.participant import RoundPlan, Submission
from fl_node.hfl.runner import RunObserver, run_federation
from fl_node.hfl.spec import FederationSpec, model_to_bytes, validation_to_bytes
from fl_node.replay import load_published
from fl_node.task import DataConfig, KeyHolderKey, TaskConfig, build_task, from_flat, key_holder_path, new_key_holder_key, to_flat
from fl_node.transport.custodian import CommittedBlobs, node_custody
from fl_node.transport.deployment import DEFAULT_POLL_INTERVAL_S
from fl_node.transport.flower_waits import shorten_grid_waits
from fl_node.transport.keystore import load_account
from fl_node.transport.node import node_split, require_active_member
from fl_node.transport.processes import log_to_file
from fl_node.transport.round_timing import CollectTiming
from fl_node.transport.tls import auth_key_hash
from incentive.atomic import write_atomic
from incentive.chain import connect
from incentive.ledger import LedgerClient, TaskCreated, to_bytes32

log = logging.getLogger(__name__)


@dataclass
class FlowerTransport:
    """Sends each round's plan to every connected SuperNode and turns the replies into submissions.

    Replies are pulled every ``poll_s``. The round waits for every node until
    ``round_timeout_s``; once ``min_participants`` submissions are in, it waits at most
    ``straggler_grace_s`` more. A node that sent nothing is a dropout, as is one whose reply
    is an error (matched by ``reply_to_message_id``) or whose SuperNode left the federation.

    Attributes
    ----------
    grid : Grid
    task_id : int
    spec_bytes : bytes
    min_participants : int
    round_timeout_s : float (default: 600.0)
    straggler_grace_s : float (default: 10.0)
    poll_s : float (default: :data:`~fl_node.transport.deployment.DEFAULT_POLL_INTERVAL_S`)
    addresses : dict[int, str]
        Node id → member address: the identity each SuperNode established when it connected,
        never a field of a reply. With a ``ledger``, a node whose authentication key (checked by
        the SuperLink) a member recorded at join is that member (:func:`authenticated_members`);
        otherwise the address it answered to :func:`query_nodes` before the first round.
        Authenticated identities are looked up once per node id (when it first takes part).
    ledger : LedgerClient | None (default: None)
        Where members' SuperNode key hashes are read (for node ids not seen before).
    timings : dict[int, CollectTiming]
        Round id → where that round's collection time went.

    A reply whose ``address`` names anyone but its node's member is refused (a dropout of that
    node's member; nobody else is touched); the blob's own header and signature are checked by
    the coordinator against the same member.
    """

    grid: Grid
    task_id: int
    spec_bytes: bytes
    min_participants: int
    round_timeout_s: float = 600.0
    straggler_grace_s: float = 10.0
    poll_s: float = DEFAULT_POLL_INTERVAL_S
    addresses: dict[int, str] = field(default_factory=dict)
    ledger: LedgerClient | None = None
    timings: dict[int, CollectTiming] = field(default_factory=dict)
    _identified: set[int] = field(default_factory=set, repr=False)

    def _plan_message(self, plan: RoundPlan, node_id: int) -> Message:
        record = ConfigRecord(
            {
                "task": self.task_id,
                "round": plan.round,
                "sample-counts": json.dumps(dict(plan.sample_counts), sort_keys=True),
                "spec": self.spec_bytes,
                "params": model_to_bytes(plan.global_params),
            }
        )
        return Message(RecordDict({"plan": record}), dst_node_id=node_id, message_type="train", ttl=self.round_timeout_s)

    def _who(self, node_id: int) -> str:
        return self.addresses.get(node_id, f"node {node_id}")

    def collect(self, plan: RoundPlan) -> Collected:
        timing = self.timings[plan.round] = CollectTiming(time.time())
        node_ids = sorted(self.grid.get_node_ids())
        if self.ledger is not None and not self._identified.issuperset(node_ids):
            # a node id's authenticated key never changes: look up only nodes not seen before
            self.addresses.update(authenticated_members(self.grid, self.ledger))
            self._identified.update(node_ids)
        newcomers = [nid for nid in node_ids if nid not in self.addresses]
        if newcomers:  # connected since the last round without an authenticated key: their identity is fixed now
            infos = node_infos(self.grid, newcomers, timeout_s=min(60.0, self.round_timeout_s))
            taken = {self.addresses[nid] for nid in node_ids if nid in self.addresses}
            for nid, info in infos.items():
                if str(info["address"]) in taken:  # a second node may not take a connected member's identity
                    log.warning("node %d claims %s, the identity of a connected node: refused", nid, info["address"])
                    continue
                self.addresses[nid] = str(info["address"])
                taken.add(str(info["address"]))
        timing.pushed = time.time()
        message_ids = list(self.grid.push_messages([self._plan_message(plan, nid) for nid in node_ids]))
        pending = dict(zip(message_ids, node_ids))
        submissions: list[Submission] = []
        dropped: list[Exclusion] = []
        start = time.monotonic()
        enough_since: float | None = None
        while pending:
            for reply in self.grid.pull_messages(list(pending)):
                node_id = pending.pop(reply.metadata.reply_to_message_id, None)
                if node_id is None:
                    continue
                log.info("round %d: reply from %s after %.2f s", plan.round, self._who(node_id), time.monotonic() - start)
                if reply.has_error():
                    dropped.append(Exclusion(self._who(node_id), f"Flower error: {reply.error.reason}"))
                    continue
                address = self._who(node_id)
                if node_id not in self.addresses:
                    dropped.append(Exclusion(address, "a SuperNode of no known member: its reply is refused"))
                    continue
                try:
                    submission = submission_from_reply(reply.content, address)
                except FlowerMessageError as exc:
                    dropped.append(Exclusion(address, f"malformed reply: {exc}"))
                    continue
                if submission.participant_id != address:
                    dropped.append(Exclusion(address, f"its reply claims to come from {submission.participant_id}: refused"))
                    continue
                if isinstance(submission, Exclusion):
                    dropped.append(submission)
                    continue
                submissions.append(submission)
                timing.add_reply(address, time.time(), reply.content["submission"].get("timing"))
            if not pending:
                break
            live = set(self.grid.get_node_ids())
            for message_id, node_id in list(pending.items()):
                if node_id not in live:
                    del pending[message_id]
                    dropped.append(Exclusion(self._who(node_id), "its SuperNode left the federation during the round"))
            now = time.monotonic()
            if len(submissions) >= self.min_participants:
                enough_since = enough_since if enough_since is not None else now
                if now - enough_since >= self.straggler_grace_s:
                    break
            if now - start >= self.round_timeout_s:
                break
            time.sleep(self.poll_s)
        waited = time.monotonic() - start
        timing.ended = time.time()
        dropped += [Exclusion(self._who(nid), f"no reply after {waited:.0f} s") for nid in pending.values()]
        heard = {s.participant_id for s in submissions} | {d.participant_id for d in dropped}
        dropped += [Exclusion(a, "no SuperNode of this member is connected") for a in plan.sample_counts if a not in heard]
        for d in dropped:
            log.warning("round %d: dropped %s: %s", plan.round, d.participant_id, d.reason)
        return Collected(tuple(submissions), tuple(dropped))


#: Largest blob a node's reply may carry (far above any model this runs: a 2048-bit key packs
#: a 1M-parameter update into about 40 MB).
MAX_BLOB_BYTES = 256 * 1024 * 1024


def submission_from_reply(content: RecordDict, who: str) -> Submission | Exclusion:
    """A node's ``submission`` record as its :class:`Submission`, or an :class:`Exclusion` naming why
    it failed (``ok`` false; the node is its address, else ``who``).

    Raises
    ------
    FlowerMessageError
        No ``submission`` ConfigRecord, an address that is not one, or a field of the wrong type or size.
    """
    record = content.get("submission")
    if not isinstance(record, ConfigRecord):
        raise FlowerMessageError(f"no submission record (records: {', '.join(sorted(content)) or 'none'})")
    address = record.get("address")
    valid = isinstance(address, str) and Web3.is_address(address)
    ok = record.get("ok")
    if ok is False:
        name = Web3.to_checksum_address(address) if valid else who
        return Exclusion(name, f"node failed: {str(record.get('error', 'no reason given'))[:300]}")
    if ok is not True:
        raise FlowerMessageError(f"ok must be a boolean, got {type(ok).__name__}")
    if not valid:
        raise FlowerMessageError(f"address {str(address)[:50]!r} is not an Ethereum address")
    blob = record.get("blob")
    if not isinstance(blob, bytes) or not 0 < len(blob) <= MAX_BLOB_BYTES:
        size = f"{len(blob)} bytes" if isinstance(blob, bytes) else type(blob).__name__
        raise FlowerMessageError(f"blob must be 1 to {MAX_BLOB_BYTES} bytes, got {size}")
    n_samples, clipped = record.get("n-samples"), record.get("clipped", 0)
    loss = record.get("train-loss", float("nan"))
    for name, value in (("n-samples", n_samples), ("clipped", clipped)):
        if not isinstance(value, int) or isinstance(value, bool) or value < (name == "n-samples"):
            raise FlowerMessageError(f"{name} must be a {'positive' if name == 'n-samples' else 'non-negative'} integer, got {str(value)[:30]!r}")
    if not isinstance(loss, (int, float)) or isinstance(loss, bool):
        raise FlowerMessageError(f"train-loss must be a number, got {type(loss).__name__}")
    return Submission(
        participant_id=Web3.to_checksum_address(address), n_samples=n_samples, blob=blob, blob_hash=keccak(blob),
        bytes_up=len(blob), clipped=clipped, train_loss=float(loss),
    )


def authenticated_members(grid: Grid, ledger: LedgerClient) -> dict[int, str]:
    """Node id → member address for each connected SuperNode whose authentication key a member recorded at join.

    The SuperLink (``--enable-supernode-auth``) admits a node only with the private half of a
    registered key, so the key it reports for a node id is that node's identity; the member is
    the one whose ``nodeKeyHash`` is the key's :func:`~fl_node.transport.tls.auth_key_hash`.
    Nodes without a reported key (no SuperNode authentication) are left out.
    """
    members = {to_bytes32(m.node_key_hash): m.address for m in ledger.members()}
    out = {}
    for info in grid.get_nodes():
        if not info.public_key:
            continue
        try:
            key = serialization.load_pem_public_key(bytes(info.public_key))
        except (ValueError, UnsupportedAlgorithm):
            continue
        if isinstance(key, ec.EllipticCurvePublicKey) and auth_key_hash(key) in members:
            out[int(info.node_id)] = members[auth_key_hash(key)]
    return out


def query_nodes(grid: Grid, expected: int, wait_s: float, poll_s: float = 0.5) -> dict[int, dict[str, Any]]:
    """Wait until ``expected`` SuperNodes are connected (at most ``wait_s``), then ask each for its info.

    Returns node id → ``{"address", "name", "n-samples", "n-features", "labels"}`` for the
    nodes that answered.
    """
    deadline = time.monotonic() + wait_s
    node_ids = sorted(grid.get_node_ids())
    while len(node_ids) < expected and time.monotonic() < deadline:
        time.sleep(poll_s)
        node_ids = sorted(grid.get_node_ids())
    log.info("%d SuperNodes connected (%d expected)", len(node_ids), expected)
    return node_infos(grid, node_ids, max(30.0, deadline - time.monotonic()))


def node_infos(grid: Grid, node_ids: list[int], timeout_s: float) -> dict[int, dict[str, Any]]:
    """Ask each of ``node_ids`` for its info; node id → ``{"address", "name", "n-samples", "n-features", "labels"}``."""
    messages = [Message(RecordDict(), dst_node_id=nid, message_type="query", ttl=timeout_s + 60) for nid in node_ids]
    replies = grid.send_and_receive(messages, timeout=timeout_s)
    infos: dict[int, dict[str, Any]] = {}
    for reply in replies:
        if reply.has_error():
            log.warning("node %d did not answer its info: %s", reply.metadata.src_node_id, reply.error.reason)
            continue
        record = reply.content["info"]
        info = {k: record[k] for k in record}
        info["labels"] = json.loads(str(record.get("labels", "[]")))
        infos[reply.metadata.src_node_id] = info
    return infos


# ====================================================================== the ServerApp


@dataclass(frozen=True)
class ServeConfig:
    """The aggregator side of one consortium federation (the ServerApp's run config, see :func:`to_flat`).

    Attributes
    ----------
    rpc : str
        JSON-RPC URL of the chain.
    ledger : str
        FederationLedger address.
    artifacts : str
        Artifact-store folder (spec, validation split, models, blobs).
    keys_dir : str
        Folder of the key holder's Paillier key (``keyholder-<fingerprint>.key``).
    aggregator_key, evaluator_key : str
        Key files (hex or keystore) of the accounts holding AGGREGATOR_ROLE and EVALUATOR_ROLE.
    admin_key : str (default: "")
        Key file of the ledger admin; needed only to create the task.
    status_file : str (default: "")
        JSON file the ServerApp keeps up to date (task id, rounds done); empty: none.
    task_id : int (default: 0)
        Task to run; 0 creates one from the connected nodes (or takes the task in ``status_file``).
    task : TaskConfig (default: 3 nodes, 3 rounds)
        The task to create; ``task.rounds`` is the number of rounds the task should have
        finalized when the run ends (resumed runs continue), ``task.data.nodes`` the SuperNodes
        to wait for before the first round.
    node_wait_s : float (default: 120.0)
    validation : str (default: "")
        The evaluator's validation CSV (task creation only; columns as in ``task.data``).
    round_timeout_s : float (default: 600.0)
    straggler_grace_s : float (default: 10.0)
    poll_s : float (default: :data:`~fl_node.transport.deployment.DEFAULT_POLL_INTERVAL_S`)
        How often the ServerApp pulls replies; also the longest wait of its Flower Grid
        (:func:`~fl_node.transport.flower_waits.shorten_grid_waits`).
    round_retries : int (default: 1)
        Times a round short of ``min_participants`` (cancelled on chain) is opened again.
    chain_id : int (default: 0, any)
        Refuse to work unless the chain at ``rpc`` has this id.
    custody_key : str (default: "", one key holder)
        Threshold custody: a file holding the custodians' threshold public key (a share file
        of ``custody keygen``; only its public part is read). The member nodes holding the
        shares (``node join --key-share``) decrypt; the coordinator holds no key.
    custody_timeout_s : float (default: 120.0)
        How long a custodian node has to answer a batch of decryption requests.
    """

    rpc: str
    ledger: str
    artifacts: str
    keys_dir: str
    aggregator_key: str
    evaluator_key: str
    admin_key: str = ""
    status_file: str = ""
    task_id: int = 0
    task: TaskConfig = field(default_factory=lambda: TaskConfig(data=DataConfig(nodes=3), rounds=3))
    node_wait_s: float = 120.0
    validation: str = ""
    round_timeout_s: float = 600.0
    straggler_grace_s: float = 10.0
    poll_s: float = DEFAULT_POLL_INTERVAL_S
    round_retries: int = 1
    chain_id: int = 0
    custody_key: str = ""
    custody_timeout_s: float = 120.0

    def to_run_config(self) -> dict[str, Any]:
        """The run-config table (kebab-case keys) for ``[tool.flwr.app.config]`` / ``--run-config``."""
        return to_flat(self)

    @classmethod
    def from_run_config(cls, run_config: Mapping[str, Any]) -> ServeConfig:
        """Inverse of :meth:`to_run_config`; unknown keys are ignored, values cast to the field types."""
        return from_flat(cls, run_config)


class Status:
    """The run's progress, kept in a JSON file the ``serve`` command reads."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None
        self.data: dict[str, Any] = {}
        if self.path is not None and self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except ValueError:
                self.data = {}

    def update(self, **values: Any) -> None:
        self.data.update(values)
        if self.path is not None:
            write_atomic(self.path, json.dumps(self.data, indent=2))


server_app = ServerApp()


@server_app.main()
def serve_main(grid: Grid, context: Context) -> None:
    """Run (or resume) the federation described by the run config."""
    config = ServeConfig.from_run_config(context.run_config)
    if config.status_file:
        log_to_file(Path(config.status_file).with_suffix(".log"))
    status = Status(config.status_file)
    try:
        shorten_grid_waits(config.poll_s)
        serve_federation(grid, config, status)
    except Exception as exc:
        status.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        raise


@dataclass
class StatusRounds(RunObserver):
    """Keeps the status file up to date: state, rounds finalized on chain, one entry per round
    (with where its collection's time went, when ``transport`` timed it)."""

    status: Status
    coordinator: Coordinator
    transport: FlowerTransport | None = None

    def on_start(self, resumed_from: int, params: np.ndarray) -> None:
        self.status.update(state="running", resumed_from=resumed_from, rounds_completed=resumed_from)

    def on_round(self, outcome: RoundOutcome) -> None:
        dropped = {d.participant_id for d in outcome.dropped}
        entry = {
            "round_id": outcome.round_id,
            "seconds": outcome.seconds,
            "accuracy": outcome.accuracy,
            "participants": sorted(a for a in outcome.scores if a not in dropped),
            "dropped": [{"participant": d.participant_id, "reason": d.reason} for d in outcome.dropped],
        }
        if self.transport is not None and outcome.round_id in self.transport.timings:
            entry["timing"] = self.transport.timings[outcome.round_id].summary()
        rounds = list(self.status.data.get("rounds", [])) + [entry]
        self.status.update(rounds=rounds, rounds_completed=len(self.coordinator.finalized_rounds()))


def serve_federation(grid: Grid, config: ServeConfig, status: Status) -> None:
    """Create or resume the task, then run rounds until ``config.rounds`` are finalized on chain."""
    torch.set_num_threads(1)  # the same arithmetic as the in-process federation, and fair to co-hosted nodes
    status.update(state="starting", error="")
    chain = connect(config.rpc, chain_id=config.chain_id or None)
    ledger = LedgerClient.at(chain, config.ledger)
    store = ArtifactStore(config.artifacts)
    aggregator = load_account(Path(config.aggregator_key))
    evaluator = load_account(Path(config.evaluator_key))
    infos = query_nodes(grid, config.task.data.nodes, config.node_wait_s)
    task_id = config.task_id or int(status.data.get("task", 0))
    if not task_id:
        task_id = create_task(config, ledger, store, infos)
    status.update(task=task_id, ledger=ledger.address)
    published = load_published(ledger, store, task_id)
    spec = published.spec
    transport = FlowerTransport(
        grid,
        task_id,
        spec.to_bytes(),
        spec.min_participants,
        round_timeout_s=config.round_timeout_s,
        straggler_grace_s=config.straggler_grace_s,
        poll_s=config.poll_s,
        addresses={nid: str(info["address"]) for nid, info in infos.items()},
        ledger=ledger,
    )
    public = custody_public_key(config)
    if public is not None and spec.encrypt:
        if public.n != spec.paillier_public_key().n:
            raise KeyMismatch(f"the custodians' key in {config.custody_key} is not task {task_id}'s public key")

        def node_of(address: str) -> int | None:
            live = set(grid.get_node_ids())
            return next((nid for nid, a in transport.addresses.items() if a == address and nid in live), None)

        def ask_infos(node_ids: list[int]) -> dict[int, dict[str, Any]]:
            return node_infos(grid, node_ids, timeout_s=min(30.0, config.custody_timeout_s))

        private_key = node_custody(
            grid, public, infos, node_of, ask_infos, task_id, spec.to_bytes(), CommittedBlobs(ledger, store), config.custody_timeout_s
        )
    else:
        private_key = key_holder_key(config, spec)
    coordinator = Coordinator(
        spec, ledger, task_id, aggregator, evaluator, private_key, published.validation, store,
        slash_wei=config.task.rewards.slash_wei,
    )
    run = run_federation(
        coordinator,
        transport,
        config.task.rounds,
        retries=config.round_retries,
        resume=True,
        observers=[StatusRounds(status, coordinator, transport)],
        patience=config.task.patience,
    )
    status.update(state="done", best_round=run.best.round_id if run.best else 0, stopped_early=run.stopped_early)


def key_holder_key(config: ServeConfig, spec: FederationSpec) -> PaillierPrivateKey | None:
    """The key holder's Paillier private key of ``spec`` from ``config.keys_dir`` (None for plaintext tasks)."""
    if not spec.encrypt:
        return None
    path = key_holder_path(Path(config.keys_dir), spec.paillier_public_key())
    if not path.is_file():
        raise KeyMismatch(f"the key holder's private key for this task is not in {config.keys_dir} ({path.name})")
    return load_private_key(path)


def custody_public_key(config: ServeConfig) -> ThresholdPublicKey | None:
    """The custodians' threshold public key under threshold custody (None with one key holder).

    Raises
    ------
    ConsortiumError
        A task asking for threshold custody without ``custody_key``, or a key of another t-of-N.
    """
    custody = config.task.custody
    if not config.custody_key:
        if custody.threshold_custody:
            raise ConsortiumError("the task asks for threshold custody: give the custodians' public key (custody-key)")
        return None
    public = load_public(config.custody_key)
    if custody.threshold_custody and (public.threshold, public.custodians) != (custody.threshold, custody.custodians):
        raise ConsortiumError(
            f"{config.custody_key} holds a {public.threshold}-of-{public.custodians} key, the task asks for {custody.threshold}-of-{custody.custodians}"
        )
    return public


def create_task(config: ServeConfig, ledger: LedgerClient, store: ArtifactStore, infos: Mapping[int, Mapping[str, Any]]) -> int:
    """Build the task's spec from the connected members, publish spec and validation split, create the task.

    Nodes whose account is not an active member (or was slashed below the minimum stake) are left out.
    """
    task = config.task
    if not config.admin_key:
        raise ConsortiumError("creating a task needs the ledger admin's key (admin-key)")
    admin = load_account(Path(config.admin_key))
    members: dict[str, Mapping[str, Any]] = {}
    for info in infos.values():
        try:
            require_active_member(ledger, str(info["address"]))
        except MembershipRefused as exc:
            log.warning("left out of the task: %s", exc)
            continue
        members[str(info["address"])] = info
    if len(members) < task.min_participants:
        raise ConsortiumError(
            f"{len(members)} member nodes answered, fewer than min-participants={task.min_participants}"
        )
    table = load_csv(Path(config.validation), task.data.label, id_columns=task.data.id_columns, drop=task.data.drop)
    if not any("features" in info for info in members.values()):
        return _publish(config, ledger, store, admin, members, node_split(table, config.validation))
    features = table.feature_names
    for address, info in list(members.items()):
        try:
            check_feature_columns(f"node {address}", json.loads(str(info.get("features", "[]"))), features)
        except DataError as exc:
            log.warning("left out of the task: %s", exc)
            del members[address]
    if len(members) < task.min_participants:
        raise ConsortiumError(f"{len(members)} member nodes hold the validation file's columns, fewer than min-participants={task.min_participants}")
    labels = task.data.labels or label_list(
        [table.class_names[k] for k in np.unique(table.y)] + [c for i in members.values() for c in json.loads(str(i["classes"]))]
    )
    y = map_labels(config.validation, [table.class_names[k] for k in table.y], labels)
    standardization = None
    if task.data.standardize:
        standardization = federated_standardization([FeatureStats.from_json(json.loads(str(i["stats"])), len(features)) for i in members.values()])
    X = standardization.apply(table.X) if standardization is not None else table.X.astype(np.float32)
    return _publish(config, ledger, store, admin, members, ArraySplit(X, y), features=features, labels=labels, standardization=standardization)


def _publish(
    config: ServeConfig,
    ledger: LedgerClient,
    store: ArtifactStore,
    admin: LocalAccount,
    members: Mapping[str, Mapping[str, Any]],
    validation: ArraySplit,
    **columns: Any,
) -> int:
    """Make the key holder's key, publish spec and validation split, create the task; its id."""
    task = config.task
    n_features = int(validation.X.shape[1])
    wrong = [a for a, i in members.items() if int(i["n-features"]) != n_features]
    if wrong:
        raise ConsortiumError(f"nodes {', '.join(wrong)} hold data with a feature count other than the validation set's {n_features}")
    n_classes = len(columns["labels"]) if columns.get("labels") else 1 + max([int(validation.y.max())] + [max(i["labels"]) for i in members.values() if i["labels"]])
    public = custody_public_key(config)
    key = KeyHolderKey(None, public_key_to_bytes(public.public_key)) if public is not None else new_key_holder_key(task.custody, Path(config.keys_dir))
    spec = build_task(task, n_features, n_classes, {a: int(i["n-samples"]) for a, i in members.items()}, key.public_key, **columns)
    spec_hash = store.put(spec.to_bytes())
    validation_hash = store.put(validation_to_bytes(validation))
    receipt = ledger.create_task(admin, spec_hash, validation_hash, task.rewards.reward_per_round, task.min_participants)
    task_id = receipt.event(TaskCreated).task_id
    log.info("created task %d with %d members", task_id, len(members))
    return task_id
