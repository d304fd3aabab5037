"""Decryptions on the ledger in a federation: custodians open only recorded sums of committed blobs, and the audit
checks the record against the coalitions the published scorer opens."""

from __future__ import annotations

import dataclasses

import pytest
from eth_hash.auto import keccak

from fl_node.demo import DemoConfig, setup_federation
from fl_node.errors import DecryptionRefused, ThresholdDecryptionError
from fl_node.hfl import coordinator as coordinator_module
from fl_node.hfl.aggregator import SummedUpdate
from fl_node.hfl.decryptions import DecryptionRecorder, DecryptionRequest, coalition_bitmap, sum_hash
from fl_node.hfl.runner import initial_params
from fl_node.crypto.keys import load_private_key
from fl_node.replay import audit_federation
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.transport.inprocess import InProcessTransport
from incentive.chain import embedded_chain


def _federation(tmp_path, custody: CustodyConfig):
    task = TaskConfig(data=DataConfig(nodes=3), custody=custody, scoring=ScoringConfig(scorer="loo"), rounds=1)
    return setup_federation(DemoConfig(task, free_riders=0, label_flippers=0), embedded_chain(), tmp_path)


def _run_round(federation, on_utility=None):
    coordinator = federation.coordinator
    return coordinator.run_round(initial_params(coordinator.spec), InProcessTransport(federation.nodes), on_utility=on_utility)


def _failures(report) -> str:
    return "; ".join(c.detail for c in report.checks if c.name == "decryptions" and not c.ok)


def test_custodians_refuse_sums_off_the_record_and_the_audit_names_extra_decryptions(tmp_path) -> None:
    federation = _federation(tmp_path, CustodyConfig(key_bits=512, custodians=3, threshold=2))
    ledger, coordinator = federation.ledger, federation.coordinator
    key_holder = coordinator.key_holder
    probed = {}

    def probe(round_id, utility) -> None:
        positions = {p.account: p.index for p in ledger.participants(round_id)}
        first, second = utility.ids[0], utility.ids[1]
        scheme = coordinator.aggregator.scheme
        # Every coalition of three, singletons included (the validity check), is on the record: this
        # sum (the first update twice) is not.
        honest = utility.verified.sum([first])
        single = dataclasses.replace(honest, payload=scheme.add([utility.verified.updates[first]] * 2))
        request = DecryptionRequest(round_id, single.participant_ids, single.payload)
        for custodian in key_holder.custodians:
            with pytest.raises(DecryptionRefused, match="not on the ledger's decryption record"):
                custodian.answer(request)
        with pytest.raises(ThresholdDecryptionError, match="refused: Hospital A"):
            key_holder.decrypt(single)
        # Recorded, but for another coalition than the request names.
        ledger.record_decryptions(coordinator.evaluator_account, round_id, [sum_hash(single.payload)], [1 << positions[second]])
        for custodian in key_holder.custodians:
            with pytest.raises(DecryptionRefused, match="recorded for coalition"):
                custodian.answer(request)
        # Recorded with the coalition it names, but not the sum of that coalition's committed blobs.
        forged = scheme.add([utility.verified.updates[second]] * 2)
        ledger.record_decryptions(coordinator.evaluator_account, round_id, [sum_hash(forged)], [1 << positions[second]])
        for custodian in key_holder.custodians:
            with pytest.raises(DecryptionRefused, match="not the sum of the committed blobs"):
                custodian.answer(DecryptionRequest(round_id, (second,), forged))
        probed["round"], probed["utility"], probed["bits"] = round_id, utility, (positions[first], positions[second])

    outcome = _run_round(federation, probe)

    # LOO over 3 evaluates the three pairs from the opened singletons: only the singletons and the
    # full sum are opened, each recorded before it was opened.
    recorded = {d.coalition for d in ledger.decryptions()}
    full = coalition_bitmap(outcome.included, {p.account: p.index for p in ledger.participants(outcome.round_id)})
    assert recorded == {full, *(1 << i for i in range(3))}
    # Once the round is finalized, nothing of it is opened any more, recorded or not.
    full_sum = probed["utility"].full_sum
    with pytest.raises(DecryptionRefused, match="finalized, not open"):
        key_holder.custodians[0].answer(DecryptionRequest(outcome.round_id, full_sum.participant_ids, full_sum.payload))

    report = audit_federation(ledger, federation.store, federation.task_id, federation.custody)
    assert not report.ok
    failures = _failures(report)
    _, second_bit = probed["bits"]
    assert f"round {probed['round']}: coalition single participant {1 << second_bit:#x}" in failures
    assert "was recorded but the scorer does not open it" in failures
    assert [c.name for c in report.checks if not c.ok] == ["decryptions"]


