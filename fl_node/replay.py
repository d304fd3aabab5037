"""Replaying a federation from its ledger and artifact store: the audit checks that rebuild models and scores.

Without the key holder's private key an auditor still checks that the published spec and
validation split are those the task's hashes name, that the rounds chain (each round starts
from the previous round's aggregated model), and that the recorded performance is the stored
aggregated model's accuracy on the validation split. With the key it also rebuilds every
aggregated model from the committed blobs and recomputes every contribution score with the
federation's own scorer and seeds; both must match the ledger (scores within one fixed-point
unit, 1e-6), and the ledger's decryption record must be exactly the coalition sums that replay
opens (without the key: each round's aggregated sum is on the record). For a gated task it
also recomputes who the gate leaves out (norm outliers, from each participant's own decrypted
update, and low scores) and checks the ledger's gating exclusions against it; without the key
only that the aggregated coalition is every participant not recorded as left out, on the record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from eth_hash.auto import keccak
from phe import PaillierPrivateKey

from fl_node.artifacts import ArtifactStore
from fl_node.errors import ArtifactError, FlNodeError, KeyMismatch
from fl_node.hfl.coordinator import RoundUtility, exclude_norm_outliers, gate_round, recorded_reputations, score_round
from fl_node.hfl.decryptions import CommittedSums, DecryptionLog, check_decryptions
from fl_node.hfl.keyholder import Custody
from fl_node.hfl.spec import FederationSpec, model_from_bytes, validation_from_bytes
from fl_node.data import ArraySplit
from fl_node.hfl.aggregator import Aggregator
from fl_node.hfl.envelope import SignedBlob, ledger_binding, signed_evidence
from fl_node.hfl.participant import RoundPlan, Submission
from fl_node.models import model_hash, unflatten
from fl_node.training import evaluate
from incentive.audit import AuditCheck, AuditReport, check, finalized_rounds, ledger_checks
from incentive.fixedpoint import to_fixed
from incentive.ledger import DecryptionRecorded, ExclusionReason, LedgerClient, MemberSlashed, Round, to_bytes32

#: Largest difference, in fixed-point units, between a recomputed and a recorded score (1e-6).
SCORE_TOLERANCE = 1


@dataclass(frozen=True)
class Published:
    """What the task's hashes bind: the spec and the validation split."""

    spec: FederationSpec
    validation: ArraySplit


def load_published(ledger: LedgerClient, store: ArtifactStore, task_id: int) -> Published:
    """Fetch the task's spec and validation split by the hashes on chain (ArtifactError when missing or altered)."""
    task = ledger.task(task_id)
    spec = FederationSpec.from_bytes(store.get(to_bytes32(task.model_spec_hash)))
    validation = validation_from_bytes(store.get(to_bytes32(task.validation_spec_hash)))
    return Published(spec, validation)


def _stored_model(store: ArtifactStore, digest_hex: str) -> np.ndarray:
    return model_from_bytes(store.get(to_bytes32(digest_hex)))


def check_model_chain(rounds: Sequence[Round], store: ArtifactStore) -> AuditCheck:
    """Every global and aggregated model is stored; each round starts from the previous round's aggregate."""
    failures: list[str] = []
    for previous, current in zip([None, *rounds[:-1]], rounds):
        for label, digest in (("global", current.global_model_hash), ("aggregated", current.aggregated_model_hash)):
            try:
                _stored_model(store, digest)
            except ArtifactError as exc:
                failures.append(f"round {current.round_id} {label} model: {exc}")
        if previous is not None and current.global_model_hash != previous.aggregated_model_hash:
            failures.append(
                f"round {current.round_id} starts from {current.global_model_hash}, "
                f"not round {previous.round_id}'s aggregate {previous.aggregated_model_hash}"
            )
    return check("model chain", failures, f"{len(rounds)} rounds: models stored, each round builds on the last")


def check_performance(rounds: Sequence[Round], store: ArtifactStore, published: Published) -> AuditCheck:
    """The recorded performance is the stored aggregated model's validation accuracy (exact in fixed point)."""
    failures: list[str] = []
    for r in rounds:
        try:
            params = _stored_model(store, r.aggregated_model_hash)
        except ArtifactError as exc:
            failures.append(f"round {r.round_id}: {exc}")
            continue
        accuracy = evaluate(unflatten(published.spec.model.build(), params), published.validation).accuracy
        if to_fixed(accuracy) != r.performance:
            failures.append(f"round {r.round_id}: recorded performance {r.performance}, reproduced {to_fixed(accuracy)}")
    return check("performance", failures, f"{len(rounds)} rounds: validation accuracy reproduced")


