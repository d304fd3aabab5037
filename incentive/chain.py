"""Chain backends: the embedded eth-tester chain, any JSON-RPC node, and a local anvil launcher.

Every transaction is signed here with an eth-account key and sent raw, so the same code runs on
any node; no node-side (unlocked) account is ever used. On development chains (the embedded
chain, anvil, Hardhat node) a well-known funded development key pays for fresh participant keys.

Typical use::

    chain = connect()                        # embedded py-evm chain
    chain = connect("http://127.0.0.1:8545")  # any node
    with start_anvil(port=8545, state=Path("state.json")) as node:
        chain = connect(node.url)
    alice = chain.new_account(balance_wei=10**18)
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound, TimeExhausted
from web3.types import TxReceipt

from incentive.atomic import write_atomic
from incentive.errors import ChainError, KeyFileError
from incentive.rpc import CheckedHTTPProvider

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
#: anvil and Hardhat node's first development account (mnemonic "test test ... junk"): public knowledge.
DEV_CHAIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_CHAIN_ID = 31337
#: Priority fee offered on every transaction (wei per gas).
PRIORITY_FEE_WEI = 10**9
RECEIPT_TIMEOUT_S = 120.0


@dataclass
class Chain:
    """A connection to one chain, with local signing.

    Attributes
    ----------
    w3 : Web3
        The connection.
    backend : str
        ``"embedded"`` (eth-tester, py-evm) or ``"rpc"``.
    chain_id : int
        The chain id, read once.
    funder : LocalAccount | None
        A funded key that pays for fresh accounts (development chains only).
    fixed_gas : bool
        Send transactions with the caller's fixed gas limit (fast, development chains) instead of
        estimating each one (any other chain).
    tester : Any
        The ``EthereumTester`` behind an embedded chain (snapshots, time travel), else ``None``.
    receipt_timeout_s : float (default: 120)
        How long :meth:`send` waits for a transaction's receipt.
    """

    w3: Web3
    backend: str
    chain_id: int
    funder: LocalAccount | None = None
    fixed_gas: bool = True
    tester: Any = None
    receipt_timeout_s: float = RECEIPT_TIMEOUT_S
    _snapshots: dict[int, Any] = field(default_factory=dict, repr=False)

    # -------------------------------------------------------------- accounts

    def new_account(self, balance_wei: int = 10**19) -> LocalAccount:
        """A fresh key, funded with ``balance_wei`` by the development funder.

        Raises
        ------
        ChainError
            When this chain has no funder (not a development chain).
        """
        account = Account.create()
        if balance_wei:
            self.fund(account.address, balance_wei)
        return account

    def fund(self, to: str, amount_wei: int) -> TxReceipt:
        """Send ``amount_wei`` from the development funder to ``to``."""
        if self.funder is None:
            raise ChainError("this chain has no funded development account: pass a funded key with --key")
        return self.send(self.funder, {"to": Web3.to_checksum_address(to), "value": amount_wei}, gas=21_000)

    def balance(self, address: str) -> int:
        """Balance of ``address`` in wei."""
        return self.w3.eth.get_balance(Web3.to_checksum_address(address))

    # -------------------------------------------------------------- transactions

    def send(self, account: LocalAccount, tx: dict[str, Any], gas: int | None = None) -> TxReceipt:
        """Sign ``tx`` with ``account`` and send it raw; wait for and return the receipt.

        Parameters
        ----------
        account : LocalAccount
            The signer (its key never leaves this process).
        tx : dict
            ``to`` (absent for a deployment), ``data``, ``value``.
        gas : int | None (default: estimate)
            Gas limit. Ignored (estimated) when ``fixed_gas`` is false.

        Returns
        -------
        TxReceipt
            The receipt, whatever its status: the caller decides what a failure means.

        Raises
        ------
        ChainError
            The node did not answer properly (see :mod:`incentive.rpc`), reports another chain id
            (nothing is sent), or no receipt in a block of the chain came within
            ``receipt_timeout_s`` (see :meth:`canonical_receipt`).
        """
        if self.backend == "rpc":
            self.require_same_chain()
        full = dict(tx)
        full.setdefault("value", 0)
        full["from"] = account.address
        full["chainId"] = self.chain_id
        full["nonce"] = self.w3.eth.get_transaction_count(account.address, "pending")
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
        full["maxPriorityFeePerGas"] = PRIORITY_FEE_WEI
        full["maxFeePerGas"] = 2 * base_fee + PRIORITY_FEE_WEI
        if gas is None or not self.fixed_gas:
            estimate = self.w3.eth.estimate_gas({k: v for k, v in full.items() if k != "chainId"})
            gas = estimate + estimate // 5 + 10_000
        full["gas"] = gas
        signed = account.sign_transaction(full)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return self.canonical_receipt(tx_hash)

    def require_same_chain(self) -> None:
        """Raise ChainError unless the node still reports the chain id this client signs for.

        A node that now answers for another chain (a proxy switched upstream, a node restarted
        with another id) is refused before anything is signed for it.
        """
        actual = self.w3.eth.chain_id
        if actual != self.chain_id:
            raise ChainError(
                f"wrong chain at {self.endpoint}: the node reports chain id {actual}, this client signs for {self.chain_id}; nothing sent"
            )

    @property
    def endpoint(self) -> str:
        """The node's URL (``embedded`` for the embedded chain)."""
        return str(getattr(self.w3.provider, "endpoint_uri", "embedded"))

    def canonical_receipt(self, tx_hash: HexBytes) -> TxReceipt:
        """Wait for ``tx_hash``'s receipt in a block that is part of the chain (not reorganised away).

        A receipt whose block hash is not the hash of the chain's block at that height is not
        final: the wait goes on, for a receipt of the transaction mined again, until
        ``receipt_timeout_s``.

        Raises
        ------
        ChainError
            No receipt in time, or (named) only receipts of blocks reorganised out of the chain.
        """
        deadline = time.monotonic() + self.receipt_timeout_s
        orphaned: TxReceipt | None = None
        while True:
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=max(deadline - time.monotonic(), 0.05), poll_latency=0.05
                )
            except TimeExhausted:
                receipt = None
            if receipt is not None and (self.backend != "rpc" or self._in_chain(receipt)):
                return receipt
            if receipt is not None:
                orphaned = receipt
                log.warning("transaction %s: block %d was reorganised out of the chain; waiting", tx_hash.to_0x_hex(), receipt["blockNumber"])
            if time.monotonic() >= deadline:
                if orphaned is not None:
                    raise ChainError(
                        f"transaction {tx_hash.to_0x_hex()}: its receipt's block {orphaned['blockNumber']} "
                        f"({orphaned['blockHash'].to_0x_hex()}) was reorganised out of the chain, and no receipt in a "
                        f"block of the chain came within {self.receipt_timeout_s:g} s"
                    )
                raise ChainError(f"no receipt for transaction {tx_hash.to_0x_hex()} within {self.receipt_timeout_s:g} s")
            time.sleep(0.05)

    def _in_chain(self, receipt: TxReceipt) -> bool:
        """Whether the receipt's block is the chain's block at its height."""
        try:
            block = self.w3.eth.get_block(receipt["blockNumber"])
        except BlockNotFound:
            return False
        return block["hash"] == receipt["blockHash"]

    # -------------------------------------------------------------- logs

    def get_logs(self, address: str, from_block: int, to_block: int, chunk_blocks: int = 2_000) -> list[Any]:
        """Logs emitted by ``address`` in blocks ``from_block..to_block``, in chain order.

        On a node: ``eth_getLogs`` over spans of ``chunk_blocks``. On the embedded chain the
        blocks are read from py-evm directly (header bloom first, receipts only where the bloom
        matches), because eth-tester's ``get_logs`` and receipt lookups scan the whole chain for
        every request and grow quadratic with its length.
        """
        address = Web3.to_checksum_address(address)
        if self.tester is not None:
            return _embedded_logs(self.tester, address, from_block, to_block)
        logs: list[Any] = []
        for start in range(from_block, to_block + 1, chunk_blocks):
            end = min(to_block, start + chunk_blocks - 1)
            logs.extend(self.w3.eth.get_logs({"address": address, "fromBlock": start, "toBlock": end}))
        return logs

    # -------------------------------------------------------------- time and snapshots

    def timestamp(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def increase_time(self, seconds: int) -> int:
        """Mine a block ``seconds`` after the latest one (development chains); return its timestamp."""
        target = self.timestamp() + int(seconds)
        if self.tester is not None:
            self.tester.time_travel(target)
        else:
            self.w3.provider.make_request("evm_setNextBlockTimestamp", [target])
            self.w3.provider.make_request("evm_mine", [])
        return self.timestamp()

    def snapshot(self) -> int:
        """Remember the chain state; :meth:`revert` goes back to it (development chains).

        A snapshot can be reverted to any number of times.
        """
        if self.tester is not None:
            snap = self.tester.take_snapshot()
        else:
            snap = _rpc_result(self.w3.provider.make_request("evm_snapshot", []))
        key = len(self._snapshots) + 1
        self._snapshots[key] = snap
        return key

    def revert(self, key: int) -> None:
        """Go back to the state remembered by :meth:`snapshot` ``key``."""
        snap = self._snapshots[key]
        if self.tester is not None:
            self.tester.revert_to_snapshot(snap)
            return
        if not _rpc_result(self.w3.provider.make_request("evm_revert", [snap])):
            raise ChainError(f"the node refused to revert to snapshot {snap}")
        # an RPC snapshot is consumed by reverting to it: take it again at the same state
        self._snapshots[key] = _rpc_result(self.w3.provider.make_request("evm_snapshot", []))


def _rpc_result(response: dict[str, Any]) -> Any:
    if "error" in response:
        raise ChainError(f"the node rejected the request: {response['error']}")
    return response["result"]


def _embedded_logs(tester: Any, address: str, from_block: int, to_block: int) -> list[dict[str, Any]]:
    from eth_bloom import BloomFilter

    chain = tester.backend.chain
    wanted = bytes.fromhex(address[2:])
    head = chain.get_canonical_head().block_number
    logs: list[dict[str, Any]] = []
    for number in range(max(from_block, 0), min(to_block, head) + 1):
        header = chain.get_canonical_block_header_by_number(number)
        if wanted not in BloomFilter(header.bloom):
            continue
        block = chain.get_block_by_header(header)
        log_index = 0
        for tx_index, (tx, receipt) in enumerate(zip(block.transactions, block.get_receipts(chain.chaindb))):
            for log in receipt.logs:
                if log.address == wanted:
                    logs.append(
                        {
                            "address": address,
                            "topics": [HexBytes(topic.to_bytes(32, "big")) for topic in log.topics],
                            "data": HexBytes(log.data),
                            "blockNumber": number,
                            "blockHash": HexBytes(header.hash),
                            "transactionHash": HexBytes(tx.hash),
                            "transactionIndex": tx_index,
                            "logIndex": log_index,
                            "removed": False,
                        }
                    )
                log_index += 1
    return logs


# ------------------------------------------------------------------ connecting


def embedded_chain() -> Chain:
    """A fresh in-process eth-tester (py-evm) chain; its first development key is the funder."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    backend = PyEVMBackend()
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    funder = Account.from_key(backend.account_keys[0].to_bytes())
    return Chain(w3=w3, backend="embedded", chain_id=w3.eth.chain_id, funder=funder, fixed_gas=True, tester=tester)


def rpc_chain(url: str, chain_id: int | None = None, timeout_s: float = 10.0) -> Chain:
    """Connect to a JSON-RPC node at ``url``.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` endpoint.
    chain_id : int | None (default: accept any)
        Expected chain id; a different one is an error.
    timeout_s : float (default: 10.0)
        Per-request timeout.

    Raises
    ------
    ChainError
        Malformed or unreachable URL, or a chain id other than ``chain_id``.
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ChainError(f"not an http(s) JSON-RPC URL: {url!r}")
    w3 = Web3(CheckedHTTPProvider(url, timeout_s))
    try:
        actual = w3.eth.chain_id
    except ChainError as exc:
        raise ChainError(f"cannot reach a JSON-RPC node at {url}: {exc}") from None
    except Exception as exc:  # an error object, or a result that is not a chain id
        raise ChainError(f"cannot reach a JSON-RPC node at {url} ({type(exc).__name__}: {exc})") from None
    if chain_id is not None and actual != chain_id:
        raise ChainError(f"wrong chain at {url}: chain id {actual}, expected {chain_id}")
    funder = None
    if actual == DEV_CHAIN_ID:
        candidate = Account.from_key(DEV_CHAIN_KEY)
        if w3.eth.get_balance(candidate.address) > 0:
            funder = candidate
    return Chain(w3=w3, backend="rpc", chain_id=actual, funder=funder, fixed_gas=actual == DEV_CHAIN_ID)


def connect(rpc: str | None = None, chain_id: int | None = None) -> Chain:
    """The embedded chain when ``rpc`` is ``None``, else the node at ``rpc`` (see :func:`rpc_chain`)."""
    if rpc is None:
        chain = embedded_chain()
        if chain_id is not None and chain.chain_id != chain_id:
            raise ChainError(f"wrong chain: the embedded chain has chain id {chain.chain_id}, expected {chain_id}")
        return chain
    return rpc_chain(rpc, chain_id=chain_id)


# ------------------------------------------------------------------ keys


def load_key_file(path: Path) -> LocalAccount:
    """Read a private key: a file holding one 32-byte hex key (``0x`` optional, whitespace ignored).

    Raises
    ------
    KeyFileError
        Missing, unreadable or malformed file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.__class__.__name__}") from None
    hex_part = text[2:] if text.lower().startswith("0x") else text
    if len(hex_part) != 64 or any(c not in "0123456789abcdefABCDEF" for c in hex_part):
        raise KeyFileError(f"malformed key file {path}: expected one 32-byte hex private key")
    try:
        return Account.from_key("0x" + hex_part)
    except Exception:  # zero or out-of-range scalar
        raise KeyFileError(f"malformed key file {path}: not a valid secp256k1 private key") from None


def write_key_file(path: Path, account: LocalAccount) -> None:
    """Write ``account``'s private key as hex, readable by the owner only (atomically)."""
    write_atomic(path, HexBytes(account.key).to_0x_hex() + "\n", mode=0o600)


# ------------------------------------------------------------------ anvil


def anvil_binary() -> Path:
    """The anvil executable: ``$FEDLEDGER_ANVIL``, the npm package's binary, or ``anvil`` on PATH."""
    if env := os.environ.get("FEDLEDGER_ANVIL"):
        return Path(env)
    bundled = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if bundled.is_file():
        return bundled
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ChainError(f"anvil not found at {bundled} nor on PATH (run `make setup`)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class AnvilNode:
    """A running anvil process on the loopback interface; stop it with :meth:`stop` or ``with``."""

    process: subprocess.Popen
    host: str
    port: int
    state: Path | None

    @property
    def url(self) -> str:
        """The node's JSON-RPC URL."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop the node gracefully (SIGINT: anvil writes ``--state`` on exit), killing it if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_anvil(
    port: int | None = None,
    state: Path | None = None,
    host: str = "127.0.0.1",
    chain_id: int = DEV_CHAIN_ID,
    balance_eth: int | None = None,
    ready_timeout_s: float = 20.0,
) -> AnvilNode:
    """Start anvil and wait until it answers JSON-RPC.

    Parameters
    ----------
    port : int | None (default: a free port)
        TCP port to listen on.
    state : Path | None (default: no persistence)
        State file: loaded at start when it exists, written when the node stops.
    host : str (default: ``"127.0.0.1"``)
        Interface to bind (loopback by default).
    chain_id : int (default: 31337)
        Chain id.
    balance_eth : int | None (default: anvil's 10,000)
        Balance of each development account, in ETH.
    ready_timeout_s : float (default: 20.0)
        How long to wait for the first answer.

    Raises
    ------
    ChainError
        anvil is missing, exits at start (e.g. the port is taken), or does not answer in time.
    """
    binary = anvil_binary()
    port = port or free_port(host)
    if not _port_free(host, port):  # else the other process's answers would pass for anvil's
        raise ChainError(f"cannot start anvil: {host}:{port} is already in use")
    cmd = [str(binary), "--host", host, "--port", str(port), "--chain-id", str(chain_id), "--silent"]
    if balance_eth is not None:
        cmd += ["--balance", str(balance_eth)]
    if state is not None:
        state = Path(state).resolve()
        state.parent.mkdir(parents=True, exist_ok=True)
        cmd += ["--state", str(state)]
    log.info("starting %s", " ".join(cmd))
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty node never blocks on it
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        node = AnvilNode(process=process, host=host, port=port, state=state)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                errors.seek(0)
                lines = errors.read().decode(errors="replace").strip().splitlines()
                last = lines[-1] if lines else f"exit code {process.returncode}"
                raise ChainError(f"anvil exited at start on {host}:{port}: {last}")
            if _answers(host, port):
                return node
            time.sleep(0.05)
    node.stop()
    raise ChainError(f"anvil did not answer on {host}:{port} within {ready_timeout_s:.0f} s")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as anvil binds: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _answers(host: str, port: int) -> bool:
    import json
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(
        f"http://{host}:{port}", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return "result" in json.loads(response.read())
    except (OSError, ValueError):
        return False
