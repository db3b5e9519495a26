"""The API's HTTP/1.1 server (fs_cgr.api.http11) over real loopback sockets: keep-alive,
pipelining, Content-Length, 100-continue, and a clear 4xx and a hang-up for each request
it does not take (malformed line or header, oversized head or body, chunked body)."""

import json
import socket
import time
from urllib.parse import urlsplit

import gevent
import pytest
from gevent import socket as gsocket

from fs_cgr.api.http11 import HEADS_KEPT, MAX_HEAD, _Watchdog
from fs_cgr.api.server import ServerThread, post_route
from fs_cgr.app import Node
from fs_cgr.config import load_config

MAX_BODY = 4096


@pytest.fixture(scope="module")
def address(tmp_path_factory):
    overrides = {
        "general.data_dir": str(tmp_path_factory.mktemp("http11")),
        "listen.max_request_bytes": MAX_BODY,
        "listen.read_timeout": "1s",
    }
    node = Node(load_config(overrides=overrides, env={}))
    server = ServerThread(node).start()
    parts = urlsplit(server.url)
    yield parts.hostname, parts.port
    server.stop()
    node.stop()


def _ping(request_id: int) -> bytes:
    return json.dumps({"id": request_id, "method": "APIerSv1.Ping", "params": [{}]}).encode()


