"""`fedledger consortium local`: a whole consortium on one machine, every party its own OS process.

:class:`LocalConsortium` starts a real anvil node (with a state file), deploys the ledger, gives
each hospital an encrypted keystore and a CSV file of its partition, starts a Flower SuperLink
and one ``fedledger node join`` process per hospital (each joins the ledger with its own key
and stake, then runs a SuperNode), submits the federation with ``flwr run`` and waits for it.
:func:`run_consortium_local` does all of that, audits the ledger and optionally runs the
in-process federation with the same seed and model on the same chain, to compare per-round
time and the final model. Every process it starts is stopped, also on failure.

The pieces are public so that fault tests can kill a SuperNode, restart the SuperLink or the
chain in between.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from eth_account import Account
from phe import PaillierPrivateKey

from fl_node.artifacts import ArtifactStore
from fl_node.data import ArraySplit, FederatedData, federate, load_dataset
from fl_node.demo import DemoConfig, hospital_name, setup_federation
from fl_node.hfl.aggregator import Collected
from fl_node.hfl.participant import RoundPlan
from fl_node.hfl.runner import run_federation
from fl_node.hfl.spec import model_from_bytes
from fl_node.models import model_hash, unflatten
from fl_node.replay import audit_federation, load_published
from fl_node.seeds import NODE_TRAINING, derive_seed
from fl_node.crypto.threshold import share_path
from fl_node.hfl.keyholder import ThresholdCustody
from fl_node.hfl.spec import FederationSpec
from fl_node.task import DataConfig, TaskConfig, bootstrap_ledger, threshold_custody
from fl_node.training import evaluate
from fl_node.errors import ConsortiumError, FlowerRunFailed, TransportProcessError
from fl_node.transport.deployment import (
    DEFAULT_POLL_INTERVAL_S,
    RunEnd,
    flower_env,
    start_superlink,
    submit_run,
    wait_run,
    write_app_project,
    write_connection,
)
from fl_node.transport.flower_server import ServeConfig, Status, key_holder_key
from fl_node.transport.footprint import Footprint, footprint
from fl_node.transport.inprocess import InProcessTransport, Transport
from fl_node.transport.keystore import PASSPHRASE_ENV, write_keystore
from fl_node.transport.admission import AdmissionChange, MemberKeys
from fl_node.transport.processes import LOOPBACK, ManagedProcess, ProcessGroup, free_port, start_process
from fl_node.transport.tls import AuthKeyPaths, CertPaths, write_auth_keypair, write_consortium_certs
from incentive.atomic import write_atomic
from incentive.audit import finalized_rounds
from incentive.chain import AnvilNode, Chain, connect, start_anvil, write_key_file
from incentive.fixedpoint import from_fixed
from incentive.ledger import LedgerClient, to_bytes32

log = logging.getLogger(__name__)

LABEL = "label"


def startup_wait_s(nodes: int) -> float:
    """How long to wait for ``nodes`` nodes to start, join the ledger and connect (each starts
    Python, torch and Flower: on a loaded 2-core machine about 10 s of CPU apiece)."""
    return 120.0 + 10.0 * max(0, nodes - 3)
#: scrypt work factor of the throwaway keystores of a local consortium (fast to open; keygen uses 2**18).
LOCAL_SCRYPT_N = 2**14


@dataclass(frozen=True)
class ConsortiumConfig:
    """A local consortium: a task (every node honest) and how long to wait for it.

    Attributes
    ----------
    task : TaskConfig (default: 3 nodes, 3 rounds)
    straggler_grace_s : float (default: 10.0)
        How long a round waits for stragglers once ``min_participants`` replies are in.
    run_timeout_s : float (default: 600.0)
    tls : bool (default: True)
        A consortium CA and SuperLink certificate, TLS on every Flower channel, and SuperNode
        authentication admitting exactly the active members' keys; False: plaintext on loopback.
    isolation : str (default: "process")
        How each node runs its ClientApp (``node join --isolation``).
    key_shares : Path | None (default: None)
        Under threshold custody (``task.custody``): the custodians' share files
        (``custody keygen``); None: a trusted dealer splits a fresh key. Node k holds share
        k+1 (for k < N) in its own ``node join`` process.
    poll_interval_s : float (default: :data:`~fl_node.transport.deployment.DEFAULT_POLL_INTERVAL_S`)
        The longest wait of every Flower process between pulls (``node join --poll-interval``,
        the ServerApp's ``poll_s``).
    """

    task: TaskConfig = field(default_factory=lambda: TaskConfig(data=DataConfig(nodes=3), rounds=3))
    straggler_grace_s: float = 10.0
    run_timeout_s: float = 600.0
    tls: bool = True
    isolation: str = "process"
    key_shares: Path | None = None
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S

    def demo_config(self) -> DemoConfig:
        """The in-process federation with the same task (all honest)."""
        return DemoConfig(task=self.task, free_riders=0, label_flippers=0)


def write_split_csv(path: Path, split: ArraySplit) -> Path:
    """Write features (exact float text) and an integer ``label`` column."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([f"x{j}" for j in range(split.X.shape[1])] + [LABEL])
    for row, label in zip(split.X, split.y):
        writer.writerow([repr(float(v)) for v in row] + [int(label)])
    return write_atomic(path, text.getvalue())


@dataclass
class NodeHandle:
    """One hospital of the local consortium."""

    index: int
    name: str
    address: str
    keystore: Path
    data: Path
    seed: int
    auth_key: Path
    netns: str | None = None
    process: ManagedProcess | None = None
    key_share: Path | None = None


@dataclass
class LocalConsortium:
    """The processes and files of one local consortium (see the module docstring)."""

    config: ConsortiumConfig
    work_dir: Path
    group: ProcessGroup = field(default_factory=ProcessGroup)
    anvil: AnvilNode | None = None
    anvil_port: int = 0
    chain: Chain | None = None
    ledger: LedgerClient | None = None
    superlink: ManagedProcess | None = None
    superlink_port: int = 0
    nodes: list[NodeHandle] = field(default_factory=list)
    data: FederatedData | None = None
    passphrase: str = field(default_factory=lambda: secrets.token_hex(16))
    serve: ServeConfig | None = None
    hub_address: str = LOOPBACK
    node_netns: list[str] = field(default_factory=list)
    certs: CertPaths | None = None
    admission: MemberKeys | None = None
    peak: Footprint = field(default_factory=lambda: Footprint(0, 0.0))

    def __post_init__(self) -> None:
        self.work_dir = self.work_dir.resolve()

    # ------------------------------------------------------------ paths

    @property
    def flwr_home(self) -> Path:
        return self.work_dir / "flwr-home"

    @property
    def env(self) -> dict[str, str]:
        return flower_env(self.flwr_home)

    @property
    def state_file(self) -> Path:
        return self.work_dir / "chain" / "anvil-state.json"

    @property
    def status(self) -> Status:
        return Status(str(self.work_dir / "status.json"))

    @property
    def processes_started(self) -> int:
        return len(self.group.processes) + (1 if self.anvil is not None else 0)

    # ------------------------------------------------------------ chain and ledger

    def start_chain(self) -> Chain:
        """Start anvil on a fixed loopback port with the state file (loaded when it exists)."""
        self.anvil_port = self.anvil_port or free_port(self.hub_address)
        self.anvil = start_anvil(port=self.anvil_port, state=self.state_file, host=self.hub_address)
        self.chain = connect(self.anvil.url)
        return self.chain

    def deploy(self) -> LedgerClient:
        """Deploy the ledger, write the coordinator's key files and the hospitals' keystores and data."""
        assert self.chain is not None
        keys = self.work_dir / "keys"
        roles = bootstrap_ledger(self.chain, self.config.task.rewards)
        for role, account in (("admin", roles.admin), ("aggregator", roles.aggregator), ("evaluator", roles.evaluator)):
            write_key_file(keys / f"{role}.key", account)
        self.ledger = roles.ledger
        c = self.config.task
        self.data = federate(load_dataset(c.data.dataset), c.data.nodes, c.data.partition, seed=c.seed)
        data_dir = self.work_dir / "data"
        validation_csv = write_split_csv(data_dir / "validation.csv", self.data.validation)
        shares = self.custodian_shares()
        self.nodes = []
        for k in range(c.data.nodes):
            account = Account.create()
            keystore = write_keystore(keys / f"node-{k}.json", account, self.passphrase, scrypt_n=LOCAL_SCRYPT_N)
            self.chain.fund(account.address, c.rewards.stake_wei + 10**19)
            csv_path = write_split_csv(data_dir / f"node-{k}.csv", self.data.nodes[k])
            auth_key = write_auth_keypair(self.node_dir(k) / "auth-key").private
            netns = self.node_netns[k] if self.node_netns else None
            self.nodes.append(
                NodeHandle(
                    k, hospital_name(k), account.address, keystore, csv_path, derive_seed(c.seed, NODE_TRAINING, k), auth_key, netns,
                    key_share=shares[k] if k < len(shares) else None,
                )
            )
        self.superlink_port = self.superlink_port or free_port(self.hub_address)
        if self.config.tls:
            self.certs = write_consortium_certs(self.work_dir / "certs", [self.hub_address])
        self.serve = ServeConfig(
            rpc=self.anvil.url,
            ledger=self.ledger.address,
            artifacts=str(self.work_dir / "artifacts"),
            keys_dir=str(keys),
            aggregator_key=str(keys / "aggregator.key"),
            evaluator_key=str(keys / "evaluator.key"),
            admin_key=str(keys / "admin.key"),
            status_file=str(self.work_dir / "status.json"),
            # the nodes' CSVs are the rehearsal's split, already standardized with its federated
            # statistics: standardizing again would change the last bits of the in-process comparison
            task=dataclasses.replace(c, data=dataclasses.replace(c.data, standardize=False)),
            validation=str(validation_csv),
            straggler_grace_s=self.config.straggler_grace_s,
            poll_s=self.config.poll_interval_s,
            node_wait_s=startup_wait_s(c.data.nodes),
            custody_key=str(shares[0]) if shares else "",
        )
        write_app_project(self.work_dir / "app", self.serve.to_run_config())
        write_connection(self.flwr_home, self.superlink_address, root_cert=self.certs.ca_cert if self.certs else None)
        if self.certs is not None:
            self.admission = MemberKeys(self.ledger, self.env)
        return self.ledger

    def custodian_shares(self) -> list[Path]:
        """The share files of custodians 1..N under threshold custody (dealt now unless given); none with one key holder."""
        custody = self.config.task.custody
        if not custody.threshold_custody:
            return []
        if custody.custodians > self.config.task.data.nodes:
            raise ConsortiumError(f"{custody.custodians} custodians need as many nodes, the consortium has {self.config.task.data.nodes}")
        folder = self.config.key_shares or self.work_dir / "keys" / "shares"
        threshold_custody(custody, self.work_dir / "keys", self.config.key_shares)  # checks given shares; deals and seals a new key otherwise
        return [share_path(folder, i) for i in range(1, custody.custodians + 1)]

    def audit_key(self, spec: FederationSpec) -> PaillierPrivateKey | ThresholdCustody | None:
        """What the rehearsal's audit replays with: the key holder's key, or every custodian's share (the harness dealt or was given them)."""
        assert self.serve is not None
        custody = self.config.task.custody
        if custody.threshold_custody:
            return threshold_custody(custody, self.work_dir / "keys", Path(self.serve.custody_key).parent)
        return key_holder_key(self.serve, spec)

    @property
    def superlink_address(self) -> str:
        return f"{self.hub_address}:{self.superlink_port}"

    def node_dir(self, index: int) -> Path:
        return self.work_dir / "nodes" / f"node-{index}"

    def admit(self) -> AdmissionChange | None:
        """Register the nodes' authentication keys of active members on the SuperLink, withdraw the others."""
        if self.admission is None:
            return None
        return self.admission.refresh([AuthKeyPaths.beside(node.auth_key).public for node in self.nodes])

    # ------------------------------------------------------------ Flower processes

    def start_superlink(self) -> ManagedProcess:
        """Start the SuperLink (its database in the work folder, so a restart keeps node ids)."""
        self.superlink = start_superlink(
            self.group,
            self.superlink_port,
            self.work_dir / "superlink" / "state.db",
            self.work_dir / "logs" / "superlink.log",
            self.env,
            host=self.hub_address,
            certs=self.certs,
            auth=self.certs is not None,
        )
        return self.superlink

    def restart_superlink(self) -> ManagedProcess:
        """Kill the SuperLink (with its running ServerApp) and start it again on the same port and database."""
        assert self.superlink is not None
        self.superlink.kill()
        self.group.processes.remove(self.superlink)
        return self.start_superlink()

    def node_command(self, node: NodeHandle) -> list[str]:
        """The operator's command for ``node`` (``fedledger node join …``)."""
        assert self.anvil is not None and self.ledger is not None
        security = ["--root-cert", str(self.certs.ca_cert)] if self.certs else ["--insecure"]
        command = [
            sys.executable, "-c", "from fl_node.cli import main; main()",
            "node", "join",
            "--superlink", self.superlink_address,
            *security,
            "--auth-key", str(node.auth_key),
            "--rpc", self.anvil.url,
            "--ledger", self.ledger.address,
            "--key", str(node.keystore),
            "--data", str(node.data),
            "--label", LABEL,
            "--name", node.name,
            "--stake-eth", repr(self.config.task.rewards.stake_wei / 10**18),
            "--seed", str(node.seed),
            "--work-dir", str(self.node_dir(node.index)),
            "--isolation", self.config.isolation,
            "--poll-interval", repr(self.config.poll_interval_s),
            "--admission-wait", repr(startup_wait_s(len(self.nodes))),
            *(["--key-share", str(node.key_share)] if node.key_share else []),
        ]
        return ["ip", "netns", "exec", node.netns, *command] if node.netns else command

    def start_node(self, node: NodeHandle) -> ManagedProcess:
        """Start ``fedledger node join`` for ``node`` (its own process group: node, SuperNode, ClientApps)."""
        env = self.env | {PASSPHRASE_ENV: self.passphrase}
        node.process = start_process(
            f"node {node.name}", self.node_command(node), self.work_dir / "logs" / f"node-{node.index}.log", env
        )
        self.group.add(node.process)
        return node.process

    def start_nodes(self, admit_timeout_s: float | None = None) -> None:
        """Start every node; with authentication, wait until all have joined the ledger and admit their keys
        (at most ``admit_timeout_s``, default :func:`startup_wait_s`)."""
        admit_timeout_s = admit_timeout_s or startup_wait_s(len(self.nodes))
        for node in self.nodes:
            self.start_node(node)
        if self.admission is None:
            return
        assert self.ledger is not None
        deadline = time.monotonic() + admit_timeout_s
        while len(self.admission.registered) < len(self.nodes):
            for node in self.nodes:
                if node.process is not None and not node.process.alive():
                    raise TransportProcessError(f"{node.process.name} exited before joining: {node.process.log_tail()}")
            if time.monotonic() > deadline:
                raise TransportProcessError(f"nodes did not all join the ledger within {admit_timeout_s:.0f} s")
            self.admit()
            time.sleep(0.5)

    def kill_node(self, index: int) -> None:
        """SIGKILL a node's whole process group (node, SuperNode, ClientApp): a crashed hospital."""
        process = self.nodes[index].process
        assert process is not None
        process.kill()

    def submit(self, overrides: dict[str, Any] | None = None) -> int:
        """Submit the federation (``flwr run``); returns the run id."""
        return submit_run(self.work_dir / "app", self.env, overrides)

    def sample_footprint(self) -> Footprint:
        """Count the live processes started (with all their descendants) and their memory; keep the peaks in :attr:`peak`."""
        roots = [p.pid for p in self.group.processes] + ([self.anvil.process.pid] if self.anvil is not None else [])
        now = footprint(roots)
        self.peak = Footprint(max(self.peak.processes, now.processes), max(self.peak.rss_mib, now.rss_mib))
        return now

    def wait(self, run_id: int, timeout_s: float | None = None, on_poll: Callable[[], None] | None = None) -> RunEnd:
        """Wait for the run; meanwhile admit the members' keys (every poll until all are in, then once a
        round) and sample the processes' footprint."""
        seen = [-1]

        def poll() -> None:
            self.sample_footprint()
            if self.admission is not None:
                done = int(self.status.data.get("rounds_completed", 0))
                if len(self.admission.registered) < len(self.nodes) or done != seen[0]:
                    seen[0] = done
                    self.admit()
            if on_poll is not None:
                on_poll()

        return wait_run(run_id, self.env, timeout_s or self.config.run_timeout_s, on_poll=poll)

    def task_id(self) -> int:
        return int(self.status.data.get("task", 0))

    def stop(self) -> None:
        """Stop every process started (Flower and nodes newest first, then anvil, which saves its state)."""
        try:
            self.group.stop_all()
        finally:
            if self.anvil is not None:
                self.anvil.stop()

    def __enter__(self) -> LocalConsortium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ====================================================================== the whole run


@dataclass(frozen=True)
class HostPlan:
    """Where the parties run when they are separate network hosts (see :mod:`fl_node.transport.netns`)."""

    hub_address: str
    node_netns: tuple[str, ...]
    node_addresses: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"hub": self.hub_address, "netns": list(self.node_netns), "addresses": list(self.node_addresses)})

    @classmethod
    def from_json(cls, text: str) -> HostPlan:
        data = json.loads(text)
        return cls(str(data["hub"]), tuple(data["netns"]), tuple(data["addresses"]))


