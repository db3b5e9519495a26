"""Inbound ESL client: one authenticated connection to FreeSWITCH's port 8021, kept up.

It does what no single call's socket can: ``hupall`` on shutdown, ``show
channels`` to re-sync sessions, ``uuid_kill`` for a call whose socket is gone.
When the link drops it reconnects with capped exponential backoff, then
authenticates, re-subscribes and runs ``on_connect(client)`` again.
"""

import logging

import gevent
from gevent import socket
from gevent.event import Event as Flag
from gevent.queue import Queue

from fs_cgr.esl import frames
from fs_cgr.esl.connection import (
    DEFAULT_TIMEOUT,
    Connection,
    ConnectionClosed,
    ESLError,
    ESLTimeout,
    parse_address,
)
from fs_cgr.esl.frames import Message, ProtocolError

log = logging.getLogger(__name__)


class AuthError(ESLError):
    """FreeSWITCH refused the password (``-ERR invalid``)."""


class InboundClient:
    """Events of every connection, in order, go to ``events`` (a gevent Queue).

    ``reconnects`` is how many failed attempts in a row are tolerated before
    giving up (-1: never give up).
    """

    def __init__(
        self,
        address,
        password: str,
        *,
        events=(),
        event_format: str = "plain",
        filters=(),
        on_connect=None,
        connect_timeout: float = 5.0,
        command_timeout: float = DEFAULT_TIMEOUT,
        reconnects: int = -1,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        name: str = "",
    ):
        self.address = parse_address(address)
        self.name = name or f"{self.address[0]}:{self.address[1]}"
        self.password = password
        self.subscriptions = tuple(events)
        self.event_format = event_format
        self.filters = tuple(filters)  # (header, value) pairs: ``filter <header> <value>``
        self.on_connect = on_connect
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.reconnects = reconnects
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.events: Queue = Queue()
        self.connected = Flag()
        self.conn: Connection | None = None
        self.connections = 0  # successful connections so far
        self._runner = None

    def start(self) -> "InboundClient":
        self._runner = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.kill()
        if self.conn is not None:
            self.conn.close("client stopped")
        self.connected.clear()

    @property
    def running(self) -> bool:
        """False once stopped, or given up after ``reconnects`` failures in a row."""
        return self._runner is not None and not self._runner.dead

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected.wait(timeout)

    def api(self, cmd: str, timeout: float | None = None) -> Message:
        return self._send(frames.api(cmd), timeout)

    def bgapi(self, cmd: str, timeout: float | None = None) -> Message:
        return self._send(frames.bgapi(cmd), timeout)

    def _send(self, data: bytes, timeout: float | None) -> Message:
        conn = self.conn
        if conn is None or not self.connected.is_set():
            raise ConnectionClosed(f"ESL inbound {self.name}: not connected")
        try:
            return conn.send(data, timeout or self.command_timeout)
        except ESLTimeout:
            # A silent FreeSWITCH link is as good as dead: reconnect rather than queue behind it.
            conn.close("command timed out")
            raise

    def _run(self) -> None:
        failures = 0
        while self.reconnects < 0 or failures <= self.reconnects:
            try:
                conn = self._connect()
            except (OSError, ESLError, ProtocolError) as exc:
                failures += 1
                delay = self._backoff(failures)
                log.warning("ESL inbound %s: %s; retry in %.1fs", self.name, exc, delay)
                gevent.sleep(delay)
                continue
            failures = 0
            self._serve(conn)
            gevent.sleep(self.backoff_initial)
        log.error("ESL inbound %s: giving up after %d failed attempts", self.name, failures)

    def _backoff(self, failures: int) -> float:
        return min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1))

    def _connect(self) -> Connection:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, name=self.name, on_event=self.events.put).start()
        try:
            gevent.wait([conn.auth_requested, conn.closed], self.connect_timeout, count=1)
            if not conn.auth_requested.is_set():
                raise ESLTimeout(conn.close_reason or "no auth/request from FreeSWITCH")
            reply = conn.send(frames.auth(self.password), self.command_timeout)
            if not reply.ok:
                raise AuthError(f"authentication refused: {reply.text}")
            if self.subscriptions:
                reply = conn.subscribe(self.subscriptions, self.event_format, self.command_timeout)
                if not reply.ok:
                    raise ESLError(f"event subscription refused: {reply.text}")
            for header, value in self.filters:
                reply = conn.send(frames.command(f"filter {header} {value}"), self.command_timeout)
                if not reply.ok:
                    raise ESLError(f"event filter refused: {reply.text}")
        except BaseException as exc:
            conn.close(f"setup failed: {exc!r}")
            raise
        return conn

    def _serve(self, conn: Connection) -> None:
        self.conn = conn
        self.connections += 1
        self.connected.set()
        log.info("ESL inbound %s: connected", self.name)
        if self.on_connect is not None:
            try:
                self.on_connect(self)
            except Exception:
                log.exception("ESL inbound %s: on_connect failed", self.name)
        conn.wait_closed()
        self.connected.clear()
        log.warning("ESL inbound %s: connection lost (%s)", self.name, conn.close_reason)
