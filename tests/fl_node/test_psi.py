"""ECDH PSI: exact intersections, duplicate IDs, what crosses the wire, malformed peers."""

from __future__ import annotations

import hashlib
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fl_node.errors import DuplicateIDError, VFLProtocolError, VFLTransportError
from fl_node.twoparty.channel import LocalHub
from fl_node.twoparty.psi import DOUBLE_BYTES, NONCE_BYTES, POINT_BYTES, EcdhPsi, hash_to_curve, session_salt
from fl_node.twoparty.runner import run_threads

GUEST, HOST = "guest", "host"


class _Side:
    """A PSI party for the runner: role + run(channel, progress)."""

    def __init__(self, role: str, peer: str, ids: list[str], workers: int = 1) -> None:
        self.role, self.peer, self.ids, self.workers = role, peer, ids, workers

    def run(self, channel, progress=None) -> list[str]:
        return EcdhPsi(channel, self.peer, workers=self.workers).run(self.ids)


def _psi(guest_ids: list[str], host_ids: list[str], *, workers: int = 1, hub: LocalHub | None = None) -> tuple[list[str], list[str]]:
    reports = run_threads({GUEST: _Side(GUEST, HOST, guest_ids, workers), HOST: _Side(HOST, GUEST, host_ids, workers)}, hub=hub)
    return reports[GUEST], reports[HOST]


@pytest.mark.parametrize(
    ("guest_ids", "host_ids"),
    [
        ([], []),
        ([], ["a", "b"]),
        (["a", "b", "c"], ["x", "y"]),
        (["a", "b", "c"], ["c", "b", "a"]),
        (["1", "2", "3", "4"], ["3", "4", "5"]),
        (["only-one"], ["only-one"]),
    ],
    ids=["both-empty", "one-empty", "disjoint", "identical", "partial", "single"],
)
def test_intersection_is_exact_on_edge_cases(guest_ids: list[str], host_ids: list[str]) -> None:
    expected = sorted(set(guest_ids) & set(host_ids))

    guest_view, host_view = _psi(guest_ids, host_ids)

    assert guest_view == expected
    assert host_view == expected


@settings(max_examples=15, deadline=None)
@given(
    st.sets(st.text(min_size=0, max_size=12), max_size=40),
    st.sets(st.text(min_size=0, max_size=12), max_size=40),
    st.sets(st.text(min_size=1, max_size=12), max_size=20),
)
def test_intersection_is_exact_on_random_sets(guest_only: set[str], host_only: set[str], shared: set[str]) -> None:
    guest_ids = sorted(guest_only | shared)
    host_ids = sorted(host_only | shared)
    random.Random(0).shuffle(host_ids)

    guest_view, host_view = _psi(guest_ids, host_ids)

    expected = sorted(set(guest_ids) & set(host_ids))
    assert guest_view == expected and host_view == expected


def test_large_sets_use_worker_threads_and_stay_exact() -> None:
    guest_ids = [f"user-{i}" for i in range(0, 6000)]
    host_ids = [f"user-{i}" for i in range(3000, 9000)]

    guest_view, host_view = _psi(guest_ids, host_ids, workers=2)

    expected = sorted(set(guest_ids) & set(host_ids))
    assert len(expected) == 3000
    assert guest_view == expected and host_view == expected


def test_duplicate_ids_are_refused_with_the_offending_id() -> None:
    with pytest.raises(DuplicateIDError, match="'b'"):
        _psi(["a", "b", "b"], ["a", "b"])


def test_no_party_receives_the_others_raw_or_hashed_ids() -> None:
    guest_ids = [f"guest-only-{i}" for i in range(30)] + [f"shared-{i}" for i in range(10)]
    host_ids = [f"host-only-{i}" for i in range(25)] + [f"shared-{i}" for i in range(10)]
    hub = LocalHub([GUEST, HOST], record=True)

    _psi(guest_ids, host_ids, hub=hub)

    nonces = {m.sender: m.payload for m in hub.messages if m.tag == "psi/nonce"}
    salt = session_salt(nonces)
    for sender, sender_ids in ((GUEST, guest_ids), (HOST, host_ids)):
        received = b"".join(m.payload for m in hub.messages if m.sender == sender)
        for value in sender_ids:
            point = hash_to_curve(salt, value)
            forms = [
                value.encode(),
                hashlib.sha256(value.encode()).digest(),
                point.format(compressed=True)[1:],  # x-coordinate
                point.format(compressed=False)[33:],  # y-coordinate
            ]
            assert not any(form in received for form in forms), f"{sender} leaked {value!r}"
    sizes = {(m.sender, m.tag): len(m.payload) for m in hub.messages}
    assert sizes[(GUEST, "psi/blinded")] == POINT_BYTES * len(guest_ids)
    assert sizes[(HOST, "psi/double")] == DOUBLE_BYTES * len(guest_ids)
    assert sizes[(GUEST, "psi/nonce")] == NONCE_BYTES


def test_blinded_values_differ_between_sessions() -> None:
    ids = ["a", "b", "c"]
    runs = []
    for _ in range(2):
        hub = LocalHub([GUEST, HOST], record=True)
        _psi(ids, ids, hub=hub)
        runs.append(next(m.payload for m in hub.messages if m.sender == GUEST and m.tag == "psi/blinded"))

    first, second = ({run[i : i + POINT_BYTES] for i in range(0, len(run), POINT_BYTES)} for run in runs)
    assert not first & second


def test_a_peer_sending_non_points_gets_a_protocol_error() -> None:
    hub = LocalHub([GUEST, HOST])
    host = hub.channel(HOST)
    errors: list[BaseException] = []

    def guest() -> None:
        try:
            EcdhPsi(hub.channel(GUEST), HOST, workers=1).run(["a", "b"])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=guest)
    thread.start()
    host.send(GUEST, "psi/nonce", bytes(NONCE_BYTES))
    host.recv(GUEST, "psi/nonce")
    host.send(GUEST, "psi/blinded", b"\x04" + bytes(POINT_BYTES - 1))
    thread.join(timeout=30)

    assert len(errors) == 1 and isinstance(errors[0], VFLProtocolError)
    assert "not a secp256k1 point" in str(errors[0])


def test_a_truncated_message_is_a_protocol_error_and_a_silent_peer_times_out() -> None:
    hub = LocalHub([GUEST, HOST], timeout=0.5)
    host = hub.channel(HOST)
    host.send(GUEST, "psi/nonce", b"short")

    with pytest.raises(VFLProtocolError, match="nonce"):
        EcdhPsi(hub.channel(GUEST), HOST, workers=1).run(["a"])
    with pytest.raises(VFLTransportError, match="within 0.5 s"):
        EcdhPsi(hub.channel(GUEST), HOST, workers=1).run(["a"])
