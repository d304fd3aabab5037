"""Fuzzing what a node or an auditor reads from outside: update blobs, CSVs, key files, specs and task tables.

Each input, however mangled, is either read as what was written or refused with the package's
named error (one line); nothing else escapes, and a refused file is left as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fl_node.crypto.keys import generate_keypair, load_private_key, load_public_key, public_key_to_bytes, save_keypair
from fl_node.data import load_csv
from fl_node.errors import CiphertextFormatError, DataError, FlNodeError, KeyFormatError, UpdateFormatError
from fl_node.hfl.aggregator import Aggregator
from fl_node.hfl.envelope import seal
from fl_node.hfl.participant import RoundPlan, Submission
from fl_node.hfl.schemes import EncryptedUpdates, PlainUpdates
from fl_node.hfl.spec import FederationSpec, model_from_bytes, validation_from_bytes
from fl_node.task import TaskConfig, from_flat, to_flat

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
N_PARAMS = 40
PUBLIC, PRIVATE = generate_keypair(1024)
OTHER_PUBLIC, _ = generate_keypair(1024)
SCHEME = EncryptedUpdates(PUBLIC, N_PARAMS)
BLOB = SCHEME.encode(np.linspace(-0.5, 0.5, N_PARAMS), np.random.default_rng(0))
HEADER = struct.Struct(">4sB32sBBHBdQIIH")


def _parse_or_refuse(scheme, blob: bytes) -> None:
    try:
        scheme.parse(blob)
    except (CiphertextFormatError, UpdateFormatError) as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert blob == BLOB, "an altered blob was accepted"


def _resealed(body: bytes) -> bytes:
    """A blob whose checksum matches its (altered) body: reaches the header and ciphertext checks."""
    return body + hashlib.sha256(body).digest()


@FUZZ
@given(data=st.data())
def test_a_mangled_encrypted_blob_is_refused_with_a_named_error(data) -> None:
    mangle = data.draw(st.sampled_from(["truncate", "extend", "flip", "replace"]))
    blob = bytearray(BLOB)
    if mangle == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif mangle == "extend":
        blob += data.draw(st.binary(min_size=1, max_size=600))
    elif mangle == "flip":
        position = data.draw(st.integers(0, 8 * len(blob) - 1))
        blob[position // 8] ^= 1 << (position % 8)
    else:
        blob = bytearray(data.draw(st.binary(max_size=2000)))

    _parse_or_refuse(SCHEME, bytes(blob))


FIELDS = ["version", "fingerprint", "bits", "slot_bits", "slots", "degree", "clip", "length", "count", "n_ct", "width"]


@FUZZ
@given(field=st.sampled_from(FIELDS), value=st.integers(0, 2**16 - 1), raw=st.binary(min_size=32, max_size=32),
       clip=st.sampled_from([0.0, -1.0, float("nan"), float("inf"), 1e300]))
def test_a_blob_with_wrong_header_fields_and_a_valid_checksum_is_refused(field, value, raw, clip) -> None:
    values = list(HEADER.unpack_from(BLOB))
    at = FIELDS.index(field) + 1
    values[at] = raw if field == "fingerprint" else clip if field == "clip" else min(value, 255 if at in (1, 3, 4, 6) else value)
    if values == list(HEADER.unpack_from(BLOB)):
        return
    body = HEADER.pack(*values) + BLOB[HEADER.size : -32]

    _parse_or_refuse(SCHEME, _resealed(body))


def test_a_blob_under_another_key_or_of_another_size_is_refused() -> None:
    with pytest.raises(CiphertextFormatError, match="another key"):
        EncryptedUpdates(OTHER_PUBLIC, N_PARAMS).parse(BLOB)
    with pytest.raises(UpdateFormatError, match="values, expected"):
        EncryptedUpdates(PUBLIC, N_PARAMS + 1).parse(BLOB)


@FUZZ
@given(blob=st.binary(max_size=4 * N_PARAMS + 8))
def test_a_plaintext_blob_is_read_or_refused(blob) -> None:
    scheme = PlainUpdates(N_PARAMS)
    try:
        values = scheme.parse(blob)
    except UpdateFormatError:
        return
    assert values.shape == (N_PARAMS,) and np.all(np.abs(values) <= 1.0)


@FUZZ
@given(blob=st.binary(max_size=1200))
def test_the_aggregator_excludes_any_blob_that_is_not_an_update_and_keeps_the_others(blob) -> None:
    plan = RoundPlan(1, np.zeros(N_PARAMS), {"good": 10, "bad": 10})
    from eth_hash.auto import keccak

    header = plan.header_for("good")
    sealed = seal(header, *SCHEME.encode_proved(np.linspace(-0.5, 0.5, N_PARAMS), np.random.default_rng(0), header.to_bytes()))
    good = Submission("good", 10, sealed, keccak(sealed), len(sealed))
    bad = Submission("bad", 10, blob, keccak(blob), len(blob))

    verified = Aggregator(SCHEME).verify(plan, [good, bad])

    assert "good" in verified.updates
    if blob != sealed:
        assert [e.participant_id for e in verified.excluded] == ["bad"] and verified.excluded[0].reason


# ---------------------------------------------------------------- stored models, specs, validation splits


@FUZZ
@given(data=st.binary(max_size=400))
def test_stored_models_specs_and_validation_splits_are_read_or_refused(data) -> None:
    for parse in (model_from_bytes, FederationSpec.from_bytes, validation_from_bytes):
        try:
            parse(data)
        except FlNodeError as exc:
            assert str(exc)


# ---------------------------------------------------------------- CSVs

CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e999", "yes", "0x10", "1,5", '"', "a\nb", "é", "\x00"]),
    st.text(max_size=8),
)


@FUZZ
@given(header=st.lists(st.sampled_from(["x1", "x2", "label", "id", ""]), min_size=0, max_size=5),
       rows=st.lists(st.lists(CELLS, min_size=0, max_size=6), max_size=6), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
       junk=st.binary(max_size=40))
def test_a_junk_csv_is_loaded_or_refused_with_a_data_error(tmp_path_factory, header, rows, encoding, junk) -> None:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    try:
        content = text.getvalue().encode(encoding) + junk
    except UnicodeEncodeError:
        content = text.getvalue().encode("utf-8", "surrogatepass") + junk
    path.write_bytes(content)

    try:
        dataset = load_csv(path, "label")
    except DataError as exc:
        assert "\n" not in str(exc).strip() or "line" in str(exc)
    else:
        assert np.all(np.isfinite(dataset.X)) and dataset.n_classes >= 2
        assert len(dataset.y) == dataset.X.shape[0] and dataset.X.shape[1] >= 1
    assert path.read_bytes() == content


def test_csv_refusals_name_what_is_wrong(tmp_path: Path) -> None:
    cases = {
        "x1,label\n1,a\nnan,b\n": "not finite",
        "x1,label\n1,a\n1e999,b\n": "not finite",
        "x1,x2,label\n1,2,a\n3,b\n": "fields",
        "x1,label\n1,a\n,b\n": "missing a value",
        "x1,target\n1,a\n2,b\n": "no label column",
        "x1,label\nabc,a\n2,b\n": "not numeric",
    }
    for body, words in cases.items():
        path = tmp_path / "bad.csv"
        path.write_text(body)
        with pytest.raises(DataError, match=words):
            load_csv(path, "label")
    path.write_bytes(b"x1,label\n1,\xff\xfe\n2,b\n")
    with pytest.raises(DataError, match="cannot read CSV"):
        load_csv(path, "label")


# ---------------------------------------------------------------- key files


@pytest.fixture(scope="module")
def key_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    return save_keypair(folder / "holder.key", PUBLIC, PRIVATE, passphrase="correct horse")


@settings(FUZZ, max_examples=20)
@given(data=st.data())
def test_a_mangled_key_file_is_refused_with_a_key_format_error(tmp_path_factory, key_files, data) -> None:
    private_path, public_path = key_files
    source = data.draw(st.sampled_from([private_path, public_path]))
    content = bytearray(source.read_bytes())
    mangle = data.draw(st.sampled_from(["truncate", "flip", "extend", "random"]))
    if mangle == "truncate":
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    elif mangle == "flip":
        position = data.draw(st.integers(0, 8 * len(content) - 1))
        content[position // 8] ^= 1 << (position % 8)
    elif mangle == "extend":
        content += data.draw(st.binary(min_size=1, max_size=64))
    else:
        content = bytearray(data.draw(st.binary(max_size=300)))
    path = tmp_path_factory.mktemp("mangled") / "key"
    path.write_bytes(bytes(content))

    # A public file is checksummed; a private file is sealed with its passphrase (modulus included).
    load = load_public_key if source == public_path else (lambda p: load_private_key(p, passphrase="correct horse").public_key)
    try:
        key = load(path)
    except KeyFormatError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:  # only bytes that still hold the key itself may be read
        assert key.n == PUBLIC.n
    assert path.read_bytes() == bytes(content)


def test_a_wrong_passphrase_and_a_missing_file_are_named(key_files, tmp_path: Path) -> None:
    private_path, _ = key_files
    with pytest.raises(KeyFormatError, match="cannot open key file"):
        load_private_key(private_path, passphrase="wrong")
    with pytest.raises(KeyFormatError):
        load_public_key(tmp_path / "absent.key")
    assert public_key_to_bytes(load_public_key(private_path)) == public_key_to_bytes(PUBLIC)


# ---------------------------------------------------------------- task tables (run config, JSON)

TABLE_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(), st.text(max_size=6),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@FUZZ
@given(table=st.dictionaries(st.sampled_from(sorted(to_flat(TaskConfig()))), TABLE_VALUES, max_size=6))
def test_a_task_table_with_wrong_values_is_read_or_refused(table) -> None:
    try:
        config = from_flat(TaskConfig, table)
    except FlNodeError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        flat = to_flat(config)
        for key, value in table.items():
            assert type(flat[key]) is type(to_flat(TaskConfig())[key])
        assert dataclasses.is_dataclass(config)


# ---------------------------------------------------------------- keystores, Ethereum key files, key shares

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=10), st.just("zz"), st.just({}), st.just([]))


def _mangle_json(document, draw) -> object:
    """``document`` with one leaf (or a whole branch) replaced by a drawn value."""
    if isinstance(document, dict) and document and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(document)))
        return {**document, key: _mangle_json(document[key], draw)}
    if isinstance(document, list) and document and draw(st.booleans()):
        at = draw(st.integers(0, len(document) - 1))
        return [*document[:at], _mangle_json(document[at], draw), *document[at + 1:]]
    return draw(LEAVES)


@pytest.fixture(scope="module")
def secret_documents(tmp_path_factory) -> dict[str, Path]:
    from eth_account import Account

    from fl_node.crypto.threshold import save_share, split_private_key
    from fl_node.transport.keystore import write_keystore

    folder = tmp_path_factory.mktemp("secrets")
    account = Account.create()
    return {
        "keystore": write_keystore(folder / "node.json", account, "pw", scrypt_n=2**10),
        "share": save_share(folder / "custodian-1.share", split_private_key(PRIVATE, 3, 2)[0], "pw", scrypt_n=2**10),
    }


@FUZZ
@given(data=st.data())
def test_a_mangled_keystore_or_share_file_is_refused_with_a_named_error(tmp_path_factory, secret_documents, data) -> None:
    import json

    from fl_node.crypto.threshold import load_share
    from fl_node.errors import KeystoreError
    from fl_node.transport.keystore import load_account
    from incentive.errors import KeyFileError

    kind = data.draw(st.sampled_from(sorted(secret_documents)))
    original = secret_documents[kind].read_bytes()
    if data.draw(st.booleans()):
        content = json.dumps(_mangle_json(json.loads(original), data.draw)).encode()
    else:
        content = bytearray(original)
        position = data.draw(st.integers(0, 8 * len(content) - 1))
        content[position // 8] ^= 1 << (position % 8)
        content = bytes(content)
    path = tmp_path_factory.mktemp("mangled") / secret_documents[kind].name
    path.write_bytes(content)

    load = (lambda p: load_account(p, "pw")) if kind == "keystore" else (lambda p: load_share(p, "pw"))
    try:
        load(path)
    except (KeystoreError, KeyFileError, KeyFormatError) as exc:
        assert str(exc) and "\n" not in str(exc)
    else:  # a change that leaves the key as it was (JSON whitespace, an unused field) may be read
        assert content == original or json.loads(content) != json.loads(original)
    assert path.read_bytes() == content


@FUZZ
@given(text=st.one_of(st.text(max_size=80), st.from_regex(r"(0x)?[0-9a-fA-F]{60,68}\s*", fullmatch=True)))
def test_an_ethereum_key_file_is_read_or_refused(tmp_path_factory, text) -> None:
    from incentive.chain import load_key_file
    from incentive.errors import KeyFileError

    path = tmp_path_factory.mktemp("ethkey") / "node.key"
    path.write_text(text, encoding="utf-8", errors="surrogateescape") if text.isprintable() else path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        account = load_key_file(path)
    except KeyFileError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert account.key.hex() in text.lower().replace("0x", "")
