"""Hetero-LR: encrypted training equals the plaintext protocol, what each party sees, AUC target, bad inputs."""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

import gmpy2
import numpy as np
import pytest

from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.crypto.paillier import DecryptionSpec, decrypt, make_spec
from fl_node.errors import DataError, FeatureCountError, VFLError, VFLProtocolError
from fl_node.twoparty.channel import LocalHub
from fl_node.twoparty.encrypted import ObfuscatorPool, ciphertext_bytes, encode, encrypt, encrypted_dot, plaintext_bytes, signed
from fl_node.twoparty.runner import run_threads
from fl_node.twoparty.tables import Standardizer
from fl_node.twoparty.wire import ints_from_bytes, pack, unpack
from fl_node.vfl.data import breast_cancer_vertical
from fl_node.vfl.demo import run_vfl, shapley_contributions
from fl_node.vfl.hetero_lr import (
    ARBITER,
    GUEST,
    HOST,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    fit_plain,
    quantize,
)
from fl_node.vfl.parties import VFLConfig

GUEST_MASK_SEED, HOST_MASK_SEED = 11, 22


@dataclass(frozen=True)
class Aligned:
    guest_x: np.ndarray
    host_x: np.ndarray
    labels: np.ndarray


@pytest.fixture(scope="module")
def aligned() -> Aligned:
    split = breast_cancer_vertical(0.8, seed=0)
    ids = sorted(set(split.guest.ids) & set(split.host.ids))
    guest_x, labels = split.guest.select(ids)
    host_x, _ = split.host.select(ids)
    return Aligned(Standardizer.fit(guest_x).transform(guest_x), Standardizer.fit(host_x).transform(host_x), labels)


class _Fit:
    """Adapts a hetero-LR role to the runner's party interface."""

    def __init__(self, model) -> None:
        self.model, self.role = model, model.role

    def run(self, channel, progress=None):
        return self.model.fit(channel)


def _train(data: Aligned, config: HeteroLRConfig, hub: LocalHub | None = None):
    guest = HeteroLRGuest(config, data.guest_x, data.labels, rng=random.Random(GUEST_MASK_SEED))
    host = HeteroLRHost(config, data.host_x, rng=random.Random(HOST_MASK_SEED))
    arbiter = HeteroLRArbiter(config)
    logs = run_threads({GUEST: _Fit(guest), HOST: _Fit(host), ARBITER: _Fit(arbiter)}, hub=hub)
    return guest, host, arbiter, logs


def _reference(data: Aligned, config: HeteroLRConfig, iterations: int) -> tuple[list[np.ndarray], list[float], np.ndarray]:
    """Full-batch plaintext trajectory of the same protocol: gradient sums Σ u_i x_i and losses per iteration."""
    bits = config.feature_bits
    x = np.hstack([quantize(np.hstack([data.guest_x, np.ones((len(data.labels), 1))]), bits)[1], quantize(data.host_x, bits)[1]])
    intercept = data.guest_x.shape[1]
    s = 2.0 * data.labels - 1.0
    w = np.zeros(x.shape[1])
    sums, losses = [], []
    for t in range(iterations):
        z = x @ w
        sums.append(x.T @ (z - 2.0 * s))
        penalized = np.delete(w, intercept)
        losses.append(float(np.mean(math.log(2) - 0.5 * s * z + 0.125 * z * z)) + 0.5 * config.alpha * float(penalized @ penalized))
        penalty = config.alpha * w
        penalty[intercept] = 0.0
        w = w - config.rate(t) * (sums[-1] / (4.0 * len(s)) + penalty)
    return sums, losses, w


def test_arbiter_only_ever_decrypts_masked_gradients(aligned: Aligned) -> None:
    config = HeteroLRConfig(key_bits=1024, max_iter=3, tol=0.0)
    hub = LocalHub([GUEST, HOST, ARBITER], record=True)

    guest, host, arbiter, logs = _train(aligned, config, hub)

    n = arbiter.public_key.n
    ref_sums, ref_losses, ref_w = _reference(aligned, config, 3)
    k_guest = aligned.guest_x.shape[1] + 1
    to_arbiter = [m for m in hub.messages if m.recipient == ARBITER]
    assert {m.tag.split("/")[-1] for m in to_arbiter} == {"plan", "grad", "loss"}
    masks = {GUEST: random.Random(GUEST_MASK_SEED), HOST: random.Random(HOST_MASK_SEED)}
    parts = {GUEST: slice(0, k_guest), HOST: slice(k_guest, None)}
    for iteration in range(3):
        for party in (GUEST, HOST):
            tag = f"lr/{iteration}/0/grad"
            (sent,) = [m for m in to_arbiter if m.sender == party and m.tag == tag]
            (returned,) = [m for m in hub.messages if m.sender == ARBITER and m.recipient == party and m.tag == tag]
            header, blob = unpack(sent.payload)
            seen_by_arbiter = arbiter.decrypt([int(c) for c in ints_from_bytes(blob, ciphertext_bytes(n))])
            expected = ref_sums[iteration][parts[party]]
            drawn = [masks[party].randrange(n) for _ in expected]

            assert all(min(v, n - v) > 2**200 for v in seen_by_arbiter), "the arbiter saw a small (unmasked) value"
            assert [int(v) for v in ints_from_bytes(returned.payload, plaintext_bytes(n))] == seen_by_arbiter
            unmasked = np.array([signed(v - r, n) for v, r in zip(seen_by_arbiter, drawn)]) / 2.0**config.loss_bits
            np.testing.assert_allclose(unmasked, expected, rtol=1e-5, atol=0.05)
    np.testing.assert_allclose(logs[ARBITER].losses, ref_losses, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([guest.weights, host.weights]), ref_w, rtol=0, atol=1e-5)


