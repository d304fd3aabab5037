"""Per-participant validity: the key holder checks each participant's own decryption against the codec's
slots before any sum containing it is formed, and excludes an out-of-range or undecodable update by name."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_hfl import CODEC, FixedUpdate, fed, keypair, model_config, null_federation, participants  # noqa: F401 (fixtures)

from fl_node.crypto.codec import EncryptedUpdate
from fl_node.errors import RoundAborted
from fl_node.hfl.participant import Participant, RoundPlan, Submission
from fl_node.hfl.schemes import EncryptedUpdates
from fl_node.models import flatten
from incentive.ledger import ExclusionReason, keccak

CLIP = 1.0


class Crafting(Participant):
    """Submits its honest update with ``craft(plaintext offset)`` added to the first ciphertext's plaintext (mod n)."""

    def __init__(self, honest: Participant, offset: int) -> None:
        super().__init__(honest.participant_id, honest.data, honest.model_factory, honest.train_config, honest.scheme, honest.seed, honest.behaviour)
        self.offset = offset

    def submit(self, plan: RoundPlan) -> Submission:
        honest = super().submit(plan)
        public_key = self.scheme.public_key
        update = EncryptedUpdate.from_bytes(honest.blob, public_key)
        shifted = update.ciphertexts[0] * public_key.raw_encrypt(self.offset % public_key.n) % public_key.nsquare
        blob = dataclasses.replace(update, ciphertexts=(shifted, *update.ciphertexts[1:])).to_bytes()
        return dataclasses.replace(honest, blob=blob, blob_hash=keccak(blob), bytes_up=len(blob))


def crafted_round(fed, model_config, keypair, tmp_path, offset_of, count):
    """``count`` participants with known deltas; the last one crafts its ciphertext with ``offset_of(codec)``."""
    global_params = flatten(model_config.build(seed=0))
    deltas = np.random.default_rng(3).uniform(-0.2, 0.2, (len(fed.nodes), len(global_params)))
    scheme = EncryptedUpdates(keypair[0], len(global_params), CODEC)
    nodes = participants(fed, model_config, scheme, {k: FixedUpdate(d) for k, d in enumerate(deltas)})[:count]
    nodes[-1] = Crafting(nodes[-1], offset_of(scheme))
    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, keypair)
    counts = np.array(fed.sample_counts[: count - 1], dtype=np.float64)
    honest = global_params + counts @ deltas[: count - 1] / counts.sum()
    return coordinator, transport, global_params, honest, nodes[-1].participant_id


def subtract_from_slot_zero(scheme: EncryptedUpdates) -> int:
    """−3Q in slot 0 (added mod n): the participant's own slot 0 borrows and leaves [0, 2Q], but in a sum of four
    the slots look in range and value 0 loses 3·clip."""
    return -3 * scheme.config.qmax


def bit_above_the_slots(scheme: EncryptedUpdates) -> int:
    layout = scheme.codec.layout
    return 1 << (layout.slots * layout.slot_bits)


def test_a_ciphertext_with_a_value_subtracted_mod_n_is_excluded_by_name(fed, model_config, keypair, tmp_path) -> None:
    coordinator, transport, global_params, honest, crafter = crafted_round(fed, model_config, keypair, tmp_path, subtract_from_slot_zero, 4)

    outcome = coordinator.run_round(global_params, transport)

    assert crafter not in outcome.included and len(outcome.included) == 3
    (excluded,) = [d for d in outcome.dropped if d.participant_id == crafter]
    assert excluded.reason == "invalid update: a slot sum exceeds 1·2Q: the ciphertext was not made by this codec or overflowed"
    assert np.max(np.abs(outcome.global_params - honest)) <= outcome.error_bound + 1e-6  # value 0 is not moved by 3·clip
    record = {p.account: p for p in coordinator.ledger.participants(outcome.round_id)}[crafter]
    assert (record.exclusion, record.dropped) == (ExclusionReason.INVALID_UPDATE, True)


def test_a_ciphertext_with_a_bit_above_the_slots_cancels_a_round_it_would_have_stopped(fed, model_config, keypair, tmp_path) -> None:
    coordinator, transport, global_params, _, crafter = crafted_round(fed, model_config, keypair, tmp_path, bit_above_the_slots, 3)

    with pytest.raises(RoundAborted, match=f"{crafter}: invalid update: .*outside its slots"):
        coordinator.run_round(global_params, transport)

    ((round_id, reason),) = coordinator.ledger.cancellations
    assert reason == f"2 usable submissions, fewer than min_participants=3; invalid updates from {crafter}"
    assert coordinator.ledger.rounds() == []


def test_scorers_see_only_the_valid_participants(fed, model_config, keypair, tmp_path, monkeypatch) -> None:
    coordinator, transport, global_params, _, crafter = crafted_round(fed, model_config, keypair, tmp_path, subtract_from_slot_zero, 4)
    coordinator.score_contributions = True
    summed: list[tuple[str, ...]] = []
    decrypt = coordinator.key_holder.decrypt
    monkeypatch.setattr(coordinator.key_holder, "decrypt", lambda s: summed.append(s.participant_ids) or decrypt(s))

    outcome = coordinator.run_round(global_params, transport)

    assert outcome.scores[crafter] == 0.0 and set(outcome.scores) - {crafter} == set(outcome.included)
    assert sorted(summed[:4], key=len) == summed[:4] and all(len(s) == 1 for s in summed[:4])  # singletons first
    assert all(crafter not in s for s in summed[4:])  # no sum with the crafted update was ever formed
    assert len(summed) == 4 + (2**3 - 1 - 3)  # four checks, then the scorer's coalitions reuse the singletons
