"""`fedledger bench soak`: a short soak on anvil under faults loses nothing; the balance checks can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fl_node.cli.app import main
from fl_node.soak import check_balances
from fl_node.soak_faults import FAULT_KINDS, FaultSchedule, FaultyRpcProxy
from fl_node.task import RewardConfig, bootstrap_ledger
from incentive.chain import rpc_chain
from incentive.errors import ChainError
from incentive.ledger import node_key_hash

STAKE = 10**18


def test_a_short_soak_under_faults_finalizes_every_round_and_balances(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"

    # Seed 6 opens with RPC errors, a coordinator crash with its round open, a late commit and a cohort collapse.
    main(["bench", "soak", "--rounds", "3", "--faults", "--seed", "6", "--work-dir", str(tmp_path / "work"), "--json", str(out)])

    payload = json.loads(out.read_text())
    assert {"rounds_finalized", "rounds_cancelled", "faults_injected", "audit", "balances_ok", "rss_mb"} <= set(payload)
    assert payload["rounds_finalized"] == 3 and payload["rounds_open"] == 0
    assert payload["cancelled_without_reason"] == []
    assert payload["faults_injected"] == sum(payload["faults_by_kind"].values()) >= 4
    assert {"coordinator-restart", "late-commit", "cohort-collapse"} <= set(payload["faults_by_kind"])
    assert payload["cancel_reasons"]["left open by an earlier run"] >= 1 and payload["rounds_cancelled"] >= 2
    assert payload["late_commits_refused"] == {"RoundAlreadyFinalized": 1}
    assert payload["audit"] == {"ok": True, "failed": []}
    assert payload["balances_ok"] is True and all(payload["balances"]["checks"].values())
    assert set(payload["rss_mb"]) == {"start", "end"} and payload["rss_mb"]["end"] > 0
    assert payload["late_commits_accepted"] == [] and payload["processes_left"] == 0
    assert payload["ok"] is True


def test_the_schedule_injects_every_kind_before_repeating_and_repeats_with_its_seed() -> None:
    first, again = FaultSchedule(7), FaultSchedule(7)

    kinds = [first.next(r) for r in range(len(FAULT_KINDS))]

    assert sorted(kinds) == sorted(FAULT_KINDS)
    assert [again.next(r) for r in range(len(FAULT_KINDS))] == kinds
    assert FaultSchedule(7, enabled=False).next(1) is None


def test_balances_fail_when_a_wei_is_unaccounted(embedded_chain) -> None:
    roles = bootstrap_ledger(embedded_chain, RewardConfig(stake_wei=STAKE))
    member = embedded_chain.new_account(2 * STAKE)
    roles.ledger.join(member, "Hospital A", node_key_hash(member), stake_wei=STAKE)

    assert check_balances(roles.ledger, STAKE)["ok"] is True
    off = check_balances(roles.ledger, STAKE + 1)
    assert off["ok"] is False and off["checks"]["staked equals what the nodes paid in"] is False


def test_the_fault_proxy_fails_requests_as_armed(anvil) -> None:
    proxy = FaultyRpcProxy(anvil.url)
    try:
        chain = rpc_chain(proxy.url)
        proxy.fail(after=1, count=1)
        chain.w3.eth.block_number  # the one skipped
        with pytest.raises(ChainError, match="HTTP 503"):
            chain.w3.eth.block_number
        assert chain.w3.eth.block_number >= 0 and proxy.failed == 1
    finally:
        proxy.close()
