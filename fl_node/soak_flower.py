"""The soak over a real consortium: anvil, a SuperLink and one node process per hospital, under seeded faults.

:func:`run_flower_soak` starts what ``fedledger consortium local`` starts (anvil with its state
file, the ledger, a SuperLink with TLS and SuperNode authentication, one node process per
hospital, each with its worker and SuperNode; see :class:`~fl_node.consortium.LocalConsortium`),
submits the federation with ``flwr run`` and watches the ledger. A seeded
:class:`~fl_node.soak_faults.FaultSchedule` gives rounds one of :data:`FLOWER_FAULT_KINDS`:

``supernode-kill``
    SIGKILL a node's whole process tree (node, worker, SuperNode, ClientApp) as its round
    opens; the operator starts it again once the round has closed.
``superlink-restart``
    Kill the SuperLink (and with it the ServerApp, round open) and start it on the same port
    and database; the federation is submitted again and resumes from the chain.
``chain-restart``
    Stop anvil (it writes its state file) as a round opens and start it from that file on the
    same port; a ServerApp that failed on the missing chain is submitted again.
``node-late``
    A node stalls past its round's deadline, then tries to commit (:mod:`fl_node.soak_node`).
``node-equivocate``
    A node commits, then signs and sends a different blob: slashed with that evidence.

Between rounds the operators top up slashed stakes; at the end they claim their rewards.
Then every round must be finalized or cancelled with a reason, the audit pass, stakes and
tokens balance to the wei (:func:`~fl_node.soak.check_balances`), and no process be left.
Resident memory of every long-lived process (SuperLink, ServerApp, each node's worker process
and SuperNode) is sampled at the start, after round 10 and at the end.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from eth_account.signers.local import LocalAccount

from fl_node.artifacts import ArtifactStore
from fl_node.consortium import ConsortiumConfig, LocalConsortium, NodeHandle
from fl_node.errors import FlNodeError, FlowerRunFailed, TransportProcessError
from fl_node.replay import audit_federation, load_published
from fl_node.soak import RSS_WARMUP_ROUND, SoakConfig, SoakProgress, check_balances, round_record
from fl_node.soak_faults import FaultSchedule
from fl_node.soak_node import arm_fault, node_config_to_json, read_fault_log
from fl_node.transport.deployment import run_status, write_app_project
from fl_node.transport.flower_server import key_holder_key
from fl_node.transport.keystore import load_account
from fl_node.transport.node import NodeConfig
from fl_node.transport.processes import process_table
from incentive.chain import start_anvil
from incentive.errors import ChainError
from incentive.ledger import RoundStatus

log = logging.getLogger(__name__)

#: Every fault kind of the Flower soak, in the order a schedule cycles through them first.
FLOWER_FAULT_KINDS = ("supernode-kill", "superlink-restart", "chain-restart", "node-late", "node-equivocate")
#: The fault kinds the driver carries out itself that hold no node (a SuperNode kill holds the node it
#: kills; a node fault is armed in one node's fault file).
NODELESS_FAULT_KINDS = ("superlink-restart", "chain-restart")
#: How long a round waits for stragglers once enough replies are in (the late node misses it).
STRAGGLER_GRACE_S = 2.0
#: Rounds a node started again is left alone (it joins the federation again meanwhile).
REJOIN_ROUNDS = 3
#: The round's deadline when fewer than ``min_participants`` replies come in (a late node, a node restarting).
ROUND_TIMEOUT_S = 90.0
#: How long the nodes may take to start, join the ledger and be admitted (a loaded machine is slow to start Python).
STARTUP_WAIT_S = 900.0
#: How long a (resumed) ServerApp waits for every node to connect before its first round (the task's
#: spec names the nodes connected when it is created).
NODE_WAIT_S = 300.0
#: Seconds without a new round opened (or the run ending) before the soak stops as stuck.
STUCK_S = 600.0
#: How often Flower is asked whether the current run is still running.
RUN_CHECK_S = 20.0
#: How often the ledger and the status file are polled.
POLL_S = 0.25


@dataclass(frozen=True)
class FlowerSoakSettings:
    """Consortium-level settings of the Flower soak.

    Attributes
    ----------
    fault_rate : float (default: 0.4)
        Share of rounds (after every kind has been injected once) that get a fault.
    straggler_grace_s : float (default: :data:`STRAGGLER_GRACE_S`)
    round_timeout_s : float (default: :data:`ROUND_TIMEOUT_S`)
        How long a round short of ``min_participants`` replies waits before it is cancelled.
    tls : bool (default: True)
        TLS and SuperNode authentication, as ``consortium local``.
    """

    fault_rate: float = 0.4
    straggler_grace_s: float = STRAGGLER_GRACE_S
    round_timeout_s: float = ROUND_TIMEOUT_S
    tls: bool = True


def rss_mb_of(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), None)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendant_with(pid: int, marker: str) -> int | None:
    """The first descendant of ``pid`` whose command line contains ``marker``."""
    table = process_table()
    stack = [pid]
    while stack:
        parent = stack.pop()
        for child, ppid, _, _ in table:
            if ppid == parent:
                if marker in _cmdline(child):
                    return child
                stack.append(child)
    return None


def processes_left(work_dir: Path, state_file: Path, wait_s: float = 15.0) -> list[str]:
    """Processes of the consortium in ``work_dir`` still running after up to ``wait_s`` (stopped ones may take a moment to exit).

    Returns their pids and command lines (see :func:`consortium_processes`).
    """
    deadline = time.monotonic() + wait_s
    while (left := consortium_processes(work_dir, state_file)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return [f"{pid} {_cmdline(pid)[:200]}" for pid in left]


def consortium_processes(work_dir: Path, state_file: Path) -> list[int]:
    """Live processes of a consortium: a Flower home under ``work_dir`` in their environment (SuperLink,
    nodes, SuperNodes, ServerApps, ClientApps), or ``state_file`` on their command line (anvil)."""
    marker = f"FLWR_HOME={work_dir}"
    found = []
    for pid, *_ in process_table():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
        except OSError:
            environ = ""
        if marker in environ or str(state_file) in _cmdline(pid):
            found.append(pid)
    return found


class SoakConsortium(LocalConsortium):
    """A local consortium whose node processes run :mod:`fl_node.soak_node` (nodes that misbehave on request)."""

    def fault_file(self, node: NodeHandle) -> Path:
        return self.node_dir(node.index) / "fault.json"

    def fault_log(self, node: NodeHandle) -> Path:
        return self.node_dir(node.index) / "faults.jsonl"

    def node_command(self, node: NodeHandle) -> list[str]:
        assert self.anvil is not None and self.ledger is not None
        config = NodeConfig(
            superlink=self.superlink_address,
            rpc=self.anvil.url,
            ledger=self.ledger.address,
            key=node.keystore,
            data=node.data,
            label="label",
            name=node.name,
            stake_wei=self.config.task.rewards.stake_wei,
            seed=node.seed,
            work_dir=self.node_dir(node.index),
            root_cert=self.certs.ca_cert if self.certs else None,
            auth_key=node.auth_key,
            isolation=self.config.isolation,
        )
        path = self.node_dir(node.index) / "soak-node.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(node_config_to_json(config, self.fault_file(node), self.fault_log(node)))
        return [sys.executable, "-m", "fl_node.soak_node", str(path)]

    def restart_chain(self) -> None:
        """Stop anvil (it writes its state file) and start it again from that file on the same port."""
        assert self.anvil is not None
        self.anvil.stop()
        self.anvil = start_anvil(port=self.anvil_port, state=self.state_file, host=self.hub_address)


@dataclass
class MemoryProbe:
    """Resident memory of the consortium's long-lived processes, sampled at named points."""

    consortium: SoakConsortium
    samples: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def processes(self) -> dict[str, int]:
        """Role → pid of every long-lived process running now."""
        out: dict[str, int] = {}
        superlink = self.consortium.superlink
        if superlink is not None and superlink.alive():
            out["superlink"] = superlink.pid
            serverapp = descendant_with(superlink.pid, "flwr-serverapp")
            if serverapp is not None:
                out["serverapp"] = serverapp
        for node in self.consortium.nodes:
            if node.process is not None and node.process.alive():
                out[f"{node.name} worker"] = node.process.pid
                supernode = descendant_with(node.process.pid, "flower-supernode")
                if supernode is not None:
                    out[f"{node.name} supernode"] = supernode
        if self.consortium.anvil is not None and self.consortium.anvil.process.poll() is None:
            out["anvil"] = self.consortium.anvil.process.pid
        return out

    def sample(self, point: str) -> None:
        self.samples[point] = {}
        for role, pid in self.processes().items():
            rss = rss_mb_of(pid)
            if rss is not None:
                self.samples[point][role] = {"pid": pid, "rss_mb": round(rss, 1)}

    def report(self) -> dict[str, Any]:
        """``start`` / ``round_10`` / ``end`` totals (SuperLink, ServerApp, nodes; anvil apart) and per-process detail."""
        roles = sorted({role for sample in self.samples.values() for role in sample})
        per_process = {
            role: {point: self.samples[point].get(role) for point in self.samples} for role in roles
        }
        totals = {
            point: round(sum(v["rss_mb"] for role, v in sample.items() if role != "anvil"), 1)
            for point, sample in self.samples.items()
        }
        growth = {}
        for role, points in per_process.items():
            before, after = points.get("round_10"), points.get("end")
            if before and after:
                growth[role] = {
                    "growth": round((after["rss_mb"] - before["rss_mb"]) / before["rss_mb"], 4),
                    "same_process": before["pid"] == after["pid"],
                }
        return {"totals": totals, "processes": per_process, "growth_from_round_10": growth}


