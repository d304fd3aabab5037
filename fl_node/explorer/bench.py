"""How fast the explorer's pages come up: the demo's ledger and a ledger of hundreds of rounds × dozens of participants.

For each ledger the explorer is served by uvicorn on a free loopback port, as
``fedledger explorer`` serves it: the event index is built once at start (``index_s``), then
each page is fetched over HTTP for the first time and timed to its last byte (``render_s``).
The demo ledger is a real demo federation on the embedded chain; the large one is built by
:func:`fl_node.explorer.synthetic.build_synthetic_ledger`.
"""

from __future__ import annotations

import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phe import PaillierPrivateKey

from fl_node.crypto.keys import load_private_key
from fl_node.demo import DemoConfig, run_demo, setup_federation
from fl_node.explorer.synthetic import build_synthetic_ledger
from fl_node.explorer.views import Explorer
from fl_node.explorer.web import ExplorerServer
from fl_node.task import CustodyConfig, DataConfig, TaskConfig
from incentive.chain import Chain, embedded_chain, free_port

#: First-render targets (seconds) of every page.
DEMO_TARGET_S = 1.0
LARGE_TARGET_S = 3.0


@dataclass(frozen=True)
class ExplorerBenchConfig:
    """The two ledgers of the benchmark.

    Attributes
    ----------
    demo_nodes : int (default: 5)
    demo_rounds : int (default: 8)
    key_bits : int (default: 2048)
        The demo's Paillier key size.
    large_rounds : int (default: 200)
    large_participants : int (default: 50)
    """

    demo_nodes: int = 5
    demo_rounds: int = 8
    key_bits: int = 2048
    large_rounds: int = 200
    large_participants: int = 50


def time_pages(
    chain: Chain, address: str, artifacts: Path | None, private_key: PaillierPrivateKey | None, round_id: int
) -> dict[str, Any]:
    """Serve the explorer of one ledger; time the index, each page's first render, and one audit run."""
    explorer = Explorer(chain, address, artifacts, private_key)
    start = time.perf_counter()
    head = explorer.head()
    index_s = time.perf_counter() - start
    server = ExplorerServer(explorer, free_port()).start()
    pages = {
        "overview": "index.html",
        "members": "members.html",
        "task": "task-1.html",
        "round": f"round-{round_id}.html",
        "audit": "audit.html",
    }
    render_s: dict[str, float] = {}
    sizes: dict[str, int] = {}
    try:
        for name, path in pages.items():
            start = time.perf_counter()
            with urllib.request.urlopen(server.url + path, timeout=600) as response:
                sizes[name] = len(response.read())
            render_s[name] = time.perf_counter() - start
        audit_run_s = audited = None
        if artifacts is not None:
            start = time.perf_counter()
            with urllib.request.urlopen(server.url + "audit.html?run=1", timeout=600) as response:
                audited = b"all checks hold" in response.read()
            audit_run_s = time.perf_counter() - start
    finally:
        server.stop()
    return {
        "blocks": head,
        "events": len(explorer.attach()[1].events),
        "index_s": index_s,
        "render_s": render_s,
        "page_bytes": sizes,
        "audit_run_s": audit_run_s,
        "audit_ok": audited,
    }


def run_explorer_bench(
    config: ExplorerBenchConfig = ExplorerBenchConfig(),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build both ledgers on the embedded chain and time the explorer's pages on each.

    Returns
    -------
    dict
        ``demo`` and ``large``: ``index_s``, ``render_s`` per page, ``build_s``, sizes; and
        ``within_targets`` (every page under 1 s on the demo ledger and 3 s on the large one).
    """
    say = progress or (lambda message: None)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="explorer-bench-") as tmp:
        say(f"running the demo: {config.demo_nodes} nodes, {config.demo_rounds} rounds")
        start = time.perf_counter()
        task = TaskConfig(
            data=DataConfig(nodes=config.demo_nodes), custody=CustodyConfig(key_bits=config.key_bits), rounds=config.demo_rounds
        )
        federation = setup_federation(DemoConfig(task=task), embedded_chain(), Path(tmp))
        run_demo(federation)
        build_s = time.perf_counter() - start
        key = load_private_key(federation.key_path) if federation.key_path is not None else None
        say("timing the demo ledger's pages")
        demo = time_pages(federation.chain, federation.ledger.address, federation.store.root, key, config.demo_rounds)
        results["demo"] = {"nodes": config.demo_nodes, "rounds": config.demo_rounds, "build_s": build_s, **demo}

    say(f"building a ledger of {config.large_rounds} rounds × {config.large_participants} participants")
    start = time.perf_counter()
    large = build_synthetic_ledger(config.large_rounds, config.large_participants)
    build_s = time.perf_counter() - start
    say("timing the large ledger's pages")
    timed = time_pages(large.chain, large.ledger.address, None, None, config.large_rounds // 2)
    results["large"] = {
        "rounds": config.large_rounds,
        "participants": config.large_participants,
        "build_s": build_s,
        **timed,
    }
    results["targets_s"] = {"demo": DEMO_TARGET_S, "large": LARGE_TARGET_S}
    results["within_targets"] = max(results["demo"]["render_s"].values()) < DEMO_TARGET_S and max(
        results["large"]["render_s"].values()
    ) < LARGE_TARGET_S
    return results
