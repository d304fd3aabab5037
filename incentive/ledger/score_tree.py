"""The Merkle tree of a round's scores, as a ledger deployed with Merkle scores builds it.

Leaf ``i``: OpenZeppelin's standard leaf of ``abi.encode(roundId, i, score, dropped)`` (the
encoding hashed twice). Each level hashes pairs in sorted order (``Hashes.commutativeKeccak256``,
what ``MerkleProof`` verifies); the last node of an odd level is carried up unchanged. The
ledger computes the root itself at finalize; this mirror gives each participant its proof and
lets an auditor recompute the root from the emitted scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import encode
from eth_utils import keccak

from incentive.ledger.events import ScoreCommitted, ScoresCommitted


def score_leaf(round_id: int, index: int, score: int, dropped: bool) -> bytes:
    """The leaf of participant ``index`` of round ``round_id``."""
    return keccak(keccak(encode(["uint256", "uint256", "int256", "bool"], [round_id, index, score, dropped])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    if not leaves:
        raise ValueError("a score tree needs at least one leaf")
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        parents = [_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parents.append(level[-1])
        levels.append(parents)
    return levels


class ScoreTree:
    """The score tree of one round.

    Parameters
    ----------
    round_id : int
        The round.
    scores : Sequence[int]
        Fixed-point scores in commit order.
    dropped : Sequence[bool]
        Per participant: dropped out (or excluded).
    """

    def __init__(self, round_id: int, scores: Sequence[int], dropped: Sequence[bool]):
        if len(scores) != len(dropped):
            raise ValueError(f"{len(scores)} scores but {len(dropped)} dropout flags")
        self.round_id = round_id
        self.scores = tuple(int(s) for s in scores)
        self.dropped = tuple(bool(d) for d in dropped)
        leaves = [score_leaf(round_id, i, s, d) for i, (s, d) in enumerate(zip(self.scores, self.dropped))]
        self._levels = _levels(leaves)

    @property
    def root(self) -> bytes:
        """The root the ledger stores for the round."""
        return self._levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` to the root (levels where it has none are skipped)."""
        if not 0 <= index < len(self.scores):
            raise IndexError(f"round {self.round_id} has no participant {index}")
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof


def score_tree_of(round_id: int, scores: Sequence[ScoreCommitted], root: ScoresCommitted) -> ScoreTree:
    """The tree a round's ``ScoreCommitted`` events (in index order) and ``ScoresCommitted`` describe.

    Raises
    ------
    ValueError
        The indices are not 0, 1, ... in order, or the rebuilt root is not the emitted one.
    """
    if [ev.index for ev in scores] != list(range(len(scores))):
        raise ValueError(f"round {round_id}: score indices {[ev.index for ev in scores]} are not 0..{len(scores) - 1}")
    words = root.dropped
    dropped = [i // 256 < len(words) and bool(words[i // 256] >> (i % 256) & 1) for i in range(len(scores))]
    tree = ScoreTree(round_id, [ev.score for ev in scores], dropped)
    if "0x" + tree.root.hex() != root.scores_root:
        raise ValueError(f"round {round_id}: the emitted scores give root 0x{tree.root.hex()}, not {root.scores_root}")
    return tree
