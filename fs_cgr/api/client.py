"""A small JSON-RPC client for fs_cgr (or CGrateS) servers: the CLI and the tests use it."""

import itertools
import json
import os
import ssl
import urllib.error
import urllib.request
from decimal import Decimal

from fs_cgr.api.jsonrpc import encode

DEFAULT_URL = "http://127.0.0.1:2080/jsonrpc"


class RpcError(Exception):
    """The server answered with an error; ``message`` is its text (``SERVER_ERROR: ...``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ServerUnreachable(RpcError):
    """No answer at all: the server is down, the URL is wrong or it timed out."""


class RpcClient:
    """``token`` (default ``$FS_CGR_TOKEN``) is sent as ``Authorization: Bearer``; ``cafile``
    verifies an https server whose certificate no system CA signed."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 30.0, token=None, cafile=None):
        self.url = url
        self.timeout = timeout
        self.token = os.environ.get("FS_CGR_TOKEN", "") if token is None else token
        self._tls = ssl.create_default_context(cafile=cafile) if cafile else None
        self._ids = itertools.count(1)

    def call(self, method: str, params=None):
        """``result`` of ``method`` called with ``params`` (an object, sent as ``[params]``)."""
        body = encode(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": [params or {}]}
        ).encode()
        reply = self._post(body)
        error = reply.get("error")
        if error is not None:
            raise RpcError(error.get("message", str(error)) if isinstance(error, dict) else error)
        return reply.get("result")

    def _post(self, body: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls) as reply:
                text = reply.read()
        except urllib.error.HTTPError as exc:
            text = exc.read()
            if not text.startswith(b"{"):
                raise RpcError(f"HTTP {exc.code} {exc.reason} from {self.url}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerUnreachable(f"cannot reach fs_cgr at {self.url}: {reason}") from None
        try:
            reply = json.loads(text, parse_float=Decimal)
        except ValueError:
            raise RpcError(f"{self.url} did not answer with JSON: {text[:200]!r}") from None
        if not isinstance(reply, dict):
            raise RpcError(f"{self.url} answered with something that is not JSON-RPC")
        return reply