def _post(body: bytes, *headers: str, version: str = "HTTP/1.1") -> bytes:
    head = [f"POST /jsonrpc {version}", "Host: x", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Reader:
    """Reads HTTP replies off one socket: status, headers and the Content-Length body."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def reply(self) -> tuple[int, dict, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        line, *fields = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields)}
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(line.split(" ")[1]), headers, body

    def closed(self) -> bool:
        """Whether the server hangs up next (within 3 s) with nothing more to say."""
        self.sock.settimeout(3)
        try:
            return self.buffer == b"" and self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed after {self.buffer[:200]!r}")
        self.buffer += data


@pytest.fixture
def conn(address):
    with socket.create_connection(address, 5) as sock:
        yield sock, Reader(sock)


def test_keep_alive_serves_many_requests_on_one_connection(conn):
    sock, reader = conn
    for request_id in range(1, 4):
        sock.sendall(_post(_ping(request_id)))
        status, headers, body = reader.reply()
        assert status == 200 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"id": request_id, "result": "Pong", "error": None}
        assert "connection" not in headers and "date" in headers


def test_each_request_is_answered_by_its_own_head_though_the_connection_keeps_heads(conn):
    """A connection keeps the heads it parsed (HEADS_KEPT of them): a head seen again, or
    one differing in a single header, is still taken for exactly what it says."""
    sock, reader = conn
    for request_id in [10**power for power in range(HEADS_KEPT + 3)] + [1, 1]:
        sock.sendall(_post(_ping(request_id)))  # a Content-Length of its own for each
        assert json.loads(reader.reply()[2])["id"] == request_id
    sock.sendall(_post(_ping(1)).replace(b"/jsonrpc", b"/jsonrpx", 1))
    assert reader.reply()[0] == 404 and reader.closed()


def test_pipelined_requests_are_answered_in_order(conn):
    sock, reader = conn
    sock.sendall(b"".join(_post(_ping(request_id)) for request_id in range(1, 6)))
    ids = [json.loads(reader.reply()[2])["id"] for _ in range(5)]
    assert ids == [1, 2, 3, 4, 5]


def test_a_request_split_in_many_pieces_is_put_together(conn):
    sock, reader = conn
    raw = _post(_ping(7))
    for index in range(0, len(raw), 5):
        sock.sendall(raw[index : index + 5])
        time.sleep(0.001)
    assert json.loads(reader.reply()[2])["result"] == "Pong"


def test_connection_close_is_honoured(conn):
    sock, reader = conn
    sock.sendall(_post(_ping(1), "Connection: close"))
    status, headers, _ = reader.reply()
    assert status == 200 and headers["connection"] == "close"
    assert reader.closed()


def test_http10_closes_unless_asked_to_keep_alive(conn, address):
    sock, reader = conn
    sock.sendall(_post(_ping(1), "Connection: keep-alive", version="HTTP/1.0"))
    status, headers, _ = reader.reply()
    assert status == 200 and headers["connection"] == "keep-alive"
    sock.sendall(_post(_ping(2), version="HTTP/1.0"))
    status, headers, _ = reader.reply()
    assert status == 200 and headers["connection"] == "close"
    assert reader.closed()


def test_expect_100_continue_is_answered_before_the_body(conn):
    sock, reader = conn
    body = _ping(3)
    head = _post(body, "Expect: 100-continue")[: -len(body)]
    sock.sendall(head)
    sock.settimeout(5)
    assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(body)
    assert json.loads(reader.reply()[2])["result"] == "Pong"


@pytest.mark.parametrize(
    "raw, status, wanted",
    [
        (b"POST /jsonrpc\r\nHost: x\r\n\r\n", 400, "malformed request line"),
        (b"POST  /jsonrpc HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"P\xd3ST /jsonrpc HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"POST jsonrpc HTTP/1.1\r\n\r\n", 400, "malformed request target"),
        (b"POST /jsonrpc HTTP/2.0\r\n\r\n", 505, "HTTP version not supported"),
        (b"POST /jsonrpc SPDY/1\r\n\r\n", 400, "malformed request line"),
        (b"POST /jsonrpc HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "malformed header line"),
        (b"POST /jsonrpc HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header line"),
        (b"POST /jsonrpc HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "malformed header line"),
        (b"POST /jsonrpc HTTP/1.1\nHost: x\n\n", 400, "lines must end with CRLF"),
        (b"POST /jsonrpc HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "Content-Length"),
        (b"POST /jsonrpc HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400, "Content-Length"),
        (
            b"POST /jsonrpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            411,
            "chunked is not taken",
        ),
        (
            b"POST /jsonrpc HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1),
            413,
            f"request body larger than {MAX_BODY} bytes",
        ),
        (
            b"POST /jsonrpc HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD + 10),
            431,
            "request line and headers larger than",
        ),
    ],
)
def test_requests_it_does_not_take_get_a_clear_4xx_and_a_hang_up(
    conn, address, raw, status, wanted
):
    sock, reader = conn
    sock.sendall(raw)
    got, headers, body = reader.reply()
    assert got == status and headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert error.startswith("INVALID_REQUEST: ") and wanted in error
    assert reader.closed()
    with socket.create_connection(address, 5) as other:  # and the server goes on
        other.sendall(_post(_ping(9)))
        assert json.loads(Reader(other).reply()[2])["result"] == "Pong"


def test_a_body_too_large_is_refused_and_the_client_reads_the_refusal(conn):
    """The client sends its whole body before reading: the server drops it (lingering
    close) instead of resetting the connection under the client's feet."""
    sock, reader = conn
    body = b"x" * (MAX_BODY * 50)
    sock.sendall(_post(body))
    status, headers, _ = reader.reply()
    assert status == 413 and headers["connection"] == "close"


def test_a_refused_request_closes_so_its_unread_body_is_never_taken_as_a_request(conn):
    sock, reader = conn
    smuggled = _post(_ping(666))
    raw = b"POST /nope HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(smuggled) + smuggled
    sock.sendall(raw)
    status, headers, _ = reader.reply()
    assert status == 404 and headers["connection"] == "close"
    assert reader.closed()


def test_an_idle_keep_alive_connection_is_closed_silently_after_read_timeout(conn):
    sock, reader = conn
    sock.sendall(_post(_ping(1)))
    assert reader.reply()[0] == 200
    started = time.monotonic()
    assert reader.closed()  # no 408 for a request never begun
    assert 0.8 < time.monotonic() - started < 3.0


def test_a_request_begun_and_not_finished_in_time_gets_408(conn):
    sock, reader = conn
    sock.sendall(b"POST /jsonrpc HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
    status, headers, body = reader.reply()
    assert status == 408 and "not received in time" in json.loads(body)["error"]
    assert reader.closed()


@post_route("/test-http11-boom")
def _boom(node, body: bytes, remote_addr: str):
    raise RuntimeError("boom")


def test_a_handler_that_raises_costs_one_500_and_the_server_goes_on(conn, address, caplog):
    sock, reader = conn
    sock.sendall(_post(b"{}").replace(b"/jsonrpc", b"/test-http11-boom", 1))
    status, headers, body = reader.reply()
    assert status == 500 and headers["connection"] == "close"
    assert json.loads(body)["error"] == "SERVER_ERROR: unexpected failure"
    assert any("RuntimeError: boom" in (record.exc_text or "") for record in caplog.records)
    with socket.create_connection(address, 5) as other:
        other.sendall(_post(_ping(9)))
        assert json.loads(Reader(other).reply()[2])["result"] == "Pong"


def test_health_answers_get_with_query_string(conn):
    sock, reader = conn
    sock.sendall(b"GET /health?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = reader.reply()
    assert status == 200 and json.loads(body)["status"] == "ok"


def _watched_recv(watchdog, sock, limit_in: float) -> float:
    """Seconds a recv waiting under ``watchdog.wait(now + limit_in)`` lasted before the cut."""
    started = time.monotonic()
    watchdog.wait(started + limit_in)
    try:
        with pytest.raises(TimeoutError):
            sock.recv(1)
    finally:
        watchdog.done()
    return time.monotonic() - started


def test_the_watchdog_cuts_a_socket_wait_at_its_limit_and_not_before():
    """One timer per connection: set for an earlier wait, it moves on to the limit of the
    wait under way when it fires; set for a later one, it is brought forward."""

    def run():
        left, _ = gsocket.socketpair()
        left.settimeout(None)
        watchdog = _Watchdog()
        try:
            watchdog.wait(time.monotonic() + 0.2)  # an earlier wait: the timer is set for it
            watchdog.done()
            gevent.sleep(0.1)
            late = _watched_recv(watchdog, left, 0.4)  # fires at 0.1 in: not cut then
            early = _watched_recv(watchdog, left, 0.1)  # the timer is brought forward
            watchdog.wait(time.monotonic() + 0.05)
            watchdog.done()
            gevent.sleep(0.2)  # it fires with no wait under way: nothing is cut
        finally:
            watchdog.stop()
        return late, early

    late, early = gevent.spawn(run).get(timeout=5)
    assert 0.35 < late < 1.0
    assert 0.05 < early < 0.3