def test_each_party_sees_only_ciphertexts_of_the_other(aligned: Aligned) -> None:
    config = HeteroLRConfig(key_bits=1024, max_iter=1, tol=0.0)
    hub = LocalHub([GUEST, HOST, ARBITER], record=True)

    _, _, arbiter, _ = _train(aligned, config, hub)

    n = arbiter.public_key.n
    nsq = n * n
    by_tag = {(m.sender, m.tag): m.payload for m in hub.messages}
    assert {m.tag.split("/")[-1] for m in hub.messages if m.sender == HOST and m.recipient == GUEST} == {"hx", "loss"}
    assert {m.tag.split("/")[-1] for m in hub.messages if m.sender == GUEST and m.recipient == HOST} == {"plan", "u"}
    hx = ints_from_bytes(by_tag[(HOST, "lr/0/0/hx")], ciphertext_bytes(n), below=nsq)
    u = ints_from_bytes(by_tag[(GUEST, "lr/0/0/u")], ciphertext_bytes(n), below=nsq)
    # [[u]] = [[h]] ⊕ (g − 2s) rerandomized: u / hx is not of the form 1 + b·n, so the host, who
    # knows [[h]], cannot read the guest's labels off it.
    assert all((c_u * gmpy2.invert(c_h, nsq) % nsq - 1) % n != 0 for c_u, c_h in zip(u, hx))
    decrypted = np.array([signed(v, n) for v in arbiter.decrypt([int(c) for c in u])]) / 2.0**config.value_bits
    np.testing.assert_allclose(decrypted, -2.0 * (2.0 * aligned.labels - 1.0), atol=1e-9)  # w = 0 at the first batch
    assert len(set(hx)) == len(hx)  # fresh randomness: equal plaintexts (all 0 at w = 0) give distinct ciphertexts


@pytest.mark.parametrize(("key_bits", "randomness", "iterations"), [(2048, "short", 2), (1024, "full", 1)])
def test_encrypted_losses_match_the_plaintext_protocol(aligned: Aligned, key_bits: int, randomness: str, iterations: int) -> None:
    config = HeteroLRConfig(key_bits=key_bits, max_iter=iterations, tol=0.0, randomness=randomness)

    guest, host, arbiter, logs = _train(aligned, config)

    _, ref_losses, ref_w = _reference(aligned, config, iterations)
    assert arbiter.public_key.n.bit_length() == key_bits
    assert logs[ARBITER].iterations == iterations and not logs[ARBITER].converged
    np.testing.assert_allclose(logs[ARBITER].losses, ref_losses, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([guest.weights, host.weights]), ref_w, atol=1e-5)


def test_mini_batches_follow_the_same_plan_as_plaintext_training(aligned: Aligned) -> None:
    config = HeteroLRConfig(key_bits=1024, max_iter=2, tol=0.0, batch_size=128, seed=5)
    hub = LocalHub([GUEST, HOST, ARBITER], record=True)

    _, _, _, logs = _train(aligned, config, hub)

    batches = config.batches(len(aligned.labels), 0)
    assert [len(b) for b in batches] == [128, 128, 199]
    assert sum(1 for m in hub.messages if m.sender == GUEST and m.recipient == ARBITER and m.tag.endswith("/grad")) == 6
    plain = fit_plain(np.hstack([aligned.guest_x, aligned.host_x]), aligned.labels, config)
    np.testing.assert_allclose(logs[ARBITER].losses, plain.losses, atol=1e-5)


