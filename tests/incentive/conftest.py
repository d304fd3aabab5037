"""A deployed ledger with a small consortium, deployed once per module and chain.

``ledger_env`` deploys once per module (per chain parameter); ``env`` hands it to one test and
reverts the chain to the deployed state afterwards, so every test starts from the same ledger.
"""

from __future__ import annotations

import pytest
from ledger_helpers import LedgerEnv, deploy_env

from incentive.chain import Chain


@pytest.fixture(scope="module")
def ledger_env(chain: Chain) -> LedgerEnv:
    """A ledger deployed once per module and chain."""
    return deploy_env(chain)


@pytest.fixture
def env(ledger_env: LedgerEnv) -> LedgerEnv:
    """The module's ledger, reverted to its deployed state after the test."""
    yield ledger_env
    ledger_env.chain.revert(ledger_env.snapshot)
