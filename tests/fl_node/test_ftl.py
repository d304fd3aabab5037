"""Federated transfer learning: encrypted gradients against the plaintext ones within the stated bound,
messages free of plaintext representations, the fixed-point arithmetic, bad inputs, the Shapley utility."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.crypto.keys import generate_keypair, public_key_from_bytes
from fl_node.crypto.paillier import DecryptionSpec
from fl_node.errors import FTLConfigError, FTLNumericError, FTLOverlapError, FTLProtocolError
from fl_node.ftl.arithmetic import PaillierArithmetic, PlainArithmetic, product_error_bound, quantize
from fl_node.ftl.data import transfer_split
from fl_node.ftl.evaluation import held_out_auc, target_only_baseline
from fl_node.ftl.objective import gradient_error_bounds, reference_gradients, taylor_gradient_gap
from fl_node.ftl.protocol import SOURCE, TARGET, FTLConfig, SourceParty, TargetParty, run_ftl
from fl_node.ftl.record import ftl_shapley
from fl_node.twoparty.channel import LocalHub
from fl_node.twoparty.tables import PartyData

SMALL = FTLConfig(max_iter=2, key_bits=1024, trace=True)


@pytest.fixture(scope="module")
def split():
    return transfer_split(0.1, seed=3)


@pytest.fixture(scope="module")
def runs(split):
    """One encrypted run at 2048-bit keys and the same run in the clear (same seed, same inputs)."""
    config = replace(SMALL, key_bits=2048)
    encrypted = run_ftl(split.source, split.target, config, record=True)
    plaintext = run_ftl(split.source, split.target, replace(config, encrypted=False), record=True)
    return encrypted, plaintext


def _reference(run, config: FTLConfig, iteration: int):
    source, target = run.source.trace[iteration], run.target.trace[iteration]
    args = (source.phi, source.labels, source.representation, target.representation, config.gamma)
    return reference_gradients(*args), gradient_error_bounds(*args, config.precision_bits)


def test_split_matches_its_description(split) -> None:
    held_ids, held_labels = split.held_out()

    assert len(split.overlap_ids) == 20 and len(held_ids) == 180
    assert set(split.overlap_ids) == set(split.source.ids) & set(split.target.ids)
    assert split.target.labels is None and split.source.labels is not None
    assert set(held_ids).isdisjoint(split.source.ids) and set(held_labels.tolist()) == {0, 1}
    assert split.source.n_features == 40 and split.target.n_features == 32
    assert len(set(split.source.feature_names) & set(split.target.feature_names)) == 8


def test_encrypted_gradients_equal_the_plaintext_ones_within_the_quantization_bound(runs) -> None:
    encrypted, plaintext = runs
    config = replace(SMALL, key_bits=2048)

    for iteration in range(config.max_iter):
        exact, bound = _reference(encrypted, config, iteration)
        source, target = encrypted.source.trace[iteration], encrypted.target.trace[iteration]
        assert np.all(np.abs(target.gradient - exact.target) <= bound.target)
        assert np.all(np.abs(source.phi_gradient - exact.phi) <= bound.phi)
        assert np.all(np.abs(source.gradient - exact.source) <= bound.source)
        assert np.abs(target.gradient - exact.target).max() > 0  # quantization is really there
    # the first iteration starts from the same networks in both modes: plaintext = reference to float precision
    exact, bound = _reference(plaintext, config, 0)
    assert np.allclose(plaintext.target.trace[0].gradient, exact.target, rtol=0, atol=1e-12)
    assert np.allclose(plaintext.target.trace[0].representation, encrypted.target.trace[0].representation, rtol=0, atol=0)
    assert np.all(np.abs(encrypted.target.trace[0].gradient - plaintext.target.trace[0].gradient) <= bound.target)
    assert np.all(np.abs(encrypted.source.trace[0].phi_gradient - plaintext.source.trace[0].phi_gradient) <= bound.phi)


def test_encrypted_and_plaintext_scores_agree(runs, split) -> None:
    encrypted, plaintext = runs

    assert encrypted.target.scores.keys() == plaintext.target.scores.keys() == set(split.held_out()[0])
    gap = max(abs(encrypted.target.scores[i] - plaintext.target.scores[i]) for i in encrypted.target.scores)
    assert gap < 1e-3
    assert abs(held_out_auc(split, encrypted.target.scores) - held_out_auc(split, plaintext.target.scores)) < 0.005
    assert encrypted.source.overlap == encrypted.target.overlap == split.overlap_ids


def _leaks(messages, values: np.ndarray, bits: int, n: int | None) -> list[str]:
    """Tags of messages holding any value of ``values`` as float64 or fixed-point plaintext bytes."""
    needles = set()
    for v in np.ravel(values):
        needles.add(np.float64(v).tobytes())
        if n:
            width = (n.bit_length() + 7) // 8
            for scale in (bits, 2 * bits):
                needles.add((int(round(v * 2**scale)) % n).to_bytes(width, "big"))
    return sorted({m.tag for m in messages for needle in needles if needle in m.payload})


def test_no_message_carries_a_plaintext_representation_phi_or_weights(runs, split) -> None:
    encrypted, plaintext = runs
    own = {
        SOURCE: np.concatenate([np.ravel(t.representation) for t in encrypted.source.trace] + [t.phi for t in encrypted.source.trace]),
        TARGET: np.concatenate([np.ravel(t.representation) for t in encrypted.target.trace]),
    }
    keys = {SOURCE: public_key_from_bytes(encrypted.source.public_key).n, TARGET: public_key_from_bytes(encrypted.target.public_key).n}

    for sender, values in own.items():
        sent = [m for m in encrypted.messages if m.sender == sender]
        assert sent and _leaks(sent, values, SMALL.precision_bits, keys[sender]) == []
    # the detector finds the target's representation in the plaintext run's messages
    plain_values = np.concatenate([np.ravel(t.representation) for t in plaintext.target.trace])
    assert any(tag.endswith("/terms") for tag in _leaks([m for m in plaintext.messages if m.sender == TARGET], plain_values, 16, None))
    tags = {m.tag for m in encrypted.messages}
    assert {"ftl/hello", "ftl/overlap", "ftl/0/terms", "ftl/0/masked", "ftl/0/opened", "ftl/predict/phi"} <= tags


@settings(max_examples=60, deadline=None)
@given(st.floats(-3.0, 3.0), st.sampled_from([-1.0, 1.0]))
def test_taylor_gradient_is_within_the_stated_gap(phi: float, label: float) -> None:
    exact = -label / (1.0 + math.exp(label * phi))
    taylor = -0.5 * label + 0.25 * phi

    assert abs(exact - taylor) <= taylor_gradient_gap(np.array([phi]))[0] + 1e-15


@pytest.fixture(scope="module")
def arithmetic():
    public, private = generate_keypair(1024)
    owner = PaillierArithmetic(public.n, private=DecryptionSpec(private.p, private.q), pool_size=0)
    peer = PaillierArithmetic(public.n, pool_size=0)
    yield owner, peer
    owner.close()
    peer.close()


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 9), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_sealed_matmul_add_mask_open_match_float64_within_the_bound(arithmetic, rows: int, width: int, seed: int) -> None:
    owner, peer = arithmetic
    rng = np.random.default_rng(seed)
    left, right, extra, own = rng.normal(size=(rows, width)), rng.normal(size=(width, width)) * 3, rng.normal(size=(rows, width)), rng.normal(size=(rows, width))
    bits = 12

    sealed = peer.add(peer.matmul(left, owner.seal(right, bits), bits), owner.seal(extra, 2 * bits))
    packed, state = peer.mask(sealed, own)
    values = peer.unmask(owner.open(packed), state)

    bound = product_error_bound(left, right, bits) + 2 * 2.0 ** -(2 * bits + 1)
    assert np.all(np.abs(values - (left @ right + extra + own)) <= bound)
    assert len(packed) == math.ceil(rows * width / state.per_ciphertext) < rows * width or rows * width == 1


def test_tampered_or_malformed_values_are_rejected(arithmetic) -> None:
    owner, peer = arithmetic
    packed, state = peer.mask(owner.seal(np.ones((3, 2)), 8))
    opened = owner.open(packed)

    with pytest.raises(FTLNumericError, match="outside its fixed-point slot"):
        peer.unmask([opened[0] ^ (1 << (state.slot_bits - 1))], state)
    with pytest.raises(FTLProtocolError, match="expected 1 opened values"):
        peer.unmask(opened * 2, state)
    with pytest.raises(FTLProtocolError):
        peer.sealed_from_bytes(b"\x00" * 5, (1, 1), 8)
    with pytest.raises(FTLNumericError, match="NaN"):
        quantize(np.array([np.nan]), 8)
    with pytest.raises(FTLNumericError, match="fixed-point range"):
        PlainArithmetic().seal(np.array([[2.0**21]]), 8)


def _renamed(party: PartyData, prefix: str) -> PartyData:
    return replace(party, ids=tuple(prefix + value for value in party.ids))


def test_no_overlap_gives_a_clear_error(split) -> None:
    config = replace(SMALL, encrypted=False)

    with pytest.raises(FTLOverlapError, match="no overlap: the source and target share no sample IDs"):
        run_ftl(split.source, _renamed(split.target, "x-"), config)


def test_mismatched_id_format_gives_the_same_clear_error(split) -> None:
    upper = replace(split.target, ids=tuple(value.upper() for value in split.target.ids))

    with pytest.raises(FTLOverlapError, match="check that both use the same IDs"):
        run_ftl(split.source, upper, replace(SMALL, encrypted=False))


def test_too_few_shared_samples_are_refused(split) -> None:
    keep = set(split.overlap_ids[:1])
    ids = [value for value in split.target.ids if value in keep or value not in set(split.overlap_ids)]
    features, _ = split.target.select(ids)
    target = PartyData(ids=tuple(ids), features=features, feature_names=split.target.feature_names, name="target")

    with pytest.raises(FTLOverlapError, match="only 1 shared sample"):
        run_ftl(split.source, target, replace(SMALL, encrypted=False))


def test_parties_with_different_settings_stop_with_a_protocol_error(split) -> None:
    hub = LocalHub([SOURCE, TARGET], timeout=30)
    base = replace(SMALL, encrypted=False)
    source = SourceParty(split.source, base, hub.channel(SOURCE))
    target = TargetParty(split.target, replace(base, gamma=1.0), hub.channel(TARGET))
    errors: dict[str, Exception] = {}

    def work(role) -> None:
        try:
            role.run()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            errors[role.role] = exc

    threads = [threading.Thread(target=work, args=(role,)) for role in (source, target)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(errors) == {SOURCE, TARGET}
    assert all(isinstance(e, FTLProtocolError) and "settings differ in: gamma" in str(e) for e in errors.values())


def test_bad_settings_and_splits_are_refused(split) -> None:
    with pytest.raises(FTLConfigError, match="representation size"):
        FTLConfig(dim=0)
    with pytest.raises(FTLConfigError, match="overlap must be a fraction"):
        transfer_split(0.0)
    with pytest.raises(FTLConfigError, match="unknown FTL dataset"):
        transfer_split(0.1, dataset="mnist")
    with pytest.raises(FTLConfigError, match="has no labels"):
        SourceParty(split.target, replace(SMALL, encrypted=False), LocalHub([SOURCE, TARGET]).channel(SOURCE))


def test_target_only_baseline_uses_only_the_shared_labels(split) -> None:
    baseline = target_only_baseline(split, seed=0)

    assert baseline.labelled == len(split.overlap_ids) == 20
    assert 0.5 < baseline.auc < 1.0


def test_shapley_values_split_the_gain_over_chance() -> None:
    values = ftl_shapley(auc=0.8, target_only_auc=0.7)

    assert values["source"] == pytest.approx(0.05)
    assert values["target"] == pytest.approx(0.25)
    assert sum(values.values()) == pytest.approx(0.8 - 0.5)