def test_auc_within_target_of_centralized_and_converged() -> None:
    split = breast_cancer_vertical(0.8, seed=0)
    config = VFLConfig(lr=HeteroLRConfig(key_bits=1024))

    result = run_vfl(split.guest, split.host, config, expected_intersection=split.expected_intersection)

    assert result.intersection_size == split.expected_intersection == 455
    assert result.converged and result.iterations < config.lr.max_iter
    assert abs(result.loss[-1] - result.loss[-2]) < config.lr.tol
    assert abs(result.auc - result.centralized_auc) <= 0.01
    assert result.guest_only_auc < result.auc
    assert result.contributions["host"] == pytest.approx((result.auc - result.guest_only_auc) / 2)
    assert sum(result.contributions.values()) == pytest.approx(result.auc - 0.5)
    run = result.party_run({"seed": 0})
    assert run.performance == result.auc
    assert set(run.model_hashes) == {"guest", "host"} and all(len(h) == 32 for h in run.model_hashes.values())


def test_shapley_contributions_of_two_parties() -> None:
    values = shapley_contributions(guest_only_auc=0.9, joint_auc=0.96)

    assert values["host"] == pytest.approx(0.03)
    assert values["guest"] == pytest.approx(0.43)


def test_encrypted_dot_matches_integer_dot_products() -> None:
    public, private = generate_keypair(512)
    spec = make_spec(public.n, "short")
    rng = np.random.default_rng(3)
    values = rng.integers(-1000, 1000, size=40)
    exponents = rng.integers(-70000, 70000, size=(40, 3))
    exponents[:, 1] = 0
    exponents[:5, 2] = -1
    ciphertexts = encrypt(spec, encode(values, 0, public.n), ObfuscatorPool(spec).take(40))

    sums = encrypted_dot(ciphertexts, exponents, public.n**2)

    plain = [signed(v, public.n) for v in decrypt(DecryptionSpec(private.p, private.q), [int(c) for c in sums])]
    assert plain == (values @ exponents).tolist()


def test_obfuscator_pool_precomputes_in_the_background() -> None:
    public, _ = generate_keypair(512)
    pool = ObfuscatorPool(make_spec(public.n, "full"), capacity=32)
    try:
        drawn = pool.take(50)
    finally:
        pool.close()
    assert len(set(drawn)) == 50


def test_config_schedule_and_validation() -> None:
    config = HeteroLRConfig(learning_rate=0.5, decay=0.1)
    assert config.rate(0) == 0.5 and config.rate(10) == pytest.approx(0.25)
    assert HeteroLRConfig(learning_rate=0.5, decay=0.3, decay_sqrt=True).rate(10) == pytest.approx(0.25)
    batches = HeteroLRConfig(batch_size=4).batches(10, 0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    for bad in ({"key_bits": 256}, {"tol": -1.0}, {"batch_size": 0}, {"randomness": "weak"}, {"feature_bits": 30}):
        with pytest.raises(VFLError):
            HeteroLRConfig(**bad)


def test_bad_inputs_to_the_roles_are_refused(aligned: Aligned) -> None:
    config = HeteroLRConfig(key_bits=1024)
    with pytest.raises(DataError, match="0/1 label"):
        HeteroLRGuest(config, aligned.guest_x, aligned.labels + 1)
    with pytest.raises(FeatureCountError, match="2-D"):
        HeteroLRHost(config, aligned.host_x[:, 0])
    with pytest.raises(DataError, match="standardize"):
        HeteroLRHost(config, aligned.host_x * 1e12)
    guest = HeteroLRGuest(config, aligned.guest_x, aligned.labels)
    with pytest.raises(FeatureCountError, match="10 features, got 9"):
        guest.predict(None, aligned.guest_x[:, :9])


def test_host_refuses_a_batch_plan_outside_its_rows(aligned: Aligned) -> None:
    config = HeteroLRConfig(key_bits=1024)
    hub = LocalHub([GUEST, HOST, ARBITER])
    public, _ = generate_keypair(1024)
    errors: list[BaseException] = []

    def host() -> None:
        try:
            HeteroLRHost(config, aligned.host_x).fit(hub.channel(HOST))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=host)
    thread.start()
    hub.channel(ARBITER).send(HOST, "lr/key", pack({}, public_key_to_bytes(public)))
    hub.channel(GUEST).send(HOST, "lr/0/plan", pack({"batches": [[0, 1, 10_000]]}))
    thread.join(timeout=30)

    assert len(errors) == 1 and isinstance(errors[0], VFLProtocolError)
    assert "outside" in str(errors[0])


def test_demo_split_holds_the_stated_overlap() -> None:
    split = breast_cancer_vertical(0.6, seed=2)

    shared = set(split.guest.ids) & set(split.host.ids)
    assert len(shared) == split.expected_intersection == round(0.6 * 569)
    assert split.guest.n_features == 10 and split.host.n_features == 20 and split.host.labels is None
    assert len(split.guest.ids) + len(split.host.ids) - len(shared) == 569
    with pytest.raises(FeatureCountError):
        breast_cancer_vertical(0.8, guest_features=30)
