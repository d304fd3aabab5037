"""Shared fixtures: chains to run the ledger on.

``embedded_chain``  a fresh in-process eth-tester (py-evm) chain.
``anvil``           an anvil node on a free 127.0.0.1 port for the session (stopped at the end).
``chain``           module-scoped and parametrized: every test using it runs on the embedded chain
                    and, marked ``anvil``, on the anvil node (deselect with ``-m "not anvil"``).

Property tests draw new examples on every run, except under CI (``CI`` set), where the examples
are derived from each test's name so that a landing is judged on the same inputs every time.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

from incentive.chain import AnvilNode, Chain, anvil_binary, connect, embedded_chain as make_embedded_chain, start_anvil
from incentive.errors import ChainError


@pytest.fixture
def embedded_chain() -> Chain:
    """A fresh embedded chain."""
    return make_embedded_chain()


@pytest.fixture(scope="session")
def anvil() -> AnvilNode:
    """An anvil node on a free loopback port, stopped when the session ends."""
    try:
        anvil_binary()
    except ChainError as exc:  # `make test` installs it: a missing binary is a broken set-up, not a skip
        pytest.fail(str(exc))
    node = start_anvil(balance_eth=10**7)
    yield node
    node.stop()


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain(request: pytest.FixtureRequest) -> Chain:
    """The chain a contract suite runs on: the embedded chain, then a real anvil node."""
    if request.param == "embedded":
        return make_embedded_chain()
    node: AnvilNode = request.getfixturevalue("anvil")
    return connect(node.url)
