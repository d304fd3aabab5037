"""Threshold custody in a consortium of real processes: each `node join` holds its key share, the coordinator none.

One local consortium (anvil, the ledger, a SuperLink, four `node join` processes), 2-of-3
custody: nodes 0-2 each hold one share (dealt, sealed in a file only that node opens), node 3
none. Node 2 starts without its share, so the coordinator maps only custodians 1 and 2 when
the run starts; once the run is going, node 2 restarts holding share 3 (a custodian that
connects late). Custodians 1 and 2 decrypt the first round over Flower ``query.decrypt``
messages; after node 2 is back, node 0 is killed and the next rounds still decrypt, with
custodians 2 and 3: the late custodian was found and asked. The ledger's record, the audit and
the nodes' own logs show who decrypted what.
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


def _wait_for(what: str, done, consortium: LocalConsortium, timeout_s: float = 300.0) -> None:
    """Poll ``done()`` until true; fail naming ``what`` after ``timeout_s`` or when the run failed."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s:.0f} s: {consortium.status.data}"
        assert consortium.status.data.get("state") not in ("failed", "done"), f"{what}: the run ended first: {consortium.status.data}"
        time.sleep(0.5)


def _log(consortium: LocalConsortium, index: int, offset: int = 0) -> str:
    path = consortium.node_dir(index) / "node.log"
    return path.read_bytes()[offset:].decode(errors="replace") if path.exists() else ""


def test_node_custodians_decrypt_each_round_any_two_suffice_and_a_late_one_is_found(tmp_path: Path) -> None:
    task = TaskConfig(
        data=DataConfig(nodes=4), custody=CustodyConfig(key_bits=512, custodians=3, threshold=2),
        # enough rounds for node 2's restart (a new `node join` takes tens of seconds to connect) to land mid-run
        scoring=ScoringConfig(scorer="loo"), rounds=12,
    )
    with LocalConsortium(ConsortiumConfig(task, straggler_grace_s=2.0, run_timeout_s=400, tls=False), tmp_path) as consortium:
        consortium.start_chain()
        ledger = consortium.deploy()
        assert [n.key_share.name if n.key_share else None for n in consortium.nodes] == [
            "custodian-1.share", "custodian-2.share", "custodian-3.share", None
        ]
        late = consortium.nodes[2]
        share, late.key_share = late.key_share, None
        consortium.start_superlink()
        consortium.start_nodes()
        run_id = consortium.submit({"custody-timeout-s": 15.0})  # a killed node is noticed by Flower only after ~60 s
        _wait_for("the run's start", lambda: consortium.status.data.get("state") == "running", consortium)

        # the coordinator has mapped the custodians; node 2 comes back holding share 3
        assert late.process is not None
        late.process.stop()
        offset = len(_log(consortium, 2).encode())
        late.key_share = share
        consortium.start_node(late)
        _wait_for("node 2's first round after its restart", lambda: "trained on" in _log(consortium, 2, offset), consortium)
        back_in = int(consortium.status.data.get("rounds_completed", 0)) + 1
        assert back_in < task.rounds, f"node 2 was back only in round {back_in}: no round is left to need its share"
        consortium.kill_node(0)
        end = consortium.wait(run_id)

        assert end.ok, consortium.status.data
        assert not list((tmp_path / "keys").glob("keyholder-*"))  # the coordinator never had a private key
        task_id = consortium.task_id()
        rounds = finalized_rounds(ledger, task_id)
        assert len(rounds) == task.rounds
        # the singletons of the validity check, then the aggregate: two transactions a round
        for r in rounds:
            recorded = [d for d in ledger.decryptions() if d.round_id == r.round_id]
            assert len(recorded) == sum(not p.dropped for p in r.participants) + 1
            assert len({d.tx_hash for d in recorded}) == 2
        store = ArtifactStore(Path(consortium.serve.artifacts))
        spec = load_published(ledger, store, task_id).spec
        assert audit_federation(ledger, store, task_id).ok
        assert audit_federation(ledger, store, task_id, consortium.audit_key(spec)).ok
        answered = {n.index for n in consortium.nodes if "partial decryptions as custodian" in _log(consortium, n.index)}
        # custodians 1 and 2 open the first rounds; with custodian 1's node down, 2 and the late 3 open the rest
        assert answered == {0, 1, 2}
        assert "as custodian 3" in _log(consortium, 2, offset)
        serverapp_log = (tmp_path / "status.log").read_text(errors="replace")
        assert "key custodians: 1: Hospital A, 2: Hospital B, 3: not held" in serverapp_log
        assert "key custodian 3: Hospital C connected after the run started" in serverapp_log
        assert "did not answer" in serverapp_log
