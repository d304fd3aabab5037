"""The audit of every task on one ledger: each task's checks, named after the task.

A task whose published spec is in the artifact store is audited in full
(:func:`fl_node.replay.audit_federation`); one whose spec is not there (a multi-party vfl or
ftl run, which publishes no artifacts, or a task of another store) gets the checks the ledger
alone allows: its reward arithmetic, with the store's checks marked skipped. The ledger-wide
checks (member totals, token balances) run once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from phe import PaillierPrivateKey

from fl_node.artifacts import ArtifactStore
from fl_node.errors import KeyMismatch
from fl_node.replay import audit_federation, load_published
from incentive.audit import AuditCheck, AuditReport, check_member_totals, check_reward_arithmetic, check_token_balances, finalized_rounds
from incentive.ledger import LedgerClient, to_bytes32

LEDGER_WIDE = ("member totals", "token balances")


@dataclass(frozen=True)
class TaskCheck:
    """One check of one task (``task_id`` 0: a check of the whole ledger)."""

    task_id: int
    check: AuditCheck

    @property
    def task(self) -> str:
        return f"task {self.task_id}" if self.task_id else "ledger"

    def to_json(self) -> dict[str, object]:
        c = self.check
        return {"task": self.task_id or None, "name": c.name, "ok": c.ok, "skipped": c.skipped, "detail": f"{self.task}: {c.detail}"}


@dataclass(frozen=True)
class LedgerAudit:
    """Every check of the tasks audited; ``ok`` when all hold."""

    tasks: tuple[int, ...]
    checks: tuple[TaskCheck, ...]

    @property
    def ok(self) -> bool:
        return all(c.check.ok for c in self.checks)

    def report(self) -> AuditReport:
        return AuditReport(tuple(c.check for c in self.checks))

    def to_json(self) -> dict[str, object]:
        """``{"ok", "tasks", "checks": [{"task", "name", "ok", "skipped", "detail"}...]}``."""
        return {"ok": self.ok, "tasks": list(self.tasks), "checks": [c.to_json() for c in self.checks]}


def _key_fits(ledger: LedgerClient, store: ArtifactStore, task_id: int, private_key: PaillierPrivateKey) -> bool:
    spec = load_published(ledger, store, task_id).spec
    return not spec.encrypt or spec.paillier_public_key().n == private_key.public_key.n


def audit_ledger(
    ledger: LedgerClient, store: ArtifactStore, task_ids: Sequence[int], private_key: PaillierPrivateKey | None = None
) -> LedgerAudit:
    """Audit ``task_ids``; the key holder's ``private_key`` recomputes the tasks it belongs to.

    Raises
    ------
    KeyMismatch
        ``private_key`` belongs to none of the tasks whose spec is in the store.
    """
    published = [t for t in task_ids if store.has(to_bytes32(ledger.task(t).model_spec_hash))]
    keyed = {t for t in published if private_key is not None and _key_fits(ledger, store, t, private_key)}
    if private_key is not None and not keyed:
        raise KeyMismatch(f"the private key given does not belong to the public key of task {', '.join(map(str, published)) or '(none in the store)'}")
    checks: list[TaskCheck] = []
    for task_id in task_ids:
        if task_id in published:
            report = audit_federation(ledger, store, task_id, private_key if task_id in keyed else None)
            checks += [TaskCheck(task_id, c) for c in report.checks if c.name not in LEDGER_WIDE]
        else:
            checks.append(TaskCheck(task_id, AuditCheck(
                "published spec", True, "not in this artifact store (a vfl/ftl run publishes none): ledger checks only", skipped=True
            )))
            checks.append(TaskCheck(task_id, check_reward_arithmetic(finalized_rounds(ledger, task_id), ledger.reward_policy)))
    checks += [TaskCheck(0, check_member_totals(ledger, finalized_rounds(ledger))), TaskCheck(0, check_token_balances(ledger))]
    return LedgerAudit(tuple(task_ids), tuple(checks))
