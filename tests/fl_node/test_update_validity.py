"""Per-participant validity: the key holder checks each participant's own decryption against the codec's
slots before any sum containing it is formed, and names an out-of-range or undecodable update."""

from __future__ import annotations

import dataclasses

import numpy as np
from test_hfl import CODEC, keypair  # noqa: F401 (fixture)

from fl_node.crypto.codec import EncryptedUpdate
from fl_node.errors import CodecError
from fl_node.hfl.aggregator import VerifiedRound
from fl_node.hfl.keyholder import KeyHolder
from fl_node.hfl.participant import RoundPlan
from fl_node.hfl.schemes import EncryptedSums, EncryptedUpdates

N = 40


def crafted_round(keypair, offset_of):
    """Four updates of 0.1 each; p3's first ciphertext has ``offset_of(scheme)`` added to its plaintext mod n."""
    public, private = keypair
    scheme = EncryptedUpdates(public, N, CODEC)
    rng = np.random.default_rng(0)
    updates = {f"p{k}": scheme.parse(scheme.encode(np.full(N, 0.1), rng)) for k in range(4)}
    bad: EncryptedUpdate = updates["p3"]
    shifted = bad.ciphertexts[0] * public.raw_encrypt(offset_of(scheme) % public.n) % public.nsquare
    updates["p3"] = dataclasses.replace(bad, ciphertexts=(shifted, *bad.ciphertexts[1:]))
    plan = RoundPlan(1, np.zeros(N, dtype=np.float32), {pid: 1 for pid in updates})
    return VerifiedRound(plan, scheme, updates, []), KeyHolder(EncryptedSums(private, CODEC))


def test_a_value_subtracted_mod_n_moves_a_sum_by_k_clip_and_is_named_alone(keypair) -> None:
    verified, key_holder = crafted_round(keypair, lambda scheme: -3 * scheme.config.qmax)

    poisoned = key_holder.decrypt(verified.sum())  # what a sum-only check used to accept
    check = key_holder.check_updates(verified)

    assert abs(poisoned[0] - (4 * 0.1 - 3 * CODEC.clip)) < 1e-3 and abs(poisoned[1] - 0.4) < 1e-3
    assert set(check.invalid) == {"p3"} and set(check.singletons) == {"p0", "p1", "p2"}
    assert check.invalid["p3"] == "invalid update: a slot sum exceeds 1·2Q: the ciphertext was not made by this codec or overflowed"


def test_a_bit_above_the_slots_breaks_every_sum_and_is_named_alone(keypair) -> None:
    verified, key_holder = crafted_round(keypair, lambda scheme: 1 << (scheme.codec.layout.slots * scheme.codec.layout.slot_bits))

    try:
        key_holder.decrypt(verified.sum())
        raise AssertionError("the sum decoded")
    except CodecError as exc:
        names_nobody = "p3" not in str(exc)
    check = key_holder.check_updates(verified)

    assert names_nobody
    assert set(check.invalid) == {"p3"} and "outside its slots" in check.invalid["p3"]
