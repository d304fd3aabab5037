"""One HFL round: participants, aggregator (public key only), key holder, dropouts (whole rounds on a null ledger)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import gmpy2
import numpy as np
import pytest
from eth_hash.auto import keccak
from phe import PaillierPrivateKey

from fl_node.crypto.codec import CodecConfig
from fl_node.artifacts import ArtifactStore
from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.data import ArraySplit, federate, load_builtin
from fl_node.errors import FlNodeError, RoundAborted
from fl_node.hfl.aggregator import Aggregator, collect_submissions
from fl_node.hfl.coordinator import Coordinator
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from fl_node.hfl.keyholder import KeyHolder, round_error_bound
from fl_node.hfl.envelope import SignedBlob, seal
from fl_node.hfl.participant import Behaviour, Participant, RoundPlan
from fl_node.hfl.runner import RunObserver, initial_params, run_federation
from fl_node.hfl.schemes import EncryptedSums, EncryptedUpdates, PlainSums, PlainUpdates
from fl_node.hfl.spec import FederationSpec
from fl_node.transport.inprocess import InProcessTransport
from fl_node.models import ModelConfig, flatten, unflatten
from fl_node.training import TrainConfig, evaluate

CODEC = CodecConfig(bits=16, clip=1.0, max_participants=8)


@pytest.fixture(scope="module")
def keypair():
    return generate_keypair(1024)


@pytest.fixture(scope="module")
def fed():
    return federate(load_builtin("breast_cancer"), 4, "dirichlet:0.5", seed=0)


@pytest.fixture(scope="module")
def model_config(fed):
    return ModelConfig("logreg", fed.n_features, fed.n_classes)


class FixedUpdate(Behaviour):
    """Reports a given unweighted delta, so that the expected average is known."""

    def __init__(self, delta: np.ndarray) -> None:
        self.delta = delta

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.delta


class Failing(Behaviour):
    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise RuntimeError("disk full")


class Slow(Behaviour):
    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        time.sleep(1.5)
        return delta


class FailsOnce(Behaviour):
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def local_update(self, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        with self.lock:
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("link dropped")
        return delta


def participants(fed, model_config, scheme, behaviours=None, train=None):
    behaviours = behaviours or {}
    return [
        Participant(
            f"p{k}", node, model_config.factory(), train or TrainConfig(epochs=1), scheme, seed=k,
            behaviour=behaviours.get(k),
        )
        for k, node in enumerate(fed.nodes)
    ]


def null_federation(tmp_path, fed, model_config, nodes, keypair=None, min_participants=3, deadline_s=None, max_workers=1):
    """A coordinator that does not score, on a null ledger, and the in-process transport of ``nodes``."""
    ledger = NullLedger()
    spec = FederationSpec(
        model=model_config, train=TrainConfig(epochs=1), encrypt=keypair is not None, codec=CODEC,
        public_key=public_key_to_bytes(keypair[0]) if keypair is not None else b"",
        sample_counts={p.participant_id: p.n_samples for p in nodes}, min_participants=min_participants,
        key_bits=keypair[0].n.bit_length() if keypair is not None else 2048,
    )
    coordinator = Coordinator(
        spec, ledger, 1, NullAccount("aggregator"), NullAccount("evaluator"), keypair[1] if keypair else None,
        fed.validation, ArtifactStore(tmp_path / "store"), score_contributions=False,
    )
    transport = InProcessTransport([LedgerNode(p.participant_id, p, NullAccount(p.participant_id), ledger) for p in nodes], deadline_s, max_workers)
    return coordinator, transport


class Retries(RunObserver):
    def __init__(self) -> None:
        self.attempts = 1

    def on_retry(self, error: RoundAborted, attempt: int) -> None:
        self.attempts = attempt + 1


def parties(scheme_kind: str, keypair, n_params: int):
    if scheme_kind == "plain":
        scheme = PlainUpdates(n_params)
        return scheme, Aggregator(scheme), KeyHolder(PlainSums())
    scheme = EncryptedUpdates(keypair[0], n_params, CODEC)
    return scheme, Aggregator(scheme), KeyHolder(EncryptedSums(keypair[1], CODEC))


@pytest.mark.parametrize("kind", ["plain", "encrypted"])
def test_round_is_the_sample_weighted_average_of_the_deltas(fed, model_config, keypair, kind: str, tmp_path) -> None:
    global_params = flatten(model_config.build(seed=0))
    rng = np.random.default_rng(0)
    deltas = [rng.uniform(-0.5, 0.5, global_params.shape) for _ in fed.nodes]
    scheme, aggregator, key_holder = parties(kind, keypair, len(global_params))
    nodes = participants(fed, model_config, scheme, {k: FixedUpdate(d) for k, d in enumerate(deltas)})
    counts = np.array(fed.sample_counts, dtype=np.float64)

    coordinator, transport = null_federation(
        tmp_path, fed, model_config, nodes, keypair if kind == "encrypted" else None, min_participants=4
    )

    result = coordinator.run_round(global_params, transport)

    expected = global_params + sum(c * d for c, d in zip(counts, deltas, strict=True)) / counts.sum()
    assert result.included == ("p0", "p1", "p2", "p3") and not result.dropped
    payload, proof = scheme.encode_proved(np.zeros(len(global_params)), rng, b"")
    assert result.bytes_up == sum(len(seal(RoundPlan(1, global_params, {}).header_for(p), payload, proof)) for p in ("p0", "p1", "p2", "p3"))
    assert np.max(np.abs(result.global_params - expected)) <= result.error_bound + 1e-6
    if kind == "encrypted":
        assert result.error_bound == pytest.approx(4 * CODEC.clip / CODEC.qmax)


def test_encrypted_and_plaintext_rounds_agree_within_the_stated_bound(fed, model_config, keypair, tmp_path) -> None:
    global_params = flatten(model_config.build(seed=1))
    outcome = {}
    for kind in ("plain", "encrypted"):
        scheme, aggregator, key_holder = parties(kind, keypair, len(global_params))
        nodes = participants(fed, model_config, scheme)
        coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, keypair if kind == "encrypted" else None)
        outcome[kind] = coordinator.run_round(global_params, transport)

    diff = np.max(np.abs(outcome["plain"].global_params - outcome["encrypted"].global_params))

    assert 0 < diff <= outcome["encrypted"].error_bound + outcome["plain"].error_bound
    assert outcome["encrypted"].bytes_up != outcome["plain"].bytes_up


def test_rounds_train_a_useful_model(fed, model_config, keypair, tmp_path) -> None:
    scheme, aggregator, key_holder = parties("encrypted", keypair, len(flatten(model_config.build())))
    nodes = participants(fed, model_config, scheme, train=TrainConfig(epochs=2))
    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, keypair)
    before = evaluate(unflatten(model_config.build(), initial_params(coordinator.spec)), fed.test).accuracy

    run = run_federation(coordinator, transport, 3)

    global_params = run.final_params
    assert [o.round_id for o in run.outcomes] == [1, 2, 3]
    assert evaluate(unflatten(model_config.build(), global_params), fed.test).accuracy > max(0.9, before)


def test_a_2048_bit_round_decrypts_within_the_bound(fed, model_config, tmp_path) -> None:
    public, private = generate_keypair(2048)
    global_params = flatten(model_config.build(seed=0))
    deltas = np.random.default_rng(1).uniform(-1, 1, (len(fed.nodes), len(global_params)))
    scheme = EncryptedUpdates(public, len(global_params), CODEC)
    nodes = participants(fed, model_config, scheme, {k: FixedUpdate(d) for k, d in enumerate(deltas)})

    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, (public, private))

    result = coordinator.run_round(global_params, transport)

    counts = np.array(fed.sample_counts, dtype=np.float64)
    expected = global_params + counts @ deltas / counts.sum()
    assert np.max(np.abs(result.global_params - expected)) <= result.error_bound + 1e-6


def test_clipping_is_counted_and_identical_in_both_modes(fed, model_config, keypair) -> None:
    global_params = flatten(model_config.build(seed=0))
    delta = np.full(global_params.shape, 30.0)
    delta[:10] = 0.0
    plan = RoundPlan(1, global_params, {"p0": fed.sample_counts[0]})
    weight = plan.weight("p0")
    assert weight * 30.0 > CODEC.clip
    sums = {}
    for kind in ("plain", "encrypted"):
        scheme, aggregator, key_holder = parties(kind, keypair, len(global_params))
        node = Participant("p0", fed.nodes[0], model_config.factory(), TrainConfig(epochs=1), scheme, behaviour=FixedUpdate(delta))

        sub = node.submit(plan)
        sums[kind] = key_holder.decrypt(aggregator.verify(plan, [sub]).sum())

        assert sub.clipped == len(global_params) - 10
    for decoded in sums.values():
        np.testing.assert_allclose(decoded[10:], CODEC.clip, atol=CODEC.clip / CODEC.qmax)


@pytest.fixture(scope="module")
def encrypted_round(fed, model_config, keypair):
    global_params = flatten(model_config.build(seed=0))
    scheme, aggregator, key_holder = parties("encrypted", keypair, len(global_params))
    nodes = participants(fed, model_config, scheme)
    plan = RoundPlan(1, global_params, {p.participant_id: p.n_samples for p in nodes})
    subs = collect_submissions(nodes, plan).submissions
    return scheme, aggregator, key_holder, plan, subs


def test_aggregator_excludes_bad_submissions_and_keeps_the_rest(encrypted_round, keypair, fed) -> None:
    scheme, aggregator, key_holder, plan, subs = encrypted_round
    other_key = generate_keypair(1024)[0]
    foreign = EncryptedUpdates(other_key, scheme.n_params, CODEC).encode(np.zeros(scheme.n_params), np.random.default_rng(0))
    wrong_clip = EncryptedUpdates(keypair[0], scheme.n_params, replace(CODEC, clip=2.0)).encode(
        np.zeros(scheme.n_params), np.random.default_rng(0)
    )
    first = scheme.parse(SignedBlob.parse(subs[0].blob).payload)
    summed_blob = seal(plan.header_for("p1"), scheme.add([first, first]).to_bytes(), b"")
    foreign = seal(plan.header_for("p2"), foreign, b"")
    wrong_clip = seal(plan.header_for("p1"), wrong_clip, b"")
    commitments = {s.participant_id: s.blob_hash for s in subs}
    tampered = bytearray(subs[1].blob)
    tampered[100] ^= 1
    bad = [
        subs[0],
        replace(subs[1], blob=bytes(tampered)),  # altered after the commitment
        replace(subs[2], blob=foreign),  # its commitment (below) matches, the key does not
        replace(subs[3], blob=b"garbage"),
        replace(subs[0]),  # duplicate
        replace(subs[0], participant_id="stranger"),
    ]
    expected = {**commitments, "stranger": subs[0].blob_hash}
    expected["p2"] = keccak(foreign)
    expected["p3"] = keccak(b"garbage")

    verified = aggregator.verify(plan, bad, expected)

    reasons = {e.participant_id: e.reason for e in verified.excluded}
    assert verified.participant_ids == ("p0",)
    assert "does not match commitment" in reasons["p1"]
    assert "another key" in reasons["p2"]
    assert "unusable blob" in reasons["p3"]
    assert "not selected" in reasons["stranger"]
    assert sum(e.reason == "duplicate submission" for e in verified.excluded) == 1
    for blob, message in [(summed_blob, "single update"), (wrong_clip, "codec")]:
        sub = replace(subs[1], blob=blob, blob_hash=keccak(blob))
        assert message in aggregator.verify(plan, [sub]).excluded[0].reason
    lying = replace(subs[1], n_samples=subs[1].n_samples + 1)
    assert "claims" in aggregator.verify(plan, [lying]).excluded[0].reason
    assert "no commitment" in aggregator.verify(plan, [subs[1]], {}).excluded[0].reason


def test_subset_sums_give_the_fedavg_of_the_subset(encrypted_round, fed) -> None:
    scheme, aggregator, key_holder, plan, subs = encrypted_round
    verified = aggregator.verify(plan, subs)
    singles = {pid: key_holder.decrypt(verified.sum([pid])) for pid in verified.participant_ids}

    pair = verified.sum(["p1", "p3"])

    assert pair.participant_ids == ("p1", "p3")
    assert pair.weight == pytest.approx((plan.sample_counts["p1"] + plan.sample_counts["p3"]) / plan.total_samples)
    np.testing.assert_allclose(key_holder.decrypt(pair), singles["p1"] + singles["p3"], atol=2 * CODEC.clip / CODEC.qmax)
    new = key_holder.new_global(plan.global_params, pair)
    np.testing.assert_allclose(new, plan.global_params + (singles["p1"] + singles["p3"]) / pair.weight, atol=1e-4)
    assert round_error_bound(scheme, pair) == pytest.approx(2 * CODEC.clip / CODEC.qmax / pair.weight)
    with pytest.raises(FlNodeError, match="empty"):
        verified.sum([])
    with pytest.raises(FlNodeError, match="no verified update from p9"):
        verified.sum(["p1", "p9"])


def _holds_private_material(obj, secrets: set[int], seen: set[int] | None = None, depth: int = 0) -> bool:
    """Whether a private key, or one of its primes, is reachable from ``obj`` through attributes and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8:
        return False
    seen.add(id(obj))
    if isinstance(obj, PaillierPrivateKey):
        return True
    if isinstance(obj, (int, type(gmpy2.mpz(0)))) and not isinstance(obj, bool):
        return int(obj) in secrets
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = list(obj)
    elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        names = list(getattr(obj, "__dict__", {})) + list(getattr(obj, "__slots__", ()))
        children = [getattr(obj, n) for n in names if hasattr(obj, n)]
    else:
        return False
    return any(_holds_private_material(c, secrets, seen, depth + 1) for c in children)


