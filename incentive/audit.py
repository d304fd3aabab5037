"""Auditing a federation from its ledger: checks that need nothing but the chain and a blob lookup.

An audit is a list of named :class:`AuditCheck` results. The checks here read only the ledger
(and ask a ``has_blob`` callable whether the artifact store holds a committed blob); the
checks that replay models and scores live with the code that can build them
(:mod:`fl_node.replay`), which passes its results in the same form.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from incentive.ledger import (
    ExclusionReason,
    LedgerClient,
    LedgerEvent,
    ModelReleased,
    ParticipantExcluded,
    RewardClaimed,
    Round,
    RoundStatus,
    ScoreCommitted,
    ScoresCommitted,
    to_bytes32,
)
from incentive.ledger.score_tree import score_tree_of
from incentive.rewards import RewardPolicy


@dataclass(frozen=True)
class AuditCheck:
    """One named check: whether it held, and what was examined or what failed.

    A ``skipped`` check was not run (e.g. no key to decrypt with); it does not fail the audit.
    """

    name: str
    ok: bool
    detail: str
    skipped: bool = False


@dataclass(frozen=True)
class AuditReport:
    """Every check of one audit; ``ok`` when all hold."""

    checks: tuple[AuditCheck, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        """``{"ok": bool, "checks": [{"name", "ok", "detail"}...]}``."""
        return {
            "ok": self.ok,
            "checks": [
                {"name": c.name, "ok": c.ok, "skipped": c.skipped, "detail": c.detail} for c in self.checks
            ],
        }


def check(name: str, failures: Sequence[str], examined: str) -> AuditCheck:
    """A check that holds when ``failures`` is empty; its detail names the first failures."""
    if not failures:
        return AuditCheck(name, True, examined)
    shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
    return AuditCheck(name, False, shown)


def finalized_rounds(ledger: LedgerClient, task_id: int | None = None) -> list[Round]:
    """The finalized rounds of a task (every task when ``task_id`` is None), in id order."""
    return [
        r
        for r in ledger.rounds()
        if r.status == RoundStatus.FINALIZED and (task_id is None or r.task_id == task_id)
    ]


def check_commitments(rounds: Iterable[Round], has_blob: Callable[[bytes], bool]) -> AuditCheck:
    """Every aggregated participant's on-chain commitment has its blob in the artifact store.

    ``has_blob(digest)`` must return True only for a stored blob whose bytes hash to ``digest``.
    """
    failures: list[str] = []
    examined = 0
    for r in rounds:
        for p in r.participants:
            if p.dropped:
                continue
            examined += 1
            if not has_blob(to_bytes32(p.commitment)):
                failures.append(f"round {r.round_id}: {p.account}'s commitment {p.commitment} has no matching blob")
    return check("commitments", failures, f"{examined} commitments matched stored blobs")


def check_reward_arithmetic(rounds: Iterable[Round], policy: RewardPolicy) -> AuditCheck:
    """Each round's rewards and dust are ``policy``'s split of its budget by its recorded scores."""
    failures: list[str] = []
    examined = 0
    for r in rounds:
        examined += 1
        split = policy.split(r.budget, [p.score for p in r.participants], [p.dropped for p in r.participants])
        recorded = tuple(p.reward for p in r.participants)
        if recorded != split.rewards:
            failures.append(f"round {r.round_id}: rewards {list(recorded)} differ from the split {list(split.rewards)}")
        if r.dust != split.dust or r.rewarded + r.dust != r.budget:
            failures.append(
                f"round {r.round_id}: rewarded {r.rewarded} + dust {r.dust} does not make the budget {r.budget} "
                f"(expected dust {split.dust})"
            )
    return check(
        "reward arithmetic", failures, f"{examined} rounds: rewards + dust = budget, split by {policy.contract_name}"
    )


def check_member_totals(ledger: LedgerClient, rounds: Sequence[Round]) -> AuditCheck:
    """Each member's cumulative score and rewards equal the sum of its round records (all tasks' rounds)."""
    scores: dict[str, int] = defaultdict(int)
    rewards: dict[str, int] = defaultdict(int)
    for r in rounds:
        for p in r.participants:
            if p.settled:  # Merkle scores: a member's totals include only the rounds settled for it
                scores[p.account] += p.score
                rewards[p.account] += p.reward
    failures = []
    members = ledger.members()
    for m in members:
        if m.cumulative_score != scores[m.address]:
            failures.append(f"{m.address}: cumulative score {m.cumulative_score} != sum of rounds {scores[m.address]}")
        if m.total_reward != rewards[m.address]:
            failures.append(f"{m.address}: total reward {m.total_reward} != sum of rounds {rewards[m.address]}")
    return check("member totals", failures, f"{len(members)} members: cumulative score and rewards = their rounds")


def check_exclusions(rounds: Iterable[Round], events: Sequence[LedgerEvent]) -> AuditCheck:
    """Every excluded participant of a finalized round was recorded as dropped and paid nothing, and the
    records' exclusion reasons are those of the ``ParticipantExcluded`` events."""
    emitted = {(e.round_id, e.member): ExclusionReason(e.reason) for e in events if isinstance(e, ParticipantExcluded)}
    failures: list[str] = []
    examined = 0
    for r in rounds:
        for p in r.participants:
            reason = emitted.get((r.round_id, p.account), ExclusionReason.NONE)
            if p.exclusion != reason:
                failures.append(f"round {r.round_id}: {p.account} is recorded as {p.exclusion.name}, its events say {reason.name}")
            if p.exclusion == ExclusionReason.NONE:
                continue
            examined += 1
            if not p.dropped or p.reward != 0:
                failures.append(f"round {r.round_id}: {p.account} was excluded ({p.exclusion.name}) but dropped={p.dropped}, reward={p.reward}")
    return check("exclusions", failures, f"{examined} excluded participants: recorded as dropped, paid nothing")


