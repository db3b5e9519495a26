"""One ESL connection over a gevent socket: commands with timeouts, events in order.

FreeSWITCH answers commands strictly in the order they were sent, but events
interleave with the answers (capture 01: CHANNEL_PARK between ``api uuid_getvar``
and its response). One reader greenlet therefore routes each message by
Content-Type: ``command/reply`` and ``api/response`` complete the oldest
command still waiting, events go to ``events`` (a queue, never dropped).

A command whose reply does not come in time raises ESLTimeout; its slot stays
in line so the late reply is discarded instead of answering the next command.
When the socket drops, every waiting command gets ConnectionClosed.
"""

import contextlib
import logging
from collections import deque

import gevent
from gevent.event import AsyncResult
from gevent.event import Event as Flag
from gevent.lock import Semaphore
from gevent.queue import Empty, Queue

from fs_cgr.esl import budget, frames
from fs_cgr.esl.frames import Event, Message, ProtocolError
from fs_cgr.sockets import send_whole

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_READ_SIZE = 65536
_CLOSED = object()  # end-of-stream marker in the event queue


class ESLError(Exception):
    """Base of the errors a command can raise."""


class ESLTimeout(ESLError):
    """No reply within the command's timeout."""


class ConnectionClosed(ESLError):
    """The connection is closed; no reply will come."""


class _Slot:
    """A command waiting for its reply; abandoned once its caller timed out. It keeps the
    frame and names it (``command``) only for a log line or an error, which few need."""

    __slots__ = ("data", "result", "abandoned")

    def __init__(self, data: bytes):
        self.data = data
        self.result = AsyncResult()
        self.abandoned = False

    @property
    def command(self) -> str:
        return _describe(self.data)


