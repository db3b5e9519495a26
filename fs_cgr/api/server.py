"""The HTTP face of a node: ``POST /jsonrpc`` (or ``/``) and ``GET /health`` on gevent.pywsgi.

Guards, in the order a request meets them: at most ``listen.max_connections_per_client``
open connections per client address; the whole request (line, headers, body) within
``listen.read_timeout`` in total, not per byte, so a client trickling one byte at a
time is cut off; with ``listen.auth_tokens``
set, a valid token on every JSON-RPC call and CDR post (401 otherwise, nothing done);
``/freeswitch_json`` only from ``listen.freeswitch_json_allow_from``. docs/security.md.
"""

import json
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from http import HTTPStatus

import gevent
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from fs_cgr.api import jsonrpc
from fs_cgr.api.auth import CHALLENGE, TokenGuard
from fs_cgr.api.registry import load_method_modules
from fs_cgr.config import ConfigError, parse_hostport
from fs_cgr.errors import CGRError
from fs_cgr.peers import AllowList

log = logging.getLogger(__name__)

RPC_PATHS = ("/jsonrpc", "/")
CLIENT_TIMEOUT = 30.0  # seconds a client may stay silent before we hang up
_JSON = ("Content-Type", "application/json")
_CLOSE = ("Connection", "close")


