"""A JSON-RPC client for the node that FreeSWITCH's call threads share.

Each call thread borrows a kept-alive HTTP connection from a small pool and gives it
back, so a call costs one request on an open socket, not a TCP handshake. Every request
has a short timeout: a slow or dead node must cost a call at most that long.
"""

import http.client
import json
import threading
from decimal import Decimal
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:2080/jsonrpc"
DEFAULT_TIMEOUT = 1.0  # seconds


class NodeUnavailable(Exception):
    """No usable answer: the node is down, slow, or answered something that is not JSON-RPC."""


class NodeRefused(Exception):
    """The node answered with a JSON-RPC error; ``message`` is its text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NodeClient:
    def __init__(self, url: str = DEFAULT_URL, timeout: float = DEFAULT_TIMEOUT, pool_size=32):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"fs_cgr node URL must be http://host:port/path, not {url!r}")
        self.url = url
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = parts.path or "/jsonrpc"
        self.timeout = timeout
        self.pool_size = pool_size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._ids = iter(range(1, 1 << 62))

    def call(self, method: str, params: dict):
        """``result`` of ``method``; NodeRefused for an error reply, NodeUnavailable else."""
        with self._lock:
            request_id = next(self._ids)
        body = json.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": [params]},
            default=str,
        ).encode()
        reply = self._post(body)
        if reply.get("error") is not None:
            error = reply["error"]
            raise NodeRefused(error.get("message", "") if isinstance(error, dict) else str(error))
        if "result" not in reply:
            raise NodeUnavailable(f"reply without result: {str(reply)[:200]}")
        return reply["result"]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _post(self, body: bytes) -> dict:
        """One POST; a kept-alive connection the node closed meanwhile is retried once on
        a fresh one (only when the request cannot have reached the node)."""
        conn, reused = self._borrow()
        try:
            text = self._exchange(conn, body)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            conn.close()
            if not reused:
                raise NodeUnavailable(f"{self.url}: connection closed") from None
            conn = self._new()
            text = self._guarded(conn, body)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise NodeUnavailable(f"{self.url}: {exc!r}") from None
        self._give_back(conn)
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError:
            raise NodeUnavailable(f"{self.url} answered no JSON: {text[:200]!r}") from None

    def _guarded(self, conn, body: bytes) -> bytes:
        try:
            return self._exchange(conn, body)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise NodeUnavailable(f"{self.url}: {exc!r}") from None

    def _exchange(self, conn, body: bytes) -> bytes:
        conn.request("POST", self.path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        text = response.read()
        if response.will_close:
            conn.close()
        return text

    def _borrow(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _new(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _give_back(self, conn) -> None:
        if conn.sock is None:
            return
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()
