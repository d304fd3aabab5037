"""A JSON-RPC node that misbehaves: garbage, wrong ids, errors, truncated bodies, stalls, missing receipts.

A real local HTTP server stands in front of anvil and answers one method as told; the ledger
client must raise a one-line :class:`ChainError` (or the ledger's revert) in bounded time, never
hang or leak a decoder's exception.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentive.chain import rpc_chain
from incentive.errors import ChainError, IncentiveError
from incentive.ledger import LedgerClient

TIMEOUT_S = 1.0
#: A request's own answer, or what to send instead: (status, body, content-length override or None, delay s).
Answer = tuple[int, bytes, int | None, float]


class MisbehavingNode:
    """Forwards to ``upstream`` except for ``method``, whose answer ``answer(request)`` makes up."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.method: str | None = None
        self.answer: Callable[[dict], Answer] = lambda request: (200, b"", None, 0.0)
        self.seen: list[str] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = json.loads(body)
                node.seen.append(request.get("method"))
                if request.get("method") == node.method:
                    status, reply, length, delay = node.answer(request)
                    time.sleep(delay)
                else:
                    forward = urllib.request.Request(node.upstream, data=body, headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(forward, timeout=10) as response:
                        status, reply, length = 200, response.read(), None
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply) if length is None else length))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client gave up first (a stall)
                    pass
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def upstream_answer(self, request: dict) -> dict:
        """The real node's answer to ``request``."""
        forward = urllib.request.Request(self.upstream, data=json.dumps(request).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(forward, timeout=10) as response:
            return json.loads(response.read())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def ledger_on_anvil(anvil) -> LedgerClient:
    chain = rpc_chain(anvil.url)
    admin = chain.new_account()
    return LedgerClient.deploy(chain, admin, min_stake_wei=10**18, aggregator=admin.address, evaluator=admin.address)


@pytest.fixture(scope="module")
def node(anvil):
    misbehaving = MisbehavingNode(anvil.url)
    yield misbehaving
    misbehaving.close()


def _client(node: MisbehavingNode, ledger: LedgerClient) -> LedgerClient:
    chain = rpc_chain(node.url, timeout_s=TIMEOUT_S)
    chain.receipt_timeout_s = 2.0
    return LedgerClient.at(chain, ledger.address)


def _refused_in_time(action: Callable[[], object], limit_s: float = 6.0) -> IncentiveError:
    start = time.monotonic()
    with pytest.raises(IncentiveError) as raised:
        action()
    assert time.monotonic() - start < limit_s
    message = str(raised.value)
    assert message and "\n" not in message
    return raised.value


def _json(request: dict, **fields) -> Answer:
    return 200, json.dumps({"jsonrpc": "2.0", "id": request["id"], **fields}).encode(), None, 0.0


ODD_RESULTS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.just("0x"), st.just("0xzz"),
                        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), result=ODD_RESULTS, shape=st.sampled_from(["bytes", "result", "wrong-id", "error", "no-fields", "array"]))
def test_garbage_answers_to_a_ledger_read_raise_a_chain_error(node, ledger_on_anvil, body, result, shape) -> None:
    client = _client(node, ledger_on_anvil)
    answers = {
        "bytes": lambda r: (200, body, None, 0.0),
        "result": lambda r: _json(r, result=result),
        "wrong-id": lambda r: _json({"id": r["id"] + 1}, result="0x"),
        "error": lambda r: _json(r, error={"code": -32000, "message": "internal error"}),
        "no-fields": lambda r: _json(r),
        "array": lambda r: (200, json.dumps([{"jsonrpc": "2.0", "id": r["id"], "result": "0x"}]).encode(), None, 0.0),
    }
    node.method, node.answer = "eth_call", answers[shape]
    try:
        try:
            value = client.min_stake()
        except IncentiveError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:  # only an answer that decodes as a uint256 may be read, as that number
            assert shape == "result" and isinstance(value, int)
    finally:
        node.method = None


@pytest.mark.parametrize("answer, words", [
    (lambda r: (500, b"boom", None, 0.0), "HTTP 500"),
    (lambda r: (200, b'{"jsonrpc": "2.0", "id": ', 400, 0.0), "connection failed|not JSON"),
    (lambda r: (200, b"", None, 3 * TIMEOUT_S), "no answer within"),
    (lambda r: _json({"id": "other"}, result="0x1"), "has id 'other'"),
], ids=["http-500", "truncated", "stall", "wrong-id"])
def test_a_failing_node_raises_a_named_chain_error_in_bounded_time(node, ledger_on_anvil, answer, words) -> None:
    client = _client(node, ledger_on_anvil)
    node.method, node.answer = "eth_call", answer
    try:
        error = _refused_in_time(client.min_stake)
    finally:
        node.method = None
    assert isinstance(error, ChainError)
    assert any(w in str(error) for w in words.split("|"))


def test_a_transaction_whose_receipt_never_comes_raises_after_the_receipt_timeout(node, ledger_on_anvil) -> None:
    client = _client(node, ledger_on_anvil)
    member = client.chain.new_account(2 * 10**18)
    node.method, node.answer = "eth_getTransactionReceipt", lambda r: _json(r, result=None)
    try:
        error = _refused_in_time(lambda: client.join(member, "Hospital A", b"\x01" * 32, stake_wei=10**18))
    finally:
        node.method = None
    assert isinstance(error, ChainError) and "no receipt" in str(error)


def test_a_node_of_another_chain_or_none_at_all_is_refused(anvil) -> None:
    with pytest.raises(ChainError, match="wrong chain"):
        rpc_chain(anvil.url, chain_id=1)
    with pytest.raises(ChainError, match="cannot reach"):
        rpc_chain("http://127.0.0.1:9", timeout_s=TIMEOUT_S)


