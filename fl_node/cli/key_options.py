"""The option that names a Paillier private key's passphrase file, shared by the commands that read a key."""

from __future__ import annotations

from pathlib import Path

import typer

from fl_node.crypto.keys import PASSPHRASE_ENV, read_passphrase_file

KeyPassphraseFileOption = typer.Option(
    None,
    "--key-passphrase-file",
    dir_okay=False,
    help=f"File holding the private key's passphrase (default: KEY.passphrase beside the key, else ${PASSPHRASE_ENV}).",
)


def key_passphrase(path: Path | None) -> bytes | None:
    """The passphrase in ``path``, or None to let the key loader use its defaults."""
    return read_passphrase_file(path) if path is not None else None
