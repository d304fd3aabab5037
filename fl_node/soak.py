"""A long federation on anvil under repeated injected faults, checked at the end for anything lost.

:func:`run_soak` sets up the demo's federation (:func:`fl_node.demo.setup_federation`) on an
anvil node reached through a :class:`~fl_node.soak_faults.FaultyRpcProxy`, and drives
:func:`~fl_node.hfl.runner.run_federation` until ``rounds`` rounds are finalized while a seeded
:class:`~fl_node.soak_faults.FaultSchedule` gives every opened round one fault. When a fault
takes the coordinator down (a crash, a chain that fails its requests) a new coordinator, its key
read back from disk, resumes from the chain: it cancels the round left open and continues from
the last finalized model. Between rounds the operators do what real ones would: a slashed node
tops its stake up, a late node tries its late commitment, nodes claim their rewards.

At the end: every round is finalized or cancelled with a reason, the audit passes, and stakes
and tokens balance to the wei (:func:`check_balances`).
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fl_node.crypto.keys import load_private_key
from fl_node.demo import DemoConfig, Federation, setup_federation
from fl_node.errors import FlNodeError, RoundAborted
from fl_node.hfl.aggregator import Collected, collect_submissions
from fl_node.hfl.coordinator import Coordinator, RoundOutcome
from fl_node.hfl.participant import RoundPlan
from fl_node.hfl.runner import RunObserver, run_federation
from fl_node.replay import audit_federation
from fl_node.soak_faults import CoordinatorCrashed, FaultSchedule, FaultyNode, FaultyRpcProxy, InjectedFault
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.training import TrainConfig
from incentive.chain import AnvilNode, rpc_chain, start_anvil
from incentive.errors import ChainError, LedgerRevert
from incentive.ledger import LedgerClient, RoundCancelled, RoundStatus

log = logging.getLogger(__name__)

#: Times a cancelled round is opened again before the coordinator gives up and is restarted.
ROUND_RETRIES = 3
#: Recoveries in a row without a new finalized round before the soak stops as stuck.
MAX_RECOVERIES_WITHOUT_PROGRESS = 8
#: Finalized rounds between reward claims.
CLAIM_EVERY = 10
#: The finalized round at which resident memory is first sampled (the start of the growth check).
RSS_WARMUP_ROUND = 10


@dataclass(frozen=True)
class SoakConfig:
    """A soak run.

    Attributes
    ----------
    rounds : int (default: 100)
        Rounds to finalize.
    faults : bool (default: True)
        Inject one fault per opened round; False: a baseline run without faults.
    nodes : int (default: 5)
    min_participants : int (default: 3)
    key_bits : int (default: 1024)
        Paillier modulus of the federation's key.
    seed : int (default: 0)
        Seeds the task and the fault schedule.
    receipt_timeout_s : float (default: 30)
        How long a transaction waits for its receipt before the sender gives up.
    """

    rounds: int = 100
    faults: bool = True
    nodes: int = 5
    min_participants: int = 3
    key_bits: int = 1024
    seed: int = 0
    receipt_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise FlNodeError(f"a soak needs at least 1 round, got {self.rounds}")
        if not 2 <= self.min_participants < self.nodes:
            raise FlNodeError(
                f"a soak needs 2 <= min_participants < nodes (a node must be able to fail), got {self.min_participants} of {self.nodes}"
            )

    def task(self) -> TaskConfig:
        """The federated task: the demo's data and model, one local epoch, leave-one-out scores."""
        return TaskConfig(
            data=DataConfig(nodes=self.nodes),
            training=TrainConfig(epochs=1, lr=0.05, batch_size=16),
            custody=CustodyConfig(key_bits=self.key_bits),
            scoring=ScoringConfig(scorer="loo"),
            rounds=self.rounds,
            min_participants=self.min_participants,
            seed=self.seed,
        )


@dataclass(frozen=True)
class SoakProgress:
    """Where a soak stands: rounds finalized and cancelled, faults injected, coordinator restarts."""

    finalized: int
    cancelled: int
    faults: int
    recoveries: int


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (default: this one) in MiB, from ``/proc``."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kib / 1024


