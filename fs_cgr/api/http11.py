"""A lean HTTP/1.1 server for the API on gevent's StreamServer.

Why not gevent.pywsgi: it costs ~0.15 ms of CPU per request (the email package parses
the headers, a WSGI environ of ~30 keys is built, the reply goes out in two sends),
about ten times what rating a GetCost costs. The API needs far less of HTTP: a request
line, a few headers, a ``Content-Length`` body, and a JSON reply. So this server reads
requests itself, and refuses what it does not take with a clear 4xx and a hang-up:

- request line and headers: at most MAX_HEAD bytes (431), CRLF line ends, a request
  line of ``METHOD /path HTTP/1.x`` and ``Name: value`` headers (400 otherwise),
  HTTP/1.0 or 1.1 (505);
- body: ``Content-Length`` only, at most ``max_body`` bytes (413, not read); chunked
  bodies are refused with 411 (no client of the API sends one); ``Expect:
  100-continue`` is answered (libcurl, i.e. mod_json_cdr, waits for it);
- the whole request (line, headers, body) within ``read_timeout`` in total, not per
  byte, so a client trickling one byte at a time is cut off (408 when part of a
  request had come, a silent close for an idle keep-alive connection); a reply not
  taken within SEND_TIMEOUT ends the connection. One timer per connection enforces
  both (``_Watchdog``), not a gevent Timeout made and cancelled around each recv;
- at most ``per_client`` open connections per client address (turned away at once).

Connections are kept alive (HTTP/1.1 unless ``Connection: close``; HTTP/1.0 only with
``Connection: keep-alive``), and pipelined requests are answered in order: the replies
of every request already received go out in one send, before the server waits for more.
"""

import email.utils
import logging
import socket
import time
from collections import Counter
from http import HTTPStatus
from typing import NamedTuple

from gevent import get_hub, getcurrent
from gevent.server import StreamServer

from fs_cgr.sockets import send_whole

log = logging.getLogger(__name__)
MAX_HEAD = 64 * 1024  # bytes of request line and headers
SEND_TIMEOUT = 30.0  # seconds a client may take to take a reply off our hands
LINGER = 2.0  # seconds a refused client may go on sending before it reads the refusal
_RECV = 65536
# heads (request line and headers) a connection keeps parsed: a client sends the same few,
# only Content-Length telling them apart, so most requests cost a dict lookup there
HEADS_KEPT = 8
HEAD_KEPT_BYTES = 2048  # a larger head is parsed each time: no connection keeps much
_VERSIONS = ("HTTP/1.1", "HTTP/1.0")
# How a reply ends the connection's use: the Connection header it carries.
_KEEP = b""  # HTTP/1.1: persistent unless said otherwise
_KEEP_10 = b"Connection: keep-alive\r\n"  # HTTP/1.0 asked for it: the reply confirms
_CLOSE = b"Connection: close\r\n"


class Request:
    """One request as the application sees it; header names are lower case."""

    __slots__ = ("method", "path", "headers", "body", "remote_addr")

    def __init__(self, method: str, path: str, headers: dict, remote_addr: str):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = b""
        self.remote_addr = remote_addr


class Reply(NamedTuple):
    """``status`` with a JSON ``body``; ``close`` hangs up after it (always after a
    refusal by ``before_body``)."""

    status: int
    body: bytes
    headers: tuple = ()
    close: bool = False


