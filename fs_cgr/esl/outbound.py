"""Outbound ESL server: FreeSWITCH's ``socket`` app connects here once per call.

Each accepted socket gets its own greenlet from a bounded pool; a peer outside
``allow`` (an ``fs_cgr.peers.AllowList``) is hung up on before anything is read, since
whoever connects here may name any account to charge. The server
sends ``connect`` and keeps the CHANNEL_DATA reply as ``conn.channel``: that
reply is the reliable start of a call (CHANNEL_PARK is lost under load,
capture 10). Then ``handler(conn)`` runs; the connection is closed when it returns.
"""

import logging
import socket
import time

from gevent.pool import Pool
from gevent.server import StreamServer

from fs_cgr.esl.connection import DEFAULT_TIMEOUT, Connection, ESLError, parse_address
from fs_cgr.esl.frames import ProtocolError

log = logging.getLogger(__name__)


class OutboundConnection(Connection):
    """The socket of one call; ``channel`` holds the decoded CHANNEL_DATA headers,
    ``accepted_at`` the monotonic time it was accepted (how long the call has waited)."""

    channel: dict[str, str]
    accepted_at: float = 0.0

    @property
    def static(self) -> bool:
        """The dialplan ran ``socket`` without ``async``: the channel's own thread serves
        this socket and its dialplan goes on (next action) as soon as the socket closes."""
        return self.channel.get("Socket-Mode") == "static"

    def connect(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, str]:
        reply = self.command("connect", timeout)
        if not reply.ok or not reply.headers.get("Unique-ID"):
            raise ProtocolError(f"connect reply without +OK and Unique-ID: {reply.text[:80]!r}")
        self.channel = reply.headers
        return self.channel

    @property
    def uuid(self) -> str:
        return self.channel["Unique-ID"]


class OutboundServer:
    """``handler(conn: OutboundConnection)`` runs once per call, in its own greenlet."""

    def __init__(
        self,
        listen,
        handler,
        max_connections: int = 10000,
        connect_timeout: float = DEFAULT_TIMEOUT,
        allow=None,
    ):
        self.handler = handler
        self.connect_timeout = connect_timeout
        self.allow = allow
        self._server = StreamServer(
            listen if hasattr(listen, "accept") else parse_address(listen),
            self._handle,
            spawn=Pool(max_connections),
        )

    def start(self) -> "OutboundServer":
        self._server.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; calls still running get ``timeout`` seconds, then are killed."""
        self._server.stop(timeout)

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the real port when listening on port 0)."""
        return self._server.address[:2]

    def _handle(self, sock, address) -> None:
        if self.allow is not None and not self.allow.allows(address[0]):
            log.warning(
                "ESL outbound: refused %s:%s (not in freeswitch_agent.allow_from)", *address[:2]
            )
            sock.close()
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = OutboundConnection(sock, name=f"{address[0]}:{address[1]}")
        conn.accepted_at = time.monotonic()
        conn.start()
        try:
            conn.connect(self.connect_timeout)
        except (ESLError, ProtocolError) as exc:
            log.error("ESL outbound %s: connect failed: %s", conn.name, exc)
            conn.close(f"connect failed: {exc}")
            return
        try:
            self.handler(conn)
        except Exception:
            log.exception("ESL outbound %s (%s): handler failed", conn.name, conn.uuid)
        finally:
            conn.close("handler finished")