class ChainHost:
    """The anvil node under the soak, restartable from its state file on the same port."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.node: AnvilNode = start_anvil(state=state)
        self.started = [self.node]
        self.restarts = 0

    def restart(self) -> None:
        """Stop anvil (it writes its state) and start it again from that state."""
        port = self.node.port
        self.node.stop()
        self.node = start_anvil(port=port, state=self.state)
        self.started.append(self.node)
        self.restarts += 1

    def left_running(self) -> int:
        """anvil processes started by this host that are still running."""
        return sum(node.process.poll() is None for node in self.started)

    def stop(self) -> None:
        self.node.stop()


class SoakTransport:
    """In-process nodes; before each round it arms that round's fault, after it the chain may restart
    or the coordinator die."""

    def __init__(self, nodes: list[FaultyNode], schedule: FaultSchedule, proxy: FaultyRpcProxy, chain: ChainHost, min_participants: int) -> None:
        self.nodes = nodes
        self.schedule = schedule
        self.proxy = proxy
        self.chain = chain
        self.min_participants = min_participants
        self._rpc_armed_at: int | None = None

    def collect(self, plan: RoundPlan) -> Collected:
        self.settle()
        kind = self.schedule.next(plan.round)
        rng = self.schedule.rng
        node = self.nodes[rng.randrange(len(self.nodes))]
        node_fault = {"node-crash": "crash", "crash-after-commit": "crash-after-commit", "corrupt-blob": "corrupt-blob", "late-commit": "late"}
        if kind in node_fault:
            node.fault = node_fault[kind]
        elif kind == "cohort-collapse":
            for victim in rng.sample(self.nodes, len(self.nodes) - self.min_participants + 1):
                victim.fault = "crash"
        elif kind in ("rpc-errors", "rpc-lost-answer"):
            self._rpc_armed_at = self.proxy.failed
            lost = kind == "rpc-lost-answer"
            self.proxy.fail(after=rng.randrange(20), count=1 if lost else rng.randint(1, 4), lose_answer=lost)
        collected = collect_submissions(self.nodes, plan)
        if kind == "chain-restart":
            self.chain.restart()
        if kind == "coordinator-restart":
            raise CoordinatorCrashed(f"coordinator crashed with round {plan.round} open")
        return collected

    def settle(self) -> None:
        """Disarm the chain proxy; an armed failure that never fired was not a fault after all."""
        self.proxy.disarm()
        if self._rpc_armed_at is not None and self.proxy.failed == self._rpc_armed_at:
            self.schedule.injected.pop()
        self._rpc_armed_at = None


@dataclass
class Operators:
    """What the node operators do between rounds: top up slashed stakes, try late commits, claim rewards.

    Attributes
    ----------
    paid_in_wei : int
        Every wei the nodes staked (joins and top-ups): the stake accounting's reference.
    """

    federation: Federation
    nodes: list[FaultyNode]
    paid_in_wei: int
    late_refusals: list[str] = field(default_factory=list)
    late_accepted: list[str] = field(default_factory=list)

    def between_rounds(self, claim: bool = False) -> None:
        ledger = self.federation.ledger
        min_stake = ledger.min_stake()
        for faulty in self.nodes:
            account = faulty.node.account
            member = ledger.member(account.address)
            if member.stake < min_stake:
                ledger.top_up(account, min_stake - member.stake)
                self.paid_in_wei += min_stake - member.stake
            self._late_commits(faulty, ledger)
            if claim and ledger.member(account.address).pending_reward > 0:
                ledger.claim(account)

    def _late_commits(self, faulty: FaultyNode, ledger: LedgerClient) -> None:
        waiting = []
        for late in faulty.late:
            if ledger.round(late.round_id).status == RoundStatus.OPEN:
                waiting.append(late)  # its coordinator died; resume cancels it first
                continue
            try:
                ledger.commit(faulty.node.account, late.round_id, late.blob_hash)
            except LedgerRevert as exc:
                self.late_refusals.append(exc.error_name)
            else:
                self.late_accepted.append(f"{late.node} in round {late.round_id}")
        faulty.late = waiting


class SoakObserver(RunObserver):
    """Runs the operators after every round and retry, samples memory, reports progress."""

    def __init__(self, soak: _Soak) -> None:
        self.soak = soak

    def on_round(self, outcome: RoundOutcome) -> None:
        self.soak.after_round(finalized=True)

    def on_retry(self, error: RoundAborted, attempt: int) -> None:
        self.soak.after_round(finalized=False)


@dataclass
class _Soak:
    config: SoakConfig
    federation: Federation
    transport: SoakTransport
    operators: Operators
    chain_host: ChainHost
    on_progress: Callable[[SoakProgress], None] | None
    finalized: int = 0
    cancelled: int = 0
    recoveries: list[str] = field(default_factory=list)
    rss_start: float | None = None
    anvil_rss_start: float | None = None

    def after_round(self, finalized: bool) -> None:
        self.transport.settle()
        if finalized:
            self.finalized += 1
        else:
            self.cancelled += 1
        self.operators.between_rounds(claim=finalized and self.finalized % CLAIM_EVERY == 0)
        if finalized and self.finalized == min(RSS_WARMUP_ROUND, self.config.rounds):
            gc.collect()
            self.rss_start = rss_mb()
            self.anvil_rss_start = rss_mb(self.chain_host.node.process.pid)
        self.progress()

    def progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(SoakProgress(self.finalized, self.cancelled, len(self.transport.schedule.injected), len(self.recoveries)))


def restart_coordinator(federation: Federation, old: Coordinator) -> Coordinator:
    """A new coordinator process's view: the same task and roles, the private key read back from disk."""
    private_key = load_private_key(federation.key_path) if federation.key_path is not None else None
    return Coordinator(
        old.spec, federation.ledger, old.task_id, old.aggregator_account, old.evaluator_account, private_key,
        old.validation, federation.store, slash_wei=old.slash_wei, round_duration_s=old.round_duration_s,
    )


