"""Writing a file atomically: a temporary file in the same folder, flushed to disk, renamed over the target.

A reader sees the old file or the new one, never half of either; a write that fails (disk full,
killed process) leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8) atomically, with permissions ``mode``.

    Parameters
    ----------
    path : str | PathLike
        The target; its folder is created when missing.
    data : bytes | str
    mode : int (default: 0o644)
        0o600 for anything secret: the file never exists with wider permissions.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
