"""A JSON-RPC client for the node that FreeSWITCH's call threads share.

Each call thread borrows a kept-alive connection from a small pool and gives it back, so
a call costs one request on an open socket, not a TCP handshake. The request and its
reply are written and read here with plain sockets (one ``sendall``, reads until
Content-Length): this runs in FreeSWITCH's call thread, where http.client's header
parsing (the email package) cost about as much as the rest of the handler. At most
``pool_size`` requests are in flight: a burst of calls waits for a free connection
instead of opening more than the node admits per client. Every request has one deadline
for all of it, connecting, waiting for a connection included: a slow or dead node costs
a call at most ``timeout`` seconds.
"""

import json
import queue
import socket
import threading
import time
from decimal import Decimal
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:2080/jsonrpc"
DEFAULT_TIMEOUT = 1.0  # seconds
MAX_HEAD_BYTES = 16 * 1024  # of a reply's status line and headers
MAX_REPLY_BYTES = 4 * 1024 * 1024


class NodeUnavailable(Exception):
    """No usable answer: the node is down, slow, or answered something that is not JSON-RPC."""


class NodeRefused(Exception):
    """The node answered with a JSON-RPC error; ``message`` is its text."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _ClosedBeforeReply(Exception):
    """The node closed a kept-alive connection before a byte of the reply: the request is
    sent again once, on a fresh connection."""


class NodeClient:
    def __init__(self, url: str = DEFAULT_URL, timeout: float = DEFAULT_TIMEOUT, pool_size=32):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"fs_cgr node URL must be http://host:port/path, not {url!r}")
        self.url = url
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.pool_size = pool_size
        self._head = (
            f"POST {parts.path or '/jsonrpc'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._idle: list[socket.socket] = []
        # one token per request allowed in flight: SimpleQueue is C code, where a
        # BoundedSemaphore's acquire with a timeout runs a Condition in Python (~5 us a call)
        self._slots: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(pool_size):
            self._slots.put(None)
        self._lock = threading.Lock()
        self._ids = iter(range(1, 1 << 62))

    def call(self, method: str, params: dict):
        """``result`` of ``method``; NodeRefused for an error reply, NodeUnavailable else."""
        with self._lock:
            request_id = next(self._ids)
        body = _encode(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": [params]}
        ).encode()
        reply = self._post(body)
        if not isinstance(reply, dict):
            raise NodeUnavailable(f"reply is no JSON-RPC object: {str(reply)[:200]}")
        if reply.get("error") is not None:
            error = reply["error"]
            raise NodeRefused(error.get("message", "") if isinstance(error, dict) else str(error))
        if "result" not in reply:
            raise NodeUnavailable(f"reply without result: {str(reply)[:200]}")
        return reply["result"]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def _post(self, body: bytes):
        deadline = time.monotonic() + self.timeout
        try:
            self._slots.get(timeout=self.timeout)
        except queue.Empty:
            raise NodeUnavailable(
                f"{self.url}: {self.pool_size} requests waiting already"
            ) from None
        try:
            text = self._request(self._head + b"%d\r\n\r\n" % len(body) + body, deadline)
        finally:
            self._slots.put(None)
        try:
            return _decode(text.decode(json.detect_encoding(text), "surrogatepass"))
        except ValueError:
            raise NodeUnavailable(f"{self.url} answered no JSON: {text[:200]!r}") from None

    def _request(self, request: bytes, deadline: float) -> bytes:
        """The reply body of one request; a kept-alive connection the node closed meanwhile
        is retried once on a fresh one (only when the request cannot have been answered)."""
        with self._lock:
            sock = self._idle.pop() if self._idle else None
        try:
            if sock is not None:
                try:
                    return self._exchange(sock, request, deadline)
                except _ClosedBeforeReply:
                    sock.close()
            sock = self._connect(deadline)
            return self._exchange(sock, request, deadline)
        except _ClosedBeforeReply:
            sock.close()
            raise NodeUnavailable(f"{self.url}: connection closed") from None
        except (OSError, ValueError) as exc:
            if sock is not None:
                sock.close()
            raise NodeUnavailable(f"{self.url}: {exc!r}") from None

    def _connect(self, deadline: float) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), _left(deadline))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _exchange(self, sock: socket.socket, request: bytes, deadline: float) -> bytes:
        sock.settimeout(_left(deadline))
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            raise _ClosedBeforeReply() from None
        body, keep_alive = _read_reply(sock, deadline)
        if keep_alive:
            with self._lock:
                if len(self._idle) < self.pool_size:
                    self._idle.append(sock)
                    return body
        sock.close()
        return body


# json.dumps(..., default=str) and json.loads(..., parse_float=Decimal), with the coder built
# once: json builds one per call when given such options, about as costly as the coding
_encode = json.JSONEncoder(default=str).encode
_decode = json.JSONDecoder(parse_float=Decimal).decode


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _read_reply(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """An HTTP/1.x reply's body and whether the connection stays open. The status is not
    judged: the JSON-RPC body says what happened (a 401 carries a JSON-RPC error too)."""
    data = _receive(sock, deadline, first=True)
    while (end := data.find(b"\r\n\r\n")) < 0:
        if len(data) > MAX_HEAD_BYTES:
            raise ValueError("reply headers too long")
        data += _receive(sock, deadline)
    lines = data[:end].split(b"\r\n")
    version = lines[0].split(b" ", 1)[0]
    if not version.startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP reply: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        raise ValueError("chunked replies are not read")
    body = data[end + 4 :]
    length = headers.get(b"content-length")
    if length is None:  # the body ends with the connection
        while chunk := _receive(sock, deadline, eof_ok=True):
            body += chunk
            if len(body) > MAX_REPLY_BYTES:
                raise ValueError("reply too long")
        return body, False
    if not length.isdigit() or int(length) > MAX_REPLY_BYTES:
        raise ValueError(f"bad Content-Length {length[:20]!r}")
    while len(body) < int(length):
        body += _receive(sock, deadline)
    keep_alive = version == b"HTTP/1.1" and headers.get(b"connection") != b"close"
    return body[: int(length)], keep_alive


def _receive(sock: socket.socket, deadline: float, first=False, eof_ok=False) -> bytes:
    sock.settimeout(_left(deadline))
    try:
        chunk = sock.recv(65536)
    except ConnectionResetError:
        if first:
            raise _ClosedBeforeReply() from None
        raise
    if not chunk and not eof_ok:
        if first:
            raise _ClosedBeforeReply()
        raise ConnectionError("connection closed inside the reply")
    return chunk
