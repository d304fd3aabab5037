"""Bad input to the explorer: each page says what is wrong in words, the server stays up, nothing is written."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from eth_utils import keccak

from fl_node.explorer.views import Explorer
from fl_node.explorer.web import ExplorerServer
from incentive.chain import connect, embedded_chain, free_port
from incentive.ledger import LedgerClient, TaskCreated

FEDLEDGER = [sys.executable, "-c", "from fl_node.cli import main; main()"]


@pytest.fixture(scope="module")
def small_ledger():
    """A ledger with one task and no round, on a fresh embedded chain."""
    chain = embedded_chain()
    admin = chain.new_account()
    ledger = LedgerClient.deploy(chain, admin)
    ledger.create_task(admin, keccak(text="spec"), keccak(text="validation"), 10**18, 3).event(TaskCreated)
    return chain, ledger


class Page:
    """An HTTP answer of the served explorer."""

    def __init__(self, status_code: int, text: str):
        self.status_code = status_code
        self.text = text

    def json(self) -> dict:
        return json.loads(self.text)


class Client:
    """GETs against an explorer served by uvicorn on a free loopback port."""

    def __init__(self, server: ExplorerServer):
        self.server = server

    def get(self, path: str) -> Page:
        try:
            with urllib.request.urlopen(self.server.url + path, timeout=30) as response:
                return Page(response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            return Page(exc.code, exc.read().decode())


@contextlib.contextmanager
def client_for(chain, address: str, artifacts: Path | None = None):
    server = ExplorerServer(Explorer(chain, address, artifacts), free_port()).start()
    try:
        yield Client(server)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("0x000000000000000000000000000000000000dEaD", "no contract code at 0x000000000000000000000000000000000000dEaD"),
        ("0x1234", "not an address"),
        ("token", "is not a FederationLedger"),
    ],
)
def test_a_bad_ledger_address_is_a_page_that_says_why_and_the_server_stays_up(small_ledger, address, says):
    chain, ledger = small_ledger
    address = ledger.token if address == "token" else address
    with client_for(chain, address) as client:
        pages = {path: client.get(path) for path in ("index.html", "members.html", "task-1.html", "round-1.html", "audit.html")}
        head = client.get("api/head.json")

    for response in pages.values():
        assert response.status_code == 404
        assert says in response.text and "The explorer is still running" in response.text
    assert head.status_code == 404 and says in head.json()["error"]


def test_unknown_ids_and_a_missing_store_are_said_in_words(small_ledger, tmp_path):
    chain, ledger = small_ledger
    missing = tmp_path / "no-such-store"
    with client_for(chain, ledger.address, missing) as client:
        assert "Round 1 does not exist: the ledger has no rounds yet." in client.get("round-1.html").text
        assert "Task 7 does not exist: the ledger has only task 1." in client.get("task-7.html").text
        assert f"The artifact store {missing} does not exist." in client.get("task-1.html").text
        assert "Not a task id" in client.get("audit.html?task=x").text
        assert "No page at /wallet" in client.get("wallet").text
        assert client.get("index.html").status_code == 200
    assert not missing.exists()


def test_a_store_without_the_published_spec_is_named(small_ledger, tmp_path):
    chain, ledger = small_ledger
    with client_for(chain, ledger.address, tmp_path) as client:
        page = client.get("task-1.html").text

    assert "The store does not match the ledger" in page
    assert f"the model spec 0x{keccak(text='spec').hex()} is not in the store" in page
    assert list(tmp_path.iterdir()) == []


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FEDLEDGER, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_without_rpc_the_command_refuses_in_one_line_saying_how_to_start_a_chain(tmp_path):
    result = run("explorer", "--ledger", "0x000000000000000000000000000000000000dEaD", cwd=tmp_path)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "fedledger chain up" in lines[0] and "--rpc" in lines[0]


@pytest.mark.anvil
def test_the_served_explorer_on_a_node_says_there_is_no_ledger_and_stays_up(anvil, tmp_path):
    port = free_port()
    nowhere = "0x000000000000000000000000000000000000dEaD"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [*FEDLEDGER, "explorer", "--rpc", anvil.url, "--ledger", nowhere, "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        pages = []
        deadline = time.monotonic() + 60
        while len(pages) < 2 and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5)
            except urllib.error.HTTPError as exc:
                pages.append((exc.code, exc.read().decode()))
            except OSError:
                assert process.poll() is None, process.stderr.read()
                time.sleep(0.2)
        assert [code for code, _ in pages] == [404, 404]
        assert all(f"no contract code at {nowhere}" in text for _, text in pages)
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=20)

    export = run("explorer", "--rpc", anvil.url, "--ledger", nowhere, "--export", str(tmp_path / "site"), cwd=tmp_path)
    assert export.returncode == 2 and f"no contract code at {nowhere}" in export.stderr
    assert not (tmp_path / "site").exists()
    assert connect(anvil.url).w3.eth.get_code(nowhere) == b""
