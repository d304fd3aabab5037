"""The federation runner: initial model, rounds, retries, resume from the chain, observers; one decryption of the full sum."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fl_node.demo import DemoConfig, Federation, setup_federation
from fl_node.errors import RoundAborted
from fl_node.hfl.aggregator import Collected, Exclusion
from fl_node.hfl.coordinator import RoundOutcome, RoundUtility
from fl_node.hfl.participant import RoundPlan
from fl_node.hfl.runner import RunObserver, initial_params, run_federation
from fl_node.models import flatten, model_hash
from fl_node.seeds import INITIAL_MODEL, derive_seed
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.transport.inprocess import InProcessTransport
from incentive.audit import finalized_rounds
from incentive.chain import embedded_chain
from incentive.ledger import RoundStatus

SMALL = DemoConfig(
    TaskConfig(data=DataConfig(nodes=3), custody=CustodyConfig(key_bits=1024), scoring=ScoringConfig(scorer="exact"), rounds=2),
    free_riders=0,
    label_flippers=0,
)


def build(tmp_path: Path, config: DemoConfig = SMALL) -> Federation:
    return setup_federation(config, embedded_chain(), tmp_path)


class Recorder(RunObserver):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_start(self, resumed_from: int, params: np.ndarray) -> None:
        self.events.append(("start", resumed_from, model_hash(params)))

    def on_round(self, outcome: RoundOutcome) -> None:
        self.events.append(("round", outcome.round_id))

    def on_retry(self, error: RoundAborted, attempt: int) -> None:
        self.events.append(("retry", attempt))


class FlakyTransport(InProcessTransport):
    """The first ``failures`` rounds it carries lose every node but one (the round is short of min_participants)."""

    def __init__(self, nodes, failures: int) -> None:
        super().__init__(nodes)
        self.failures = failures

    def collect(self, plan: RoundPlan) -> Collected:
        if self.failures > 0:
            self.failures -= 1
            collected = InProcessTransport(self.nodes[:1]).collect(plan)
            lost = tuple(Exclusion(n.participant_id, "failed: unreachable") for n in self.nodes[1:])
            return Collected(collected.submissions, collected.dropped + lost)
        return super().collect(plan)


def test_runs_the_rounds_from_the_initial_model_and_tells_observers(tmp_path):
    federation = build(tmp_path)
    recorder = Recorder()

    run = run_federation(federation.coordinator, InProcessTransport(federation.nodes), 2, observers=[recorder])

    initial = flatten(federation.model.build(derive_seed(SMALL.task.seed, INITIAL_MODEL)))
    assert model_hash(initial_params(federation.coordinator.spec)) == model_hash(initial)
    assert recorder.events == [("start", 0, model_hash(initial)), ("round", 1), ("round", 2)]
    assert [o.round_id for o in run.outcomes] == [1, 2]
    assert np.array_equal(run.final_params, run.outcomes[-1].global_params)
    done = finalized_rounds(federation.ledger, federation.task_id)
    assert done[-1].aggregated_model_hash == "0x" + model_hash(run.final_params).hex()


def test_a_round_short_of_participants_is_opened_again(tmp_path):
    federation = build(tmp_path)
    recorder = Recorder()

    run = run_federation(
        federation.coordinator, FlakyTransport(federation.nodes, failures=1), 1, retries=1, observers=[recorder]
    )

    assert recorder.events[1:] == [("retry", 1), ("round", 2)]
    assert federation.ledger.round(1).status == RoundStatus.CANCELLED
    assert [o.round_id for o in run.outcomes] == [2]


def test_retries_run_out(tmp_path):
    federation = build(tmp_path)

    with pytest.raises(RoundAborted, match="min_participants=3"):
        run_federation(federation.coordinator, FlakyTransport(federation.nodes, failures=2), 1, retries=1)

    assert [federation.ledger.round(i).status for i in (1, 2)] == [RoundStatus.CANCELLED, RoundStatus.CANCELLED]


def test_resume_continues_from_the_last_round_finalized_on_chain(tmp_path):
    federation = build(tmp_path)
    transport = InProcessTransport(federation.nodes)
    first = run_federation(federation.coordinator, transport, 1)
    # a run that crashed after opening a round leaves it open
    federation.coordinator.open_round(first.final_params)
    recorder = Recorder()

    second = run_federation(federation.coordinator, transport, 2, resume=True, observers=[recorder])

    assert recorder.events[0] == ("start", 1, model_hash(first.final_params))
    assert federation.ledger.round(2).status == RoundStatus.CANCELLED
    assert [o.round_id for o in second.outcomes] == [3]
    assert len(finalized_rounds(federation.ledger, federation.task_id)) == 2
    again = run_federation(federation.coordinator, transport, 2, resume=True)
    assert again.resumed_from == 2 and again.outcomes == []
    assert np.array_equal(again.final_params, second.final_params)


def test_the_full_sum_is_decrypted_once_per_round(tmp_path, monkeypatch):
    federation = build(tmp_path)
    key_holder = federation.coordinator.key_holder
    decrypted: list[tuple[str, ...]] = []
    decrypt = key_holder.decrypt

    def counting(summed):
        decrypted.append(summed.participant_ids)
        return decrypt(summed)

    monkeypatch.setattr(key_holder, "decrypt", counting)
    outcome = federation.coordinator.run_round(initial_params(federation.coordinator.spec), InProcessTransport(federation.nodes))

    full = tuple(sorted(outcome.scores))
    assert decrypted.count(full) == 1
    # exact Shapley over 3 participants evaluates every coalition, but only the validity check's
    # singletons and the full sum (shared with the new model) are opened: pairs are added from singletons
    assert sorted(map(len, decrypted)) == [1, 1, 1, 3]


def _first_round_verified(tmp_path, config: DemoConfig = SMALL):
    """A fresh federation, its initial parameters and its first round's verified submissions."""
    federation = build(tmp_path, config)
    coordinator = federation.coordinator
    params = initial_params(coordinator.spec)
    plan = RoundPlan(coordinator.open_round(params), params, dict(coordinator.spec.sample_counts))
    collected = InProcessTransport(federation.nodes).collect(plan)
    return federation, params, coordinator.aggregator.verify(plan, collected.submissions)