@dataclass
class _Operators:
    """The node operators: top up slashed stakes, claim rewards (with each node's own key)."""

    consortium: SoakConsortium
    paid_in_wei: int
    accounts: dict[str, LocalAccount] = field(default_factory=dict)
    top_ups: int = 0

    def account(self, node: NodeHandle) -> LocalAccount:
        if node.address not in self.accounts:
            self.accounts[node.address] = load_account(node.keystore, self.consortium.passphrase)
        return self.accounts[node.address]

    def top_up_slashed(self) -> None:
        ledger = self.consortium.ledger
        assert ledger is not None
        minimum = ledger.min_stake()
        for node in self.consortium.nodes:
            stake = ledger.member(node.address).stake
            if stake < minimum:
                ledger.top_up(self.account(node), minimum - stake)
                self.paid_in_wei += minimum - stake
                self.top_ups += 1

    def claim_all(self) -> None:
        ledger = self.consortium.ledger
        assert ledger is not None
        for node in self.consortium.nodes:
            if ledger.member(node.address).pending_reward > 0:
                ledger.claim(self.account(node))


@dataclass
class _Driver:
    """Watches the ledger round by round and injects each round's fault."""

    consortium: SoakConsortium
    schedule: FaultSchedule
    operators: _Operators
    memory: MemoryProbe
    rounds: int
    on_progress: Callable[[SoakProgress], None] | None
    run_id: int = 0
    runs: list[int] = field(default_factory=list)
    seen_rounds: int = 0
    open_round: int = 0
    killed: dict[int, int] = field(default_factory=dict)  # node index → round it was killed in
    started_at: dict[int, int] = field(default_factory=dict)  # node index → round after which it was started again
    injected: list[tuple[int, str, str]] = field(default_factory=list)  # (round, kind, detail)
    planned: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # round → (process fault, node to kill) to carry out
    planned_to: int = 0  # the last round whose fault has been drawn
    unexpected_exits: list[str] = field(default_factory=list)
    finalized: int = 0
    cancelled: int = 0
    superlink_restarts: int = 0
    chain_restarts: int = 0
    supernode_restarts: int = 0
    resubmits: int = 0
    last_progress: float = field(default_factory=time.monotonic)
    last_run_check: float = field(default_factory=time.monotonic)

    # ---------------------------------------------------------------- Flower runs

    def submit(self) -> None:
        self.run_id = self.consortium.submit()
        self.runs.append(self.run_id)

    def run_state(self) -> str:
        return str(self.consortium.status.data.get("state", ""))

    def wait_run_finished(self, timeout_s: float = 60.0) -> str:
        """Wait (bounded) until Flower reports the current run finished; its status."""
        deadline = time.monotonic() + timeout_s
        status = "unknown"
        while time.monotonic() < deadline:
            try:
                status = run_status(self.run_id, self.consortium.env)
            except FlowerRunFailed:
                pass
            if status.startswith("finished"):
                return status
            time.sleep(1.0)
        raise TransportProcessError(f"run {self.run_id} still {status} {timeout_s:.0f} s after its ServerApp reported an end")

    def check_run(self) -> None:
        """A run that Flower reports finished while its ServerApp never said so (it died at start): submit again."""
        self.last_run_check = time.monotonic()
        try:
            status = run_status(self.run_id, self.consortium.env)
        except FlowerRunFailed:
            return
        if status.startswith("finished") and self.run_state() not in ("done", "failed"):
            log.warning("run %d %s without a word from its ServerApp; submitting the federation again", self.run_id, status)
            self.submit()
            self.resubmits += 1

    # ---------------------------------------------------------------- faults

    def live_nodes(self, closed_round: int) -> list[int]:
        """Nodes that are up and have not been started again in the last :data:`REJOIN_ROUNDS` rounds (still connecting)."""
        return [
            n.index for n in self.consortium.nodes
            if n.index not in self.killed and closed_round - self.started_at.get(n.index, -REJOIN_ROUNDS) >= REJOIN_ROUNDS
            and n.process is not None and n.process.alive()
        ]

    def free_nodes(self, closed_round: int) -> list[int]:
        """Live nodes (see :meth:`live_nodes`) holding no fault yet: none armed in their fault file, no kill planned."""
        taken = {index for _, index in self.planned.values()}
        return [
            index for index in self.live_nodes(closed_round)
            if index not in taken and not self.consortium.fault_file(self.consortium.nodes[index]).exists()
        ]

    def plan_through(self, last_round: int) -> None:
        """Draw the fault of every round up to ``last_round`` not drawn yet, each for a node holding no other.

        Node faults are armed in the node's fault file at once; the node carries one out at its first
        train request of that round or a later one. :meth:`run` draws the first cycle (every kind once)
        before the federation starts, so none of those is armed after its round opened and all are
        carried out however fast rounds go; later draws are made as the round before closes.
        """
        while self.planned_to < last_round:
            self.planned_to += 1
            kind = self.schedule.next(self.planned_to)
            if kind is None:
                continue
            if kind in NODELESS_FAULT_KINDS:
                self.planned[self.planned_to] = (kind, None)
                continue
            candidates = self.free_nodes(self.planned_to - 1)
            if not candidates:
                self.schedule.injected.pop()
                continue
            index = candidates[self.schedule.rng.randrange(len(candidates))]
            if kind == "supernode-kill":
                self.planned[self.planned_to] = (kind, index)
            else:
                arm_fault(self.consortium.fault_file(self.consortium.nodes[index]), kind.removeprefix("node-"), self.planned_to)

    def on_round_opened(self, round_id: int) -> None:
        """Carry out the earliest process fault drawn for this round or an earlier one.

        A fault drawn for an earlier round is one whose round opened and closed between two polls
        (a loaded machine): it is carried out now instead of being lost.
        """
        due = [r for r in self.planned if r <= round_id]
        if not due:
            return
        kind, index = self.planned.pop(min(due))
        if kind == "supernode-kill":
            if index is None or index not in self.live_nodes(round_id - 1):
                candidates = self.free_nodes(round_id - 1)
                if not candidates:
                    return
                index = candidates[self.schedule.rng.randrange(len(candidates))]
            self.consortium.kill_node(index)
            self.killed[index] = round_id
            self.injected.append((round_id, kind, self.consortium.nodes[index].name))
        elif kind == "superlink-restart":
            self.consortium.restart_superlink()
            self.superlink_restarts += 1
            self.injected.append((round_id, kind, "SuperLink and its ServerApp killed with the round open"))
            self.submit()
            self.resubmits += 1
        elif kind == "chain-restart":
            self.consortium.restart_chain()
            self.chain_restarts += 1
            self.injected.append((round_id, kind, "anvil stopped and started from its state file"))

    def restart_killed(self, closed_round: int) -> None:
        """Start again every node killed in a round that has closed (after topping up its stake if slashed)."""
        for index, round_id in list(self.killed.items()):
            if round_id <= closed_round:
                self.consortium.start_node(self.consortium.nodes[index])
                self.supernode_restarts += 1
                self.started_at[index] = closed_round
                del self.killed[index]

    def check_nodes(self) -> None:
        """A node that exited without being killed is an unexpected failure: record it, start it again."""
        for node in self.consortium.nodes:
            if node.index in self.killed or node.process is None or node.process.alive():
                continue
            self.unexpected_exits.append(f"{node.name}: exit code {node.process.process.returncode}: {node.process.log_tail()}")
            log.warning("node %s exited unexpectedly; starting it again", node.name)
            self.consortium.start_node(node)

    # ---------------------------------------------------------------- the loop

    def progress(self) -> None:
        self.last_progress = time.monotonic()
        if self.on_progress is not None:
            self.on_progress(SoakProgress(self.finalized, self.cancelled, len(self.injected), self.resubmits))

    def poll_ledger(self) -> None:
        ledger = self.consortium.ledger
        assert ledger is not None
        count = ledger.round_count()
        if self.open_round:
            status = ledger.round(self.open_round).status
            if status != RoundStatus.OPEN:
                self.close_round(self.open_round, status)
        for round_id in range(self.seen_rounds + 1, count + 1):
            if self.open_round:  # opened and closed between two polls
                self.close_round(self.open_round, ledger.round(self.open_round).status)
            self.seen_rounds = round_id
            status = ledger.round(round_id).status
            if round_id == 1:
                self.memory.sample("start")  # every process up, the ServerApp running
            if status == RoundStatus.OPEN:
                self.open_round = round_id
                self.on_round_opened(round_id)
            else:
                self.open_round = round_id
                self.close_round(round_id, status)

    def close_round(self, round_id: int, status: RoundStatus) -> None:
        self.open_round = 0
        if status == RoundStatus.FINALIZED:
            self.finalized += 1
            if self.finalized == min(RSS_WARMUP_ROUND, self.rounds):
                self.memory.sample("round_10")
        else:
            self.cancelled += 1
        self.operators.top_up_slashed()
        self.restart_killed(round_id)
        if self.finalized < self.rounds:
            self.plan_through(round_id + 1)
        self.progress()

    def run(self) -> None:
        """Submit the federation and drive it until ``rounds`` rounds are finalized (bounded)."""
        self.plan_through(len(self.schedule.kinds))
        self.submit()
        while True:
            try:
                self.poll_ledger()
                self.check_nodes()
            except ChainError as exc:  # the chain being restarted by a fault: poll again
                log.info("poll: %s", exc)
            state = self.run_state()
            if self.finalized >= self.rounds and state == "done":
                self.wait_run_finished()
                return
            if state == "failed":
                error = self.consortium.status.data.get("error", "")
                log.warning("run %d failed (%s); submitting the federation again", self.run_id, error)
                self.wait_run_finished()
                self.consortium.status.update(state="resubmitted")
                self.submit()
                self.resubmits += 1
                self.progress()
            elif time.monotonic() - self.last_run_check > RUN_CHECK_S:
                self.check_run()
            if time.monotonic() - self.last_progress > STUCK_S:
                raise FlNodeError(
                    f"soak stuck: no round opened or closed for {STUCK_S:.0f} s (run {self.run_id}, state {state!r}, "
                    f"error {self.consortium.status.data.get('error', '')!r})"
                )
            time.sleep(POLL_S)


