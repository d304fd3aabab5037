"""Packed Paillier codec: exact integer sums at the overflow boundaries, the stated quantization
error bound, blob integrity, parallel and precomputed encryption."""

from __future__ import annotations

import hashlib
import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fl_node.crypto.codec import CodecConfig, EncryptedUpdate, PackedCodec, PackedDecryptor, SlotLayout, quantize
from fl_node.crypto.keys import generate_keypair
from fl_node.errors import CiphertextFormatError, CodecError

HEADER = struct.Struct(">4sB32sBBHBdQIIH")  # the layout documented in EncryptedUpdate.to_bytes
SMALL = CodecConfig(bits=8, clip=1.0, max_participants=5)
DEFAULT = CodecConfig()
DJ3 = CodecConfig(bits=12, max_participants=7, degree=3)
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(1024)


@pytest.fixture(scope="module")
def other_keys():
    return generate_keypair(1024)


def _codec(keys, config=DEFAULT, **kwargs):
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("precompute", False)
    kwargs.setdefault("randomness", "short")
    return PackedCodec(keys[0], config, **kwargs)


def _decryptor(keys, config=DEFAULT, workers=1):
    return PackedDecryptor(keys[1], config, workers=workers)


def _reframe(body: bytes) -> bytes:
    """Recompute the SHA-256 trailer, as a forger would."""
    return body + hashlib.sha256(body).digest()


# --- layout ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bits,participants,degree", [(16, 16, 1), (16, 10, 1), (8, 5, 1), (12, 100, 1), (2, 1, 1), (32, 3, 1), (16, 16, 4)]
)
def test_slot_headroom_holds_the_largest_sum(keys, bits, participants, degree):
    config = CodecConfig(bits=bits, max_participants=participants, degree=degree)
    n = keys[0].n

    layout = SlotLayout.for_key(config, n)

    assert layout.capacity >= participants
    assert layout.capacity * 2 * config.qmax < 2**layout.slot_bits
    assert 2 ** (layout.slots * layout.slot_bits) <= n**degree
    assert (layout.slots + 1) * layout.slot_bits > degree * (n.bit_length() - 1)


def test_default_layout_is_twenty_bit_slots():
    assert DEFAULT.slot_bits == 20
    assert DEFAULT.qmax == 32767
    assert DEFAULT.step == pytest.approx(1 / 32767)


@pytest.mark.parametrize(
    "kwargs",
    [{"bits": 1}, {"bits": 33}, {"clip": -0.1}, {"clip": float("nan")}, {"max_participants": 0}, {"degree": -1}, {"degree": 17}, {"randomness": "weak"}],
)
def test_invalid_configs_are_refused(kwargs):
    with pytest.raises(CodecError):
        CodecConfig(**kwargs)


def test_the_automatic_clip_and_degree_cannot_encode_until_a_task_sets_them():
    with pytest.raises(CodecError, match="automatic clip"):
        quantize(np.zeros(3), CodecConfig(clip=0.0), np.random.default_rng(0))
    with pytest.raises(CodecError, match="automatic degree"):
        SlotLayout.for_key(CodecConfig(degree=0), (1 << 511) | 1)


# --- exactness --------------------------------------------------------------------------------


def _boundary_ints(qmax: int) -> st.SearchStrategy[int]:
    edges = [-qmax, -qmax + 1, -1, 0, 1, qmax - 1, qmax]
    return st.one_of(st.sampled_from(edges), st.integers(-qmax, qmax))


@st.composite
def _updates(draw, config: CodecConfig, max_length: int):
    participants = draw(st.integers(1, config.max_participants))
    length = draw(st.integers(1, max_length))
    element = _boundary_ints(config.qmax)
    return [np.array(draw(st.lists(element, min_size=length, max_size=length)), dtype=np.int64) for _ in range(participants)]


@PROPERTY
@given(data=st.data())
def test_sum_of_encryptions_decrypts_to_the_exact_integer_sum(keys, data):
    config = data.draw(st.sampled_from([SMALL, DEFAULT, DJ3]))
    codec = _codec(keys, config)
    updates = data.draw(_updates(config, 2 * codec.layout.slots + 3))

    total = codec.aggregate([codec.encrypt_ints(q) for q in updates])

    assert total.count == len(updates)
    np.testing.assert_array_equal(_decryptor(keys, config).decrypt_ints(total), np.sum(updates, axis=0))


@pytest.mark.parametrize("participants", range(1, DEFAULT.max_participants + 1))
def test_every_slot_at_its_extremes_for_each_participant_count(keys, participants):
    codec = _codec(keys)
    q = DEFAULT.qmax
    pattern = np.array([q, -q, q, q, -q, 0, -1, 1] * 13, dtype=np.int64)  # crosses a ciphertext boundary

    total = codec.aggregate([codec.encrypt_ints(pattern) for _ in range(participants)])

    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(total), participants * pattern)