def test_aggregator_only_ever_holds_the_public_key(encrypted_round, keypair) -> None:
    scheme, aggregator, key_holder, plan, subs = encrypted_round
    aggregator.verify(plan, subs).sum()
    secrets = {int(keypair[1].p), int(keypair[1].q)}

    assert not _holds_private_material(aggregator, secrets)
    assert _holds_private_material(key_holder, secrets)  # the walk does find the key where it is
    for wrong in (keypair[1], EncryptedSums(keypair[1], CODEC), key_holder, PlainSums()):
        with pytest.raises(TypeError):
            Aggregator(wrong)
    with pytest.raises(TypeError):
        EncryptedUpdates(keypair[1], 10, CODEC)


def test_a_failing_participant_is_dropped_and_the_rest_are_reweighted(fed, model_config, tmp_path) -> None:
    global_params = flatten(model_config.build(seed=0))
    rng = np.random.default_rng(2)
    deltas = [rng.uniform(-0.1, 0.1, global_params.shape) for _ in fed.nodes]
    behaviours = {k: FixedUpdate(d) for k, d in enumerate(deltas)}
    behaviours[1] = Failing()
    scheme, aggregator, key_holder = parties("plain", None, len(global_params))

    nodes = participants(fed, model_config, scheme, behaviours)

    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, min_participants=3)

    result = coordinator.run_round(global_params, transport)

    assert result.included == ("p0", "p2", "p3")
    assert result.dropped[0].participant_id == "p1" and "RuntimeError: disk full" in result.dropped[0].reason
    counts = np.array(fed.sample_counts, dtype=np.float64)
    kept = [0, 2, 3]
    expected = global_params + sum(counts[k] * deltas[k] for k in kept) / counts[kept].sum()
    np.testing.assert_allclose(result.global_params, expected, atol=1e-5)