def check_signed_blobs(rounds: Sequence[Round], store: ArtifactStore, spec: FederationSpec, binding: tuple[int, str]) -> AuditCheck:
    """Every aggregated blob is bound to its round and sender: header, sender's signature, plaintext-knowledge proof.

    Needs only the public key: the proof verifies without decrypting.
    """
    aggregator = Aggregator(spec.scheme())
    failures: list[str] = []
    examined = 0
    for r in rounds:
        plan = _plan(r, np.zeros(0), spec, binding)
        for p in r.participants:
            if p.dropped:
                continue
            examined += 1
            try:
                aggregator.open(plan, p.account, store.get(to_bytes32(p.commitment)))
            except (ArtifactError, FlNodeError) as exc:
                failures.append(f"round {r.round_id}: {p.account}'s blob: {exc}")
    return check("signed blobs", failures, f"{examined} aggregated blobs: header, sender's signature and proof verified")


def check_slashing_evidence(ledger: LedgerClient, store: ArtifactStore, binding: tuple[int, str]) -> AuditCheck:
    """Every slash whose evidence is a stored blob rests on a blob its member signed for a round and did not commit.

    A slash whose evidence hash names no blob of this store is not this federation's (an admin's
    slash, another store's task); it is counted, not judged.
    """
    failures: list[str] = []
    examined = foreign = 0
    for event in ledger.events():
        if not isinstance(event, MemberSlashed):
            continue
        try:
            blob = store.get(to_bytes32(event.evidence_hash))
        except ArtifactError:
            foreign += 1
            continue
        examined += 1
        try:
            header = SignedBlob.parse(blob).header
        except FlNodeError as exc:
            failures.append(f"slash of {event.account} in tx {event.tx_hash}: evidence is not a signed blob ({exc})")
            continue
        committed = {p.account: to_bytes32(p.commitment) for p in ledger.participants(header.round_id)} if header.round_id else {}
        if (header.chain_id, header.ledger) != binding or header.sender != event.account or not signed_evidence(blob, header):
            failures.append(f"slash of {event.account} in tx {event.tx_hash}: evidence is not a blob signed by it for this ledger")
        elif committed.get(event.account) in (None, keccak(blob)):
            failures.append(f"slash of {event.account} in tx {event.tx_hash}: evidence is not a blob differing from its round-{header.round_id} commitment")
    return check(
        "slashing evidence", failures,
        f"{examined} slashes rest on blobs signed by their member that differ from its commitment"
        + (f"; {foreign} with evidence outside this store not examined" if foreign else ""),
    )


def _plan(r: Round, global_params: np.ndarray, spec: FederationSpec, binding: tuple[int, str]) -> RoundPlan:
    return RoundPlan(r.round_id, global_params, dict(spec.sample_counts), binding[0], binding[1], r.task_id)


def _verified_round(r: Round, store: ArtifactStore, spec: FederationSpec, aggregator: Aggregator, binding: tuple[int, str]):
    """Rebuild the round's verified updates from the blobs of its non-dropped participants.

    A gated task's scores cover every verified participant, those the gate left out (recorded
    as dropped) included: its verified round is every participant whose committed blob is
    stored and usable, the others being the round's real dropouts.
    """
    global_params = _stored_model(store, r.global_model_hash)
    plan = _plan(r, global_params, spec, binding)
    gated = spec.aggregation == "gated"
    submissions = []
    commitments = {}
    for p in r.participants:
        digest = to_bytes32(p.commitment)
        if p.dropped and p.exclusion != ExclusionReason.INVALID_UPDATE and not (gated and _has_valid_blob(store, digest)):
            continue
        blob = store.get(digest)
        commitments[p.account] = digest
        submissions.append(Submission(p.account, spec.sample_counts.get(p.account, -1), blob, digest, len(blob)))
    verified = aggregator.verify(plan, submissions, expected_hashes=commitments)
    dropped = {p.account for p in r.participants if p.dropped}
    unusable = [e for e in verified.excluded if not (gated and e.participant_id in dropped)]
    if unusable:
        reasons = "; ".join(f"{e.participant_id}: {e.reason}" for e in unusable)
        raise FlNodeError(f"round {r.round_id}: recorded as aggregated but unusable: {reasons}")
    return global_params, verified


