"""Artifacts, results and key files are written atomically: a write that fails leaves the old file intact."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account

from fl_node.artifacts import ArtifactStore
from fl_node.cli.app import write_json
from fl_node.clinical import write_clinical_csv
from fl_node.crypto.keys import generate_keypair, save_keypair
from fl_node.crypto.secret_files import write_secret_file
from fl_node.crypto.threshold import save_share, split_private_key
from fl_node.plots import plot_accuracy
from incentive.atomic import write_atomic
from incentive.chain import write_key_file

PUBLIC, PRIVATE = generate_keypair(1024)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


WRITERS = {
    "write_atomic": lambda path: write_atomic(path, b"new bytes"),
    "write_secret_file": lambda path: write_secret_file(path, b"new secret"),
    "write_json (every --json)": lambda path: write_json(path, {"new": True}),
    "write_key_file": lambda path: write_key_file(path, Account.create()),
    "save_keypair (public half)": lambda path: save_keypair(path.with_name("holder.key"), PUBLIC, PRIVATE, passphrase="pw"),
    "save_share": lambda path: save_share(path, split_private_key(PRIVATE, 3, 2)[0], "pw", scrypt_n=2**10),
    "write_clinical_csv": lambda path: write_clinical_csv(path, 5),
    "plot_accuracy": lambda path: plot_accuracy(path, [0.5, 0.6], [0.55, 0.65], title="accuracy"),
}


def _target(tmp_path: Path, name: str) -> Path:
    return tmp_path / ("holder.key.pub" if name.startswith("save_keypair") else "file")


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch, name: str) -> None:
    target = _target(tmp_path, name)
    target.write_bytes(b"old contents")
    before = set(tmp_path.iterdir())
    monkeypatch.setattr(os, "fsync", _disk_full)

    with pytest.raises(OSError, match="No space"):
        WRITERS[name](target)

    assert target.read_bytes() == b"old contents"
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("name", list(WRITERS))
def test_a_write_that_succeeds_replaces_the_file(tmp_path: Path, name: str) -> None:
    target = _target(tmp_path, name)
    target.write_bytes(b"old contents")

    WRITERS[name](target)

    assert target.read_bytes() != b"old contents" and target.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_secret_files_are_owner_only_and_the_store_never_holds_half_a_blob(tmp_path: Path, monkeypatch) -> None:
    write_key_file(tmp_path / "eth.key", Account.create())
    assert stat.S_IMODE((tmp_path / "eth.key").stat().st_mode) == 0o600
    store = ArtifactStore(tmp_path / "store")
    blob = np.arange(10, dtype="<f4").tobytes()
    monkeypatch.setattr(os, "replace", _disk_full)

    with pytest.raises(OSError):
        store.put(blob)

    assert list((tmp_path / "store").iterdir()) == []
