"""Writing secrets to disk: owner-only modes set explicitly, atomic replacement.

A secret file (a private key, a passphrase, a keystore) is written to a temporary file in the
same folder, created with mode 0600 and set to 0600 explicitly (whatever the umask), flushed to
disk, then renamed over the target: a reader sees the old file or the new one, never a part, and
an existing file of another mode (e.g. an old 0644 key) is replaced by a 0600 one, not rewritten
in place. Folders the write creates get mode 0700.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_secret_file", "make_private_dir", "FILE_MODE", "DIR_MODE"]

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` and its missing parents with mode 0700 (set explicitly); existing folders keep their mode."""
    folder = Path(folder)
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for created in reversed(missing):
        created.mkdir(mode=DIR_MODE)
        os.chmod(created, DIR_MODE)
    return folder


def write_secret_file(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` with mode 0600, atomically.

    Parameters
    ----------
    path : str | PathLike
    data : bytes
    overwrite : bool (default: True)
        False refuses an existing ``path`` (``FileExistsError``), also when one appears during the write.
    """
    path = Path(path)
    make_private_dir(path.parent)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite it")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if path appeared meanwhile
            os.unlink(temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:  # likewise: the file itself was synced before the rename
        pass
    finally:
        os.close(fd)
