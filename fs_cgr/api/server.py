"""The HTTP face of a node: ``POST /jsonrpc`` (or ``/``) and ``GET /health`` on gevent.pywsgi."""

import json
import logging
import socket
import threading
from http import HTTPStatus

from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from fs_cgr.api import jsonrpc
from fs_cgr.api.registry import load_method_modules
from fs_cgr.config import parse_hostport
from fs_cgr.errors import CGRError

log = logging.getLogger(__name__)

RPC_PATHS = ("/jsonrpc", "/")
CLIENT_TIMEOUT = 30.0  # seconds a client may take to send a request before we hang up
_JSON = ("Content-Type", "application/json")
_CLOSE = ("Connection", "close")


class ApiServer:
    """Serves one node's JSON-RPC methods; ``start()`` needs a running gevent hub (any thread)."""

    def __init__(self, node, listen: str | None = None):
        self.node = node
        self.max_body = node.config.listen.max_request_bytes
        load_method_modules()
        if not hasattr(listen, "accept"):  # else a listening socket (a worker's, inherited)
            listen = parse_hostport(listen or node.config.listen.http)
        self._server = WSGIServer(
            listen,
            self.application,
            spawn=Pool(node.config.listen.max_concurrent_requests),
            log=None,
            error_log=logging.getLogger("fs_cgr.api.http"),
            handler_class=_Handler,
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): the real port once started with port 0."""
        return self._server.address[:2]

    @property
    def url(self) -> str:
        host, port = self.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/jsonrpc"

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
        if path in RPC_PATHS:
            if verb != "POST":
                reply = jsonrpc.error_reply("INVALID_REQUEST: send JSON-RPC requests with POST")
                return _respond(start_response, "405 Method Not Allowed", reply, ("Allow", "POST"))
            body = self._read_body(environ)
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
        body = self._read_body(environ)
        if body is None:
            return _respond(start_response, "413 Payload Too Large", b'"body too large"', _CLOSE)
        code, text = _POST_ROUTES[path](self.node, body, environ.get("REMOTE_ADDR", ""))
        status = f"{code} {HTTPStatus(code).phrase}"
        return _respond(start_response, status, json.dumps(text).encode())

    def _read_body(self, environ) -> bytes | None:
        """The request body, or None when it is larger than allowed (not read any further)."""
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body:
            return None
        body = environ["wsgi.input"].read(self.max_body + 1)
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


def _respond(start_response, status: str, body: bytes, *headers):
    start_response(status, [_JSON, ("Content-Length", str(len(body))), *headers])
    return [body]


class _Handler(WSGIHandler):
    """Per connection: hang up on clients that stall, so a slow or dead peer cannot hold a
    greenlet forever; send without Nagle's delay, since pywsgi writes the headers and the
    body in two calls and the delayed ACK would add 40 ms to every reply."""

    def handle(self):
        self.socket.settimeout(CLIENT_TIMEOUT)
        if self.socket.family in (socket.AF_INET, socket.AF_INET6):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

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
