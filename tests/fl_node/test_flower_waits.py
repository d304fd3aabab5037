"""Flower's hard-coded waits, shortened: the SuperNode a node launches really pulls at its poll interval
(counted at a real SuperLink), and the ServerApp's Grid sleeps and backs off no longer than the interval."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

import flwr.superlink.grid.http_grid as http_grid
import pytest

from fl_node.errors import TransportProcessError
from fl_node.transport.deployment import SUPERNODE_PROGRAM, flower_env, start_superlink, supernode_command
from fl_node.transport.flower_waits import CappedTime, main, shorten_grid_waits, shorten_waits
from fl_node.transport.processes import LOOPBACK, ProcessGroup, free_port

#: A SuperLink at DEBUG logs each SuperNode pull with its time stamp.
PULL_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\S*:\s+\[Fleet\.PullMessages\] node_id=")
FLOWER_IDLE_SLEEP_S = 3.0


def test_capped_time_sleeps_at_most_its_cap_and_is_the_time_module_otherwise() -> None:
    clock = CappedTime(0.05)

    start = time.monotonic()
    clock.sleep(3)
    assert time.monotonic() - start < 1.0
    assert clock.monotonic() >= start and clock.time() == pytest.approx(time.time(), abs=5)


def test_the_grids_sleeps_and_object_back_off_are_shortened(monkeypatch) -> None:
    monkeypatch.setattr(http_grid, "time", http_grid.time)  # restored after the test
    monkeypatch.setattr(http_grid, "pull_objects", http_grid.pull_objects)

    shorten_grid_waits(0.05)

    start = time.monotonic()
    http_grid.time.sleep(3)  # what `send_and_receive` sleeps between pulls
    assert time.monotonic() - start < 1.0
    assert http_grid.pull_objects.keywords == {"initial_backoff": 0.05, "backoff_cap": 0.05, "max_tries_per_object": None}


def test_a_flower_that_keeps_its_waits_elsewhere_is_refused_not_ignored() -> None:
    with pytest.raises(TransportProcessError, match="no `time` module binding"):
        shorten_waits(ModuleType("moved"), 0.2)
    with pytest.raises(ValueError, match="at most 3 s"):
        shorten_grid_waits(5.0)


def test_the_supernode_command_runs_flowers_supernode_through_the_launcher() -> None:
    cmd = supernode_command("10.0.0.1:9092", 9094, {}, poll_interval_s=0.15)

    assert cmd[1:6] == ["-m", "fl_node.transport.flower_waits", "--poll-interval", "0.15", SUPERNODE_PROGRAM]
    assert cmd[cmd.index("--superlink") + 1] == "10.0.0.1:9092"
    with pytest.raises(ValueError, match="above 0"):
        supernode_command("10.0.0.1:9092", 9094, {}, poll_interval_s=0)
    with pytest.raises(SystemExit, match="usage"):
        main(["--poll-interval", "0.2", "flower-superlink"])


def _pull_times(log_path: Path) -> list[float]:
    text = log_path.read_text(errors="replace")
    return [datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp() for stamp in PULL_LINE.findall(text)]


@pytest.mark.slow
def test_a_launched_supernode_pulls_at_its_poll_interval_not_flowers_3_s(tmp_path: Path) -> None:
    pulls_wanted = 6
    env = flower_env(tmp_path / "flwr-home", {"FLWR_LOG_LEVEL": "DEBUG"})
    with ProcessGroup() as group:
        port = free_port()
        start_superlink(group, port, tmp_path / "state.db", tmp_path / "superlink.log", env)
        cmd = supernode_command(f"{LOOPBACK}:{port}", free_port(), {}, poll_interval_s=0.2)
        supernode = group.start("supernode", cmd, tmp_path / "supernode.log", env)
        deadline = time.monotonic() + 120  # start-up of a Python process with Flower, on a loaded machine
        while len(pulls := _pull_times(tmp_path / "superlink.log")) < pulls_wanted:
            assert supernode.alive(), supernode.log_tail()
            assert time.monotonic() < deadline, f"{len(pulls)} pulls in 120 s"
            time.sleep(0.1)

    span = pulls[pulls_wanted - 1] - pulls[0]
    # Flower's own loop needs at least 5 × 3 s for these pulls; at 0.2 s they take about 1 s, a few under load
    assert span < (pulls_wanted - 1) * FLOWER_IDLE_SLEEP_S / 2, f"{pulls_wanted} pulls took {span:.1f} s"