class ApiServer:
    """Serves one node's JSON-RPC methods; ``start()`` needs a running gevent hub (any thread)."""

    def __init__(self, node, listen: str | None = None):
        self.node = node
        config = node.config.listen
        self.max_body = config.max_request_bytes
        self.read_timeout = config.read_timeout / 1e9
        self.guard = TokenGuard(config.auth_tokens)
        self.cdr_peers = AllowList(config.freeswitch_json_allow_from)
        load_method_modules()
        if not hasattr(listen, "accept"):  # else a listening socket (a worker's, inherited)
            listen = parse_hostport(listen or config.http)
        tls = _tls_context(config.tls_cert, config.tls_key)
        self._server = _Server(
            listen,
            self.application,
            spawn=Pool(config.max_concurrent_requests),
            log=None,
            error_log=logging.getLogger("fs_cgr.api.http"),
            handler_class=_Handler,
            **({"ssl_context": tls} if tls else {}),
        )
        self._server.per_client = config.max_connections_per_client
        self._server.read_timeout = self.read_timeout
        self.scheme = "https" if tls else "http"

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port once started with port 0."""
        return self._server.address[:2]

    @property
    def url(self) -> str:
        host, port = self.address
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{port}/jsonrpc"

    def start(self) -> None:
        self._server.start()
        log.info("JSON-RPC API listening on %s", self.url)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.stop(timeout=timeout)

    # -- WSGI ------------------------------------------------------------------
    def application(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        verb = environ.get("REQUEST_METHOD", "GET")
        if (path in RPC_PATHS or path in _POST_ROUTES) and not self.guard.allows(environ):
            reply = jsonrpc.error_reply("UNAUTHORIZED: a valid API token is required")
            return _respond(start_response, "401 Unauthorized", reply, CHALLENGE)
        if path in RPC_PATHS:
            if verb != "POST":
                reply = jsonrpc.error_reply("INVALID_REQUEST: send JSON-RPC requests with POST")
                return _respond(start_response, "405 Method Not Allowed", reply, ("Allow", "POST"))
            body = self._read_body(environ)
            if body is _TOO_SLOW:
                return _respond(start_response, "408 Request Timeout", _SLOW_REPLY, _CLOSE)
            if body is None:
                too_large = f"INVALID_REQUEST: request body larger than {self.max_body} bytes"
                reply = jsonrpc.error_reply(too_large)
                return _respond(start_response, "413 Payload Too Large", reply, _CLOSE)
            return _respond(start_response, "200 OK", jsonrpc.handle(self.node, body))
        if path in _POST_ROUTES and verb == "POST":
            return self._post_route(path, environ, start_response)
        if path == "/health" and verb == "GET":
            return self._health(start_response)
        reply = json.dumps({"error": f"no such path {path}; use POST /jsonrpc"}).encode()
        return _respond(start_response, "404 Not Found", reply)

    def _post_route(self, path: str, environ, start_response):
        if not self.cdr_peers.allows(environ.get("REMOTE_ADDR", "")):
            log.warning(
                "refused POST %s from %s (not in the allow-list)", path, environ.get("REMOTE_ADDR")
            )
            return _respond(start_response, "403 Forbidden", b'"peer not allowed"', _CLOSE)
        body = self._read_body(environ)
        if body is _TOO_SLOW:
            return _respond(start_response, "408 Request Timeout", _SLOW_REPLY, _CLOSE)
        if body is None:
            return _respond(start_response, "413 Payload Too Large", b'"body too large"', _CLOSE)
        code, text = _POST_ROUTES[path](self.node, body, environ.get("REMOTE_ADDR", ""))
        status = f"{code} {HTTPStatus(code).phrase}"
        return _respond(start_response, status, json.dumps(text).encode())

    def _read_body(self, environ):
        """The request body; None when it is larger than allowed (not read any further),
        _TOO_SLOW when it did not arrive within what ``read_timeout`` left of the request."""
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body:
            return None
        left = environ.get(_READ_DEADLINE, time.monotonic() + self.read_timeout) - time.monotonic()
        try:
            with gevent.Timeout(max(left, 0.001), _SlowClient()):
                body = environ["wsgi.input"].read(self.max_body + 1)
        except (_SlowClient, OSError):
            return _TOO_SLOW
        return None if len(body) > self.max_body else body

    def _health(self, start_response):
        """Up means the DataDB answers: a node that cannot read tariffs cannot rate."""
        try:
            status = {"status": "ok", "live_version": self.node.datadb.live_version()}
        except CGRError as exc:
            status = {"status": "unavailable", "error": exc.message}
        code = "200 OK" if status["status"] == "ok" else "503 Service Unavailable"
        return _respond(start_response, code, json.dumps(status).encode())


_POST_ROUTES: dict = {}


def post_route(path: str):
    """Serve POST ``path`` with ``handler(node, body, remote_addr) -> (HTTP code, text)``
    (e.g. FreeSWITCH's mod_json_cdr posting CDRs to /freeswitch_json)."""

    def register(handler):
        _POST_ROUTES[path] = handler
        return handler

    return register


def _tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    """A server context for ``listen.tls_cert``/``tls_key`` (PEM), or None without them."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"listen.tls_cert/tls_key: cannot load {cert} / {key}: {exc}") from None
    return context


class _SlowClient(TimeoutError):
    """The client did not send its request line, headers or body within read_timeout."""


_TOO_SLOW = object()
_READ_DEADLINE = "fs_cgr.read_deadline"  # environ key: monotonic time the body must be in by
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)
_SLOW_REPLY = jsonrpc.error_reply("INVALID_REQUEST: request not received in time")


class _Server(WSGIServer):
    """Counts open connections per client address and turns away the ones over the cap,
    so one address cannot take every greenlet of the pool."""

    per_client = 64
    read_timeout = 10.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._open: Counter = Counter()

    def handle(self, sock, address):
        host = address[0] if isinstance(address, tuple) else ""
        if self._open[host] >= self.per_client:
            log.warning("refused a connection from %s: %s already open", host, self.per_client)
            sock.close()
            return
        self._open[host] += 1
        try:
            super().handle(sock, address)
        finally:
            self._open[host] -= 1
            if not self._open[host]:
                del self._open[host]


def _respond(start_response, status: str, body: bytes, *headers):
    start_response(status, [_JSON, ("Content-Length", str(len(body))), *headers])
    return [body]


class _Handler(WSGIHandler):
    """Per connection: hang up on clients that stall, so a slow or dead peer cannot hold a
    greenlet forever; send without Nagle's delay, since pywsgi writes the headers and the
    body in two calls and the delayed ACK would add 40 ms to every reply."""

    _deadline = None

    def handle(self):
        self.socket.settimeout(CLIENT_TIMEOUT)
        if self.socket.family in (socket.AF_INET, socket.AF_INET6):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def handle_one_request(self):
        """The whole request must arrive within read_timeout (the socket timeout alone
        restarts with every byte): this timer covers the request line and headers, the
        application reads the body within what is left (``environ[_READ_DEADLINE]``)."""
        self._read_by = time.monotonic() + self.server.read_timeout
        self._deadline = gevent.Timeout.start_new(self.server.read_timeout, _SlowClient())
        try:
            return super().handle_one_request()
        finally:
            self._deadline.close()

    def get_environ(self):
        self._deadline.close()  # headers are in
        environ = super().get_environ()
        environ[_READ_DEADLINE] = self._read_by
        return environ

    def _handle_client_error(self, ex):
        """Headers that did not come in time: 408 and hang up, without pywsgi's traceback."""
        if isinstance(ex, OSError):
            return ("408", _TIMEOUT_RESPONSE)
        return super()._handle_client_error(ex)

    def log_request(self):
        """No access log (the server has ``log=None``): skip formatting a line per request."""


class ServerThread:
    """Runs an ApiServer in a thread of its own (tests, benchmarks, ``fs-cgr`` in-process use).

    The thread gets its own gevent hub, so callers in the main thread may use
    plain blocking sockets whether or not gevent monkey-patched the process.
    """

    def __init__(self, node, listen: str = "127.0.0.1:0"):
        self.node = node
        self.listen = listen
        self.server: ApiServer | None = None  # built in the thread: gevent binds it to a hub
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fs-cgr-api", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 10.0) -> "ServerThread":
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the API server did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        import gevent

        try:
            self.server = ApiServer(self.node, self.listen)
            self.server.start()
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        while not self._stopping.is_set():
            gevent.sleep(0.05)
        self.server.stop(timeout=2)
