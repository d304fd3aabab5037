"""A JSON-RPC provider that turns every way a node can misbehave into one :class:`ChainError`.

web3's own HTTP provider lets a refused connection, a stalled or truncated answer, a body that
is not JSON, or an answer to another request surface as whatever ``requests`` or the JSON
decoder raised, or as a ``KeyError`` deep inside web3. Here each becomes a
:class:`~incentive.errors.ChainError` naming the method, the node and what was wrong, within
the request timeout.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from web3 import HTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from incentive.errors import ChainError


class CheckedHTTPProvider(HTTPProvider):
    """:class:`web3.HTTPProvider` that checks every answer before web3 reads it.

    Parameters
    ----------
    url : str
    timeout_s : float
        Per-request timeout (connect and read): a node that stalls fails after it.
    """

    def __init__(self, url: str, timeout_s: float) -> None:
        super().__init__(url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None)
        self.timeout_s = timeout_s

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        request_data = self.encode_rpc_request(method, params)
        request_id = json.loads(request_data)["id"]
        where = f"JSON-RPC {method} to {self.endpoint_uri}"
        try:
            raw = self._make_request(method, request_data)
        except requests.Timeout:
            raise ChainError(f"{where}: no answer within {self.timeout_s:g} s") from None
        except requests.HTTPError as exc:
            raise ChainError(f"{where}: HTTP {exc.response.status_code if exc.response is not None else 'error'}") from None
        except requests.RequestException as exc:
            raise ChainError(f"{where}: connection failed ({type(exc).__name__})") from None
        try:
            response = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise ChainError(f"{where}: the answer is not JSON ({len(raw)} bytes)") from None
        if not isinstance(response, dict):
            raise ChainError(f"{where}: the answer is a JSON {type(response).__name__}, not a JSON-RPC object")
        if response.get("id") != request_id:
            raise ChainError(f"{where}: the answer has id {response.get('id')!r}, the request had {request_id!r}")
        if "result" not in response and not isinstance(response.get("error"), dict):
            raise ChainError(f"{where}: the answer has neither a result nor an error object")
        return response