def test_coalition_models_from_singletons_equal_the_decrypted_sums_bit_for_bit(tmp_path):
    federation, params, verified = _first_round_verified(tmp_path)
    coordinator = federation.coordinator
    check = coordinator.key_holder.check_updates(verified)
    assert not check.invalid
    added = RoundUtility(coordinator.spec, verified, coordinator.key_holder, params, federation.data.validation, singletons=check.singletons)
    opened = RoundUtility(coordinator.spec, verified, coordinator.key_holder, params, federation.data.validation)

    pairs = [frozenset(p) for p in ((0, 1), (0, 2), (1, 2))]
    for pair in pairs:
        assert np.array_equal(added.model(pair), opened.model(pair))
        assert added(pair) == opened(pair)
    assert added.decryptions == 0 and opened.decryptions == 2 * len(pairs)
    # the integers behind a singleton must give it back exactly, or the pair is decrypted instead
    nudged = dict(check.singletons)
    first = added.ids[0]
    nudged[first] = np.nextafter(nudged[first], np.inf)
    fallback = RoundUtility(coordinator.spec, verified, coordinator.key_holder, params, federation.data.validation, singletons=nudged)
    assert np.array_equal(fallback.model(pairs[0]), opened.model(pairs[0])) and fallback.decryptions == 1
    assert np.array_equal(fallback.model(pairs[2]), opened.model(pairs[2])) and fallback.decryptions == 1


def test_coalition_models_along_walks_equal_the_decrypted_sums_bit_for_bit(tmp_path):
    """Along a walk each coalition's sum is the previous one's plus one update's integers (or minus one's, between walks)."""
    four = DemoConfig(replace(SMALL.task, data=DataConfig(nodes=4)), free_riders=0, label_flippers=0)
    federation, params, verified = _first_round_verified(tmp_path, four)
    coordinator = federation.coordinator
    check = coordinator.key_holder.check_updates(verified)
    added = RoundUtility(coordinator.spec, verified, coordinator.key_holder, params, federation.data.validation, singletons=check.singletons)
    opened = RoundUtility(coordinator.spec, verified, coordinator.key_holder, params, federation.data.validation)

    walks = [(2, 0, 3), (1, 3, 0), (1, 3, 2)]
    coalitions = [frozenset(order[:k]) for order in walks for k in range(1, 4)]
    for coalition in coalitions:
        assert np.array_equal(added.model(coalition), opened.model(coalition))
        assert added(coalition) == opened(coalition)
    assert added.decryptions == 0 and opened.decryptions == 2 * len(coalitions)


def test_round_utility_shares_the_full_model_with_the_scorer(tmp_path):
    federation, params, verified = _first_round_verified(tmp_path)
    coordinator = federation.coordinator
    utility = RoundUtility(coordinator.spec, verified, coordinator.key_holder, params, federation.data.validation)

    everyone = frozenset(range(len(utility.ids)))
    value = utility(everyone)
    model, metrics = utility.full()

    assert utility.decryptions == 1
    assert value == -metrics.loss
    expected = coordinator.key_holder.new_global(params, verified.sum(sorted(verified.updates)))
    assert np.array_equal(model, expected)
    assert utility(frozenset()) == utility(frozenset()) and utility.decryptions == 1