@dataclass(frozen=True)
class InProcessComparison:
    """The in-process federation with the same seed, model and chain (``collect_seconds``: nodes' part of each round)."""

    round_seconds: list[float]
    final_model_hash: str
    final_accuracy: float
    collect_seconds: list[float] = field(default_factory=list)


@dataclass
class TimedTransport:
    """A transport whose every ``collect`` is timed (seconds in ``seconds``, one per round)."""

    inner: Transport
    seconds: list[float] = field(default_factory=list)

    def collect(self, plan: RoundPlan) -> Collected:
        start = time.perf_counter()
        try:
            return self.inner.collect(plan)
        finally:
            self.seconds.append(time.perf_counter() - start)


def round_breakdown(rounds: list[dict[str, Any]], in_process: InProcessComparison | None) -> dict[str, Any]:
    """Where the Flower rounds' seconds go, against the in-process rounds (means over rounds).

    ``flower``: ``round_s``; ``collect_s`` (plans out, replies in) and ``outside_collect_s``
    (opening the round, aggregation, decryption, scoring, finalizing: the same code as in
    process); inside the collection, ``identify_s`` and the per-node phases of
    :mod:`fl_node.transport.round_timing` (means over nodes). ``in_process``: ``round_s``,
    ``collect_s`` (the nodes one after the other), ``outside_collect_s``. ``overhead_s``: Flower
    minus in process, for the round and each of its two parts. ``per_round``: each Flower round's figures.
    """
    per_round = [{"round_id": r["round_id"], "round_s": r["seconds"], **r.get("timing", {})} for r in rounds]
    for entry in per_round:
        if "collect_s" in entry:
            entry["outside_collect_s"] = entry["round_s"] - entry["collect_s"]
    keys = sorted({k for entry in per_round for k in entry} - {"round_id"})
    flower = {k: statistics.fmean([e[k] for e in per_round if k in e]) for k in keys}
    out: dict[str, Any] = {"flower": flower, "per_round": per_round}
    if in_process is not None and in_process.collect_seconds:
        local_round = statistics.fmean(in_process.round_seconds)
        local_collect = statistics.fmean(in_process.collect_seconds)
        local = {"round_s": local_round, "collect_s": local_collect, "outside_collect_s": local_round - local_collect}
        out["in_process"] = local
        out["overhead_s"] = {k: flower[k] - local[k] for k in local if k in flower}
    return out