def check_balances(ledger: LedgerClient, paid_in_wei: int) -> dict[str, object]:
    """Stakes and tokens to the wei: every wei staked is held, returned or slashed; every token is a reward.

    Returns ``{"ok": bool, "checks": {name: bool}, "figures": {...}}``.
    """
    members = ledger.members()
    totals = ledger.stake_totals()
    held = sum(m.stake for m in members)
    contract_wei = ledger.chain.balance(ledger.address)
    events = ledger.events()
    slashed_events = sum(getattr(e, "amount", 0) for e in events if type(e).__name__ == "MemberSlashed")
    rounds = [r for r in ledger.rounds() if r.status == RoundStatus.FINALIZED]
    rewarded = sum(r.rewarded for r in rounds)
    supply = ledger.token_contract.functions.totalSupply().call()
    checks = {
        "staked equals what the nodes paid in": totals.staked == paid_in_wei,
        "staked = returned + slashed + held": totals.staked == totals.returned + totals.slashed + held,
        "contract balance = held + slashed not withdrawn": contract_wei == held + totals.slashed_held,
        "slashed = sum of MemberSlashed events": totals.slashed == slashed_events,
        "rewards credited = rewards of finalized rounds": sum(m.total_reward for m in members) == rewarded,
        "every round: rewarded + dust = budget": all(r.rewarded + r.dust == r.budget for r in rounds),
        "tokens minted = rewards claimed": supply == sum(m.claimed_reward for m in members),
        "each member's tokens = its claims": all(ledger.token_balance(m.address) == m.claimed_reward for m in members),
    }
    figures = {
        "paid_in_wei": paid_in_wei, "staked_wei": totals.staked, "held_wei": held, "returned_wei": totals.returned,
        "slashed_wei": totals.slashed, "contract_wei": contract_wei, "rewarded": rewarded, "token_supply": supply,
    }
    return {"ok": all(checks.values()), "checks": checks, "figures": figures}


def round_record(ledger: LedgerClient, task_id: int) -> dict[str, object]:
    """Every round of the task: finalized, cancelled (each with its reason) or left open (lost)."""
    rounds = [r for r in ledger.rounds() if r.task_id == task_id]
    reasons = {e.round_id: e.reason for e in ledger.events() if isinstance(e, RoundCancelled)}
    by_status = Counter(r.status for r in rounds)
    cancelled = [r.round_id for r in rounds if r.status == RoundStatus.CANCELLED]
    return {
        "finalized": by_status[RoundStatus.FINALIZED],
        "cancelled": by_status[RoundStatus.CANCELLED],
        "open": by_status[RoundStatus.OPEN],
        "cancelled_without_reason": [i for i in cancelled if not reasons.get(i)],
        "cancel_reasons": dict(Counter(reasons[i].split(";")[0] for i in cancelled if reasons.get(i))),
    }


