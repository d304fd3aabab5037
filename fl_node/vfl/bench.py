"""Benchmarks behind ``fedledger bench psi`` and ``fedledger bench hetero-lr``."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from fl_node.errors import DataError
from fl_node.twoparty.channel import Channel, LocalHub
from fl_node.twoparty.psi import EcdhPsi
from fl_node.twoparty.runner import run_processes, run_threads
from fl_node.twoparty.tables import Standardizer
from fl_node.vfl.data import breast_cancer_vertical
from fl_node.vfl.hetero_lr import ARBITER, GUEST, HOST, HeteroLRArbiter, HeteroLRConfig, HeteroLRGuest, HeteroLRHost, check_batch_rows

__all__ = ["bench_psi", "bench_hetero_lr"]


def bench_psi(ids: int, *, overlap: float = 0.5, workers: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Time a two-party PSI of two sets of ``ids`` IDs sharing ``overlap`` of them (in process).

    Parameters
    ----------
    ids : int
        Set size of each party.
    overlap : float (default: 0.5)
        Fraction of each set that the other holds too.
    workers : int | None (default: None)
        PSI threads per party; None uses every core.
    seed : int (default: 0)
        Seeds the IDs.

    Returns
    -------
    dict
        ``ids``, ``seconds`` (wall clock, both parties), ``ids_per_s`` (``ids / seconds``),
        ``intersection_correct`` (both parties got exactly the true intersection), and
        ``intersection_size``, ``cpu_seconds`` (both parties; on a machine shared with other
        work, ``cpu_seconds / cores`` is the wall time an idle machine would need),
        ``bytes_exchanged``, ``workers``.
    """
    if ids < 0:
        raise DataError(f"--ids must be >= 0, got {ids}")
    if not 0.0 <= overlap <= 1.0:
        raise DataError(f"overlap must be in [0, 1], got {overlap}")
    rng = np.random.default_rng(seed)
    shared = int(round(overlap * ids))
    numbers = rng.choice(10**12, size=2 * ids - shared, replace=False) if ids else np.array([], dtype=np.int64)
    names = [f"user-{value:012d}" for value in numbers.tolist()]
    guest_ids, host_ids = names[:ids], names[:shared] + names[ids:]
    rng.shuffle(guest_ids)
    rng.shuffle(host_ids)
    truth = sorted(set(guest_ids) & set(host_ids))

    hub = LocalHub([GUEST, HOST], record=True)
    results: dict[str, list[str]] = {}

    def side(role: str, peer: str, own: list[str]) -> None:
        results[role] = EcdhPsi(hub.channel(role), peer, workers=workers).run(own)

    threads = [threading.Thread(target=side, args=args) for args in ((GUEST, HOST, guest_ids), (HOST, GUEST, host_ids))]
    start, cpu_start = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "ids": ids,
        "seconds": seconds,
        "ids_per_s": ids / seconds if seconds > 0 else 0.0,
        "intersection_correct": results.get(GUEST) == truth and results.get(HOST) == truth,
        "intersection_size": len(truth),
        "cpu_seconds": cpu_seconds,
        "bytes_exchanged": sum(len(message.payload) for message in hub.messages),
        "workers": EcdhPsi(hub.channel(GUEST), HOST, workers=workers).workers,
    }


@dataclass(frozen=True)
class _FitOnly:
    """A role that only trains (no PSI, no hold-out): for timing iterations on all aligned rows."""

    role: str
    make: Callable[[], Any]

    def run(self, channel: Channel, progress: Any = None) -> Any:
        return self.make().fit(channel)


def bench_hetero_lr(
    *, key_bits: int = 2048, iterations: int = 3, randomness: str = "short", processes: bool = False, overlap: float = 0.8, seed: int = 0
) -> dict[str, Any]:
    """Time hetero-LR iterations on breast_cancer with one batch of all aligned rows.

    Parameters
    ----------
    key_bits : int (default: 2048)
    iterations : int (default: 3)
        Iterations to run (tol = 0, so all of them run).
    randomness : {"short", "full"} (default: "short")
    processes : bool (default: False)
        Parties as three processes over gRPC instead of threads.
    overlap : float (default: 0.8)
        Share of samples both parties hold; those are the rows trained on.
    seed : int (default: 0)

    Raises
    ------
    BatchSizeError
        If the aligned rows are too few for one batch (:func:`~fl_node.vfl.hetero_lr.min_batch_rows`).

    Returns
    -------
    dict
        ``rows``, ``key_bits``, ``randomness``, ``transport``, ``seconds_per_iteration`` (each),
        ``first_iteration_s`` (includes one-off set-up), ``steady_iteration_s`` (median of the
        others), ``total_seconds``.
    """
    split = breast_cancer_vertical(overlap, seed=seed)
    aligned = sorted(set(split.guest.ids) & set(split.host.ids))
    guest_x, labels = split.guest.select(aligned)
    host_x, _ = split.host.select(aligned)
    check_batch_rows(len(aligned), guest_x.shape[1], host_x.shape[1])
    config = HeteroLRConfig(key_bits=key_bits, max_iter=iterations, tol=0.0, randomness=randomness)  # type: ignore[arg-type]
    parties = {
        GUEST: _FitOnly(GUEST, partial(HeteroLRGuest, config, Standardizer.fit(guest_x).transform(guest_x), labels)),
        HOST: _FitOnly(HOST, partial(HeteroLRHost, config, Standardizer.fit(host_x).transform(host_x))),
        ARBITER: _FitOnly(ARBITER, partial(HeteroLRArbiter, config)),
    }
    start = time.perf_counter()
    reports = run_processes(parties) if processes else run_threads(parties)
    total = time.perf_counter() - start
    seconds = list(reports[ARBITER].seconds)
    return {
        "rows": len(aligned),
        "key_bits": key_bits,
        "randomness": randomness,
        "transport": "grpc-processes" if processes else "in-process",
        "seconds_per_iteration": seconds,
        "first_iteration_s": seconds[0],
        "steady_iteration_s": statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0],
        "total_seconds": total,
    }
