"""What each explorer page shows, read from the ledger client, its event index and the artifact store.

:class:`Explorer` is bound to one ledger address on one chain. It attaches lazily (so a bad
address becomes a page that says what is wrong, not a crash), keeps one :class:`LedgerIndex`
per ledger, and serializes chain access with a lock (the embedded chain is not thread-safe).
Each page method returns the template context; bad input raises :class:`PageError` with an
HTTP status and a sentence.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phe import PaillierPrivateKey

from fl_node.errors import FlNodeError
from fl_node.explorer.index import LedgerIndex
from fl_node.explorer.store import BlobState, ReadOnlyStore
from fl_node.replay import audit_federation, load_published
from incentive.audit import AuditReport
from incentive.chain import Chain
from incentive.errors import IncentiveError
from incentive.ledger import (
    AGGREGATOR_ROLE,
    DEFAULT_ADMIN_ROLE,
    EVALUATOR_ROLE,
    ROLE_NAMES,
    LedgerClient,
    MemberStatus,
    ParticipantDropped,
    RoundStatus,
)

ROLE_LABELS = {
    ROLE_NAMES[DEFAULT_ADMIN_ROLE]: "admin",
    ROLE_NAMES[AGGREGATOR_ROLE]: "aggregator",
    ROLE_NAMES[EVALUATOR_ROLE]: "evaluator",
}


class PageError(Exception):
    """A page that cannot be shown: ``status`` is the HTTP status, the message says why in words."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Explorer:
    """The read-only view of one ledger and (optionally) its artifact store and key holder's key.

    Parameters
    ----------
    chain : Chain
    address : str
        The ledger's address, as given (checked on first use).
    artifacts : Path | None (default: no store)
    private_key : PaillierPrivateKey | None (default: audit without the key)
        The key holder's key: the audit recomputes aggregation and scores of encrypted runs.
    """

    chain: Chain
    address: str
    artifacts: Path | None = None
    private_key: PaillierPrivateKey | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ledger: LedgerClient | None = None
    _index: LedgerIndex | None = None
    _store: ReadOnlyStore | None = None
    _audits: dict[int, AuditReport] = field(default_factory=dict)

    # -------------------------------------------------------------- attaching

    @property
    def store(self) -> ReadOnlyStore:
        if self._store is None:
            self._store = ReadOnlyStore(self.artifacts)
        return self._store

    def attach(self) -> tuple[LedgerClient, LedgerIndex]:
        """The ledger client and its index, brought up to the chain's head (PageError when there is no ledger)."""
        with self.lock:
            if self._ledger is None:
                try:
                    self._ledger = LedgerClient.at(self.chain, self.address)
                except IncentiveError as exc:
                    raise PageError(404, f"No ledger to show: {exc}.") from None
                except Exception as exc:  # the node went away, a malformed answer
                    raise PageError(503, f"Cannot read the chain: {type(exc).__name__}: {exc}") from None
                self._index = LedgerIndex(self._ledger)
            try:
                self._index.refresh()
            except Exception as exc:
                raise PageError(503, f"Cannot read the ledger's events: {type(exc).__name__}: {exc}") from None
            return self._ledger, self._index

    def head(self) -> int:
        """The newest block the index has read (reading new blocks first)."""
        _, index = self.attach()
        return index.head

    # -------------------------------------------------------------- shared pieces

    def _frame(self, ledger: LedgerClient, index: LedgerIndex) -> dict[str, Any]:
        return {
            "ledger_address": ledger.address,
            "chain_id": self.chain.chain_id,
            "head": index.head,
            "tasks_nav": sorted(index.task_created),
            "names": self._names(ledger),
        }

    def _names(self, ledger: LedgerClient) -> dict[str, str]:
        names = dict(self._index.member_names)
        for role, holders in self._index.role_holders.items():
            for account in holders:
                names.setdefault(account, ROLE_LABELS.get(role, role))
        names[ledger.address] = "ledger"
        return names

    def _timestamp(self, block_number: int | None) -> int | None:
        if block_number is None:
            return None
        return int(self.chain.w3.eth.get_block(block_number)["timestamp"])

    # -------------------------------------------------------------- pages

    def overview(self) -> dict[str, Any]:
        """The ledger's address, chain, roles, stake totals, token supply and tasks."""
        with self.lock:
            ledger, index = self.attach()
            token = ledger.token_contract
            totals = ledger.stake_totals()
            statuses: dict[str, int] = defaultdict(int)
            for status in index.member_status.values():
                statuses[status.name.lower()] += 1
            round_states = defaultdict(int)
            for trail in index.rounds.values():
                state = "finalized" if trail.finalized else "cancelled" if trail.cancelled else "open"
                round_states[state] += 1
            tasks = []
            for task in ledger.tasks():
                rounds = index.task_rounds.get(task.task_id, [])
                finalized = [index.rounds[r].finalized for r in rounds if index.rounds[r].finalized]
                tasks.append(
                    {
                        "task": task,
                        "rounds": len(rounds),
                        "finalized": len(finalized),
                        "latest_performance": finalized[-1].performance if finalized else None,
                        "created": task.created_at,
                    }
                )
            roles = [
                {"role": ROLE_LABELS.get(role, role), "role_id": role, "holders": list(holders)}
                for role, holders in sorted(index.role_holders.items(), key=lambda kv: list(ROLE_LABELS).index(kv[0]) if kv[0] in ROLE_LABELS else 9)
            ]
            return {
                **self._frame(ledger, index),
                "page": "overview",
                "deployment_block": ledger.deployment_block,
                "deployed_at": self._timestamp(ledger.deployment_block),
                "token_address": ledger.token,
                "token_name": token.functions.name().call(),
                "token_symbol": token.functions.symbol().call(),
                "token_supply": token.functions.totalSupply().call(),
                "min_stake": ledger.min_stake(),
                "totals": totals,
                "held_by_members": totals.staked - totals.returned - totals.slashed,
                "member_states": dict(statuses),
                "member_count": len(index.member_status),
                "round_states": dict(round_states),
                "round_count": ledger.round_count(),
                "event_count": len(index.events),
                "roles": roles,
                "tasks": tasks,
            }

    def members(self) -> dict[str, Any]:
        """Every member: status, stake, slashing with evidence, cumulative score, rewards pending and claimed."""
        with self.lock:
            ledger, index = self.attach()
            rounds_of: dict[str, int] = defaultdict(int)
            for trail in index.rounds.values():
                for account in trail.commits:
                    rounds_of[account] += 1
            rows = [
                {
                    "member": m,
                    "slashed": index.slashed(m.address),
                    "evidence": [s.evidence_hash for s in index.slashes.get(m.address, ())],
                    "rounds": rounds_of[m.address],
                }
                for m in ledger.members()
            ]
            return {**self._frame(ledger, index), "page": "members", "rows": rows, "MemberStatus": MemberStatus}

    def task(self, task_id: int) -> dict[str, Any]:
        """A task: its published spec checked against the hashes, rounds, performance and contributions."""
        with self.lock:
            ledger, index = self.attach()
            count = ledger.task_count()
            if not 1 <= task_id <= count:
                raise PageError(404, f"Task {task_id} does not exist: the ledger has {_range('task', count)}.")
            task = ledger.task(task_id)
            spec_status = self.store.status(task.model_spec_hash)
            validation_status = self.store.status(task.validation_spec_hash)
            spec = validation = None
            spec_problem = None
            if spec_status.ok and validation_status.ok:
                try:
                    published = load_published(ledger, self.store.store, task_id)
                    spec, validation = published.spec, published.validation
                except FlNodeError as exc:
                    spec_problem = f"The stored spec cannot be read: {exc}"
            else:
                spec_problem = _store_problem(
                    [("model spec", spec_status), ("validation split", validation_status)], self.artifacts
                )
            timeline = []
            cumulative: dict[str, int] = defaultdict(int)
            series: dict[str, list[float]] = {}
            rewards: dict[str, int] = defaultdict(int)
            rounds_in: dict[str, int] = defaultdict(int)
            order: dict[str, None] = {}
            for round_id in index.task_rounds.get(task_id, []):
                trail = index.rounds[round_id]
                for account in trail.commits:
                    order.setdefault(account, None)
                fin = trail.finalized
                if fin is not None:
                    for account, outcome in trail.outcomes.items():
                        cumulative[account] += outcome.score
                        rewards[account] += getattr(outcome, "reward", 0)
                        rounds_in[account] += 1
                for account in order:
                    series.setdefault(account, [None] * len(timeline))
                    series[account].append(cumulative[account] / 10**6 if fin is not None else None)
                timeline.append(
                    {
                        "round_id": round_id,
                        "status": "finalized" if fin else "cancelled" if trail.cancelled else "open",
                        "participants": len(trail.commits),
                        "dropped": sum(1 for o in trail.outcomes.values() if isinstance(o, ParticipantDropped)),
                        "performance": fin.performance if fin else None,
                        "rewarded": fin.rewarded if fin else None,
                        "dust": fin.dust if fin else None,
                        "opened_block": trail.opened.block_number if trail.opened else None,
                        "finalized_block": fin.block_number if fin else None,
                    }
                )
            frame = self._frame(ledger, index)
            names = frame["names"]
            charts = {
                "performance": {
                    "labels": [f"round {t['round_id']}" for t in timeline],
                    "values": [t["performance"] / 10**6 if t["performance"] is not None else None for t in timeline],
                },
                "contributions": {
                    "labels": [f"round {t['round_id']}" for t in timeline],
                    "series": [{"label": names.get(a, a), "values": series[a]} for a in order],
                },
            }
            members = [
                {"account": a, "rounds": rounds_in[a], "score": cumulative[a], "reward": rewards[a]} for a in order
            ]
            return {
                **frame,
                "page": "task",
                "task": task,
                "spec": spec,
                "validation_size": len(validation) if validation is not None else None,
                "spec_status": spec_status,
                "validation_status": validation_status,
                "spec_problem": spec_problem,
                "timeline": timeline,
                "charts": charts,
                "task_members": members,
            }

    def round(self, round_id: int) -> dict[str, Any]:
        """A round: model hashes, each participant's commitment, blob, score and reward, the transactions."""
        with self.lock:
            ledger, index = self.attach()
            count = ledger.round_count()
            if not 1 <= round_id <= count:
                raise PageError(404, f"Round {round_id} does not exist: the ledger has {_range('round', count)}.")
            r = ledger.round(round_id)
            trail = index.trail(round_id)
            participants = []
            for p in r.participants:
                commit = trail.commits.get(p.account)
                participants.append(
                    {
                        "record": p,
                        "blob": self.store.status(p.commitment),
                        "commit_tx": commit.tx_hash if commit else None,
                        "commit_block": commit.block_number if commit else None,
                    }
                )
            finalized = trail.finalized
            models = [("global", r.global_model_hash)]
            if r.status == RoundStatus.FINALIZED:
                models.append(("aggregated", r.aggregated_model_hash))
            blobs = [p["blob"] for p in participants]
            return {
                **self._frame(ledger, index),
                "page": "round",
                "round": r,
                "round_count": count,
                "participants": participants,
                "models": [{"label": label, "status": self.store.status(digest)} for label, digest in models],
                "opened": trail.opened,
                "finalized": finalized,
                "cancelled": trail.cancelled,
                "finalized_at": self._timestamp(finalized.block_number) if finalized else None,
                "store_available": self.store.available,
                "blob_counts": {state.value: sum(1 for b in blobs if b.state is state) for state in BlobState},
            }

    def audit(self, task_id: int | None, run: bool) -> dict[str, Any]:
        """The audit page of a task: the checks of ``fedledger audit`` when ``run``, else the last report."""
        with self.lock:
            ledger, index = self.attach()
            count = ledger.task_count()
            if count == 0:
                raise PageError(404, "The ledger has no task to audit yet.")
            task_id = count if task_id is None else task_id
            if not 1 <= task_id <= count:
                raise PageError(404, f"Task {task_id} does not exist: the ledger has {_range('task', count)}.")
            problem = None
            if run:
                if not self.store.available:
                    problem = _store_problem([], self.artifacts)
                else:
                    try:
                        self._audits[task_id] = audit_federation(ledger, self.store.store, task_id, self.private_key)
                    except (FlNodeError, IncentiveError) as exc:
                        problem = f"The audit could not run: {exc}"
            return {
                **self._frame(ledger, index),
                "page": "audit",
                "task_id": task_id,
                "task_count": count,
                "report": self._audits.get(task_id),
                "problem": problem,
                "with_key": self.private_key is not None,
                "store_available": self.store.available,
            }

    def artifact(self, digest_hex: str) -> Path:
        """The stored file of a model blob, for download (PageError when missing or altered)."""
        try:
            status = self.store.status(digest_hex)
        except ValueError:
            raise PageError(400, f"Not a 32-byte hash: {digest_hex}") from None
        if status.path is None:
            raise PageError(404, f"The artifact store has no intact blob {digest_hex} ({status.state.value}).")
        return status.path


def _range(kind: str, count: int) -> str:
    return f"no {kind}s yet" if count == 0 else f"{kind}s 1 to {count}" if count > 1 else f"only {kind} 1"


def _store_problem(statuses: list[tuple[str, Any]], root: Path | None) -> str:
    if root is None:
        return "No artifact store was given (--artifacts): the published spec and blobs cannot be checked."
    if not Path(root).is_dir():
        return f"The artifact store {root} does not exist."
    parts = []
    for label, status in statuses:
        if status.state is BlobState.MISSING:
            parts.append(f"the {label} {status.digest} is not in the store")
        elif status.state is BlobState.ALTERED:
            parts.append(f"the stored {label} does not match the ledger's hash {status.digest}")
    return "The store does not match the ledger: " + "; ".join(parts) + "." if parts else ""
