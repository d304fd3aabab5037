"""Content-addressed artifact store: a directory whose files are named by the keccak256 of their bytes.

Participants put their encrypted-update blobs here and commit the same hash on chain; the
aggregator and any auditor fetch a blob by the hash they read from the ledger and check it.
"""

from __future__ import annotations

from pathlib import Path

from eth_hash.auto import keccak

from fl_node.errors import ArtifactError
from incentive.atomic import write_atomic


def content_hash(data: bytes) -> bytes:
    """Return the 32-byte keccak256 digest used for commitments and file names."""
    return keccak(data)


class ArtifactStore:
    """Blobs in one directory, each stored as ``<hex hash>.bin``.

    Parameters
    ----------
    root : Path
        The directory; created when missing.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, digest: bytes) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        if len(digest) != 32:
            raise ArtifactError(f"a content hash has 32 bytes, got {len(digest)}")
        return self.root / f"{digest.hex()}.bin"

    def put(self, data: bytes) -> bytes:
        """Store ``data`` atomically and return its digest (idempotent)."""
        digest = content_hash(data)
        target = self.path_for(digest)
        if not target.exists():
            write_atomic(target, data)
        return digest

    def has(self, digest: bytes) -> bool:
        """Whether a blob with this digest is stored."""
        return self.path_for(digest).exists()

    def get(self, digest: bytes) -> bytes:
        """Return the blob whose keccak256 is ``digest``; a missing or altered file raises ArtifactError."""
        target = self.path_for(digest)
        if not target.exists():
            raise ArtifactError(f"no artifact 0x{digest.hex()} in {self.root}")
        data = target.read_bytes()
        if content_hash(data) != digest:
            raise ArtifactError(f"artifact 0x{digest.hex()} in {self.root} does not match its hash (altered file)")
        return data
