"""A process pool for the codec's big-integer work, splitting lists into chunks.

gmpy2 holds the GIL, so parallel modular exponentiation needs processes. Workers are forked
(all at the first submission, then reused): ``spawn``/``forkserver`` would re-run the caller's
``__main__`` in every worker, which breaks scripts without a main guard and stdin scripts.
Workers only run the gmpy2 functions of :mod:`fl_node.crypto.paillier`, so locks held by
other parent threads (torch, rich) at fork time are never touched. With one worker
everything runs inline in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

__all__ = ["WorkerPool", "shared_pool", "default_workers"]

T = TypeVar("T")
S = TypeVar("S")


#: Seconds between a worker's checks that the process that forked it is still alive.
ORPHAN_CHECK_S = 1.0


def _exit_when_orphaned() -> None:
    """Worker initializer: end this worker once its parent is gone.

    A parent killed with SIGKILL (a stopped node, a failed ServerApp) never shuts its pool
    down, and forked workers blocked on the task queue would otherwise live on forever.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()


def default_workers() -> int:
    """Cores this process may use (``os.sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class WorkerPool:
    """Lazily started process pool.

    Parameters
    ----------
    workers : int | None (default: None)
        Number of processes; None uses every available core; 1 runs inline.
    chunks_per_worker : int (default: 4)
        Chunks each worker gets per call, for load balance.
    """

    def __init__(self, workers: int | None = None, *, chunks_per_worker: int = 4) -> None:
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.chunks_per_worker = chunks_per_worker
        self._executor: ProcessPoolExecutor | None = None
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._owner_pid != os.getpid():
                # This process was forked from the one that started the workers: their
                # manager thread did not come along, so start a pool of our own.
                self._executor, self._owner_pid = None, os.getpid()
            if self._executor is None:
                context = multiprocessing.get_context("fork")
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=context, initializer=_exit_when_orphaned
                )
            return self._executor

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in a worker (inline, already completed, when ``workers == 1``)."""
        if self.workers == 1:
            future: Future[T] = Future()
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # delivered through the future like the pool does
                future.set_exception(exc)
            return future
        return self._pool().submit(fn, *args)

    def map_chunks(self, fn: Callable[[S, list[T]], list[Any]], context: S, items: Sequence[T], *, min_chunk: int = 4) -> list[Any]:
        """``fn(context, chunk)`` over chunks of ``items``, results concatenated in order."""
        items = list(items)
        if not items:
            return []
        if self.workers == 1 or len(items) <= min_chunk:
            return fn(context, items)
        n_chunks = max(1, min(self.workers * self.chunks_per_worker, len(items) // min_chunk))
        bounds = [len(items) * i // n_chunks for i in range(n_chunks + 1)]
        futures = [self._pool().submit(fn, context, items[a:b]) for a, b in zip(bounds, bounds[1:])]
        out: list[Any] = []
        for future in futures:
            out.extend(future.result())
        return out

    def map_counts(self, fn: Callable[[S, int], list[Any]], context: S, count: int, *, min_chunk: int = 4) -> list[Any]:
        """``fn(context, k)`` for chunk sizes k summing to ``count``, results concatenated."""
        if count <= 0:
            return []
        if self.workers == 1 or count <= min_chunk:
            return fn(context, count)
        n_chunks = max(1, min(self.workers * self.chunks_per_worker, count // min_chunk))
        sizes = [count * (i + 1) // n_chunks - count * i // n_chunks for i in range(n_chunks)]
        futures = [self._pool().submit(fn, context, size) for size in sizes]
        out: list[Any] = []
        for future in futures:
            out.extend(future.result())
        return out

    def close(self) -> None:
        """Stop the worker processes (cancelling queued work); the pool restarts if used again."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def shared_pool(workers: int | None = None) -> WorkerPool:
    """One pool per worker count and process, shared by every codec that is not given its own.

    Parameters
    ----------
    workers : int | None (default: None)
        None means every available core.
    """
    return _shared_pool(default_workers() if workers is None else max(1, int(workers)))


@lru_cache(maxsize=None)
def _shared_pool(workers: int) -> WorkerPool:
    return WorkerPool(workers)
