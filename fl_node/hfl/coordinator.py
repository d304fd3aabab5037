"""The federation's round loop: training, encryption, the artifact store, scoring and the ledger together.

One round (the seed's four steps, on the ledger):

1. The :class:`Coordinator` (aggregator + key holder + evaluator) stores the global model in
   the artifact store and opens the round on chain with its hash.
2. Each :class:`LedgerNode` trains, encrypts its weighted update, commits the blob's
   keccak256 on chain with its own key, and hands the blob to the transport.
3. The coordinator stores every blob it receives, checks it against the on-chain commitment
   (a committed participant whose blob is missing is a dropout; a blob that differs from its
   commitment is excluded, and its sender slashed when the blob is signed by it for this
   round, the signed blob being the evidence), checks each blob's header, signature and
   plaintext-knowledge proof against the round and sender, and adds the ciphertexts.
4. The evaluator records each sum it has opened on the ledger's decryption record
   (:mod:`fl_node.hfl.decryptions`) before the key holder opens it (threshold custodians
   refuse sums not on the record). The key holder first opens each participant's own update
   and checks it against the codec's slots before any sum containing it is formed (an
   out-of-range or undecodable update is excluded by name and recorded on chain as
   INVALID_UPDATE); the evaluator values each participant with the
   federation's scorer (utility = validation metric of the model built from a subset's
   sum, added from the opened singletons' integer slot values, which is exactly that
   subset's decrypted sum), opens the aggregated sum, finalizes the round on chain (aggregated-model hash, validation accuracy,
   one score per committed participant, dropouts) and the ledger splits the round's reward.

Everything an auditor needs to replay a round is in the store and bound by hashes on chain:
the :class:`FederationSpec` (the task's model-spec hash), the validation split (the task's
validation-spec hash), every global and aggregated model (round hashes) and every blob
(commitments). See :mod:`fl_node.replay`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from phe import PaillierPrivateKey

from fl_node.artifacts import ArtifactStore
from fl_node.data import ArraySplit
from fl_node.errors import FlNodeError, RoundAborted, ThresholdDecryptionError
from fl_node.hfl.aggregator import Aggregator, Collected, Exclusion, SummedUpdate, VerifiedRound
from fl_node.hfl.coalition_sums import AddedCoalitions, exact_quanta
from fl_node.hfl.decryptions import DecryptionRecorder, LedgerGate
from fl_node.hfl.envelope import ledger_binding, signed_evidence
from fl_node.hfl.gating import gated_out, next_reputations, norm_outliers, reputations, update_norm
from fl_node.hfl.keyholder import Custody, KeyHolder, ThresholdCustody, UpdateCheck, fedavg_step, round_error_bound
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from fl_node.hfl.participant import RoundPlan, Submission
from fl_node.hfl.spec import FederationSpec, model_from_bytes, model_to_bytes
from fl_node.models import unflatten
from fl_node.training import Metrics, quick_evaluate
from fl_node.transport.inprocess import Transport
from incentive.audit import finalized_rounds
from incentive.contribution import make_scorer
from incentive.errors import LedgerRevert
from incentive.fixedpoint import to_fixed
from incentive.ledger import ExclusionReason, LedgerClient, ParticipantRecord, Receipt, Round, RoundOpened, RoundStatus, to_bytes32

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundOutcome:
    """What one finalized round recorded.

    Attributes
    ----------
    round_id : int
        The ledger's round id.
    global_params : np.ndarray
        The new global model.
    accuracy, loss : float
        The new model on the evaluator's validation split (accuracy is the on-chain performance).
    scores : dict[str, float]
        Contribution by participant address, for every committed participant (0 for dropouts).
    rewards : dict[str, int]
        Reward (token units) by participant address, as the ledger split it.
    dropped : tuple[Exclusion, ...]
        Committed or selected but not aggregated (no submission, missing or unusable blob).
    slashed : tuple[str, ...]
        Addresses slashed for a blob that differs from their commitment.
    evaluations : int
        Distinct utility evaluations the scorer made.
    bytes_up : int
    seconds : float
    included : tuple[str, ...] (default: none)
        The aggregated participants, in the order their updates were added.
    clipped : int (default: 0)
        Values clipped in the aggregated submissions.
    error_bound : float (default: nan)
        :func:`~fl_node.hfl.keyholder.round_error_bound` of the aggregated sum.
    gated : tuple[str, ...] (default: none)
        Verified but left out of the aggregate by gating (not rewarded): norm outliers (not
        scored, score 0) and participants scored at or below the gate.
    """

    round_id: int
    global_params: np.ndarray
    accuracy: float
    loss: float
    scores: dict[str, float]
    rewards: dict[str, int]
    dropped: tuple[Exclusion, ...]
    slashed: tuple[str, ...]
    evaluations: int
    bytes_up: int
    seconds: float
    included: tuple[str, ...] = ()
    clipped: int = 0
    error_bound: float = float("nan")
    gated: tuple[str, ...] = ()


class RoundUtility:
    """The scorer's utility over a round's verified participants (index ``i`` is ``ids[i]``).

    ``utility(S)`` is the validation metric of ``global + sum_S(w_k delta_k) / W``, where ``W`` is
    the weight of all the round's verified participants, decrypting only the sum of the subset;
    ``utility(∅)`` is that of the unchanged global model. The fixed divisor values what a
    participant's update adds to the sum, not what its weight does to the FedAvg step: a
    participant that sends nothing leaves every coalition's model unchanged and scores exactly 0
    (with ``sum_S(w_k)`` as divisor its weight would shrink the step, which can score positive).
    For the full coalition both divisors agree: its model and metrics are the round's new global
    model (FedAvg), kept so that the coordinator decrypts and evaluates the whole sum once.
    A singleton coalition reuses the key holder's decryption from its validity check
    (``singletons``) when given. So does every other partial coalition of an encrypted round
    whose members all have one: the key holder has already opened each member's update, and a
    coalition's encrypted sum decrypts to exactly the sum of their integer slot values (slots
    never carry), so adding those integers gives the same vector, bit for bit, without
    decrypting (or recording) another sum. Scoring then costs no decryption per coalition; the
    key holder learns nothing it did not hold after the validity check. Each such sum is built
    from the previous coalition's (:class:`~fl_node.hfl.coalition_sums.AddedCoalitions`): along a
    scorer's walk one evaluation adds one update, O(P), and evaluates one model on the validation
    split, loaded in place into the one model object kept for this.

    Parameters
    ----------
    spec : FederationSpec
    verified : VerifiedRound
    key_holder : KeyHolder
    global_params : np.ndarray
    validation : ArraySplit
    before_decrypt : Callable[[SummedUpdate], None] | None (default: None)
        Called with each encrypted sum just before the key holder opens it (records it on the
        ledger's decryption record, or logs it in an audit replay).
    singletons : Mapping[str, np.ndarray] | None (default: none)
        Decrypted single updates by id (:attr:`UpdateCheck.singletons`).
    """

    def __init__(
        self,
        spec: FederationSpec,
        verified: VerifiedRound,
        key_holder: KeyHolder,
        global_params: np.ndarray,
        validation: ArraySplit,
        before_decrypt: Callable[[SummedUpdate], None] | None = None,
        singletons: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.spec = spec
        self.verified = verified
        self.key_holder = key_holder
        self.before_decrypt = before_decrypt
        self.global_params = global_params
        self.validation = validation
        self.ids = sorted(verified.updates)
        self._weight = sum(verified.plan.sample_counts[a] for a in self.ids) / verified.plan.total_samples
        self.singletons = dict(singletons or {})
        quanta = exact_quanta(self.singletons, spec.codec.scale) if spec.encrypt else {}
        self._added = AddedCoalitions(quanta, global_params, spec.codec.scale, self._weight)
        self.decryptions = 0
        self.full_sum: SummedUpdate | None = None
        self._full: tuple[np.ndarray, Metrics] | None = None
        self._model = spec.model.build()  # reloaded with each coalition's vector

    def model(self, coalition: frozenset[int]) -> np.ndarray:
        """The global model plus ``coalition``'s share of the round's step (indices into :attr:`ids`)."""
        if not coalition:
            return self.global_params
        if len(coalition) == len(self.ids):
            return self.full()[0]
        return self._build(coalition)

    def full(self) -> tuple[np.ndarray, Metrics]:
        """The full coalition's model (the round's new global model) and its validation metrics, computed once."""
        if self._full is None:
            self.decryptions += 1
            self.full_sum = self.verified.sum(self.ids)
            params = self._open(self.full_sum)
            self._full = params, self._evaluate(params)
        return self._full

    def aggregate(self, members: Sequence[str]) -> tuple[np.ndarray, Metrics, SummedUpdate]:
        """The FedAvg of ``members`` (addresses among :attr:`ids`): new global model, its validation metrics and the decrypted sum's summand.

        All of :attr:`ids` is :meth:`full`; a subset (gated aggregation) is one more sum decrypted.
        """
        if set(members) == set(self.ids):
            params, metrics = self.full()
            assert self.full_sum is not None
            return params, metrics, self.full_sum
        self.decryptions += 1
        summed = self.verified.sum(sorted(members))
        params = self._open(summed)
        return params, self._evaluate(params), summed

    def __call__(self, coalition: frozenset[int]) -> float:
        metrics = self.full()[1] if coalition and len(coalition) == len(self.ids) else self._evaluate(self.model(coalition))
        return metrics.accuracy if self.spec.utility == "accuracy" else -metrics.loss

    def _build(self, coalition: frozenset[int]) -> np.ndarray:
        if len(coalition) == 1 and (pid := self.ids[next(iter(coalition))]) in self.singletons:
            return fedavg_step(self.global_params, self.singletons[pid], self._weight)
        members = frozenset(self.ids[i] for i in coalition)
        if self._added.covers(members):
            return self._added.model(members)
        self.decryptions += 1
        return self._open(self.verified.sum(self.ids[i] for i in sorted(coalition)), self._weight)

    def _open(self, summed: SummedUpdate, weight: float | None = None) -> np.ndarray:
        if self.before_decrypt is not None and self.spec.encrypt:
            self.before_decrypt(summed)
        return self.key_holder.new_global(self.global_params, summed, weight=weight)

    def _evaluate(self, params: np.ndarray) -> Metrics:
        return quick_evaluate(unflatten(self._model, params), self.validation)


def score_round(spec: FederationSpec, round_id: int, utility: RoundUtility) -> tuple[dict[str, float], int]:
    """Contribution of each verified participant (by address) and the scorer's evaluation count.

    Deterministic given the spec and the round id, so an auditor with the key reproduces it.
    """
    if not utility.ids:
        return {}, 0
    result = make_scorer(spec.scorer).score(
        list(range(len(utility.ids))), utility, rng=np.random.default_rng([spec.seed, round_id])
    )
    return {utility.ids[i]: float(v) for i, v in result.values.items()}, result.evaluations


def gate_round(spec: FederationSpec, values: Mapping[str, float], history: Mapping[str, float] | None = None) -> tuple[str, ...]:
    """The participants a gated task leaves out of a round's aggregate (none under FedAvg).

    ``values`` are the round's scores; ``history`` the reputations after the task's earlier
    rounds (:func:`recorded_reputations`), used when the spec's ``gate_memory`` is positive.
    """
    if spec.aggregation != "gated":
        return ()
    return gated_out(
        {a: to_fixed(v) for a, v in values.items()}, to_fixed(spec.gate_threshold), spec.min_participants,
        history, spec.gate_memory,
    )


def norm_gate(spec: FederationSpec, verified: VerifiedRound, singletons: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """The verified participants a gated task leaves out before scoring, for an update norm above κ times the round's median.

    ``singletons`` are the key holder's decryptions of each participant's own update (its
    validity check, :attr:`UpdateCheck.singletons`); none are left out under FedAvg or κ = 0.
    """
    if spec.aggregation != "gated" or not spec.gate_norm_factor:
        return ()
    norms = {pid: update_norm(singletons[pid], verified.plan.weight(pid)) for pid in verified.participant_ids}
    return norm_outliers(norms, spec.gate_norm_factor, spec.min_participants)


def exclude_norm_outliers(spec: FederationSpec, verified: VerifiedRound, singletons: Mapping[str, np.ndarray]) -> tuple[str, ...]:
    """Take :func:`norm_gate`'s participants out of ``verified`` (no later sum contains them); returns them."""
    outliers = norm_gate(spec, verified, singletons)
    for pid in outliers:
        verified.exclude(pid, f"update norm above {spec.gate_norm_factor:g} times the round's median (gated)")
    return outliers