def test_full_exponent_mode_is_exact_too(keys):
    codec = _codec(keys, randomness="full")
    q = DEFAULT.qmax
    updates = [np.full(60, q, dtype=np.int64), np.full(60, -q, dtype=np.int64), np.arange(-30, 30, dtype=np.int64)]

    total = codec.aggregate([codec.encrypt_ints(u) for u in updates])

    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(total), np.sum(updates, axis=0))


def test_the_config_sets_the_randomness_unless_the_codec_overrides_it(keys):
    config = CodecConfig(randomness="short", degree=2)

    assert PackedCodec(keys[0], config, workers=1, precompute=False).randomness == "short"
    assert PackedCodec(keys[0], config, workers=1, precompute=False, randomness="full").randomness == "full"
    assert PackedCodec(keys[0], CodecConfig(), workers=1, precompute=False).randomness == "full"


@pytest.mark.parametrize("randomness", ["full", "short"])
@pytest.mark.parametrize("degree", [2, 5])
def test_damgard_jurik_degrees_are_exact_at_the_boundaries(keys, degree, randomness):
    config = CodecConfig(bits=16, max_participants=4, degree=degree)
    codec = _codec(keys, config, randomness=randomness)
    q = config.qmax
    length = codec.layout.slots + 3
    updates = [np.full(length, q, dtype=np.int64), np.full(length, -q, dtype=np.int64),
               np.full(length, q, dtype=np.int64), np.resize(np.array([q, -q, 0, 1, -1]), length)]

    total = codec.aggregate([codec.encrypt_ints(u) for u in updates])

    assert codec.layout.slots == degree * (keys[0].n.bit_length() - 1) // config.slot_bits
    assert total.ciphertext_bytes == ((keys[0].n ** (degree + 1)).bit_length() + 7) // 8
    np.testing.assert_array_equal(_decryptor(keys, config).decrypt_ints(total), np.sum(updates, axis=0))


def test_aggregates_of_aggregates_add_up(keys):
    codec = _codec(keys)
    rng = np.random.default_rng(1)
    ints = [rng.integers(-DEFAULT.qmax, DEFAULT.qmax + 1, 80) for _ in range(6)]
    parts = [codec.aggregate([codec.encrypt_ints(q) for q in ints[:2]]), codec.aggregate([codec.encrypt_ints(q) for q in ints[2:]])]

    total = codec.aggregate(parts)

    assert total.count == 6
    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(total), np.sum(ints, axis=0))


def test_sums_beyond_the_slot_capacity_are_refused(keys):
    codec = _codec(keys, SMALL)
    update = codec.encrypt_ints(np.zeros(3, dtype=np.int64))

    with pytest.raises(CodecError, match="overflow"):
        codec.aggregate([update] * (codec.layout.capacity + 1))


def test_out_of_range_integers_are_refused(keys):
    codec = _codec(keys)

    with pytest.raises(CodecError, match="must lie in"):
        codec.encrypt_ints(np.array([DEFAULT.qmax + 1]))
    with pytest.raises(CodecError):
        codec.encrypt_ints(np.array([0.5]))
    with pytest.raises(CodecError):
        codec.encrypt_ints(np.array([], dtype=np.int64))


def test_mismatched_updates_are_refused(keys, other_keys):
    codec = _codec(keys)
    a = codec.encrypt_ints(np.zeros(5, dtype=np.int64))

    with pytest.raises(CodecError, match="different lengths"):
        codec.aggregate([a, codec.encrypt_ints(np.zeros(6, dtype=np.int64))])
    with pytest.raises(CodecError, match="another key"):
        codec.aggregate([a, _codec(other_keys).encrypt_ints(np.zeros(5, dtype=np.int64))])
    with pytest.raises(CodecError, match="differs from this codec"):
        _decryptor(keys, SMALL).decrypt_ints(a)
    with pytest.raises(CodecError):
        codec.aggregate([])


def test_decryption_refuses_plaintexts_that_do_not_fit_the_layout(keys):
    pk, _ = keys
    codec = _codec(keys)
    honest = codec.encrypt_ints(np.zeros(3, dtype=np.int64))
    forged = EncryptedUpdate(**{**honest.__dict__, "ciphertexts": (pk.raw_encrypt(1 << (pk.n.bit_length() - 2)),)})

    with pytest.raises(CodecError, match="not made by this codec"):
        _decryptor(keys).decrypt_ints(forged)


# --- quantization error bound ------------------------------------------------------------------