def test_a_participant_past_the_deadline_is_dropped(fed, model_config, tmp_path) -> None:
    global_params = flatten(model_config.build(seed=0))
    scheme, aggregator, key_holder = parties("plain", None, len(global_params))
    nodes = participants(fed, model_config, scheme, {2: Slow()})
    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, deadline_s=0.8, max_workers=4)

    start = time.perf_counter()
    result = coordinator.run_round(global_params, transport)

    assert time.perf_counter() - start < 1.4
    assert result.included == ("p0", "p1", "p3")
    assert result.dropped[0].participant_id == "p2" and "deadline" in result.dropped[0].reason


def test_too_few_submissions_abort_the_round_with_the_reasons(fed, model_config, tmp_path) -> None:
    global_params = flatten(model_config.build(seed=0))
    scheme, aggregator, key_holder = parties("plain", None, len(global_params))
    nodes = participants(fed, model_config, scheme, {0: Failing(), 1: Failing()})
    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, min_participants=3)
    retries = Retries()

    message = r"round 1: 2 usable submissions, fewer than min_participants=3.*p0: failed: RuntimeError: disk full"
    with pytest.raises(RoundAborted, match=message):
        run_federation(coordinator, transport, 1, retries=1, observers=[retries])
    assert retries.attempts == 2 and [r for r, _ in coordinator.ledger.cancellations] == [1, 1] and coordinator.ledger.rounds() == []


