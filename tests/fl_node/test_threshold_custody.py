"""Threshold key custody in the demo federation: same model as one key holder, dropouts, audit."""

from __future__ import annotations

import dataclasses

import pytest

from fl_node.demo import DemoConfig, run_demo, setup_federation
from fl_node.errors import FlNodeError, RoundAborted
from fl_node.hfl.decryptions import LedgerGate
from fl_node.hfl.keyholder import ThresholdCustody
from fl_node.models import model_hash
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from incentive.chain import embedded_chain


def _config(custody: CustodyConfig) -> DemoConfig:
    task = TaskConfig(data=DataConfig(nodes=3), custody=custody, scoring=ScoringConfig(scorer="loo"), rounds=1)
    return DemoConfig(task, free_riders=0, label_flippers=0)


def _final_hash(result) -> bytes:
    return model_hash(result.rounds[-1].outcome.global_params)


def _with_offline(federation, offline: set[int]) -> ThresholdCustody:
    """The federation's custodians, checking the ledger's decryption record as the coordinator's do, with ``offline`` down."""
    gate = LedgerGate(federation.ledger, federation.store, federation.coordinator.aggregator.scheme)
    return dataclasses.replace(federation.custody, offline=frozenset(offline), gate=gate)


def test_threshold_custody_trains_the_same_model_and_passes_its_audit(tmp_path) -> None:
    single = run_demo(setup_federation(_config(CustodyConfig(key_bits=512)), embedded_chain(), tmp_path / "single"))
    federation = setup_federation(_config(CustodyConfig(key_bits=512, custodians=3, threshold=2)), embedded_chain(), tmp_path / "threshold")

    threshold = run_demo(federation)

    assert federation.key_path is None and federation.custody is not None
    assert len(list((tmp_path / "threshold" / "keys").rglob("*.key"))) == 0
    assert _final_hash(threshold) == _final_hash(single)
    assert threshold.audit.ok, [c for c in threshold.audit.checks if not c.ok]


def test_threshold_round_survives_one_dropout_and_aborts_naming_two(tmp_path) -> None:
    config = _config(CustodyConfig(key_bits=512, custodians=3, threshold=2))
    federation = setup_federation(config, embedded_chain(), tmp_path / "one")
    codec = federation.coordinator.spec.codec
    federation.coordinator.key_holder = _with_offline(federation, {1}).key_holder(codec)
    assert run_demo(federation).audit.ok

    shares = tmp_path / "one" / "keys" / "shares"
    federation = setup_federation(config, embedded_chain(), tmp_path / "two", key_shares=shares)
    federation.coordinator.key_holder = _with_offline(federation, {1, 3}).key_holder(codec)
    with pytest.raises(RoundAborted, match="key custodians: .*missing: Hospital A, Hospital C.*round cancelled on chain"):
        run_demo(federation)


def test_key_custody_flag_parses_and_rejects_nonsense() -> None:
    assert CustodyConfig.parse("threshold:2-of-3") == CustodyConfig(custodians=3, threshold=2)
    assert CustodyConfig.parse("single", key_bits=1024) == CustodyConfig(key_bits=1024)
    for bad in ("threshold:3-of-2", "threshold:two-of-3", "quorum:2-of-3"):
        with pytest.raises(FlNodeError):
            CustodyConfig.parse(bad)
    with pytest.raises(FlNodeError, match="encrypted"):
        CustodyConfig.parse("threshold:2-of-3", encrypt=False)