@PROPERTY
@given(
    values=st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=200),
    bits=st.sampled_from([4, 8, 16]),
    seed=st.integers(0, 2**32 - 1),
)
def test_quantization_error_is_below_one_step_per_value(values, bits, seed):
    config = CodecConfig(bits=bits)
    x = np.array(values)

    q = quantize(x, config, np.random.default_rng(seed))

    assert np.all(np.abs(q / config.scale - x) < config.step)
    assert np.all(np.abs(q) <= config.qmax)


def test_stochastic_rounding_is_unbiased():
    config = CodecConfig(bits=4)
    x = np.full(40_000, 0.3 * config.step + 2 * config.step)

    mean = (quantize(x, config, np.random.default_rng(7)) / config.scale).mean()

    # Bernoulli(0.3) rounding: standard error of the mean is step·sqrt(0.21/40000)
    assert abs(mean - x[0]) < 5 * config.step * np.sqrt(0.21 / 40_000)


def test_quantization_is_reproducible_under_a_seed_and_clips():
    x = np.array([-3.0, -1.0, -0.123456, 0.0, 0.5, 2.0])

    a = quantize(x, DEFAULT, np.random.default_rng(3))
    b = quantize(x, DEFAULT, np.random.default_rng(3))

    np.testing.assert_array_equal(a, b)
    assert a[0] == -DEFAULT.qmax and a[-1] == DEFAULT.qmax


def test_non_finite_values_are_refused(keys):
    with pytest.raises(CodecError, match="NaN"):
        _codec(keys).encrypt(np.array([0.0, np.nan]), rng=np.random.default_rng(0))


def test_decrypted_sum_is_within_the_stated_bound(keys):
    config = CodecConfig(bits=12, clip=0.5, max_participants=8)
    codec = _codec(keys, config)
    rng = np.random.default_rng(11)
    vectors = [rng.uniform(-0.5, 0.5, 300) for _ in range(8)]

    total = codec.aggregate([codec.encrypt(v, rng=rng) for v in vectors])
    decrypted = _decryptor(keys, config).decrypt_sum(total)

    error = np.abs(decrypted - np.sum(vectors, axis=0))
    assert error.max() < config.sum_error_bound(8)
    assert error.max() / 8 < config.step


# --- blobs ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blob(keys):
    codec = _codec(keys)
    update = codec.encrypt_ints(np.arange(-60, 60, dtype=np.int64))
    return update, update.to_bytes()


def test_blob_round_trips_and_has_the_documented_size(keys, blob):
    update, data = blob

    parsed = EncryptedUpdate.from_bytes(data, keys[0])

    assert parsed == update
    assert len(data) == update.nbytes == HEADER.size + len(update.ciphertexts) * 256 + 32
    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(parsed), np.arange(-60, 60))


@pytest.mark.parametrize("cut", [0, 3, HEADER.size - 1, HEADER.size + 10, -33, -1])
def test_truncated_blobs_are_rejected(keys, blob, cut):
    _, data = blob

    with pytest.raises(CiphertextFormatError):
        EncryptedUpdate.from_bytes(data[:cut], keys[0])


@pytest.mark.parametrize("position", [0, 4, 10, HEADER.size - 1, HEADER.size, HEADER.size + 300, -40, -1])
def test_a_flipped_byte_anywhere_is_rejected(keys, blob, position):
    _, data = blob
    altered = bytearray(data)
    altered[position] ^= 0x20

    with pytest.raises(CiphertextFormatError):
        EncryptedUpdate.from_bytes(bytes(altered), keys[0])


def test_a_blob_of_another_key_is_rejected(keys, other_keys, blob):
    _, data = blob

    with pytest.raises(CiphertextFormatError, match="another key"):
        EncryptedUpdate.from_bytes(data, other_keys[0])


def test_padding_is_rejected(keys, blob):
    _, data = blob

    with pytest.raises(CiphertextFormatError, match="truncated or padded"):
        EncryptedUpdate.from_bytes(data + b"\x00" * 256, keys[0])


@pytest.mark.parametrize("forged", [b"\xff" * 256, b"\x00" * 256], ids=["at-least-n-squared", "zero"])
def test_forged_ciphertext_outside_the_group_is_rejected_even_with_a_valid_checksum(keys, blob, forged):
    pk = keys[0]
    _, data = blob
    body = bytearray(data[:-32])
    body[HEADER.size : HEADER.size + 256] = forged
    assert int.from_bytes(b"\xff" * 256, "big") >= pk.nsquare

    with pytest.raises(CiphertextFormatError, match="ciphertext 0 is not an element"):
        EncryptedUpdate.from_bytes(_reframe(bytes(body)), pk)