def run_flower_soak(
    config: SoakConfig,
    work_dir: Path,
    settings: FlowerSoakSettings = FlowerSoakSettings(),
    on_progress: Callable[[SoakProgress], None] | None = None,
) -> dict[str, object]:
    """Run the soak over a real consortium in ``work_dir`` and return its JSON figures.

    Keys as :func:`fl_node.soak.run_soak` (``rounds_finalized``, ``rounds_cancelled``,
    ``faults_injected``, ``audit.ok``, ``balances_ok``, ``rss_mb.start/end``) with the
    consortium's detail: ``rss_mb.round_10`` and ``rss_mb.processes`` (per process),
    restarts of each kind, what each node fault did, processes left behind.
    """
    torch.set_num_threads(1)
    started = time.perf_counter()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    task = config.task()
    consortium_config = ConsortiumConfig(task, straggler_grace_s=settings.straggler_grace_s, tls=settings.tls)
    schedule = FaultSchedule(config.seed, enabled=config.faults, kinds=FLOWER_FAULT_KINDS, rate=settings.fault_rate)
    with SoakConsortium(consortium_config, work_dir) as consortium:
        consortium.start_chain()
        ledger = consortium.deploy()
        assert consortium.serve is not None
        consortium.serve = dataclasses.replace(consortium.serve, node_wait_s=NODE_WAIT_S, round_timeout_s=settings.round_timeout_s, round_retries=3)
        write_app_project(work_dir / "app", consortium.serve.to_run_config())
        consortium.start_superlink()
        consortium.start_nodes(admit_timeout_s=STARTUP_WAIT_S)
        memory = MemoryProbe(consortium)
        operators = _Operators(consortium, paid_in_wei=task.rewards.stake_wei * task.data.nodes)
        driver = _Driver(consortium, schedule, operators, memory, config.rounds, on_progress)
        driver.run()
        memory.sample("end")
        for index in list(driver.killed):  # every node up for the operators' claims
            consortium.start_node(consortium.nodes[index])
        driver.killed.clear()
        operators.top_up_slashed()
        operators.claim_all()
        task_id = consortium.task_id()
        store = ArtifactStore(Path(consortium.serve.artifacts))
        private_key = key_holder_key(consortium.serve, load_published(ledger, store, task_id).spec)
        record = round_record(ledger, task_id)
        audit = audit_federation(ledger, store, task_id, private_key)
        balances = check_balances(ledger, operators.paid_in_wei)
        node_faults = [
            {"node": node.name, **entry} for node in consortium.nodes for entry in read_fault_log(consortium.fault_log(node))
        ]
        late_refused = Counter(e["outcome"].split(": ")[-1] for e in node_faults if e["fault"] == "late" and "refused" in e["outcome"])
        late_accepted = [f"{e['node']} in round {e['round']}" for e in node_faults if e["fault"] == "late" and "ACCEPTED" in e["outcome"]]
        slashes = [e for e in ledger.events() if type(e).__name__ == "MemberSlashed"]
    left = processes_left(work_dir, consortium.state_file)
    injected = [(r, kind) for r, kind, _ in driver.injected] + [(e["round"], "node-" + e["fault"]) for e in node_faults]
    by_kind = Counter(kind for _, kind in injected)
    rss = memory.report()
    growth = rss["growth_from_round_10"]
    watched = {role: g for role, g in growth.items() if role != "anvil"}
    # Growth is judged from round 10 to the end: in a run of 10 rounds or fewer the warm-up sample is the last
    # round, so a process restarted a round earlier (still warming up) would be judged on its start-up.
    max_growth = max((g["growth"] for g in watched.values() if g["same_process"]), default=0.0)
    nothing_lost = record["open"] == 0 and not record["cancelled_without_reason"] and not late_accepted
    return {
        "rounds": config.rounds,
        "transport": "flower",
        "rounds_finalized": record["finalized"],
        "rounds_cancelled": record["cancelled"],
        "rounds_open": record["open"],
        "cancelled_without_reason": record["cancelled_without_reason"],
        "cancel_reasons": record["cancel_reasons"],
        "faults_injected": len(injected),
        "faults_by_kind": dict(sorted(by_kind.items())),
        "faults": sorted(
            [{"round": r, "kind": k, "detail": d} for r, k, d in driver.injected]
            + [{"round": e["round"], "kind": "node-" + e["fault"], "detail": f"{e['node']}: {e['outcome']}"} for e in node_faults],
            key=lambda f: f["round"],
        ),
        "superlink_restarts": driver.superlink_restarts,
        "supernode_restarts": driver.supernode_restarts,
        "chain_restarts": driver.chain_restarts,
        "flower_runs": len(driver.runs),
        "node_exits_unexpected": driver.unexpected_exits,
        "slashes": len(slashes),
        "top_ups": operators.top_ups,
        "late_commits_refused": dict(late_refused),
        "late_commits_accepted": late_accepted,
        "audit": {"ok": audit.ok, "failed": [c.name for c in audit.checks if not c.ok]},
        "balances_ok": balances["ok"],
        "balances": {"checks": balances["checks"], "figures": balances["figures"]},
        "rss_mb": {
            "start": rss["totals"].get("start"),
            "round_10": rss["totals"].get("round_10"),
            "end": rss["totals"].get("end"),
            "processes": rss["processes"],
        },
        "rss_growth_from_round_10": growth,
        "rss_growth_max": max_growth,
        "processes_left": len(left),
        "processes_left_detail": left,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": list(os.getloadavg()),
        "ok": bool(
            nothing_lost and audit.ok and balances["ok"] and record["finalized"] == config.rounds and not left
            and not driver.unexpected_exits and (config.rounds <= RSS_WARMUP_ROUND or max_growth < 0.2)
        ),
        "config": {"nodes": config.nodes, "min_participants": config.min_participants, "key_bits": config.key_bits,
                   "seed": config.seed, "faults": config.faults, "fault_rate": settings.fault_rate,
                   "straggler_grace_s": settings.straggler_grace_s, "round_timeout_s": settings.round_timeout_s,
                   "tls": settings.tls, "chain": "anvil"},
    }
