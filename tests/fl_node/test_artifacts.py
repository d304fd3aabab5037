"""The content-addressed artifact store: put/get round trip, tamper and absence detection."""

import pytest

from fl_node.artifacts import ArtifactStore, content_hash
from fl_node.errors import ArtifactError


def test_put_returns_keccak_and_get_round_trips(tmp_path):
    store = ArtifactStore(tmp_path / "blobs")

    digest = store.put(b"encrypted update")

    assert digest == content_hash(b"encrypted update")
    assert len(digest) == 32
    assert store.get(digest) == b"encrypted update"
    assert store.has(digest)


def test_put_is_idempotent(tmp_path):
    store = ArtifactStore(tmp_path)

    first = store.put(b"x" * 100)
    second = store.put(b"x" * 100)

    assert first == second
    assert len(list(tmp_path.glob("*.bin"))) == 1


def test_altered_blob_is_rejected_by_name(tmp_path):
    store = ArtifactStore(tmp_path)
    digest = store.put(b"original bytes")
    path = store.path_for(digest)
    path.write_bytes(b"original bytez")

    with pytest.raises(ArtifactError, match="does not match its hash"):
        store.get(digest)


def test_missing_blob_and_bad_digest(tmp_path):
    store = ArtifactStore(tmp_path)

    with pytest.raises(ArtifactError, match="no artifact"):
        store.get(b"\x00" * 32)
    with pytest.raises(ArtifactError, match="32 bytes"):
        store.path_for(b"\x01\x02")
