"""Encrypted Ethereum keystores (eth-account's Web3 Secret Storage) for node operators.

A node's key never sits unencrypted on disk: ``fedledger node keygen`` writes a keystore, and
every process that signs opens it with the passphrase (``$FEDLEDGER_KEY_PASSPHRASE`` or a
prompt). Coordinator keys may also be plain hex key files (``incentive.chain.write_key_file``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keyfile.exceptions import EthKeyfileException

from fl_node.crypto.secret_files import write_secret_file
from fl_node.errors import KeystoreError
from incentive.chain import load_key_file

PASSPHRASE_ENV = "FEDLEDGER_KEY_PASSPHRASE"


def write_keystore(path: Path, account: LocalAccount, passphrase: str, scrypt_n: int | None = None) -> Path:
    """Write ``account`` as an encrypted keystore readable by the owner only (mode 0600, atomic).

    Parameters
    ----------
    path : Path
    account : LocalAccount
    passphrase : str
        Must not be empty.
    scrypt_n : int | None (default: eth-account's 2**18)
        scrypt work factor; smaller values open faster and resist guessing less.
    """
    if not passphrase:
        raise KeystoreError("an empty passphrase would leave the key unprotected")
    path = Path(path)
    if path.exists():
        raise KeystoreError(f"{path} exists; refusing to overwrite a key")
    payload = Account.encrypt(account.key, passphrase, iterations=scrypt_n)
    try:  # mode 0600, folders it creates 0700, written atomically
        return write_secret_file(path, json.dumps(payload).encode(), overwrite=False)
    except FileExistsError:
        raise KeystoreError(f"{path} exists; refusing to overwrite a key") from None


def is_keystore(path: Path) -> bool:
    """Whether ``path`` holds a JSON keystore (as opposed to a hex key file)."""
    try:
        return Path(path).read_text(encoding="utf-8").lstrip().startswith("{")
    except (OSError, UnicodeDecodeError):
        return False


def load_account(path: Path, passphrase: str | None = None) -> LocalAccount:
    """Open a keystore with ``passphrase`` (default: ``$FEDLEDGER_KEY_PASSPHRASE``), or read a hex key file.

    Raises
    ------
    KeystoreError
        Missing or malformed keystore, no passphrase, or a passphrase that does not open it.
    """
    path = Path(path)
    if not path.is_file():
        raise KeystoreError(f"no key file at {path}")
    if not is_keystore(path):
        return load_key_file(path)
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise KeystoreError(f"{path} is encrypted: set {PASSPHRASE_ENV} or enter the passphrase")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        key = Account.decrypt(payload, passphrase)
    except (ValueError, EthKeyfileException) as exc:  # MAC mismatch (wrong passphrase), malformed JSON, unknown cipher or KDF
        raise KeystoreError(f"cannot open keystore {path}: {' '.join(str(exc).split())[:200]}") from None
    except (KeyError, TypeError, AttributeError, OverflowError) as exc:  # a field missing or of the wrong JSON type
        raise KeystoreError(f"{path} is not an Ethereum keystore ({type(exc).__name__}: {exc})") from None
    return Account.from_key(key)
