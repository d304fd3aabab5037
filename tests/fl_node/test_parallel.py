"""The codec's worker pool: workers do not outlive a parent killed without a shutdown."""

import os
import signal
import subprocess
import sys
import time

from fl_node.crypto.parallel import ORPHAN_CHECK_S

PARENT = """
import os, time
from fl_node.crypto.parallel import WorkerPool
pool = WorkerPool(2)
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_their_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert _alive(worker)

    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10 * ORPHAN_CHECK_S
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not _alive(worker)
