"""The forge invariant campaign catches a ledger that breaks its incentive rules.

A copy of the Foundry project whose ``commit`` no longer refuses a member below the minimum
stake (the hole of a member slashed to zero that still earns rewards) must fail the campaign,
naming the broken property. The unmodified project is run by ``make contracts-check``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FORGE = REPO_ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"
MIN_STAKE_CHECK = "if (!m.stakeExempt && m.stake < minStake) revert StakeBelowMinimum(msg.sender, m.stake, minStake);"


@pytest.mark.slow
def test_campaign_fails_when_commit_ignores_the_minimum_stake(tmp_path: Path) -> None:
    assert FORGE.is_file(), "npm package @foundry-rs/forge-linux-amd64 is missing; run npm ci"
    shutil.copytree(REPO_ROOT / "contracts", tmp_path / "contracts")
    shutil.copy(REPO_ROOT / "foundry.toml", tmp_path / "foundry.toml")
    (tmp_path / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    rounds = tmp_path / "contracts" / "ledger" / "Rounds.sol"
    source = rounds.read_text()
    assert MIN_STAKE_CHECK in source
    rounds.write_text(source.replace(MIN_STAKE_CHECK, "// minimum-stake check removed"))

    env = dict(os.environ, FOUNDRY_INVARIANT_RUNS="40", FOUNDRY_INVARIANT_DEPTH="100")
    proc = subprocess.run(
        [str(FORGE), "test", "--offline"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )

    assert proc.returncode != 0, proc.stdout[-3000:]
    assert 'Violated("commits or withdrawals the incentive rules forbid"' in proc.stdout, proc.stdout[-3000:]