class _SkipsTheFullSum(DecryptionRecorder):
    """An evaluator that opens the round's full sum without recording it (possible only with a single key holder)."""

    def record_all(self, sums: list[SummedUpdate]) -> int:
        return super().record_all([s for s in sums if len(s.participant_ids) < len(self.positions)])


def test_the_audit_names_a_decryption_missing_from_the_record(tmp_path, monkeypatch) -> None:
    federation = _federation(tmp_path, CustodyConfig(key_bits=512))
    monkeypatch.setattr(coordinator_module, "DecryptionRecorder", _SkipsTheFullSum)
    outcome = _run_round(federation)

    report = audit_federation(federation.ledger, federation.store, federation.task_id, load_private_key(federation.key_path))

    full = coalition_bitmap(outcome.included, {p.account: p.index for p in federation.ledger.participants(outcome.round_id)})
    assert f"round {outcome.round_id}: coalition {full:#x}" in _failures(report)
    assert "was opened by the scorer but is not recorded" in _failures(report)
    without_key = audit_federation(federation.ledger, federation.store, federation.task_id)
    assert f"round {outcome.round_id}: the aggregated coalition {full:#x} is not on the decryption record" in _failures(without_key)



def test_a_round_s_decryption_plan_takes_two_transactions_and_the_no_key_audit_rebuilds_every_sum(tmp_path) -> None:
    federation = _federation(tmp_path, CustodyConfig(key_bits=512, custodians=3, threshold=2))
    outcome = _run_round(federation)

    recorded = [d for d in federation.ledger.decryptions() if d.round_id == outcome.round_id]
    # the 3 singletons of the validity check together, then the aggregate; LOO's pairs are added from the singletons
    assert [bin(d.coalition).count("1") for d in recorded] == [1, 1, 1, 3]
    assert len({d.tx_hash for d in recorded[:3]}) == 1 and recorded[3].tx_hash != recorded[0].tx_hash
    without_key = audit_federation(federation.ledger, federation.store, federation.task_id)
    assert without_key.ok and "each recorded sum rebuilt from the committed blobs" in next(
        c.detail for c in without_key.checks if c.name == "decryptions"
    )


def test_the_no_key_audit_names_a_recorded_hash_that_is_not_its_coalition_s_sum(tmp_path) -> None:
    federation = _federation(tmp_path, CustodyConfig(key_bits=512))
    probed: dict[str, object] = {}

    def record_a_forged_sum(round_id: int, utility) -> None:
        first, second = utility.ids[:2]
        positions = {p.account: p.index for p in federation.ledger.participants(round_id)}
        bitmap = coalition_bitmap([first, second], positions)
        forged = keccak(b"not the sum of any committed blobs")
        federation.ledger.record_decryptions(federation.coordinator.evaluator_account, round_id, [forged], [bitmap])
        probed.update(round=round_id, bitmap=bitmap)

    _run_round(federation, on_utility=record_a_forged_sum)

    report = audit_federation(federation.ledger, federation.store, federation.task_id)
    assert f"round {probed['round']}: coalition {probed['bitmap']:#x}" in _failures(report)
    assert "its committed blobs sum to" in _failures(report)
