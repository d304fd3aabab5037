"""Private key files at rest: encrypted under a passphrase, mode 0600 (also over an old 0644 file), folders 0700, atomic."""

from __future__ import annotations

import os
import stat

import pytest
from eth_account import Account

from fl_node.cli.app import main
from fl_node.crypto.keys import (
    PASSPHRASE_ENV,
    check_public_key_bits,
    generate_keypair,
    load_private_key,
    load_public_key,
    private_key_to_bytes,
    read_passphrase_file,
    save_keypair,
)
from fl_node.errors import KeyFormatError, KeystoreError
from fl_node.transport.keystore import load_account, write_keystore


@pytest.fixture(scope="module")
def keypair():
    return generate_keypair(1024)


@pytest.fixture(autouse=True)
def _no_passphrase_in_the_environment(monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _int_bytes(value: int) -> bytes:
    return int(value).to_bytes((int(value).bit_length() + 7) // 8, "big")


def test_the_key_file_is_unreadable_without_its_passphrase(tmp_path, keypair) -> None:
    pk, sk = keypair

    path, _ = save_keypair(tmp_path / "keys" / "holder.key", pk, sk, passphrase="correct horse battery staple")

    data = path.read_bytes()
    assert _int_bytes(sk.p) not in data and _int_bytes(sk.q) not in data
    with pytest.raises(KeyFormatError, match=f"is encrypted: give its passphrase with --key-passphrase-file or \\${PASSPHRASE_ENV}"):
        load_private_key(path)
    with pytest.raises(KeyFormatError, match="wrong passphrase") as wrong:
        load_private_key(path, passphrase="correct horse battery stapler")
    assert len(str(wrong.value).splitlines()) == 1
    assert load_private_key(path, passphrase="correct horse battery staple").p == sk.p
    assert load_public_key(path) == pk  # the modulus is public and stored beside the ciphertext


def test_overwriting_a_0644_key_file_leaves_a_0600_one_in_a_0700_folder(tmp_path, keypair) -> None:
    pk, sk = keypair
    folder = tmp_path / "out" / "keys"
    folder.mkdir(parents=True, mode=0o755)
    os.chmod(folder, 0o755)
    old = folder / "holder.key"
    old.write_bytes(private_key_to_bytes(sk))
    os.chmod(old, 0o644)

    save_keypair(old, pk, sk, passphrase="s3cret")
    save_keypair(tmp_path / "fresh" / "keys" / "holder.key", pk, sk, passphrase="s3cret")

    assert _mode(old) == 0o600
    assert _mode(tmp_path / "fresh") == 0o700 and _mode(tmp_path / "fresh" / "keys") == 0o700
    assert _mode(tmp_path / "fresh" / "keys" / "holder.key") == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["holder.key", "holder.key.pub"]  # no temporary file left
    assert load_private_key(old, passphrase="s3cret").q == sk.q


def test_without_a_passphrase_a_random_one_is_written_beside_the_key(tmp_path, keypair) -> None:
    pk, sk = keypair

    path, _ = save_keypair(tmp_path / "holder.key", pk, sk)

    beside = tmp_path / "holder.key.passphrase"
    assert _mode(beside) == 0o600 and len(read_passphrase_file(beside)) >= 40
    assert load_private_key(path).p == sk.p
    alone = tmp_path / "copied" / "holder.key"
    alone.parent.mkdir()
    alone.write_bytes(path.read_bytes())
    with pytest.raises(KeyFormatError, match="is encrypted"):
        load_private_key(alone)


def test_the_passphrase_comes_from_the_environment(tmp_path, keypair, monkeypatch) -> None:
    pk, sk = keypair
    save_keypair(tmp_path / "holder.key", pk, sk)  # an earlier key at this path, with a random passphrase beside it
    monkeypatch.setenv(PASSPHRASE_ENV, "from the environment")

    path, _ = save_keypair(tmp_path / "holder.key", pk, sk)

    assert not (tmp_path / "holder.key.passphrase").exists()
    assert load_private_key(path).p == sk.p
    monkeypatch.setenv(PASSPHRASE_ENV, "another one")
    with pytest.raises(KeyFormatError, match="wrong passphrase"):
        load_private_key(path)


def test_altered_and_clear_text_key_files_are_refused(tmp_path, keypair) -> None:
    pk, sk = keypair
    path, _ = save_keypair(tmp_path / "holder.key", pk, sk, passphrase="pw")
    data = bytearray(path.read_bytes())
    data[-20] ^= 1
    path.write_bytes(bytes(data))
    clear = tmp_path / "clear.key"
    clear.write_bytes(private_key_to_bytes(sk))

    with pytest.raises(KeyFormatError, match="wrong passphrase for the private key \\(or the key file was altered\\)"):
        load_private_key(path, passphrase="pw")
    with pytest.raises(KeyFormatError, match="holds a private key in the clear"):
        load_private_key(clear, passphrase="pw")
    with pytest.raises(KeyFormatError, match="empty passphrase"):
        save_keypair(tmp_path / "other.key", pk, sk, passphrase="")


def test_a_public_key_must_have_exactly_the_task_key_bits(keypair) -> None:
    small, _ = generate_keypair(256)

    with pytest.raises(KeyFormatError, match="spec public key has 256 bits, the task's key_bits is 1024"):
        check_public_key_bits(small, 1024, who="spec public key")
    assert check_public_key_bits(keypair[0], 1024) is keypair[0]


def test_node_keystores_are_encrypted_0600_in_a_0700_folder(tmp_path) -> None:
    account = Account.create()

    path = write_keystore(tmp_path / "node" / "keystore.json", account, "node passphrase", scrypt_n=2**10)

    assert _mode(path) == 0o600 and _mode(tmp_path / "node") == 0o700
    assert account.key.hex().removeprefix("0x") not in path.read_text()
    assert load_account(path, "node passphrase").address == account.address
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        write_keystore(path, account, "node passphrase", scrypt_n=2**10)


def test_train_reads_a_key_with_its_passphrase_file_and_refuses_a_wrong_one_in_one_line(tmp_path, keypair, capsys) -> None:
    pk, sk = keypair
    path, _ = save_keypair(tmp_path / "holder.key", pk, sk, passphrase="right")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("wrong\n")

    with pytest.raises(SystemExit) as exited:
        main(["train", "--key", str(path), "--key-passphrase-file", str(wrong), "--rounds", "1", "--nodes", "3"])

    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "wrong passphrase" in err and len(err.splitlines()) == 1
