"""What a set of started processes and all their descendants hold right now: how many, and their resident memory.

``consortium local`` samples this while the federation runs and reports the peaks, so the
cost of many SuperNodes on one machine is measured, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fl_node.transport.processes import process_table


@dataclass(frozen=True)
class Footprint:
    """Live processes (the roots and every descendant) and the sum of their resident memory."""

    processes: int
    rss_mib: float


def descendants(roots: Iterable[int]) -> set[int]:
    """``roots`` (those alive) and every live descendant of them."""
    children: dict[int, list[int]] = {}
    alive = set()
    for pid, ppid, _, _ in process_table():
        children.setdefault(ppid, []).append(pid)
        alive.add(pid)
    found = {pid for pid in roots if pid in alive}
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def resident_kib(pid: int) -> int:
    """``VmRSS`` of ``pid`` in KiB (0 when it is gone or has none)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def footprint(roots: Iterable[int]) -> Footprint:
    """The :class:`Footprint` of ``roots`` and their descendants now."""
    pids = descendants(roots)
    return Footprint(len(pids), sum(resident_kib(pid) for pid in pids) / 1024)
