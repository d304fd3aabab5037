"""`fedledger demo --explorer` serves the finished demo's ledger from the embedded chain until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from incentive.chain import free_port

pytestmark = pytest.mark.slow

FEDLEDGER = [sys.executable, "-c", "from fl_node.cli import main; main()"]


def test_demo_with_explorer_serves_its_ledger_until_interrupted(tmp_path):
    port = free_port()
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [*FEDLEDGER, "demo", "--nodes", "3", "--free-riders", "1", "--label-flippers", "0", "--rounds", "1",
         "--key-bits", "1024", "--out", str(tmp_path / "demo"), "--explorer", "--explorer-port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        page = None
        deadline = time.monotonic() + 300
        while page is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/members.html", timeout=10) as response:
                    page = response.read().decode()
            except (urllib.error.URLError, OSError):
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.5)
        assert page is not None
        assert all(f"Hospital {letter}" in page for letter in "ABC")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/round-1.html", timeout=30) as response:
            assert "finalized" in response.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 0, stderr
    assert f"on http://127.0.0.1:{port}/" in stdout