@dataclass(frozen=True)
class ConsortiumResult:
    """What ``consortium local`` reports (see :meth:`to_json`)."""

    config: ConsortiumConfig
    ledger: str
    rpc: str
    task_id: int
    rounds_completed: int
    nodes: list[dict[str, Any]]
    final_accuracy: float
    final_test_accuracy: float
    final_model_hash: str
    audit: Any
    processes: int
    round_seconds: list[float]
    rounds: list[dict[str, Any]]
    run_seconds: float
    elapsed_s: float
    in_process: InProcessComparison | None
    tls: bool = False
    hosts: list[dict[str, str]] = field(default_factory=list)
    best_round: int = 0
    stopped_early: bool = False
    peak: Footprint = field(default_factory=lambda: Footprint(0, 0.0))

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "rounds_completed": self.rounds_completed,
            "nodes": self.nodes,
            "final_accuracy": self.final_accuracy,
            "audit": {
                "ok": self.audit.ok,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.audit.checks],
            },
            "processes": self.processes,
            "final_test_accuracy": self.final_test_accuracy,
            "final_model_hash": self.final_model_hash,
            "ledger": self.ledger,
            "rpc": self.rpc,
            "task_id": self.task_id,
            "round_seconds": self.round_seconds,
            "rounds": self.rounds,
            "flower_run_seconds": self.run_seconds,
            "elapsed_s": self.elapsed_s,
            "tls": self.tls,
            "auth": self.tls,
            "hosts": self.hosts,
            "overhead_s_per_round": None,
            "best_round": self.best_round,
            "stopped_early": self.stopped_early,
            "isolation": self.config.isolation,
            "poll_interval_s": self.config.poll_interval_s,
            "peak_processes": self.peak.processes,
            "peak_rss_mib": self.peak.rss_mib,
            "breakdown": round_breakdown(self.rounds, self.in_process),
        }
        if self.in_process is not None:
            flower = statistics.fmean(self.round_seconds) if self.round_seconds else float("nan")
            local = statistics.fmean(self.in_process.round_seconds)
            payload["in_process"] = {
                "round_seconds": self.in_process.round_seconds,
                "final_model_hash": self.in_process.final_model_hash,
                "final_accuracy": self.in_process.final_accuracy,
                "same_final_model": self.in_process.final_model_hash == self.final_model_hash,
                "overhead_per_round_s": flower - local,
            }
            payload["overhead_s_per_round"] = flower - local
        return payload