def test_a_round_short_of_participants_is_retried_at_the_same_round_number(fed, model_config, tmp_path) -> None:
    global_params = flatten(model_config.build(seed=0))
    scheme, aggregator, key_holder = parties("plain", None, len(global_params))
    nodes = participants(fed, model_config, scheme, {0: FailsOnce()})
    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes, min_participants=4)
    retries = Retries()

    result = run_federation(coordinator, transport, 1, retries=2, observers=[retries]).outcomes[0]

    assert retries.attempts == 2 and len(result.included) == 4 and result.round_id == 1


def test_plaintext_blobs_are_checked(fed) -> None:
    scheme = PlainUpdates(3, clip=0.1)

    blob = scheme.encode(np.array([0.1, -0.1, 0.05]), np.random.default_rng(0))

    np.testing.assert_allclose(scheme.parse(blob), [0.1, -0.1, 0.05], rtol=1e-6)
    for bad, message in [
        (blob[:-1], "11 bytes, expected 12"),
        (np.array([0.2, 0, 0], dtype="<f4").tobytes(), "beyond the clip"),
        (np.array([np.nan, 0, 0], dtype="<f4").tobytes(), "non-finite"),
    ]:
        with pytest.raises(FlNodeError, match=message):
            scheme.parse(bad)


def test_participant_not_in_the_plan_refuses(fed, model_config) -> None:
    node = Participant("p9", fed.nodes[0], model_config.factory(), TrainConfig(), PlainUpdates(62))

    with pytest.raises(FlNodeError, match="not selected"):
        node.submit(RoundPlan(1, np.zeros(62, dtype=np.float32), {"p0": 5}))


def test_submission_hash_and_determinism(fed, model_config) -> None:
    plan = RoundPlan(2, flatten(model_config.build(seed=0)), {"p0": fed.sample_counts[0]})
    node = Participant("p0", fed.nodes[0], model_config.factory(), TrainConfig(epochs=1), PlainUpdates(62), seed=4)

    a, b = node.submit(plan), node.submit(plan)

    assert a.blob == b.blob and a.blob_hash == keccak(a.blob) and a.bytes_up == len(a.blob)
    assert len(SignedBlob.parse(a.blob).payload) == 4 * 62 and SignedBlob.parse(a.blob).header == plan.header_for("p0")
    assert node.submit(replace(plan, round=3)).blob != a.blob
