"""Threshold Paillier custody: dealt and distributed shares, t-of-N decryption, wrong partials named, shares at rest."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import multiprocessing

import gmpy2
import numpy as np
import pytest

from phe import PaillierPrivateKey

from fl_node.crypto import paillier
from fl_node.crypto.codec import CodecConfig, PackedCodec
from fl_node.crypto.keys import generate_keypair
from fl_node.crypto.threshold import (
    Custodian,
    KeyShare,
    PartialDecryption,
    ThresholdCombiner,
    ThresholdPublicKey,
    combine,
    deal_shares,
    dlog_one_plus_n,
    load_public,
    load_share,
    partial_decrypt,
    partial_from_json,
    partial_to_json,
    save_share,
    split_private_key,
    verify_partial,
)
from fl_node.crypto.threshold_bench import ThresholdBenchConfig, run_threshold_bench
from fl_node.crypto.threshold_keygen import DistributedKeygenConfig, generate_distributed, share_path
from fl_node.errors import CustodianUnavailable, KeyFormatError, ThresholdDecryptionError
from fl_node.hfl.aggregator import SummedUpdate
from fl_node.hfl.decryptions import DecryptionRequest
from fl_node.hfl.keyholder import KeyHolder, LocalCustodian, ThresholdKeyHolder
from fl_node.hfl.schemes import EncryptedSums, EncryptedUpdates

BITS = 512


@pytest.fixture(scope="module")
def two_of_three() -> list[KeyShare]:
    return deal_shares(3, 2, BITS, max_degree=2)


@pytest.fixture(scope="module")
def three_of_five() -> list[KeyShare]:
    return deal_shares(5, 3, BITS)


def _integers(obj: object) -> list[int]:
    """Every integer reachable from a custodian-held object (dataclass fields, tuples, dicts)."""
    if isinstance(obj, bool):
        return []
    if isinstance(obj, int):
        return [obj]
    if dataclasses.is_dataclass(obj):
        return [i for f in dataclasses.fields(obj) for i in _integers(getattr(obj, f.name))]
    if isinstance(obj, (tuple, list)):
        return [i for item in obj for i in _integers(item)]
    if isinstance(obj, dict):
        return [i for pair in obj.items() for item in pair for i in _integers(item)]
    return [i for value in vars(obj).values() for i in _integers(value)] if hasattr(obj, "__dict__") else []


def _assert_holds_no_private_key(obj: object, n: int) -> None:
    """No integer is a factor of n, nor a multiple of λ(n) (which φ, λ and D all are)."""
    probe = gmpy2.mpz(2)
    for value in _integers(obj):
        assert math.gcd(value, n) in (1, n) or value == 0, "a held integer shares a factor with n"
        if value > 1 and value % n:
            assert gmpy2.powmod(probe, value, n) != 1, "a held integer is a multiple of λ(n)"


def test_any_t_of_n_custodians_decrypt_a_packed_sum(three_of_five: list[KeyShare]) -> None:
    config = CodecConfig(bits=16, max_participants=4)
    public = three_of_five[0].public
    rng = np.random.default_rng(0)
    q = [rng.integers(-config.qmax, config.qmax + 1, size=30) for _ in range(3)]
    with PackedCodec(public.public_key, config, workers=1, precompute=False) as codec:
        total = codec.aggregate([codec.encrypt_ints(v) for v in q])
    custodians = [Custodian(share, config) for share in three_of_five]
    partials = {c.index: c.partial_decrypt(total) for c in custodians}
    combiner = ThresholdCombiner(public, config)

    for coalition in itertools.combinations(sorted(partials), 3):
        result = combiner.decrypt_ints(total, [partials[i] for i in coalition])
        assert result.used == coalition and not result.rejected
        np.testing.assert_array_equal(result.sums, sum(q))


@pytest.mark.parametrize("degree", [1, 2])
def test_damgard_jurik_degrees_decrypt_exactly(two_of_three: list[KeyShare], degree: int) -> None:
    public = two_of_three[0].public
    spec = paillier.make_spec(public.n, degree=degree)
    plaintexts = [0, 1, 987654321, public.n**degree - 1]
    ciphertexts = paillier.encrypt_fresh(spec, plaintexts)
    partials = [partial_decrypt(share, ciphertexts, degree) for share in two_of_three[1:]]

    assert list(combine(public, ciphertexts, partials, degree).plaintexts) == plaintexts


def test_dlog_inverts_powers_of_one_plus_n() -> None:
    n = 1000003 * 1000033
    for degree in (1, 2, 4):
        modulus = n ** (degree + 1)
        for exponent in (0, 5, n**degree - 3):
            assert dlog_one_plus_n(pow(1 + n, exponent, modulus), n, degree) == exponent


def test_fewer_than_t_custodians_decrypt_nothing(three_of_five: list[KeyShare]) -> None:
    public = three_of_five[0].public
    message = 123456789
    ciphertexts = paillier.encrypt_fresh(paillier.make_spec(public.n), [message])
    partials = [partial_decrypt(share, ciphertexts) for share in three_of_five[:2]]

    with pytest.raises(ThresholdDecryptionError) as caught:
        combine(public, ciphertexts, partials)
    assert caught.value.missing == (3, 4, 5)
    # Combining the t-1 answers as if they were enough does not give a power of 1+n, let alone m.
    modulus = public.n**2
    coefficients = {1: public.delta * 2 // (2 - 1), 2: public.delta * 1 // (1 - 2)}
    attempt = gmpy2.mpz(1)
    for partial in partials:
        mu = 2 * coefficients[partial.index]
        base = partial.values[0] if mu > 0 else gmpy2.invert(partial.values[0], modulus)
        attempt = attempt * gmpy2.powmod(base, abs(mu), modulus) % modulus
    assert (attempt - 1) % public.n != 0
    with pytest.raises(ThresholdDecryptionError):
        dlog_one_plus_n(int(attempt), public.n, 1)


def test_wrong_partial_decryption_is_caught_and_named(two_of_three: list[KeyShare]) -> None:
    public = two_of_three[0].public
    modulus = public.n**2
    ciphertexts = paillier.encrypt_fresh(paillier.make_spec(public.n), [11, 22])
    honest = {share.index: partial_decrypt(share, ciphertexts) for share in two_of_three}
    # Custodian 2 shifts the plaintext by 5 but keeps a valid-looking value (a power of 1+n times its answer).
    shifted = tuple(v * pow(1 + public.n, 5, modulus) % modulus for v in honest[2].values)
    cheat = dataclasses.replace(honest[2], values=shifted)

    result = combine(public, ciphertexts, [honest[1], cheat, honest[3]])
    assert result.plaintexts == (11, 22)
    assert result.used == (1, 3)
    assert list(result.rejected) == [2] and "proof" in result.rejected[2]

    with pytest.raises(ThresholdDecryptionError, match="custodian 2") as caught:
        combine(public, ciphertexts, [honest[1], cheat])
    assert caught.value.rejected == (2,)


@pytest.mark.parametrize("position", [0, 4])
def test_one_wrong_value_in_a_batch_fails_the_batched_proof(two_of_three: list[KeyShare], position: int) -> None:
    public = two_of_three[0].public
    modulus = public.n**2
    ciphertexts = paillier.encrypt_fresh(paillier.make_spec(public.n), [1, 2, 3, 4, 5])
    honest = partial_decrypt(two_of_three[0], ciphertexts)
    values = list(honest.values)
    values[position] = values[position] * pow(1 + public.n, 1, modulus) % modulus
    assert "proof of correct decryption fails" in verify_partial(public, ciphertexts, dataclasses.replace(honest, values=tuple(values)))
    assert verify_partial(public, ciphertexts, honest) is None
    assert "one batched proof" in verify_partial(public, ciphertexts, dataclasses.replace(honest, proofs=honest.proofs * 2))


def test_partial_for_other_ciphertexts_or_custodian_is_rejected(two_of_three: list[KeyShare]) -> None:
    public = two_of_three[0].public
    spec = paillier.make_spec(public.n)
    asked, other = paillier.encrypt_fresh(spec, [1]), paillier.encrypt_fresh(spec, [1])
    good = partial_decrypt(two_of_three[0], asked)
    stale = partial_decrypt(two_of_three[1], other)
    impostor = dataclasses.replace(partial_decrypt(two_of_three[2], asked), index=2)

    result = combine(public, asked, [good, stale, impostor, partial_decrypt(two_of_three[2], asked)])
    assert result.plaintexts == (1,)
    assert set(result.rejected) == {2}


def test_no_custodian_object_holds_the_private_key(two_of_three: list[KeyShare]) -> None:
    config = CodecConfig(max_participants=4)
    public = two_of_three[0].public
    ciphertexts = paillier.encrypt_fresh(paillier.make_spec(public.n), [7])
    for share in two_of_three:
        custodian = Custodian(share, config)
        _assert_holds_no_private_key(share, public.n)
        _assert_holds_no_private_key(custodian, public.n)
        _assert_holds_no_private_key(partial_decrypt(share, ciphertexts), public.n)
    _assert_holds_no_private_key(ThresholdCombiner(public, config), public.n)


def test_the_private_key_check_catches_a_held_exponent() -> None:
    n, p, q = 1000003 * 1000033, 1000003, 1000033
    with pytest.raises(AssertionError, match="multiple of λ"):
        _assert_holds_no_private_key({"d": (p - 1) * (q - 1)}, n)
    with pytest.raises(AssertionError, match="factor"):
        _assert_holds_no_private_key([p], n)


def test_share_file_round_trip_is_sealed(two_of_three: list[KeyShare], tmp_path) -> None:
    share = two_of_three[1]
    path = save_share(tmp_path / "custodian-2.share", share, "correct horse", scrypt_n=2**10)

    assert load_share(path, "correct horse") == share
    assert load_public(path) == share.public
    assert format(share.secret, "x") not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(KeyFormatError, match="passphrase"):
        load_share(path, "wrong")
    document = json.loads(path.read_text())
    document["index"] = 3
    path.write_text(json.dumps(document))
    with pytest.raises(KeyFormatError, match="passphrase or altered"):
        load_share(path, "correct horse")


def test_partial_decryption_json_round_trip(two_of_three: list[KeyShare]) -> None:
    ciphertexts = paillier.encrypt_fresh(paillier.make_spec(two_of_three[0].public.n), [3, 4])
    partial = partial_decrypt(two_of_three[0], ciphertexts)
    assert partial_from_json(json.loads(json.dumps(partial_to_json(partial)))) == partial
    with pytest.raises(KeyFormatError):
        partial_from_json({"index": 1})


def test_public_key_rejects_impossible_thresholds(two_of_three: list[KeyShare]) -> None:
    public = two_of_three[0].public
    with pytest.raises(KeyFormatError):
        dataclasses.replace(public, threshold=4)
    with pytest.raises(KeyFormatError):
        deal_shares(3, 0, BITS)
    with pytest.raises(KeyFormatError, match="degrees 1..2"):
        partial_decrypt(two_of_three[0], [1], degree=3)
    assert ThresholdPublicKey.from_json(public.to_json()) == public


@pytest.mark.slow
def test_distributed_generation_gives_working_two_of_three_shares(tmp_path) -> None:
    config = DistributedKeygenConfig(custodians=3, threshold=2, bits=256, prime_threshold=200, biprime_rounds=20)
    public = generate_distributed(config, tmp_path, "pw")

    shares = [load_share(share_path(tmp_path, i), "pw") for i in (1, 2, 3)]
    assert all(share.public == public for share in shares)
    assert public.n.bit_length() >= 256 and not gmpy2.is_prime(public.n)
    for share in shares:
        _assert_holds_no_private_key(share, public.n)
    ciphertexts = paillier.encrypt_fresh(paillier.make_spec(public.n), [42, 0, 65535])
    partials = {share.index: partial_decrypt(share, ciphertexts) for share in shares}
    for pair in itertools.combinations((1, 2, 3), 2):
        assert combine(public, ciphertexts, [partials[i] for i in pair]).plaintexts == (42, 0, 65535)
    with pytest.raises(ThresholdDecryptionError, match=r"missing custodians \[2, 3\]"):
        combine(public, ciphertexts, [partials[1]])


@pytest.mark.slow
def test_distributed_generation_names_the_custodian_that_failed_and_leaves_no_process(tmp_path) -> None:
    config = DistributedKeygenConfig(custodians=3, threshold=2, bits=256, prime_threshold=200, biprime_rounds=20)
    not_a_folder = tmp_path / "shares"
    not_a_folder.write_text("")
    before = set(multiprocessing.active_children())

    with pytest.raises(KeyFormatError, match=r"custodian-[123]: NotADirectoryError"):
        generate_distributed(config, not_a_folder, "pw")

    assert set(multiprocessing.active_children()) <= before


def test_bench_reports_threshold_and_single_key_figures(two_of_three: list[KeyShare], tmp_path) -> None:
    for share in two_of_three:
        save_share(share_path(tmp_path, share.index), share, "pw", scrypt_n=2**10)

    result = run_threshold_bench(ThresholdBenchConfig(ciphertexts=2, key_shares=tmp_path, passphrase="pw"))

    assert result["keygen_s"] is None and result["key_bits"] == two_of_three[0].public.n.bit_length()
    for key in ("decrypt_s_per_ciphertext", "single_key_decrypt_s_per_ciphertext", "partial_s_per_ciphertext", "combine_s_per_ciphertext"):
        assert result[key] > 0


class _Offline:
    def __init__(self, index: int) -> None:
        self.index = index

    def answer(self, request: DecryptionRequest) -> PartialDecryption:
        raise CustodianUnavailable(f"custodian {self.index} is offline")

    def answer_all(self, requests: list[DecryptionRequest]) -> list[PartialDecryption]:
        raise CustodianUnavailable(f"custodian {self.index} is offline")


class _Cheat:
    """Answers with its real share but shifts every value by a power of 1+n (a plausible wrong answer)."""

    def __init__(self, custodian: LocalCustodian, n: int) -> None:
        self.index = custodian.index
        self.custodian = custodian
        self.n = n

    def answer(self, request: DecryptionRequest) -> PartialDecryption:
        honest = self.custodian.answer(request)
        n = self.n
        return dataclasses.replace(honest, values=tuple(v * (1 + 3 * n) % n**2 for v in honest.values))

    def answer_all(self, requests: list[DecryptionRequest]) -> list[PartialDecryption]:
        return [self.answer(request) for request in requests]


@pytest.fixture(scope="module")
def split_key() -> tuple[PaillierPrivateKey, list[KeyShare]]:
    _, private = generate_keypair(BITS)
    return private, split_private_key(private, 3, 2)


@pytest.fixture(scope="module")
def summed(split_key) -> tuple[SummedUpdate, CodecConfig]:
    private, _ = split_key
    config = CodecConfig(max_participants=4)
    scheme = EncryptedUpdates(private.public_key, 250, config)
    rng = np.random.default_rng(3)
    blobs = [scheme.parse(scheme.encode(rng.uniform(-0.5, 0.5, 250), rng)) for _ in range(3)]
    return SummedUpdate(scheme.add(blobs), ("node-0", "node-1", "node-2"), 3.0), config


def test_threshold_custody_gives_the_same_global_model_as_one_key_holder(split_key, summed) -> None:
    private, shares = split_key
    update, config = summed
    global_params = np.linspace(-1, 1, 250, dtype=np.float32)
    custodians = [LocalCustodian(share, config) for share in shares]

    single = KeyHolder(EncryptedSums(private, config)).new_global(global_params, update)
    threshold = ThresholdKeyHolder(shares[0].public, config, custodians).new_global(global_params, update)

    assert hashlib.sha256(threshold.tobytes()).digest() == hashlib.sha256(single.tobytes()).digest()
    _assert_holds_no_private_key(ThresholdKeyHolder(shares[0].public, config, []), private.public_key.n)


def test_threshold_key_holder_survives_dropouts_and_names_who_is_missing(split_key, summed) -> None:
    private, shares = split_key
    update, config = summed
    expected = KeyHolder(EncryptedSums(private, config)).decrypt(update)
    custodians = [LocalCustodian(share, config) for share in shares]
    names = {1: "node-0", 2: "node-1", 3: "node-2"}

    one_down = ThresholdKeyHolder(shares[0].public, config, [_Offline(1), custodians[1], custodians[2]], names)
    np.testing.assert_array_equal(one_down.decrypt(update), expected)

    two_down = ThresholdKeyHolder(shares[0].public, config, [_Offline(1), custodians[1], _Offline(3)], names)
    with pytest.raises(ThresholdDecryptionError, match="missing: node-0, node-2") as caught:
        two_down.decrypt(update)
    assert caught.value.missing == (1, 3)


def test_threshold_key_holder_rejects_and_names_a_cheating_custodian(split_key, summed) -> None:
    private, shares = split_key
    update, config = summed
    expected = KeyHolder(EncryptedSums(private, config)).decrypt(update)
    custodians = [LocalCustodian(share, config) for share in shares]

    holder = ThresholdKeyHolder(shares[0].public, config, [_Cheat(custodians[0], shares[0].public.n), custodians[1], custodians[2]])
    np.testing.assert_array_equal(holder.decrypt(update), expected)
    assert list(holder.rejected) == [1]

    stuck = ThresholdKeyHolder(shares[0].public, config, [_Cheat(custodians[0], shares[0].public.n), _Offline(2), custodians[2]])
    with pytest.raises(ThresholdDecryptionError, match=r"missing: custodian-2; rejected: custodian-1 \(proof") as caught:
        stuck.decrypt(update)
    assert caught.value.rejected == (1,)