def test_forged_header_counts_are_rejected_even_with_a_valid_checksum(keys, blob):
    pk = keys[0]
    update, data = blob
    fields = list(HEADER.unpack_from(data))
    fields[8] = update.length + 5 * update.slots  # length now needs more ciphertexts than present
    body = HEADER.pack(*fields) + data[HEADER.size : -32]

    with pytest.raises(CiphertextFormatError, match="cannot hold"):
        EncryptedUpdate.from_bytes(_reframe(body), pk)


# --- parallel and precomputed encryption -------------------------------------------------------------


@pytest.mark.parametrize("randomness", ["full", "short"])
def test_parallel_workers_give_exact_sums(keys, randomness):
    codec = _codec(keys, workers=2, randomness=randomness)
    rng = np.random.default_rng(5)
    ints = [rng.integers(-DEFAULT.qmax, DEFAULT.qmax + 1, 51 * 12 + 7) for _ in range(3)]

    total = codec.aggregate([codec.encrypt_ints(q) for q in ints])

    np.testing.assert_array_equal(_decryptor(keys, workers=2).decrypt_ints(total), np.sum(ints, axis=0))


def test_precomputed_randomness_is_consumed_once(keys):
    codec = _codec(keys, workers=2)
    length = 51 * 5
    codec.precompute(codec.ciphertext_count(length) + 2)
    q = np.arange(length, dtype=np.int64) - 100

    first = codec.encrypt_ints(q)
    second = codec.encrypt_ints(q)

    assert codec.reserve_size == 0
    assert not set(first.ciphertexts) & set(second.ciphertexts)
    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(codec.aggregate([first, second])), 2 * q)


def test_background_refill_prepares_the_next_update(keys):
    codec = _codec(keys, workers=2, precompute=True)
    q = np.arange(-150, 150, dtype=np.int64)
    needed = codec.ciphertext_count(len(q))

    first = codec.encrypt_ints(q)
    deadline = time.monotonic() + 30
    while codec.reserve_size < needed and time.monotonic() < deadline:
        time.sleep(0.02)
    refilled = codec.reserve_size
    second = codec.encrypt_ints(q)
    codec.close()

    assert refilled >= needed
    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(codec.aggregate([first, second])), 2 * q)


def test_short_exponent_needs_a_long_enough_exponent(keys):
    with pytest.raises(CodecError, match="128 bits"):
        _codec(keys, exponent_bits=64)


def test_codec_refuses_a_private_key(keys):
    with pytest.raises(CodecError):
        PackedCodec(keys[1], DEFAULT)


@pytest.mark.parametrize("degree,slots,width", [(1, 102, 512), (4, 409, 1280)])
def test_2048_bit_key_end_to_end(degree, slots, width):
    pk, sk = generate_keypair(2048)
    config = CodecConfig(degree=degree)
    codec = PackedCodec(pk, config, workers=1, precompute=False, randomness="short")
    rng = np.random.default_rng(0)
    vectors = [rng.uniform(-1, 1, slots * 2 + 1) for _ in range(3)]

    blobs = [codec.encrypt(v, rng=rng).to_bytes() for v in vectors]
    total = codec.aggregate([EncryptedUpdate.from_bytes(b, pk) for b in blobs])
    decrypted = PackedDecryptor(sk, config, workers=1).decrypt_sum(EncryptedUpdate.from_bytes(total.to_bytes(), pk))

    assert codec.layout.slots == slots and total.ciphertext_bytes == width
    assert len(blobs[0]) == HEADER.size + 3 * width + 32
    assert np.abs(decrypted - np.sum(vectors, axis=0)).max() < config.sum_error_bound(3)


def test_threads_can_share_one_codec_with_background_precomputation(keys):
    from concurrent.futures import ThreadPoolExecutor

    codec = _codec(keys, workers=2, precompute=True)
    ints = [np.full(120, k - 3, dtype=np.int64) for k in range(6)]

    with ThreadPoolExecutor(3) as threads:
        updates = list(threads.map(codec.encrypt_ints, ints))
    codec.close()

    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(codec.aggregate(updates)), np.sum(ints, axis=0))


def _encrypt_in_child(public_key, queue) -> None:
    codec = PackedCodec(public_key, DEFAULT, workers=2, precompute=False, randomness="short")
    queue.put(codec.encrypt_ints(np.arange(200, dtype=np.int64)).to_bytes())


def test_a_forked_process_gets_working_parallel_encryption(keys):
    import multiprocessing

    _codec(keys, workers=2).encrypt_ints(np.arange(200, dtype=np.int64))  # the parent's shared pool is running
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_encrypt_in_child, args=(keys[0], queue))

    child.start()
    blob = queue.get(timeout=60)
    child.join(timeout=60)

    assert child.exitcode == 0
    np.testing.assert_array_equal(_decryptor(keys).decrypt_ints(EncryptedUpdate.from_bytes(blob, keys[0])), np.arange(200))
