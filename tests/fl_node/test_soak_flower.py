"""`fedledger bench soak --transport flower`: a consortium of real processes (anvil, SuperLink, one node
process and SuperNode per hospital) under every fault kind loses nothing and leaves no process behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main
from fl_node.soak_faults import FaultSchedule
from fl_node.soak_flower import FLOWER_FAULT_KINDS


@pytest.mark.slow
def test_a_short_flower_soak_with_every_fault_kind_finalizes_every_round_and_balances(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"

    # Five kinds drawn for the first five rounds before the federation starts (each node fault armed before its
    # round can open, each on a node holding no other fault), and three rounds without a fault.
    main([
        "bench", "soak", "--transport", "flower", "--rounds", "8", "--nodes", "4", "--faults", "--fault-rate", "0",
        "--key-bits", "512", "--work-dir", str(tmp_path / "work"), "--json", str(out),
        # a round short of the cohort (a node killed or late while another restarts) is cancelled after 30 s, not 90
        "--round-timeout", "30",
    ])

    payload = json.loads(out.read_text())
    assert {"rounds_finalized", "rounds_cancelled", "faults_injected", "audit", "balances_ok", "rss_mb"} <= set(payload)
    assert payload["rounds_finalized"] == 8 and payload["rounds_open"] == 0
    assert payload["cancelled_without_reason"] == []
    assert set(payload["faults_by_kind"]) == set(FLOWER_FAULT_KINDS)
    assert payload["faults_injected"] == sum(payload["faults_by_kind"].values()) == len(payload["faults"])
    assert payload["superlink_restarts"] == payload["chain_restarts"] == payload["supernode_restarts"] == 1
    assert payload["flower_runs"] >= 2 and payload["cancel_reasons"].get("left open by an earlier run", 0) >= 1
    assert payload["slashes"] == 1 and payload["top_ups"] == 1  # the equivocating node, with its signed blob as evidence
    # the late node's round was finalized without it, or cancelled short of the cohort: either way its commitment is refused
    refused = payload["late_commits_refused"]
    assert sum(refused.values()) == 1 and set(refused) <= {"RoundAlreadyFinalized", "RoundIsCancelled"}
    assert payload["late_commits_accepted"] == []
    assert payload["audit"] == {"ok": True, "failed": []}
    assert payload["balances_ok"] is True and all(payload["balances"]["checks"].values())
    assert payload["processes_left"] == 0 and payload["node_exits_unexpected"] == []
    rss = payload["rss_mb"]
    assert rss["start"] > 0 and rss["round_10"] > 0 and rss["end"] > 0
    assert {"superlink", "serverapp", "anvil"} <= set(rss["processes"])
    assert sum(role.endswith("supernode") for role in rss["processes"]) == 4
    assert sum(role.endswith("worker") for role in rss["processes"]) == 4
    assert payload["ok"] is True


def test_a_schedule_with_a_rate_injects_every_kind_first_then_only_that_share_of_rounds() -> None:
    schedule = FaultSchedule(3, kinds=FLOWER_FAULT_KINDS, rate=0.25)

    first = [schedule.next(r) for r in range(len(FLOWER_FAULT_KINDS))]
    later = [schedule.next(r) for r in range(1000)]

    assert sorted(first) == sorted(FLOWER_FAULT_KINDS)
    assert 150 < sum(kind is not None for kind in later) < 350
    assert FaultSchedule(3, kinds=FLOWER_FAULT_KINDS, rate=0.0).next(0) is not None
    none_after = FaultSchedule(3, kinds=FLOWER_FAULT_KINDS, rate=0.0)
    assert [none_after.next(r) for r in range(len(FLOWER_FAULT_KINDS) + 5)][-5:] == [None] * 5


@pytest.mark.parametrize("flags, words", [
    (["--transport", "grpc"], "--transport must be one of inprocess, flower"),
    (["--transport", "flower", "--fault-rate", "1.5"], "--fault-rate must be between 0 and 1"),
    (["--transport", "flower", "--round-timeout", "0"], "--round-timeout must be positive"),
])
def test_bad_soak_options_are_refused_in_one_line(flags, words, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "soak", "--rounds", "1", *flags])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err
