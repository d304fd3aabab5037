"""The demo with threshold custody next to the demo with a single key holder, timed (``fedledger bench threshold --demo``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from fl_node.demo import DemoConfig, run_demo, setup_federation
from fl_node.models import model_hash
from fl_node.task import CustodyConfig, TaskConfig
from incentive.chain import embedded_chain


def time_demos(key_shares: Path, passphrase: str, custodians: int, threshold: int, key_bits: int) -> dict[str, object]:
    """Run the default demo (embedded chain) with the shares in ``key_shares``, then with one key holder of the same size.

    Returns ``demo_s`` and ``single_demo_s`` (wall time of federation, claims and audit, set-up
    included), ``demo_audit_ok`` and ``same_model`` (equal final model hashes at the same seed).
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix="fedledger-demo-") as scratch:
        for name, custody in (
            ("threshold", CustodyConfig(key_bits=key_bits, custodians=custodians, threshold=threshold)),
            # A distributed key's modulus can be a few bits longer than the size asked for (2,051 bits
            # for 2048), and a generated key's size is even: the single key is the nearest even size below.
            ("single", CustodyConfig(key_bits=key_bits - key_bits % 2)),
        ):
            start = time.perf_counter()
            shares = key_shares if custody.threshold_custody else None
            federation = setup_federation(DemoConfig(TaskConfig(custody=custody)), embedded_chain(), Path(scratch) / name, shares, passphrase)
            result = run_demo(federation)
            results[name] = (time.perf_counter() - start, result.audit.ok, model_hash(result.rounds[-1].outcome.global_params))
    return {
        "demo_s": results["threshold"][0],
        "single_demo_s": results["single"][0],
        "demo_audit_ok": results["threshold"][1],
        "same_model": results["threshold"][2] == results["single"][2],
    }
