"""Revert data of the ledger's custom errors -> :class:`~incentive.errors.LedgerRevert`, on every backend."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3 import Web3

from incentive.errors import LedgerRevert
from incentive.ledger.records import to_hex, plain

class RevertDecoder:
    """Revert data (selector + ABI-encoded arguments) -> :class:`LedgerRevert`."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]):
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {}
        builtin = [
            {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
            {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
        ]
        for abi in [builtin, *abis]:
            for entry in abi:
                if entry.get("type") != "error":
                    continue
                types = [inp["type"] for inp in entry["inputs"]]
                names = [inp["name"] or f"arg{i}" for i, inp in enumerate(entry["inputs"])]
                selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
                self._by_selector[selector] = (entry["name"], types, names)

    def decode(self, data: bytes) -> LedgerRevert:
        entry = self._by_selector.get(bytes(data[:4]))
        if entry is None:
            return LedgerRevert("UnknownRevert", {"data": to_hex(data)})
        name, types, names = entry
        try:
            values = abi_decode(types, bytes(data[4:]))
        except Exception:
            return LedgerRevert(name, {"data": to_hex(data)})
        named = {n: (Web3.to_checksum_address(v) if t == "address" else plain(v)) for n, t, v in zip(names, types, values)}
        return LedgerRevert(name, named)

    def from_exception(self, exc: BaseException) -> LedgerRevert | None:
        """The revert carried by a web3 exception (``ContractLogicError.data``, or a node's error
        response) or by an eth-tester ``TransactionFailed``; ``None`` for anything else."""
        data = getattr(exc, "data", None)
        if data is None:  # Hardhat node rejects at send: Web3RPCError with the revert in rpc_response
            error = (getattr(exc, "rpc_response", None) or {}).get("error")
            data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            try:
                return self.decode(bytes.fromhex(data[2:]))
            except ValueError:  # a node's error data that is not hex: not a revert
                return None
        message = str(exc.args[0]) if exc.args else ""
        if not message.startswith("execution reverted"):
            return None
        reason = message.partition(": ")[2]
        if reason.startswith(("b'", 'b"')):
            try:
                raw = ast.literal_eval(reason)
            except (ValueError, SyntaxError):
                return None
            return self.decode(raw) if len(raw) >= 4 else LedgerRevert("Revert", {})
        return LedgerRevert("Error", {"message": reason}) if reason else LedgerRevert("Revert", {})


# ====================================================================== client