def run_in_process(config: ConsortiumConfig, chain: Chain, out_dir: Path) -> InProcessComparison:
    """The same federation through :class:`~fl_node.transport.inprocess.InProcessTransport` on ``chain``."""
    federation = setup_federation(config.demo_config(), chain, out_dir)
    transport = TimedTransport(InProcessTransport(federation.nodes))
    run = run_federation(federation.coordinator, transport, config.task.rounds, patience=config.task.patience)
    return InProcessComparison(
        [o.seconds for o in run.outcomes], "0x" + model_hash(run.final_params).hex(), run.outcomes[-1].accuracy, transport.seconds
    )


def run_consortium_local(
    config: ConsortiumConfig,
    work_dir: Path,
    compare: bool = True,
    on_stage: Callable[[str], None] | None = None,
    on_poll: Callable[[Status], None] | None = None,
    hosts: HostPlan | None = None,
) -> ConsortiumResult:
    """Start everything, run the federation over Flower, audit, compare in process, stop everything.

    With ``hosts`` (run from inside the hub's network namespace) the chain and the SuperLink
    listen on the hub's address and each node runs in its own namespace; else all on loopback.

    Raises
    ------
    FlowerRunFailed
        The run did not finish as completed (the ServerApp's error, from the status file, is in the message).
    """
    torch.set_num_threads(1)
    stage = on_stage or (lambda _: None)
    start = time.perf_counter()
    with LocalConsortium(config, work_dir) as consortium:
        if hosts is not None:
            consortium.hub_address = hosts.hub_address
            consortium.node_netns = list(hosts.node_netns)
        stage("starting anvil and deploying the ledger")
        consortium.start_chain()
        ledger = consortium.deploy()
        stage(f"starting the SuperLink and {config.task.data.nodes} nodes")
        consortium.start_superlink()
        consortium.start_nodes()
        stage("running the federation over Flower")
        run_id = consortium.submit()
        end = consortium.wait(run_id, on_poll=(lambda: on_poll(consortium.status)) if on_poll else None)
        status = consortium.status
        if not end.ok:
            raise FlowerRunFailed(
                f"run {run_id} ended {end.status}: {status.data.get('error') or 'see ' + str(work_dir / 'logs')}"
            )
        task_id = consortium.task_id()
        stage("auditing the ledger")
        store = ArtifactStore(Path(consortium.serve.artifacts))
        published = load_published(ledger, store, task_id)
        report = audit_federation(ledger, store, task_id, consortium.audit_key(published.spec))
        rounds = finalized_rounds(ledger, task_id)
        final = model_from_bytes(store.get(to_bytes32(rounds[-1].aggregated_model_hash)))
        test = evaluate(unflatten(published.spec.model.build(), final), consortium.data.test)
        nodes = []
        for node in consortium.nodes:
            member = ledger.member(node.address)
            nodes.append(
                {
                    "name": member.name or node.name,
                    "address": node.address,
                    "score": from_fixed(member.cumulative_score),
                    "reward": member.total_reward / 10**18,
                    "stake_wei": member.stake,
                }
            )
        comparison = None
        if compare:
            stage("running the same federation in process for comparison")
            comparison = run_in_process(config, consortium.chain, work_dir / "in-process")
        processes = consortium.processes_started
        peak = consortium.peak
        rpc = consortium.anvil.url
        host_list = [{"role": "chain+superlink", "address": consortium.hub_address}] + [
            {"role": f"node {node.name}", "address": hosts.node_addresses[node.index] if hosts else LOOPBACK} for node in consortium.nodes
        ]
    return ConsortiumResult(
        config=config,
        ledger=ledger.address,
        rpc=rpc,
        task_id=task_id,
        rounds_completed=len(rounds),
        nodes=nodes,
        final_accuracy=from_fixed(rounds[-1].performance),
        final_test_accuracy=test.accuracy,
        final_model_hash=rounds[-1].aggregated_model_hash,
        audit=report,
        processes=processes,
        round_seconds=[float(r["seconds"]) for r in status.data.get("rounds", [])],
        rounds=list(status.data.get("rounds", [])),
        run_seconds=end.seconds,
        elapsed_s=time.perf_counter() - start,
        in_process=comparison,
        tls=config.tls,
        hosts=host_list,
        best_round=int(status.data.get("best_round", 0)),
        stopped_early=bool(status.data.get("stopped_early", False)),
        peak=peak,
    )