class Connection:
    """A started connection reads until the peer closes or ``close()`` is called.

    ``on_event(event)`` runs in the reader greenlet and must not block; the
    default puts events on ``self.events`` for ``next_event()``.
    """

    def __init__(self, sock, name: str = "", on_event=None):
        self.sock = sock
        self.name = name or _peer_name(sock)
        self.events: Queue = Queue()
        self.notices: list[Message] = []  # text/disconnect-notice messages, in order
        self.auth_requested = Flag()
        self.closed = Flag()
        self.close_reason = ""
        self._on_event = on_event or self.events.put
        self._parser = frames.Parser()
        self._pending: deque[_Slot] = deque()
        self._send_lock = Semaphore()
        self._reader = None

    def start(self) -> "Connection":
        self._reader = gevent.spawn(self._read_loop)
        return self

    # --- commands -----------------------------------------------------------

    def send(self, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Send one serialized command (see ``frames``) and wait for its reply."""
        return self.send_all([data], timeout)[0]

    def send_all(self, commands: list[bytes], timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """Send several commands in one write and wait for all their replies, in order:
        one round trip instead of one a command (FreeSWITCH runs them in order)."""
        if self.closed.is_set():
            raise ConnectionClosed(f"{self.name}: closed ({self.close_reason})")
        slots = [_Slot(data) for data in commands]
        timer = gevent.Timeout.start_new(timeout)
        try:
            with self._send_lock:
                self._write(slots, b"".join(commands))
            return [slot.result.get() for slot in slots]
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            for slot in slots:
                slot.abandoned = True
            waiting = slots[0].command if len(slots) == 1 else f"{len(slots)} commands"
            raise ESLTimeout(f"{self.name}: no reply to {waiting!r}") from None
        finally:
            timer.close()

    def _write(self, slots: list[_Slot], data: bytes) -> None:
        self._pending.extend(slots)
        try:
            send_whole(self.sock, data)  # a few commands: one send() as good as always
        except BaseException as exc:
            # A partly written command corrupts the stream for everyone after it.
            self.close(f"send failed: {exc!r}")
            raise

    def command(self, line: str, timeout: float = DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.command(line), timeout)

    def api(self, cmd: str, timeout: float = DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.api(cmd), timeout)

    def bgapi(self, cmd: str, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """The reply carries ``Job-UUID``; the result comes later as a BACKGROUND_JOB event."""
        return self.send(frames.bgapi(cmd), timeout)

    def myevents(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.command("myevents"), timeout)

    def linger(self, seconds: int | None = None, timeout: float = DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.linger(seconds), timeout)

    def subscribe(self, names, fmt: str = "plain", timeout: float = DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.event(list(names), fmt), timeout)

    def execute(self, uuid: str, app: str, arg: str = "", timeout=DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.execute(uuid, app, arg), timeout)

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING", timeout=DEFAULT_TIMEOUT) -> Message:
        return self.send(frames.hangup(uuid, cause), timeout)

    def exit(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Ask FreeSWITCH to close; it answers ``+OK bye`` then a disconnect notice."""
        return self.send(frames.command("exit"), timeout)

    # --- events -------------------------------------------------------------

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event in arrival order; None once closed and every event was taken.

        Raises ESLTimeout when nothing arrives within ``timeout`` seconds.
        """
        try:
            item = self.events.get(timeout=timeout)
        except Empty:
            raise ESLTimeout(f"{self.name}: no event within {timeout}s") from None
        if item is _CLOSED:
            self.events.put(_CLOSED)  # later callers see the end too
            return None
        return item

    # --- reading ------------------------------------------------------------

    def _read_loop(self) -> None:
        reason = "closed by peer"
        try:
            while self._read_once():
                pass
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.error("ESL %s: %s; closing this connection", self.name, exc)
        except OSError as exc:
            reason = f"socket error: {exc}"
        except Exception as exc:
            reason = f"event handler failed: {exc!r}"
            log.exception("ESL %s: event handler failed; closing this connection", self.name)
        self.close(reason)

    def _read_once(self) -> bool:
        """Read and dispatch what arrived; False at the end of the stream. (A function of
        its own, so no message stays referenced while the loop waits for the next bytes:
        each held call's socket waits here, and its last event was its ~10 KB answer.)"""
        data = self.sock.recv(_READ_SIZE)
        if not data:
            return False
        messages = self._parser.feed(data)
        budget.BUFFERS.hold(self, self._parser.pending)  # one cap for all connections
        for message in messages:
            self._dispatch(message)
        return True

    def _dispatch(self, message: Message) -> None:
        content_type = message.content_type
        if message.event is not None:
            self._on_event(message.event)
        elif content_type in (frames.COMMAND_REPLY, frames.API_RESPONSE):
            self._complete(message)
        elif content_type == frames.DISCONNECT_NOTICE:
            log.debug("ESL %s: disconnect notice (%s)", self.name, message.disposition)
            self.notices.append(message)
        elif content_type == frames.AUTH_REQUEST:
            self.auth_requested.set()
        elif content_type == frames.RUDE_REJECTION:
            raise ProtocolError(f"rejected by FreeSWITCH: {message.body.strip()}")
        else:
            raise ProtocolError(f"unexpected Content-Type {content_type!r}")

    def _complete(self, reply: Message) -> None:
        if not self._pending:
            raise ProtocolError(f"reply without a command: {reply.text[:80]!r}")
        slot = self._pending.popleft()
        if slot.abandoned:
            log.warning("ESL %s: late reply to %r discarded", self.name, slot.command)
        slot.result.set(reply)

    # --- closing ------------------------------------------------------------

    def close(self, reason: str = "closed locally") -> None:
        """Close the socket, fail every waiting command, end the event stream. Idempotent."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        budget.BUFFERS.release(self)
        with contextlib.suppress(OSError):
            self.sock.close()
        error = ConnectionClosed(f"{self.name}: {reason}")
        while self._pending:
            self._pending.popleft().result.set_exception(error)
        self.events.put(_CLOSED)
        if self._reader is not None and self._reader is not gevent.getcurrent():
            self._reader.kill(block=False)

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self.closed.wait(timeout)

    @property
    def lingering(self) -> bool:
        """FreeSWITCH said the channel hung up and it keeps the socket open for a while."""
        return any(notice.disposition == "linger" for notice in self.notices)


def parse_address(address) -> tuple[str, int]:
    """``"host:port"`` or ``(host, port)`` to ``(host, port)``; ValueError when it is neither."""
    if isinstance(address, tuple):
        host, port = address
    else:
        host, sep, port = str(address).rpartition(":")
        if not sep:
            raise ValueError(f"address {address!r} is not host:port")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ValueError(f"address {address!r} has no numeric port") from None


def _describe(data: bytes) -> str:
    """The command's first line for logs and errors, without the password of ``auth``."""
    line = data.split(b"\n", 1)[0].decode(errors="replace")
    return "auth <password>" if line.startswith("auth ") else line


def _peer_name(sock) -> str:
    try:
        host, port = sock.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "?"
