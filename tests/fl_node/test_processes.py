"""Stopping a command's processes: all at once within one grace period, every descendant gone, every wait bounded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fl_node.transport.processes import ProcessGroup, kill_until_gone, process_table

#: Takes ``delay`` seconds to exit on SIGTERM (-1: ignores it), after forking a child that outlives it.
SLOW_TO_STOP = """
import os, signal, sys, time
delay = float(sys.argv[1])
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(120)
    os._exit(0)
if delay < 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: (time.sleep(delay), os._exit(0)))
print("ready", flush=True)
time.sleep(120)
"""


def _start(group: ProcessGroup, tmp_path: Path, delays: list[float]) -> list[int]:
    """Start one SLOW_TO_STOP per delay; wait (bounded) until each has set its handler."""
    for k, delay in enumerate(delays):
        group.start(f"slow {k}", [sys.executable, "-c", SLOW_TO_STOP, str(delay)], tmp_path / f"slow-{k}.log")
    deadline = time.monotonic() + 60
    while not all("ready" in (tmp_path / f"slow-{k}.log").read_text() for k in range(len(delays))):
        assert time.monotonic() < deadline, "the test processes did not start within 60 s"
        time.sleep(0.05)
    return [p.pid for p in group.processes]


def _left(leaders: list[int]) -> list[int]:
    return [pid for pid, _, pgrp, sid in process_table() if pgrp in leaders or sid in leaders]


def test_processes_slow_to_stop_are_stopped_together_not_one_after_another(tmp_path: Path) -> None:
    group = ProcessGroup()
    leaders = _start(group, tmp_path, [3.0, 3.0, 3.0])

    start = time.monotonic()
    group.stop_all(grace_s=20.0)
    took = time.monotonic() - start

    assert took < 6.0, f"took {took:.1f} s; one after another it takes 9 s or more"
    assert _left(leaders) == []  # the forked children outlived their leaders' exit: killed too


def test_processes_ignoring_sigterm_are_killed_after_one_shared_grace_period(tmp_path: Path) -> None:
    group = ProcessGroup()
    leaders = _start(group, tmp_path, [-1, -1, -1])

    start = time.monotonic()
    group.stop_all(grace_s=3.0)
    took = time.monotonic() - start

    assert 3.0 <= took < 6.0, f"took {took:.1f} s; one grace period each would take 9 s or more"
    assert _left(leaders) == []


def test_killing_until_gone_waits_for_quiet_checks_in_a_row_and_gives_up_in_time() -> None:
    gone = 2**22 + 7  # above any pid_max: never a live process
    answers = [[], [gone], [], []]
    calls: list[list[int]] = []

    def find() -> list[int]:
        calls.append(answers[len(calls)])
        return calls[-1]

    kill_until_gone(find, "flapping", timeout_s=10.0, quiet_checks=2)
    assert len(calls) == 4  # the first quiet check alone was not enough

    start = time.monotonic()
    kill_until_gone(lambda: [gone], "a pid that is always found", timeout_s=0.3)
    assert time.monotonic() - start < 2.0
