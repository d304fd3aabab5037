"""Attacks, contribution-gated aggregation and free-riders' zero value, on plaintext federations with no chain."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.behaviours import Colluding, CollusionGroup, FreeRider, Honest, LabelFlipper, ScaledUpdate, SignFlip, attack_roster
from fl_node.data import federate, load_dataset
from fl_node.demo import DemoConfig, run_demo, setup_federation
from fl_node.errors import FlNodeError
from fl_node.hfl import coordinator as coordinator_module
from fl_node.hfl.coordinator import RoundUtility
from fl_node.hfl.gating import NORM_FACTOR, gated_out, norm_outliers, reputations, update_norm
from fl_node.hfl.participant import Behaviour, RoundPlan
from fl_node.hfl.runner import run_federation
from fl_node.hfl.runner import initial_params
from fl_node.hfl.spec import FederationSpec
from fl_node.simulation import RoundConfig, node_ids, null_federation
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig, build_task
from fl_node.training import TrainConfig
from incentive.chain import embedded_chain
from incentive.contribution import make_scorer
from incentive.fixedpoint import to_fixed
from incentive.ledger import ExclusionReason


def test_sign_flip_and_colluders_report_what_they_claim() -> None:
    rng = np.random.default_rng(0)
    delta = rng.normal(size=5)
    group = CollusionGroup(factor=3.0)
    a, b = Colluding(group), Colluding(group)

    first, second = a.local_update(delta, rng), b.local_update(rng.normal(size=5), rng)
    next_round = b.local_update(delta * 2, rng)

    np.testing.assert_array_equal(SignFlip().local_update(delta, rng), -delta)
    np.testing.assert_array_equal(first, -3.0 * delta)
    np.testing.assert_array_equal(second, first)
    np.testing.assert_array_equal(next_round, -6.0 * delta)


def test_attack_roster_puts_the_fraction_of_attackers_last() -> None:
    roster = attack_roster(10, "scaled", 0.3, n_classes=2)

    assert [type(b) for b in roster] == [Honest] * 7 + [ScaledUpdate] * 3
    assert roster[-1].factor == 10.0
    assert all(isinstance(b, Honest) for b in attack_roster(10, "label-flip", 0.0, 2))
    colluders = attack_roster(10, "colluding", 0.2, 2)[-2:]
    assert colluders[0].group is colluders[1].group
    with pytest.raises(FlNodeError, match="fraction"):
        attack_roster(10, "scaled", 0.5, 2)
    with pytest.raises(FlNodeError, match="unknown attack"):
        attack_roster(10, "bribe", 0.1, 2)


def test_gate_leaves_out_scores_at_or_below_the_threshold_but_keeps_the_minimum_cohort() -> None:
    scores = {"a": 50, "b": 0, "c": -20, "d": 10}

    assert gated_out(scores, 0, 1) == ("b", "c")
    assert gated_out(scores, 0, 3) == ("c",)
    assert gated_out({"a": 50, "b": 30, "c": 20, "d": 10, "e": -5}, 15, 1) == ("d", "e")
    # nobody above the threshold (a round that moved nothing): only strict losers go
    assert gated_out({"a": 0, "b": 0, "c": -1}, 0, 1) == ("c",)
    assert gated_out({"a": 0, "b": 0}, 0, 1) == ()


def test_a_majority_at_or_below_the_threshold_loses_only_those_below_the_median() -> None:
    # an attacker's damage spread over every Shapley value: honest nodes score a little below 0
    scores = {"h1": -35, "h2": -12, "h3": -27, "h4": -25, "h5": -53, "h6": -7, "x1": -2037, "x2": -200}

    assert gated_out(scores, 0, 1) == ("h1", "h5", "x1", "x2")
    assert gated_out({"a": 50, "b": 0, "c": -20, "d": 10}, 20, 1) == ("b", "c")
    assert len(gated_out({f"n{k}": -k for k in range(10)}, 0, 1)) == 5


def test_the_gate_weighs_a_participants_record_not_one_noisy_round() -> None:
    # round scores (fixed point) of an honest node "h" and an attacker "x" that scores positive once
    record = [{"h": 300, "x": -400, "c": 50}, {"h": -20, "x": -300, "c": 10}]
    now = {"h": -10, "x": 30, "c": 5}

    cumulative = reputations(record, 1.0)
    assert cumulative == {"c": 60.0, "h": 280.0, "x": -700.0}
    assert reputations(record, 0.5) == {"c": 35.0, "h": 130.0, "x": -500.0}
    # a participant missing from a round scores 0 there
    assert reputations([{"a": 8}, {"b": 1}], 0.5) == {"a": 4.0, "b": 1.0}
    # with its record, the honest node's negative round keeps it in and the attacker's positive one does not
    assert gated_out(now, 0, 1, cumulative, memory=1.0) == ("x",)
    # memory 0 is the round's score alone
    assert gated_out(now, 0, 1, cumulative, memory=0.0) == ("h",)
    assert gated_out(now, 0, 1) == ("h",)


class _AttacksFirstRound(Behaviour):
    """Sends its update sign-flipped ×5 in its first round, then honestly."""

    def __init__(self) -> None:
        self.reports = 0

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self.reports += 1
        return -5.0 * delta if self.reports == 1 else delta


@pytest.mark.parametrize("memory", [1.0, 0.0])
def test_the_coordinator_gates_on_reputations_carried_from_the_recorded_rounds(tmp_path: Path, memory: float) -> None:
    behaviours = [Honest(), Honest(), Honest(), _AttacksFirstRound()]
    spec, data, coordinator, transport = _federation(tmp_path, behaviours, aggregation="gated", gate_memory=memory, gate_norm_factor=0.0)

    first, second = run_federation(coordinator, transport, 2).outcomes

    attacker = "node-3"
    assert first.gated == (attacker,) and first.scores[attacker] < 0
    assert second.scores[attacker] > 0 > first.scores[attacker] + second.scores[attacker]
    # the gate of round 2 is the pure rule on round 1's record, as an auditor recomputes it
    history = reputations([{a: to_fixed(v) for a, v in first.scores.items()}], memory)
    expected = gated_out({a: to_fixed(v) for a, v in second.scores.items()}, 0, spec.min_participants, history, memory)
    assert second.gated == expected
    assert (attacker in second.gated) == (memory == 1.0)


def _federation(tmp_path: Path, behaviours, aggregation: str = "fedavg", gate_memory: float = 1.0, gate_norm_factor: float = NORM_FACTOR):
    task = TaskConfig(
        data=DataConfig(nodes=len(behaviours), partition="iid"),
        training=TrainConfig(epochs=2, lr=0.1),
        custody=CustodyConfig(encrypt=False),
        scoring=ScoringConfig(scorer="exact", aggregation=aggregation, gate_memory=gate_memory, gate_norm_factor=gate_norm_factor),
        min_participants=3,
    )
    data = federate(load_dataset("breast_cancer"), len(behaviours), "iid", seed=0)
    ids = node_ids(len(behaviours))
    spec = build_task(task, data.n_features, data.n_classes, {pid: len(p) for pid, p in zip(ids, data.nodes)})
    coordinator, transport = null_federation(spec, None, data, RoundConfig(), tmp_path, behaviours)
    return spec, data, coordinator, transport


def test_a_free_rider_adds_nothing_to_any_coalition_and_scores_exactly_zero(tmp_path: Path) -> None:
    spec, data, coordinator, transport = _federation(tmp_path, [Honest(), Honest(), Honest(), FreeRider()])
    params = initial_params(spec)
    plan = RoundPlan(coordinator.open_round(params), params, dict(spec.sample_counts))
    submissions = transport.collect(plan).submissions
    verified = coordinator.aggregator.verify(plan, list(submissions))
    utility = RoundUtility(spec, verified, coordinator.key_holder, params, data.validation)
    rider = utility.ids.index("node-3")

    for coalition in (frozenset({0}), frozenset({0, 1}), frozenset({0, 1, 2})):
        np.testing.assert_array_equal(utility.model(coalition), utility.model(coalition | {rider}))
    exact = make_scorer("exact").score(list(range(4)), utility, rng=np.random.default_rng(0)).values
    gtg = make_scorer("gtg").score(list(range(4)), RoundUtility(spec, verified, coordinator.key_holder, params, data.validation),
                                   rng=np.random.default_rng(0)).values
    assert exact[rider] == 0.0 and gtg[rider] == 0.0
    assert sum(v for k, v in exact.items() if k != rider) > 0


def test_gtg_values_a_null_player_at_zero_when_it_samples() -> None:
    # 12 players: GTG samples permutations (no exact enumeration); player 5 never changes the utility
    weights = np.linspace(0.1, 1.0, 12)
    weights[5] = 0.0

    def utility(coalition: frozenset[int]) -> float:
        return float(np.sqrt(sum(weights[i] for i in coalition)))

    result = make_scorer("gtg").score(list(range(12)), utility, rng=np.random.default_rng(1))

    assert result.values[5] == 0.0
    assert sum(result.values.values()) == pytest.approx(utility(frozenset(range(12))) - utility(frozenset()))


def test_gated_round_aggregates_only_the_participants_the_gate_keeps(tmp_path: Path) -> None:
    behaviours = [Honest(), Honest(), Honest(), SignFlip(5.0)]
    spec, data, coordinator, transport = _federation(tmp_path, behaviours, aggregation="gated", gate_norm_factor=0.0)
    params = initial_params(spec)

    seen: list[RoundUtility] = []

    outcome = coordinator.run_round(params, transport, lambda round_id, utility: seen.append(utility))

    assert outcome.gated == ("node-3",)
    assert outcome.included == ("node-0", "node-1", "node-2")
    assert outcome.scores["node-3"] < 0
    # the new model is the FedAvg of the kept participants' summed updates
    kept = seen[0].verified.sum(outcome.included)
    np.testing.assert_array_equal(outcome.global_params, coordinator.key_holder.new_global(params, kept))


def test_gated_aggregation_needs_scores_and_a_known_name(tmp_path: Path) -> None:
    spec, data, coordinator, transport = _federation(tmp_path, [Honest(), Honest()])
    with pytest.raises(FlNodeError, match="unknown aggregation"):
        replace(spec, aggregation="median")
    assert FederationSpec.from_bytes(spec.to_bytes()) == spec
    gated = replace(spec, aggregation="gated", gate_threshold=0.01)
    assert b"gate_threshold" in gated.to_bytes() and b"aggregation" not in spec.to_bytes()
    assert FederationSpec.from_bytes(gated.to_bytes()) == gated


def test_gated_demo_on_chain_leaves_the_label_flipper_out_unpaid_and_the_audit_recomputes_it(tmp_path: Path) -> None:
    config = DemoConfig(
        TaskConfig(
            data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=1024),
            scoring=ScoringConfig(scorer="exact", aggregation="gated", gate_memory=1.0, gate_norm_factor=0.0), rounds=2,
        ),
        free_riders=0,
        label_flippers=1,
    )
    federation = setup_federation(config, embedded_chain(), tmp_path)
    flipper = federation.nodes[-1].participant_id

    result = run_demo(federation)

    outcome = result.rounds[0].outcome
    assert flipper in outcome.gated and flipper not in outcome.included
    assert outcome.rewards[flipper] == 0 and outcome.scores[flipper] < 0
    record = next(p for p in federation.ledger.participants(outcome.round_id) if p.account == flipper)
    assert record.dropped and record.exclusion == ExclusionReason.GATED
    # round 2 gates on the cumulative scores as recorded on chain
    first, second = ({p.account: p.score for p in federation.ledger.participants(r.outcome.round_id)} for r in result.rounds)
    expected = gated_out(second, 0, 3, reputations([first], 1.0), memory=1.0)
    assert result.rounds[1].outcome.gated == expected and flipper in expected
    assert result.audit.ok, [c for c in result.audit.checks if not c.ok]


def test_norm_outliers_are_the_updates_above_kappa_times_the_median() -> None:
    norms = {"a": 1.0, "b": 1.2, "c": 0.8, "d": 0.9, "x": 10.0, "y": 3.5}

    assert norm_outliers(norms, 3.0, 3) == ("x", "y")
    assert norm_outliers(norms, 4.0, 3) == ("x",)
    assert norm_outliers(norms, 0.0, 3) == ()  # κ = 0: off
    # the minimum cohort stays: only the largest norms go
    assert norm_outliers({"a": 1.0, "b": 1.0, "x": 9.0, "y": 8.0}, 1.0, 3) == ("x",)
    # a median of 0 (most updates empty) leaves nobody out
    assert norm_outliers({"a": 0.0, "b": 0.0, "c": 5.0}, 3.0, 1) == ()
    # the norm of the update itself, not of its sample-weighted share
    assert update_norm(np.array([0.3, 0.4]), 0.25) == pytest.approx(2.0)


@settings(max_examples=200, deadline=None)
@given(
    norms=st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=12),
    factor=st.floats(1, 100, allow_nan=False),
    min_included=st.integers(1, 12),
)
def test_norm_outliers_leave_out_only_norms_above_the_bound_and_never_more_than_half(norms, factor, min_included) -> None:
    out = norm_outliers(norms, factor, min_included)
    median = float(np.median(list(norms.values())))

    assert list(out) == sorted(set(out)) and set(out) <= set(norms)
    assert all(norms[a] > factor * median for a in out)
    assert 2 * len(out) <= len(norms)
    assert len(norms) - len(out) >= min(min_included, len(norms))
    # nobody kept has a larger norm than someone left out
    assert all(norms[k] <= norms[o] for k in norms if k not in out for o in out)
    if len(norms) - min_included >= sum(v > factor * median for v in norms.values()):
        assert set(out) == {a for a, v in norms.items() if v > factor * median and median > 0}


def test_a_boosted_update_is_left_out_before_scoring_and_the_others_are_scored_among_themselves(tmp_path: Path) -> None:
    behaviours = [Honest(), Honest(), Honest(), Honest(), ScaledUpdate(10.0)]
    spec, data, coordinator, transport = _federation(tmp_path, behaviours, aggregation="gated")
    params = initial_params(spec)
    seen: list[RoundUtility] = []

    outcome = coordinator.run_round(params, transport, lambda round_id, utility: seen.append(utility))

    attacker = "node-4"
    assert spec.gate_norm_factor == NORM_FACTOR
    assert attacker in outcome.gated and attacker not in outcome.included
    assert outcome.scores[attacker] == 0.0 and outcome.rewards[attacker] == 0
    # the scorer never saw the outlier: its players are the four others
    assert seen[0].ids == ["node-0", "node-1", "node-2", "node-3"]
    kept = seen[0].verified.sum(outcome.included)
    np.testing.assert_array_equal(outcome.global_params, coordinator.key_holder.new_global(params, kept))
    # off (κ = 0) the same update is scored, and not left out for its norm
    _, _, plain, plain_transport = _federation(tmp_path / "off", behaviours, aggregation="gated", gate_norm_factor=0.0)
    assert plain.run_round(params, plain_transport).scores[attacker] != 0.0


def test_a_spec_without_a_norm_factor_has_none_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    spec, *_ = _federation(tmp_path, [Honest(), Honest(), Honest()], aggregation="gated")
    assert spec.gate_norm_factor == NORM_FACTOR and FederationSpec.from_bytes(spec.to_bytes()) == spec
    # a spec published before the rule (no key) gates on scores alone
    assert replace(spec, gate_norm_factor=0.0).to_bytes().find(b"gate_norm_factor") == -1
    assert FederationSpec.from_bytes(replace(spec, gate_norm_factor=0.0).to_bytes()).gate_norm_factor == 0.0
    # FedAvg tasks publish none
    fedavg, *_ = _federation(tmp_path / "fedavg", [Honest(), Honest(), Honest()])
    assert fedavg.gate_norm_factor == 0.0
    for bad in (0.5, -1.0, float("inf")):
        with pytest.raises(FlNodeError, match="gate norm factor"):
            replace(spec, gate_norm_factor=bad)


def _scaled_demo(tmp_path: Path):
    config = DemoConfig(
        TaskConfig(
            data=DataConfig(nodes=5), custody=CustodyConfig(key_bits=512),
            scoring=ScoringConfig(scorer="exact", aggregation="gated", gate_threshold=-1.0), rounds=1,
        ),
        free_riders=0,
        label_flippers=0,
    )
    federation = setup_federation(config, embedded_chain(), tmp_path)
    federation.nodes[-1].participant.behaviour = ScaledUpdate(10.0)
    return federation


def test_the_audit_recomputes_the_norm_rule_with_the_key(tmp_path: Path) -> None:
    federation = _scaled_demo(tmp_path)
    attacker = federation.nodes[-1].participant_id

    result = run_demo(federation)

    assert result.rounds[0].outcome.gated == (attacker,)
    record = next(p for p in federation.ledger.participants(result.rounds[0].outcome.round_id) if p.account == attacker)
    assert record.dropped and record.exclusion == ExclusionReason.GATED and record.score == 0
    assert result.audit.ok, [c for c in result.audit.checks if not c.ok]


@pytest.mark.parametrize("forgery", ["spares the outlier", "leaves out an honest node"])
def test_the_audit_names_a_forged_gating_exclusion(tmp_path: Path, monkeypatch, forgery: str) -> None:
    federation = _scaled_demo(tmp_path)
    attacker, honest = federation.nodes[-1].participant_id, federation.nodes[0].participant_id

    def forged(spec, verified, singletons):
        pid = honest if forgery == "leaves out an honest node" else None
        if pid is not None:
            verified.exclude(pid, "forged")
        return (pid,) if pid else ()

    monkeypatch.setattr(coordinator_module, "exclude_norm_outliers", forged)
    result = run_demo(federation)

    aggregation = next(c for c in result.audit.checks if c.name == "aggregation")
    assert not result.audit.ok and not aggregation.ok
    expected = "nobody" if forgery == "spares the outlier" else honest
    assert f"the gate leaves out {attacker}, the ledger's gating exclusions are {expected}" in aggregation.detail
