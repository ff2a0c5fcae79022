"""Ethereum JSON-RPC over the standard library: for commands that read a few views and must answer at once.

web3 takes longer to import (about 1.4 s here) than a short command takes to run. A node keeps web3 (its
transactions, filters and retries); a command that only reads views uses this transport under the same view
code (:class:`node.chain.views.MarketViews`).
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from typing import Any

from node.errors import ChainUnreachable, DmlnetError


class JsonRpcError(DmlnetError):
    """The node answered with an error object (a revert carries its data)."""

    def __init__(self, code: int, message: str, data: str | None) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code
        self.data = data


class JsonRpc:
    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)

    def request(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        request = urllib.request.Request(self.url, data=body.encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                document = json.loads(response.read())
        except (OSError, ValueError) as err:  # refused, timed out, an HTTP error status, not JSON
            raise ChainUnreachable(self.url, f"{type(err).__name__}: {err}") from err
        error = document.get("error")
        if error is not None:
            data = error.get("data")
            raise JsonRpcError(
                int(error.get("code", 0)), str(error.get("message", "")), data if isinstance(data, str) else None
            )
        return document["result"]

    def chain_id(self) -> int:
        return int(self.request("eth_chainId"), 16)

    def genesis_hash(self) -> str:
        """The hash of block 0, hex without 0x (as :func:`node.chain.deployment.genesis_hash`)."""
        return str(self.request("eth_getBlockByNumber", "0x0", False)["hash"]).removeprefix("0x")

    def code_at(self, address: str) -> bytes:
        return bytes.fromhex(str(self.request("eth_getCode", address, "latest")).removeprefix("0x"))
