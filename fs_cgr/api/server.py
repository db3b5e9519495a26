"""The HTTP face of a node: ``POST /jsonrpc`` (or ``/``), ``GET /health`` and the POST
routes (``/freeswitch_json``), served by fs_cgr.api.http11.

Guards, in the order a request meets them: at most ``listen.max_connections_per_client``
open connections per client address; the whole request (line, headers, body) within
``listen.read_timeout`` in total, not per byte, so a client trickling one byte at a
time is cut off; with ``listen.auth_tokens`` set, a valid token on every JSON-RPC call
and CDR post (401 otherwise, nothing done); ``/freeswitch_json`` only from
``listen.freeswitch_json_allow_from``; bodies of at most ``listen.max_request_bytes``.
Refusals that need no body are made before it is read. docs/security.md.
"""

import json
import logging
import ssl
import threading

from gevent.pool import Pool

from fs_cgr.api import jsonrpc
from fs_cgr.api.auth import CHALLENGE, TokenGuard
from fs_cgr.api.http11 import HttpServer, Reply
from fs_cgr.api.registry import load_method_modules
from fs_cgr.config import ConfigError, parse_hostport
from fs_cgr.errors import CGRError
from fs_cgr.peers import AllowList

log = logging.getLogger(__name__)

RPC_PATHS = ("/jsonrpc", "/")


class ApiServer:
    """Serves one node's JSON-RPC methods; ``start()`` needs a running gevent hub (any thread)."""

    def __init__(self, node, listen: str | None = None):
        self.node = node
        config = node.config.listen
        self.guard = TokenGuard(config.auth_tokens)
        self.cdr_peers = AllowList(config.freeswitch_json_allow_from)
        load_method_modules()
        if not hasattr(listen, "accept"):  # else a listening socket (a worker's, inherited)
            listen = parse_hostport(listen or config.http)
        tls = _tls_context(config.tls_cert, config.tls_key)
        self._server = HttpServer(
            listen,
            self,
            _error_body,
            max_body=config.max_request_bytes,
            read_timeout=config.read_timeout / 1e9,
            per_client=config.max_connections_per_client,
            spawn=Pool(config.max_concurrent_requests),
            **({"ssl_context": tls} if tls else {}),
        )
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

    # -- the application (fs_cgr.api.http11) ------------------------------------
    def before_body(self, request) -> Reply | None:
        """The refusals a request's line and headers decide: wrong token, verb, peer, path."""
        path, verb = request.path, request.method
        rpc, route = path in RPC_PATHS, path in _POST_ROUTES
        if (rpc or route) and not self.guard.allows(request.headers.get("authorization", "")):
            reply = jsonrpc.error_reply("UNAUTHORIZED: a valid API token is required")
            return Reply(401, reply, (CHALLENGE,))
        if rpc and verb != "POST":
            reply = jsonrpc.error_reply("INVALID_REQUEST: send JSON-RPC requests with POST")
            return Reply(405, reply, (("Allow", "POST"),))
        if route and verb == "POST" and not self.cdr_peers.allows(request.remote_addr):
            log.warning("refused POST %s from %s (not in the allow-list)", path,
                        request.remote_addr)  # fmt: skip
            return Reply(403, b'"peer not allowed"')
        if rpc or (route and verb == "POST") or (path == "/health" and verb == "GET"):
            return None
        reply = json.dumps({"error": f"no such path {path}; use POST /jsonrpc"}).encode()
        return Reply(404, reply)

    def answer(self, request) -> Reply:
        path = request.path
        if path in RPC_PATHS:
            return Reply(200, jsonrpc.handle(self.node, request.body))
        if path == "/health":
            return self._health()
        code, text = _POST_ROUTES[path](self.node, request.body, request.remote_addr)
        return Reply(code, json.dumps(text).encode())

    def _health(self) -> Reply:
        """Up means the DataDB answers: a node that cannot read tariffs cannot rate."""
        try:
            status = {"status": "ok", "live_version": self.node.datadb.live_version()}
        except CGRError as exc:
            status = {"status": "unavailable", "error": exc.message}
        return Reply(200 if status["status"] == "ok" else 503, json.dumps(status).encode())


def _error_body(status: int, message: str) -> bytes:
    """The body of the HTTP layer's own replies (413, 408, 400..., 500): a JSON-RPC error."""
    return jsonrpc.error_reply(
        f"{'SERVER_ERROR' if status == 500 else 'INVALID_REQUEST'}: {message}"
    )


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