def check_with_key(
    rounds: Sequence[Round],
    store: ArtifactStore,
    published: Published,
    private_key: PaillierPrivateKey | Custody | None,
    recorded: Sequence[DecryptionRecorded] | None = None,
    *,
    binding: tuple[int, str],
) -> list[AuditCheck]:
    """Rebuild each aggregated model from the blobs and recompute every score; needs the key for encrypted runs.

    With ``recorded`` (the ledger's decryption record) and an encrypted federation, also checks
    that the record is exactly the coalition sums the replay opened (:func:`check_decryptions`).
    """
    spec = published.spec
    opened: dict[int, set[tuple[str, int]]] = {}
    aggregator = Aggregator(spec.scheme())
    key_holder = spec.key_holder(private_key)
    model_failures: list[str] = []
    score_failures: list[str] = []
    scores_checked = 0
    for k, r in enumerate(rounds):
        try:
            global_params, verified = _verified_round(r, store, spec, aggregator, binding)
        except (ArtifactError, FlNodeError) as exc:
            model_failures.append(f"round {r.round_id}: {exc}")
            continue
        log = DecryptionLog({p.account: p.index for p in r.participants})
        opened[r.round_id] = log.opened
        validity = key_holder.check_updates(verified, log if spec.encrypt else None)
        excluded = {p.account for p in r.participants if p.exclusion == ExclusionReason.INVALID_UPDATE}
        if set(validity.invalid) != excluded:
            model_failures.append(
                f"round {r.round_id}: the key holder's check finds invalid updates from "
                f"{sorted(validity.invalid) or 'nobody'}, the ledger excluded {sorted(excluded) or 'nobody'}"
            )
        for pid, reason in validity.invalid.items():
            verified.exclude(pid, reason)
        outliers = exclude_norm_outliers(spec, verified, validity.singletons)
        utility = RoundUtility(spec, verified, key_holder, global_params, published.validation, log, validity.singletons)
        values, _ = score_round(spec, r.round_id, utility)
        gated = tuple(sorted(outliers + gate_round(spec, values, recorded_reputations(spec, rounds[:k]))))
        left_out = tuple(sorted(p.account for p in r.participants if p.dropped and (p.account in values or p.account in outliers)))
        recorded_gated = sorted(p.account for p in r.participants if p.exclusion == ExclusionReason.GATED)
        if recorded_gated != sorted(gated):
            model_failures.append(
                f"round {r.round_id}: the gate leaves out {', '.join(gated) or 'nobody'}, "
                f"the ledger's gating exclusions are {', '.join(recorded_gated) or 'nobody'}"
            )
        if left_out != gated:
            model_failures.append(
                f"round {r.round_id}: the gate leaves out {', '.join(gated) or 'nobody'}, "
                f"the ledger records {', '.join(left_out) or 'nobody'} as left out"
            )
        rebuilt = utility.aggregate([a for a in utility.ids if a not in gated])[0]
        if "0x" + model_hash(rebuilt).hex() != r.aggregated_model_hash:
            model_failures.append(
                f"round {r.round_id}: the blobs aggregate to 0x{model_hash(rebuilt).hex()}, "
                f"the ledger records {r.aggregated_model_hash}"
            )
        for p in r.participants:
            expected = 0 if p.account not in values else to_fixed(values[p.account])
            scores_checked += 1
            if abs(expected - p.score) > SCORE_TOLERANCE:
                score_failures.append(f"round {r.round_id}: {p.account} recorded score {p.score}, recomputed {expected}")
    checks = [
        check("aggregation", model_failures, f"{len(rounds)} aggregated models rebuilt from the committed blobs"),
        check("scores", score_failures, f"{scores_checked} contribution scores recomputed within 1e-6"),
    ]
    if recorded is not None and spec.encrypt:
        checks.append(check_decryptions(rounds, recorded, opened))
    return checks


def audit_federation(
    ledger: LedgerClient,
    store: ArtifactStore,
    task_id: int,
    private_key: PaillierPrivateKey | Custody | None = None,
    on_check: Callable[[AuditCheck], None] | None = None,
) -> AuditReport:
    """Every audit check of one task: ledger checks, the published spec, models, performance, and with the key, aggregation and scores.

    Parameters
    ----------
    ledger : LedgerClient
    store : ArtifactStore
    task_id : int
    private_key : PaillierPrivateKey | None (default: None)
        Without it (encrypted runs), aggregation and scores are not recomputed and the report says so.
    on_check : Callable[[AuditCheck], None] | None
        Called as each check completes (progress display).
    """
    checks: list[AuditCheck] = []

    def add(c: AuditCheck) -> None:
        checks.append(c)
        if on_check is not None:
            on_check(c)

    for c in ledger_checks(ledger, lambda digest: _has_valid_blob(store, digest), task_id):
        add(c)
    rounds = finalized_rounds(ledger, task_id)
    try:
        published = load_published(ledger, store, task_id)
    except (ArtifactError, FlNodeError) as exc:
        add(AuditCheck("published spec", False, str(exc)))
        return AuditReport(tuple(checks))
    add(AuditCheck("published spec", True, "spec and validation split match the task's hashes"))
    if private_key is not None and published.spec.encrypt:
        if private_key.public_key.n != published.spec.paillier_public_key().n:
            raise KeyMismatch("the private key given does not belong to this federation's public key")
    binding = ledger_binding(ledger)
    add(check_model_chain(rounds, store))
    add(check_performance(rounds, store, published))
    add(check_signed_blobs(rounds, store, published.spec, binding))
    add(check_slashing_evidence(ledger, store, binding))
    recorded = ledger.decryptions()
    if published.spec.encrypt and private_key is None:
        add(AuditCheck("aggregation", True, "not recomputed: no key given (--key)", skipped=True))
        add(AuditCheck("scores", True, "not recomputed: no key given (--key)", skipped=True))
        add(check_decryptions(rounds, recorded, None, CommittedSums(store, published.spec.scheme())))
    else:
        for c in check_with_key(rounds, store, published, private_key, recorded, binding=binding):
            add(c)
    return AuditReport(tuple(checks))


def _has_valid_blob(store: ArtifactStore, digest: bytes) -> bool:
    try:
        store.get(digest)
    except ArtifactError:
        return False
    return True