def check_score_roots(rounds: Iterable[Round], events: Sequence[LedgerEvent]) -> AuditCheck:
    """Merkle scores: each finalized round's emitted scores rebuild the root it stored, and each
    participant's record (settled or not) holds the score and dropout flag its leaf proves."""
    roots = {e.round_id: e for e in events if isinstance(e, ScoresCommitted)}
    scores: dict[int, list[ScoreCommitted]] = defaultdict(list)
    for e in events:
        if isinstance(e, ScoreCommitted):
            scores[e.round_id].append(e)
    failures: list[str] = []
    examined = 0
    for r in rounds:
        examined += 1
        if r.round_id not in roots:
            failures.append(f"round {r.round_id}: finalized without a ScoresCommitted event")
            continue
        try:
            tree = score_tree_of(r.round_id, sorted(scores[r.round_id], key=lambda e: e.index), roots[r.round_id])
        except ValueError as exc:
            failures.append(str(exc))
            continue
        recorded = [(p.score, p.dropped) for p in r.participants]
        if recorded != list(zip(tree.scores, tree.dropped, strict=True)):
            failures.append(f"round {r.round_id}: records {recorded} differ from the emitted scores")
    return check("score roots", failures, f"{examined} rounds: emitted scores rebuild the stored root")


def check_released_model(ledger: LedgerClient, events: Sequence[LedgerEvent], task_id: int | None = None) -> AuditCheck:
    """Each released model is a finalized round of its task with that round's aggregated model
    hash, released once, as the ledger's record says (skipped when no model was released)."""
    released = [e for e in events if isinstance(e, ModelReleased) and (task_id is None or e.task_id == task_id)]
    if not released:
        return AuditCheck("released model", True, "no model released", skipped=True)
    failures: list[str] = []
    seen: set[int] = set()
    for e in released:
        if e.task_id in seen:
            failures.append(f"task {e.task_id}: released more than once")
        seen.add(e.task_id)
        r = ledger.round(e.round_id)
        if r.status != RoundStatus.FINALIZED or r.task_id != e.task_id:
            failures.append(f"task {e.task_id}: released round {e.round_id} is {r.status.name.lower()} in task {r.task_id}")
        if e.model_hash != r.aggregated_model_hash:
            failures.append(f"task {e.task_id}: released hash {e.model_hash} is not round {e.round_id}'s model {r.aggregated_model_hash}")
        if ledger.released_model(e.task_id) != (e.round_id, e.model_hash):
            failures.append(f"task {e.task_id}: the ledger's record {ledger.released_model(e.task_id)} differs from its event")
    shown = ", ".join(f"task {e.task_id}: round {e.round_id}" for e in released)
    return check("released model", failures, f"{shown}: the round's recorded model hash")


def check_token_balances(ledger: LedgerClient, events: Sequence[LedgerEvent] | None = None) -> AuditCheck:
    """Each member's reward-token balance equals the rewards it claimed (events and record agree).

    ``events`` is the ledger's event history when the caller already read it (default: read here).
    """
    claimed: dict[str, int] = defaultdict(int)
    for event in ledger.events() if events is None else events:
        if isinstance(event, RewardClaimed):
            claimed[event.member] += event.amount
    failures = []
    members = ledger.members()
    for m in members:
        balance = ledger.token_balance(m.address)
        if not balance == m.claimed_reward == claimed[m.address]:
            failures.append(
                f"{m.address}: token balance {balance}, claimed on record {m.claimed_reward}, "
                f"RewardClaimed events {claimed[m.address]}"
            )
    return check("token balances", failures, f"{len(members)} members: balance = claimed rewards")


def ledger_checks(
    ledger: LedgerClient,
    has_blob: Callable[[bytes], bool],
    task_id: int | None = None,
    policy: RewardPolicy | None = None,
) -> list[AuditCheck]:
    """The checks that need only the ledger and the artifact store's blob lookup.

    ``policy`` is the reward policy the rewards are checked against (default: the mirror of the
    policy the ledger names; a ledger that names a policy with no mirror raises ``LedgerNotFound``).
    """
    rounds = finalized_rounds(ledger, task_id)
    every_round = finalized_rounds(ledger)
    events = ledger.events()
    checks = [
        check_commitments(rounds, has_blob),
        check_reward_arithmetic(rounds, policy or ledger.reward_policy),
        check_exclusions(rounds, events),
        check_member_totals(ledger, every_round),
        check_token_balances(ledger, events),
        check_released_model(ledger, events, task_id),
    ]
    if ledger.merkle_scores:
        checks.append(check_score_roots(rounds, events))
    return checks