def run_soak(config: SoakConfig, work_dir: Path, on_progress: Callable[[SoakProgress], None] | None = None) -> dict[str, object]:
    """Run the soak in ``work_dir`` (anvil's state file, keys, artifacts) and return its JSON figures.

    Keys: ``rounds_finalized``, ``rounds_cancelled``, ``faults_injected``, ``audit`` (``ok``,
    ``failed``), ``balances_ok``, ``rss_mb`` (``start`` after round 10, ``end``), and the detail
    behind them; ``ok`` when nothing was lost.
    """
    started = time.perf_counter()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    chain_host = ChainHost(work_dir / "anvil-state.json")
    proxy = FaultyRpcProxy(chain_host.node.url)
    try:
        chain = rpc_chain(proxy.url)
        chain.receipt_timeout_s = config.receipt_timeout_s
        federation = setup_federation(DemoConfig(config.task(), free_riders=0, label_flippers=0), chain, work_dir)
        nodes = [FaultyNode(n) for n in federation.nodes]
        schedule = FaultSchedule(config.seed, enabled=config.faults)
        transport = SoakTransport(nodes, schedule, proxy, chain_host, config.min_participants)
        operators = Operators(federation, nodes, paid_in_wei=config.nodes * config.task().rewards.stake_wei)
        soak = _Soak(config, federation, transport, operators, chain_host, on_progress)
        coordinator = federation.coordinator
        stuck = 0
        while True:
            before = soak.finalized
            try:
                run_federation(coordinator, transport, config.rounds, retries=ROUND_RETRIES, resume=True, observers=[SoakObserver(soak)])
                break
            except (InjectedFault, ChainError, RoundAborted) as exc:
                transport.settle()
                soak.recoveries.append(f"{type(exc).__name__}: {exc}")
                log.warning("coordinator down (%s); a new one resumes from the chain", exc)
                stuck = 0 if soak.finalized > before else stuck + 1
                if stuck >= MAX_RECOVERIES_WITHOUT_PROGRESS:
                    raise FlNodeError(f"soak stuck: {stuck} coordinator restarts without a finalized round; last: {exc}") from None
                coordinator = restart_coordinator(federation, coordinator)
                operators.between_rounds()
                soak.progress()
        transport.settle()
        operators.between_rounds(claim=True)
        gc.collect()
        rss_end, anvil_rss_end = rss_mb(), rss_mb(chain_host.node.process.pid)
        record = round_record(federation.ledger, federation.task_id)
        private_key = load_private_key(federation.key_path) if federation.key_path is not None else None
        audit = audit_federation(federation.ledger, federation.store, federation.task_id, private_key)
        balances = check_balances(federation.ledger, operators.paid_in_wei)
    finally:
        proxy.close()
        chain_host.stop()
    rss_start = soak.rss_start if soak.rss_start is not None else rss_end
    growth = (rss_end - rss_start) / rss_start
    faults = Counter(kind for _, kind in schedule.injected)
    nothing_lost = record["open"] == 0 and not record["cancelled_without_reason"] and not operators.late_accepted
    return {
        "rounds": config.rounds,
        "rounds_finalized": record["finalized"],
        "rounds_cancelled": record["cancelled"],
        "rounds_open": record["open"],
        "cancelled_without_reason": record["cancelled_without_reason"],
        "cancel_reasons": record["cancel_reasons"],
        "faults_injected": len(schedule.injected),
        "faults_by_kind": dict(sorted(faults.items())),
        "coordinator_restarts": len(soak.recoveries),
        "chain_restarts": chain_host.restarts,
        "rpc_requests_failed": proxy.failed,
        "late_commits_refused": dict(Counter(operators.late_refusals)),
        "late_commits_accepted": operators.late_accepted,
        "audit": {"ok": audit.ok, "failed": [c.name for c in audit.checks if not c.ok]},
        "balances_ok": balances["ok"],
        "balances": {"checks": balances["checks"], "figures": balances["figures"]},
        "rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1)},
        "rss_growth": round(growth, 4),
        "anvil_rss_mb": {"start": round(soak.anvil_rss_start or anvil_rss_end, 1), "end": round(anvil_rss_end, 1)},
        "processes_left": chain_host.left_running(),
        "seconds": round(time.perf_counter() - started, 1),
        "ok": bool(
            nothing_lost and audit.ok and balances["ok"] and record["finalized"] == config.rounds and growth < 0.2
            and chain_host.left_running() == 0
        ),
        "config": {"nodes": config.nodes, "min_participants": config.min_participants, "key_bits": config.key_bits,
                   "seed": config.seed, "faults": config.faults, "chain": "anvil"},
    }