@pytest.mark.parametrize("method", ["eth_chainId", "eth_getCode", "eth_call"])
def test_the_cli_reports_a_misbehaving_node_in_one_line_with_exit_2(node, ledger_on_anvil, capsys, method) -> None:
    from fl_node.cli.app import main

    node.method, node.answer = method, lambda r: (200, b"<html>proxy error</html>", None, 0.0)
    try:
        with pytest.raises(SystemExit) as exited:
            main(["ledger", "show", "--rpc", node.url, "--ledger", ledger_on_anvil.address])
    finally:
        node.method = None
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not JSON" in err


def test_a_node_that_switches_to_another_chain_id_is_refused_before_anything_is_sent(node, ledger_on_anvil) -> None:
    client = _client(node, ledger_on_anvil)
    member = client.chain.new_account(2 * 10**18)
    nonce = client.chain.w3.eth.get_transaction_count(member.address)
    node.seen.clear()
    node.method, node.answer = "eth_chainId", lambda r: _json(r, result="0x1")
    try:
        error = _refused_in_time(lambda: client.join(member, "Hospital A", b"\x01" * 32, stake_wei=10**18))
    finally:
        node.method = None
    assert isinstance(error, ChainError)
    assert "wrong chain" in str(error) and "chain id 1" in str(error) and "31337" in str(error)
    assert "eth_sendRawTransaction" not in node.seen
    assert client.chain.w3.eth.get_transaction_count(member.address) == nonce
    assert ledger_on_anvil.member(member.address).status.name == "NONE"


def test_the_cli_refuses_a_node_of_another_chain_id_in_one_line(node, ledger_on_anvil, capsys) -> None:
    from fl_node.cli.app import main

    node.method, node.answer = "eth_chainId", lambda r: _json(r, result="0x1")
    try:
        with pytest.raises(SystemExit) as exited:
            main(["ledger", "show", "--rpc", node.url, "--chain-id", "31337", "--ledger", ledger_on_anvil.address])
    finally:
        node.method = None
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "wrong chain" in err and "31337" in err


def _orphaned(node: MisbehavingNode, request: dict) -> dict:
    """The real receipt, moved into a block that is not the chain's block at its height."""
    answer = node.upstream_answer(request)
    if answer.get("result"):
        answer["result"]["blockHash"] = "0x" + "ee" * 32
        for entry in answer["result"].get("logs", []):
            entry["blockHash"] = "0x" + "ee" * 32
    return answer


def test_a_receipt_from_a_reorganised_block_is_not_final_until_one_from_the_chain_comes(node, ledger_on_anvil) -> None:
    client = _client(node, ledger_on_anvil)
    member = client.chain.new_account(2 * 10**18)
    orphaned_answers = [0]

    def answer(request: dict) -> Answer:
        if orphaned_answers[0] < 2:  # the first answers come from a block since reorganised away
            orphaned_answers[0] += 1
            return 200, json.dumps(_orphaned(node, request)).encode(), None, 0.0
        return 200, json.dumps(node.upstream_answer(request)).encode(), None, 0.0

    node.method, node.answer = "eth_getTransactionReceipt", answer
    try:
        receipt = client.join(member, "Hospital A", b"\x02" * 32, stake_wei=10**18)
    finally:
        node.method = None
    assert orphaned_answers[0] == 2
    final = ledger_on_anvil.chain.w3.eth.get_transaction_receipt(receipt.tx_hash)
    assert final["blockNumber"] == receipt.block_number
    assert ledger_on_anvil.member(member.address).status.name == "ACTIVE"


def test_a_transaction_seen_only_in_a_reorganised_block_fails_naming_the_reorg(node, ledger_on_anvil) -> None:
    client = _client(node, ledger_on_anvil)
    member = client.chain.new_account(2 * 10**18)
    node.method, node.answer = "eth_getTransactionReceipt", lambda r: (200, json.dumps(_orphaned(node, r)).encode(), None, 0.0)
    try:
        error = _refused_in_time(lambda: client.join(member, "Hospital A", b"\x03" * 32, stake_wei=10**18))
    finally:
        node.method = None
    assert isinstance(error, ChainError)
    assert "reorganised out of the chain" in str(error) and "0x" + "ee" * 32 in str(error)


def test_a_real_reorg_on_anvil_takes_no_receipt_of_the_dropped_block_as_final(anvil) -> None:
    """anvil_reorg replaces the transaction's block with an empty one after its receipt was read: the client does not
    take that receipt as final and fails naming the reorg (anvil does not mine the dropped transaction again)."""
    upstream = rpc_chain(anvil.url)
    proxy = MisbehavingNode(anvil.url)
    reorged = [False]

    def answer(request: dict) -> Answer:
        reply = proxy.upstream_answer(request)
        if reply.get("result") and not reorged[0]:  # the receipt is read, then its block is replaced
            reorged[0] = True
            proxy.upstream_answer({"jsonrpc": "2.0", "id": 99, "method": "anvil_reorg", "params": [1, []]})
        return 200, json.dumps(reply).encode(), None, 0.0

    sender = upstream.new_account(10**18)
    recipient = upstream.new_account(0)
    proxy.method, proxy.answer = "eth_getTransactionReceipt", answer
    try:
        chain = rpc_chain(proxy.url, timeout_s=TIMEOUT_S)
        chain.receipt_timeout_s = 2.0
        error = _refused_in_time(lambda: chain.send(sender, {"to": recipient.address, "value": 12345}, gas=21_000))
        assert reorged[0]
    finally:
        proxy.close()
    assert isinstance(error, ChainError) and "reorganised out of the chain" in str(error)
    assert upstream.balance(recipient.address) == 0  # the transfer is not in the chain: taking its receipt as final would be wrong