class HttpError(Exception):
    """A request this server cannot take: answered with ``status`` and closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Closed(Exception):
    """The client closed the connection (or stayed silent) between two requests."""


class HttpServer(StreamServer):
    """Serves ``app`` over HTTP/1.1. ``app.before_body(request)`` may refuse a request
    from its line and headers alone (a Reply, or None to go on), so nothing is read of a
    body that would be refused anyway; ``app.answer(request)`` returns the Reply of a
    request with its body; ``error_body(status, message)`` is the body of the server's own
    replies (4xx for a request it does not take, 500 when ``answer`` raised)."""

    def __init__(self, listener, app, error_body, *, max_body, read_timeout, per_client,
                 **server_args):  # fmt: skip
        super().__init__(listener, **server_args)
        self.app = app
        self.error_body = error_body
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.per_client = per_client
        self._open: Counter = Counter()

    def handle(self, sock, address):
        host = address[0] if isinstance(address, tuple) else ""
        if self._open[host] >= self.per_client:
            log.warning("refused a connection from %s: %s already open", host, self.per_client)
            sock.close()
            return
        self._open[host] += 1
        try:
            _Connection(self, sock, host).serve()
        finally:
            self._open[host] -= 1
            if not self._open[host]:
                del self._open[host]


class _Watchdog:
    """Cuts a socket wait of one connection's greenlet that outlasts its limit (TimeoutError
    in the greenlet, as a socket timeout raises it).

    gevent gives a socket with a timeout a Timeout (an exception object and an event-loop
    timer) for every recv that has to wait, i.e. for every request of a kept-alive
    connection: a visible share of the CPU of a small request. Here one timer serves the
    connection: ``wait(limit)`` before each socket call and ``done()`` after cost two
    attribute writes; the timer is started again only when it would fire after the new
    limit, and when it fires before the limit of the wait then under way (an earlier
    wait's), it is set for what is left."""

    __slots__ = ("greenlet", "limit", "fires_at", "timer")

    def __init__(self):
        self.greenlet = getcurrent()
        self.limit: float | None = None  # monotonic time the socket wait under way must end by
        self.fires_at = _NEVER
        self.timer = None

    def wait(self, limit: float) -> None:
        self.limit = limit
        if limit < self.fires_at:
            self._start(limit)

    def done(self) -> None:
        self.limit = None

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.close()

    def _start(self, limit: float) -> None:
        self.stop()
        self.fires_at = limit
        self.timer = get_hub().loop.timer(max(limit - time.monotonic(), 0.0))
        self.timer.start(self._fire, update=True)

    def _fire(self) -> None:
        self.fires_at = _NEVER
        if self.limit is None:  # not waiting: the next wait starts the timer again
            return
        if self.limit > time.monotonic():  # set for an earlier wait, or the loop's clock
            self._start(self.limit)
            return
        self.limit = None
        self.greenlet.throw(TimeoutError("timed out"))


_NEVER = float("inf")


class _Connection:
    """One client connection: requests in, replies out, until one side closes."""

    __slots__ = (
        "server", "sock", "host", "buffer", "pending", "deadline", "refused", "watchdog", "heads"
    )  # fmt: skip

    def __init__(self, server: HttpServer, sock, host: str):
        self.server = server
        self.sock = sock
        self.host = host
        self.buffer = bytearray()
        self.pending: list[bytes] = []  # replies not sent yet (pipelined requests)
        self.deadline = 0.0
        self.refused = False  # closing on a refusal: the client may still be sending
        self.watchdog = _Watchdog()
        self.heads: dict[bytes, tuple] = {}  # head -> _parse_head's; headers never changed
        sock.settimeout(None)  # the watchdog limits each wait
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def serve(self) -> None:
        try:
            while self._serve_one():
                pass
            self._flush()
            if self.refused:
                self._linger()
        except (_Closed, OSError):
            pass  # the client went away (or stalled past the deadline): nothing to tell it
        finally:
            self.watchdog.stop()

    def _serve_one(self) -> bool:
        """Answer one request; False when the connection is to be closed."""
        self.deadline = time.monotonic() + self.server.read_timeout
        try:
            request, connection = self._read_head()
            reply = self._answer(request)
        except HttpError as exc:
            reply = Reply(exc.status, self.server.error_body(exc.status, str(exc)), close=True)
        if reply.close:
            connection = _CLOSE
            self.refused = True
        self.pending.append(_render(reply, connection))
        return connection is not _CLOSE

    def _answer(self, request: Request) -> Reply:
        app = self.server.app
        reply = app.before_body(request)
        if reply is not None:  # refused: its body (if any) is not read, so the connection
            return reply._replace(close=True)  # cannot go on
        self._read_body(request)
        try:
            return app.answer(request)
        except Exception:  # a bug must cost one reply, never the server's greenlet
            log.exception("%s %s failed", request.method, request.path)
            return Reply(500, self.server.error_body(500, "unexpected failure"), close=True)

    def _read_head(self) -> tuple[Request, bytes]:
        """The next request's line and headers, and the Connection header of its reply."""
        end = self.buffer.find(b"\r\n\r\n")
        while end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise HttpError(431, f"request line and headers larger than {MAX_HEAD} bytes")
            if b"\n\n" in self.buffer:
                raise HttpError(400, "malformed request: lines must end with CRLF")
            searched = max(len(self.buffer) - 3, 0)
            self._receive(idle=not self.buffer)
            end = self.buffer.find(b"\r\n\r\n", searched)
        head = bytes(self.buffer[:end])
        del self.buffer[: end + 4]
        method, path, headers, connection = self._parsed(head)
        return Request(method, path, headers, self.host), connection

    def _parsed(self, head: bytes) -> tuple[str, str, dict, bytes]:
        """``_parse_head(head)``, from the heads this connection kept when seen before."""
        parsed = self.heads.get(head)
        if parsed is None:
            parsed = _parse_head(head)
            if len(head) <= HEAD_KEPT_BYTES:
                if len(self.heads) >= HEADS_KEPT:
                    self.heads.clear()
                self.heads[head] = parsed
        return parsed

    def _read_body(self, request: Request) -> None:
        headers = request.headers
        if "transfer-encoding" in headers:
            raise HttpError(411, "send the body with Content-Length (chunked is not taken)")
        declared = headers.get("content-length", "0")
        if not declared.isdigit() or not declared.isascii():
            raise HttpError(400, f"malformed Content-Length: {declared[:40]!r}")
        length = int(declared)
        if length > self.server.max_body:
            raise HttpError(413, f"request body larger than {self.server.max_body} bytes")
        if len(self.buffer) < length and headers.get("expect", "").lower() == "100-continue":
            self.pending.append(b"HTTP/1.1 100 Continue\r\n\r\n")
        while len(self.buffer) < length:
            self._receive(idle=False)
        request.body = bytes(self.buffer[:length])
        del self.buffer[:length]

    def _receive(self, idle: bool) -> None:
        """More bytes of the request, within what is left of the deadline; the replies
        still pending go out first (the client may wait for them before sending more)."""
        self._flush()
        if self.deadline <= time.monotonic():
            raise self._too_slow(idle)
        self.watchdog.wait(self.deadline)
        try:
            data = self.sock.recv(_RECV)
        except TimeoutError:
            raise self._too_slow(idle) from None
        finally:
            self.watchdog.done()
        if not data:
            raise _Closed()
        self.buffer += data

    def _too_slow(self, idle: bool) -> Exception:
        if idle:  # nothing of a next request came: just close
            return _Closed()
        return HttpError(408, "request not received in time")

    def _linger(self) -> None:
        """Read and drop what a refused client still sends (e.g. the rest of a body too
        large), for at most LINGER: closing with unread data would reset the connection
        and the client would see the reset instead of the refusal."""
        self.sock.shutdown(socket.SHUT_WR)
        self.watchdog.wait(time.monotonic() + LINGER)
        try:
            while self.sock.recv(_RECV):
                pass
        finally:
            self.watchdog.done()

    def _flush(self) -> None:
        """Send the pending replies, within SEND_TIMEOUT (``send_whole``: one ``send``
        takes a reply whole when the socket's buffer has room)."""
        if self.pending:
            data = b"".join(self.pending) if len(self.pending) > 1 else self.pending[0]
            self.pending.clear()
            self.watchdog.wait(time.monotonic() + SEND_TIMEOUT)
            try:
                send_whole(self.sock, data)
            finally:
                self.watchdog.done()


def _parse_head(head: bytes) -> tuple[str, str, dict, bytes]:
    """Method, path, headers and the Connection header of the reply."""
    line, *fields = head.decode("latin-1").split("\r\n")
    method, path, version = _request_line(line)
    headers = _headers(fields)
    tokens = headers.get("connection", "").lower()
    if version == "HTTP/1.1":
        return method, path, headers, _CLOSE if "close" in tokens else _KEEP
    return method, path, headers, _KEEP_10 if "keep-alive" in tokens else _CLOSE


def _request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[0].isascii():
        raise HttpError(400, f"malformed request line: {line[:80]!r}")
    method, target, version = parts
    if version not in _VERSIONS:
        if version.startswith("HTTP/"):
            raise HttpError(505, f"HTTP version not supported: {version[:20]!r}")
        raise HttpError(400, f"malformed request line: {line[:80]!r}")
    if not target.startswith("/"):
        raise HttpError(400, f"malformed request target: {target[:80]!r}")
    return method, target.partition("?")[0], version


def _headers(fields: list[str]) -> dict:
    headers = {}
    for field in fields:
        name, colon, value = field.partition(":")
        if not colon or not name or name[-1] in " \t" or field[0] in " \t":
            raise HttpError(400, f"malformed header line: {field[:80]!r}")
        headers[name.lower()] = value.strip()
    return headers


_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}
_date = [0, b""]  # (second, "Date: ..." line) — formatted once a second, not per reply


def _render(reply: Reply, connection: bytes) -> bytes:
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, f"Date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode()]
    extra = b""
    if reply.headers:
        extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers).encode()
    return b"".join(
        (
            _STATUS_LINES[reply.status],
            _date[1],
            b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(reply.body),
            connection,
            extra,
            b"\r\n",
            reply.body,
        )
    )
