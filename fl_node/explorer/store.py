"""Read-only look-ups in a federation's artifact store: is a blob there, and does it match its hash.

The explorer never writes: it opens a store only when the folder exists (``ArtifactStore``
would create a missing one) and answers "missing" or "altered" in words instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from fl_node.artifacts import ArtifactStore, content_hash
from incentive.ledger import to_bytes32


class BlobState(str, Enum):
    """What the store holds for one hash."""

    PRESENT = "present"
    MISSING = "missing"
    ALTERED = "altered"
    NO_STORE = "no store"


@dataclass(frozen=True)
class BlobStatus:
    """A hash, what the store holds for it, and the file when it is present and intact."""

    digest: str
    state: BlobState
    path: Path | None = None
    size: int = 0

    @property
    def ok(self) -> bool:
        return self.state is BlobState.PRESENT


class ReadOnlyStore:
    """A content-addressed artifact store opened for reading only.

    Parameters
    ----------
    root : Path | None
        The store's folder; ``None`` (no store given) answers :attr:`BlobState.NO_STORE`.
    """

    def __init__(self, root: Path | None):
        self.root = Path(root) if root is not None else None
        self._store = ArtifactStore(self.root) if self.root is not None and self.root.is_dir() else None
        self._checked: dict[tuple[str, int, int], bool] = {}

    @property
    def available(self) -> bool:
        """Whether a store folder was given and exists."""
        return self._store is not None

    @property
    def store(self) -> ArtifactStore | None:
        """The underlying store (for the audit), or ``None``."""
        return self._store

    def status(self, digest_hex: str) -> BlobStatus:
        """Whether the blob named by ``digest_hex`` is stored and hashes to it (hash checks cached by file size and time)."""
        if self._store is None:
            return BlobStatus(digest_hex, BlobState.NO_STORE)
        digest = to_bytes32(digest_hex)
        path = self._store.path_for(digest)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return BlobStatus(digest_hex, BlobState.MISSING)
        key = (digest_hex, stat.st_size, stat.st_mtime_ns)
        if key not in self._checked:
            self._checked[key] = content_hash(path.read_bytes()) == digest
        state = BlobState.PRESENT if self._checked[key] else BlobState.ALTERED
        return BlobStatus(digest_hex, state, path if state is BlobState.PRESENT else None, stat.st_size)

    def read(self, digest_hex: str) -> bytes | None:
        """The blob's bytes when present and intact, else ``None``."""
        status = self.status(digest_hex)
        return status.path.read_bytes() if status.path is not None else None