def recorded_reputations(spec: FederationSpec, rounds: Iterable[Round]) -> dict[str, float]:
    """Reputations (:func:`~fl_node.hfl.gating.reputations`) after ``rounds``, from their scores as recorded on chain."""
    return reputations(({p.account: p.score for p in r.participants} for r in rounds), spec.gate_memory)


class Coordinator:
    """Aggregator, key holder and evaluator of one federation task, around the ledger.

    The aggregator part is built from the public scheme only; the private key lives in the
    key holder, which checks each participant's own update and decrypts sums.

    Parameters
    ----------
    spec : FederationSpec
    ledger : LedgerClient | NullLedger
        The chain, or a :class:`~fl_node.hfl.null_ledger.NullLedger` for runs without one.
    task_id : int
    aggregator_account, evaluator_account : LocalAccount | NullAccount
        Hold AGGREGATOR_ROLE and EVALUATOR_ROLE on the ledger.
    private_key : PaillierPrivateKey | None
        The key holder's key (None for plaintext federations).
    validation : ArraySplit
        The evaluator's validation split (its bytes' hash is the task's validation-spec hash).
    store : ArtifactStore
    slash_wei : int (default: 10**17)
        Stake slashed from a participant whose blob differs from its commitment (capped at its stake).
    round_duration_s : int (default: 3600)
        Commitment deadline after opening.
    score_contributions : bool (default: True)
        False: no contribution scoring; every aggregated participant scores 0 (runs that only train).
    """

    def __init__(
        self,
        spec: FederationSpec,
        ledger: LedgerClient | NullLedger,
        task_id: int,
        aggregator_account: LocalAccount | NullAccount,
        evaluator_account: LocalAccount | NullAccount,
        private_key: PaillierPrivateKey | Custody | None,
        validation: ArraySplit,
        store: ArtifactStore,
        slash_wei: int = 10**17,
        round_duration_s: int = 3600,
        score_contributions: bool = True,
    ) -> None:
        self.spec = spec
        self.ledger = ledger
        self.task_id = task_id
        self.aggregator_account = aggregator_account
        self.evaluator_account = evaluator_account
        self.aggregator = Aggregator(spec.scheme())
        if isinstance(private_key, ThresholdCustody) and private_key.gate is None:
            private_key = replace(private_key, gate=LedgerGate(ledger, store, self.aggregator.scheme))
        self.key_holder = spec.key_holder(private_key)
        self.validation = validation
        self.store = store
        self.slash_wei = slash_wei
        self.round_duration_s = round_duration_s
        self.score_contributions = score_contributions
        if spec.aggregation == "gated" and not score_contributions:
            raise FlNodeError("gated aggregation needs the round's contribution scores")
        self._reputation: dict[str, float] | None = None

    def open_round(self, global_params: np.ndarray) -> int:
        """Store the global model and open a round with its hash; returns the on-chain round id."""
        digest = self.store.put(model_to_bytes(global_params))
        receipt = self.ledger.open_round(
            self.aggregator_account, self.task_id, digest, duration_s=self.round_duration_s
        )
        return receipt.event(RoundOpened).round_id

    def run_round(
        self,
        global_params: np.ndarray,
        transport: Transport,
        on_utility: Callable[[int, RoundUtility], None] | None = None,
    ) -> RoundOutcome:
        """Open, collect, verify against commitments, score, aggregate and finalize one round.

        ``on_utility(round_id, utility)`` sees the round's :class:`RoundUtility` before it is
        scored (benchmark probes).

        Raises
        ------
        RoundAborted
            Fewer than ``spec.min_participants`` usable submissions; the round is cancelled on chain.
        """
        start = time.perf_counter()
        round_id = self.open_round(global_params)
        chain_id, ledger_address = ledger_binding(self.ledger)
        plan = RoundPlan(round_id, global_params, dict(self.spec.sample_counts), chain_id, ledger_address, self.task_id)
        collected = transport.collect(plan)
        committed = self.ledger.participants(round_id)
        commitments = {r.account: to_bytes32(r.commitment) for r in committed}
        received = {s.participant_id: s for s in collected.submissions}
        for submission in collected.submissions:
            self.store.put(submission.blob)
        slashed = self._slash_mismatches(plan, received, commitments)
        verified = self.aggregator.verify(
            plan, [received[a] for a in commitments if a in received], expected_hashes=commitments
        )
        recorder = DecryptionRecorder(self.ledger, self.evaluator_account, round_id, list(commitments))
        try:
            return self._decrypt_and_finalize(start, plan, collected, committed, received, slashed, verified, recorder, on_utility)
        except ThresholdDecryptionError as exc:
            reason = f"key custodians: {exc}"
            self.ledger.cancel_round(self.aggregator_account, round_id, _truncate_utf8(reason, 256))
            raise RoundAborted(f"round {round_id}: {reason}; round cancelled on chain") from exc

    def _decrypt_and_finalize(
        self,
        start: float,
        plan: RoundPlan,
        collected: Collected,
        committed: Sequence[ParticipantRecord],
        received: Mapping[str, Submission],
        slashed: tuple[str, ...],
        verified: VerifiedRound,
        recorder: DecryptionRecorder,
        on_utility: Callable[[int, RoundUtility], None] | None,
    ) -> RoundOutcome:
        """:meth:`run_round` from the key holder's check of each update to the round finalized on chain."""
        round_id, global_params = plan.round, plan.global_params
        commitments = {r.account: to_bytes32(r.commitment) for r in committed}
        if self.spec.encrypt:
            recorder.record_all([verified.sum([pid]) for pid in verified.participant_ids])
        check = self._exclude_invalid(round_id, verified, recorder)
        dropped = self._dropouts(collected, verified, commitments)
        if len(verified.updates) < self.spec.min_participants:
            reason = (
                f"{len(verified.updates)} usable submissions, fewer than min_participants={self.spec.min_participants}"
            )
            if check.invalid:
                reason += f"; invalid updates from {', '.join(check.invalid)}"
            self.ledger.cancel_round(self.aggregator_account, round_id, _truncate_utf8(reason, 256))
            reasons = "; ".join(f"{d.participant_id}: {d.reason}" for d in dropped)
            raise RoundAborted(f"round {round_id}: {reason}; round cancelled on chain ({reasons})")
        outliers = exclude_norm_outliers(self.spec, verified, check.singletons)
        utility = RoundUtility(
            self.spec, verified, self.key_holder, global_params, self.validation, recorder, check.singletons
        )
        if self.spec.encrypt:
            self._open_ahead(utility, recorder)
        if on_utility is not None:
            on_utility(round_id, utility)
        values, evaluations = self.score(round_id, utility)
        gated = tuple(sorted(outliers + self.gate(values)))
        included = [a for a in utility.ids if a not in gated]
        new_params, metrics, summed = utility.aggregate(included)
        self._record_exclusions(round_id, gated)
        aggregated_hash = self.store.put(model_to_bytes(new_params))
        order, recorded, receipt = self._finalize(round_id, committed, aggregated_hash, metrics.accuracy, values, gated)
        dropped += tuple(Exclusion(a, "committed on chain after the aggregator stopped collecting") for a in order if a not in commitments)
        if self._reputation is not None:
            self._reputation = next_reputations(self._reputation, recorded, self.spec.gate_memory)
        rewards = {r.account: r.reward for r in self.ledger.participants(round_id)}
        log.info("round %d finalized in tx %s", round_id, receipt.tx_hash)
        return RoundOutcome(
            round_id=round_id,
            global_params=new_params,
            accuracy=metrics.accuracy,
            loss=metrics.loss,
            scores={a: values.get(a, 0.0) for a in order},
            rewards=rewards,
            dropped=dropped,
            slashed=slashed,
            evaluations=evaluations,
            bytes_up=sum(s.bytes_up for s in collected.submissions),
            seconds=time.perf_counter() - start,
            included=tuple(included),
            clipped=sum(received[a].clipped for a in included),
            error_bound=round_error_bound(self.aggregator.scheme, summed),
            gated=gated,
        )

    def _finalize(
        self,
        round_id: int,
        committed: Sequence[ParticipantRecord],
        aggregated_hash: bytes,
        accuracy: float,
        values: Mapping[str, float],
        gated: Sequence[str],
    ) -> tuple[list[str], dict[str, int], Receipt]:
        """Finalize with one score per commitment; returns the order, the fixed-point scores and the receipt.

        A node can still commit while the round is being scored (the ledger takes commitments
        until the round closes), so the finalize that counted the commitments read earlier
        reverts. The commitments are then read again once: a late one has no blob and is
        finalized as a dropout with score 0.
        """

        def send(committed: Sequence[ParticipantRecord]) -> tuple[list[str], dict[str, int], Receipt]:
            order = [r.account for r in committed]
            recorded = {a: to_fixed(values.get(a, 0.0)) for a in order}
            receipt = self.ledger.finalize(
                self.evaluator_account,
                round_id,
                aggregated_hash,
                to_fixed(accuracy),
                [recorded[a] for a in order],
                dropped=[a not in values or a in gated for a in order],
                participants=order,
            )
            return order, recorded, receipt

        try:
            return send(committed)
        except LedgerRevert as exc:
            if exc.error_name not in ("ParticipantCountMismatch", "ScoreCountMismatch"):
                raise
            log.warning("round %d: a commitment landed while scoring (%s); finalizing it as a dropout", round_id, exc)
            return send(self.ledger.participants(round_id))

    def _open_ahead(self, utility: RoundUtility, recorder: DecryptionRecorder) -> None:
        """Record on chain and open the aggregated sum before scoring, as the round's second decryption batch.

        A round's decryption plan is known before scoring: each participant's own update (the
        validity check, recorded together first) and the sum of those that passed it; every
        other coalition the scorer values is added from the opened singletons, so only a
        coalition with a member whose singleton is not exact, or a gated task's subset, is
        recorded later, when opened. The aggregate cannot join the first batch: it depends on
        which updates the check finds invalid.
        """
        everyone = utility.verified.sum(utility.ids)
        recorder.record_all([everyone])
        self.key_holder.prefetch([everyone])

    def score(self, round_id: int, utility: RoundUtility) -> tuple[dict[str, float], int]:
        """The evaluator's contribution scores of a round (see :func:`score_round`); all 0 without scoring."""
        if not self.score_contributions:
            return {a: 0.0 for a in utility.ids}, 0
        return score_round(self.spec, round_id, utility)

    def gate(self, values: Mapping[str, float]) -> tuple[str, ...]:
        """The participants a gated task leaves out of this round's aggregate (see :func:`gate_round`).

        The reputations before this round are read from the task's finalized rounds once (a
        resumed task continues its record), then carried from round to round.
        """
        if self.spec.aggregation != "gated":
            return ()
        if self._reputation is None:
            self._reputation = recorded_reputations(self.spec, self.finalized_rounds()) if self.spec.gate_memory else {}
        return gate_round(self.spec, values, self._reputation)

    def _record_exclusions(self, round_id: int, gated: Sequence[str]) -> None:
        for address in gated:
            self.ledger.exclude(self.evaluator_account, round_id, address, ExclusionReason.GATED)
            log.info("round %d: %s left out of the aggregate by contribution gating", round_id, address)

    def finalized_rounds(self) -> list[Round]:
        """The task's rounds finalized on chain, oldest first."""
        return finalized_rounds(self.ledger, self.task_id)

    def last_model(self) -> np.ndarray | None:
        """The aggregated model of the last round finalized on chain (None before the first)."""
        done = self.finalized_rounds()
        return model_from_bytes(self.store.get(to_bytes32(done[-1].aggregated_model_hash))) if done else None

    def release_model(self, round_id: int) -> bool:
        """Mark ``round_id``'s aggregated model as the task's released model on the ledger.

        Returns False, changing nothing, when the task already has one (an earlier run released it).
        """
        released = self.ledger.released_model(self.task_id)
        if released is not None:
            log.warning("task %d already released the model of round %d", self.task_id, released[0])
            return False
        self.ledger.release_model(self.evaluator_account, self.task_id, round_id)
        log.info("task %d: released the model of round %d", self.task_id, round_id)
        return True

    def cancel_open_rounds(self) -> list[int]:
        """Cancel the task's rounds an earlier run left open (they would lock their committers' stakes)."""
        cancelled = []
        for r in self.ledger.rounds():
            if r.task_id == self.task_id and r.status == RoundStatus.OPEN:
                log.warning("cancelling round %d, left open by an earlier run", r.round_id)
                self.ledger.cancel_round(self.aggregator_account, r.round_id, "left open by an earlier run")
                cancelled.append(r.round_id)
        return cancelled

    def _exclude_invalid(self, round_id: int, verified: VerifiedRound, recorder: DecryptionRecorder) -> UpdateCheck:
        """The key holder's check of each update alone (each recorded before it is opened); invalid ones leave the round and are excluded on chain."""
        check = self.key_holder.check_updates(verified, recorder if self.spec.encrypt else None)
        for address, reason in check.invalid.items():
            verified.exclude(address, reason)
            self.ledger.exclude(self.evaluator_account, round_id, address, ExclusionReason.INVALID_UPDATE)
            log.warning("round %d: excluded %s: %s", round_id, address, reason)
        return check

    def _slash_mismatches(
        self, plan: RoundPlan, received: Mapping[str, Submission], commitments: Mapping[str, bytes]
    ) -> tuple[str, ...]:
        """Slash every committed sender whose blob differs from its commitment, when the blob is evidence.

        The evidence (stored, its keccak256 on chain with the slash) is a blob with this round's
        header signed by the sender (:func:`~fl_node.hfl.envelope.signed_evidence`): it proves the
        sender sent something other than what it committed. A blob that is not (altered in
        transit, sent by someone else) proves nothing: it is excluded and nobody is slashed.
        """
        round_id = plan.round
        slashed = []
        for address, commitment in commitments.items():
            submission = received.get(address)
            if submission is None or keccak(submission.blob) == commitment:
                continue
            if not signed_evidence(submission.blob, plan.header_for(address)):
                log.warning("round %d: %s's blob differs from its commitment but is not signed by it: not slashed", round_id, address)
                continue
            stake = self.ledger.member(address).stake
            amount = min(self.slash_wei, stake)
            if amount > 0:
                self.ledger.slash(self.evaluator_account, address, amount, keccak(submission.blob))
                slashed.append(address)
                log.warning("round %d: slashed %s: blob does not match its commitment", round_id, address)
        return tuple(slashed)

    @staticmethod
    def _dropouts(
        collected: Collected, verified: VerifiedRound, commitments: Mapping[str, bytes]
    ) -> tuple[Exclusion, ...]:
        """Everyone selected who is not aggregated, with the reason."""
        dropped = list(collected.dropped) + list(verified.excluded)
        submitted = {s.participant_id for s in collected.submissions}
        dropped += [
            Exclusion(a, "committed on chain but no blob reached the aggregator")
            for a in commitments
            if a not in submitted and a not in {d.participant_id for d in dropped}
        ]
        dropped += [
            Exclusion(s, "submitted without a commitment on chain")
            for s in submitted
            if s not in commitments
        ]
        return tuple(dropped)


def _truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (the ledger's longest cancellation reason)."""
    return text.encode()[:limit].decode(errors="ignore")
