"""Fuzzing the Flower messages both ends read: a node's reply to the SuperLink, a round plan to a node.

Any record contents Flower can carry are either read as a well-formed submission / plan or
refused with a named one-line error; nothing else escapes the handlers.
"""

from __future__ import annotations

import json

from eth_account import Account
from flwr.app import ConfigRecord, RecordDict
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.errors import FlowerMessageError
from fl_node.hfl.aggregator import Exclusion
from fl_node.hfl.participant import Submission
from fl_node.transport.flower_client import read_plan
from fl_node.transport.flower_server import submission_from_reply

FUZZ = settings(max_examples=60, deadline=None)
ADDRESS = Account.create().address
SCALARS = st.one_of(st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=12), st.binary(max_size=64), st.booleans())
VALUES = st.one_of(SCALARS, st.lists(st.integers(-5, 5), max_size=3), st.lists(st.text(max_size=3), max_size=3),
                   st.sampled_from([ADDRESS, ADDRESS.lower(), "0x" + "zz" * 20, True, False, 0, -1, b"", b"\x00" * 8]))


def _record(fields: dict) -> ConfigRecord:
    return ConfigRecord(dict(fields))


REPLY_FIELDS = st.dictionaries(st.sampled_from(["ok", "address", "blob", "n-samples", "clipped", "train-loss", "error", "junk"]), VALUES, max_size=8)


@FUZZ
@given(fields=REPLY_FIELDS, name=st.sampled_from(["submission", "submission", "other"]))
def test_any_reply_is_a_submission_an_exclusion_or_a_named_error(fields, name) -> None:
    content = RecordDict({name: _record(fields)})
    try:
        result = submission_from_reply(content, "node 7")
    except FlowerMessageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    if isinstance(result, Exclusion):
        assert fields.get("ok") is False and result.reason.startswith("node failed")
        return
    assert isinstance(result, Submission) and fields.get("ok") is True
    assert result.blob == fields["blob"] and len(result.blob) > 0 and result.n_samples >= 1 and result.clipped >= 0


def test_a_well_formed_reply_is_read_and_a_failure_names_the_node() -> None:
    good = {"ok": True, "address": ADDRESS.lower(), "blob": b"\x01\x02", "n-samples": 12, "clipped": 0, "train-loss": 0.5}

    submission = submission_from_reply(RecordDict({"submission": _record(good)}), "node 7")
    failed = submission_from_reply(RecordDict({"submission": _record({"ok": False, "error": "PlanRejected: stale"})}), "node 7")

    assert submission.participant_id == ADDRESS and submission.n_samples == 12 and submission.bytes_up == 2
    assert failed == Exclusion("node 7", "node failed: PlanRejected: stale")


PLAN_FIELDS = st.dictionaries(st.sampled_from(["task", "round", "sample-counts", "spec", "params", "junk"]),
                              st.one_of(VALUES, st.just(json.dumps({ADDRESS: 10})), st.just("[1]"), st.just('{"a": 0}')), max_size=6)


@FUZZ
@given(fields=PLAN_FIELDS, name=st.sampled_from(["plan", "plan", "other"]))
def test_any_plan_is_read_or_refused_with_a_named_error(fields, name) -> None:
    try:
        header, binary = read_plan(RecordDict({name: _record(fields)}))
    except ValueError as exc:
        assert str(exc).startswith("malformed plan") and "\n" not in str(exc)
        return
    assert header["op"] == "train" and isinstance(header["task"], int) and isinstance(header["round"], int)
    assert all(v > 0 for v in json.loads(header["sample-counts"]).values())
    assert set(binary) == {"spec", "params"} and all(isinstance(v, bytes) for v in binary.values())


def test_a_well_formed_plan_is_read() -> None:
    plan = {"task": 1, "round": 4, "sample-counts": json.dumps({ADDRESS: 10}), "spec": b"{}", "params": b"\x00" * 8}

    header, binary = read_plan(RecordDict({"plan": _record(plan)}))

    assert header == {"op": "train", "task": 1, "round": 4, "sample-counts": plan["sample-counts"]}
    assert binary == {"spec": b"{}", "params": b"\x00" * 8}
