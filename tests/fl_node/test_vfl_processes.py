"""Guest, host and arbiter as real OS processes over gRPC on loopback; the gRPC transport itself."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.errors import EmptyIntersectionError, VFLTransportError
from fl_node.twoparty.channel import GrpcEndpoint
from fl_node.twoparty.tables import PartyData
from fl_node.vfl.data import breast_cancer_vertical
from fl_node.vfl.demo import run_vfl
from fl_node.vfl.hetero_lr import HeteroLRConfig
from fl_node.vfl.parties import VFLConfig


def test_three_processes_train_exactly_like_threads() -> None:
    split = breast_cancer_vertical(0.8, seed=1)
    config = VFLConfig(lr=HeteroLRConfig(key_bits=1024, max_iter=3, tol=0.0), split_seed=1)
    seen: list[tuple[int, float]] = []

    over_grpc = run_vfl(split.guest, split.host, config, processes=True, progress=lambda i, loss, s: seen.append((i, loss)))
    in_process = run_vfl(split.guest, split.host, config)

    assert over_grpc.intersection_size == split.expected_intersection
    assert over_grpc.iterations == 3 and not over_grpc.converged
    assert [i for i, _ in seen] == [0, 1, 2]
    np.testing.assert_allclose([loss for _, loss in seen], over_grpc.loss)
    np.testing.assert_allclose(over_grpc.loss, in_process.loss, rtol=0, atol=1e-12)
    assert over_grpc.auc == pytest.approx(in_process.auc, abs=1e-12)


def test_a_party_error_in_a_process_reaches_the_caller() -> None:
    guest = PartyData(ids=("a", "b"), features=np.zeros((2, 1)), feature_names=("f",), labels=np.array([0, 1]), name="guest")
    host = PartyData(ids=("c", "d"), features=np.zeros((2, 1)), feature_names=("g",), name="host")

    with pytest.raises(EmptyIntersectionError, match="share no sample IDs"):
        run_vfl(guest, host, VFLConfig(lr=HeteroLRConfig(key_bits=1024)), processes=True)


def test_grpc_endpoints_deliver_large_messages_in_order() -> None:
    first, second = GrpcEndpoint("first", timeout=5), GrpcEndpoint("second", timeout=0.5)
    try:
        book = {"first": first.address, "second": second.address}
        first.connect(book)
        second.connect(book)
        big = bytes(range(256)) * 40_000  # 10 MB, above gRPC's 4 MB default

        first.send("second", "t", b"one")
        first.send("second", "t", big)
        second.send("first", "u", b"back")

        assert first.address.startswith("127.0.0.1:")
        assert second.recv("first", "t") == b"one"
        assert second.recv("first", "t") == big
        assert first.recv("second", "u") == b"back"
        with pytest.raises(VFLTransportError, match="within 0.5 s"):
            second.recv("first", "t")
        with pytest.raises(VFLTransportError, match="no address"):
            first.send("third", "t", b"")
    finally:
        first.close()
        second.close()
