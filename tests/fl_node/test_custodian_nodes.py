"""Threshold custody in a consortium of real processes: each `node join` holds its key share, the coordinator none.

One local consortium (anvil, the ledger, a SuperLink, four `node join` processes), 2-of-3
custody: nodes 0-2 each hold one share (dealt, sealed in a file only that node opens), node 3
none. Round 1 is decrypted by custodians answering Flower ``query.decrypt`` messages; the
custodian of node 0 is then killed and round 2 still decrypts with the other two. The
ledger's record, the audit and the nodes' own logs show who decrypted what.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fl_node.artifacts import ArtifactStore
from fl_node.consortium import ConsortiumConfig, LocalConsortium
from fl_node.replay import audit_federation, load_published
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from incentive.audit import finalized_rounds

pytestmark = pytest.mark.slow


def _wait_for_rounds(consortium: LocalConsortium, count: int, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while int(consortium.status.data.get("rounds_completed", 0)) < count:
        assert time.monotonic() < deadline, f"{count} rounds not finalized within {timeout_s:.0f} s: {consortium.status.data}"
        assert consortium.status.data.get("state") != "failed", consortium.status.data
        time.sleep(0.5)


def test_node_custodians_decrypt_each_round_and_any_two_suffice(tmp_path: Path) -> None:
    task = TaskConfig(
        data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=512, custodians=3, threshold=2),
        scoring=ScoringConfig(scorer="loo"), rounds=2,
    )
    with LocalConsortium(ConsortiumConfig(task, straggler_grace_s=2.0, run_timeout_s=300, tls=False), tmp_path) as consortium:
        consortium.start_chain()
        ledger = consortium.deploy()
        assert [n.key_share.name if n.key_share else None for n in consortium.nodes] == [
            "custodian-1.share", "custodian-2.share", "custodian-3.share", None
        ]
        consortium.start_superlink()
        consortium.start_nodes()
        run_id = consortium.submit({"custody-timeout-s": 15.0})  # a killed node is noticed by Flower only after ~60 s
        _wait_for_rounds(consortium, 1)

        consortium.kill_node(0)
        end = consortium.wait(run_id)

        assert end.ok, consortium.status.data
        assert not list((tmp_path / "keys").glob("keyholder-*"))  # the coordinator never had a private key
        task_id = consortium.task_id()
        rounds = finalized_rounds(ledger, task_id)
        assert len(rounds) == 2
        # the singletons of the validity check, then the aggregate: two transactions a round
        for r in rounds:
            recorded = [d for d in ledger.decryptions() if d.round_id == r.round_id]
            assert len(recorded) == sum(not p.dropped for p in r.participants) + 1
            assert len({d.tx_hash for d in recorded}) == 2
        store = ArtifactStore(Path(consortium.serve.artifacts))
        spec = load_published(ledger, store, task_id).spec
        assert audit_federation(ledger, store, task_id).ok
        assert audit_federation(ledger, store, task_id, consortium.audit_key(spec)).ok
        answered = {
            n.index for n in consortium.nodes
            if "partial decryptions as custodian" in (consortium.node_dir(n.index) / "node.log").read_text(errors="replace")
        }
        # custodians 1 and 2 open round 1; with custodian 1's node down, 2 and 3 open round 2
        assert answered == {0, 1, 2}
        assert "did not answer" in (tmp_path / "status.log").read_text(errors="replace")
