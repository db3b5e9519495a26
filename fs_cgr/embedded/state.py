"""What the embedded handler keeps between calls: the node client and the burst log.

mod_python3 reloads the handler module on every call but imports this one once per
interpreter, so one pool of kept-alive connections serves every call thread.
"""

import logging
import threading
import time

from fs_cgr.embedded.rpc import DEFAULT_TIMEOUT, DEFAULT_URL, NodeClient

BURST_QUIET = 10.0  # seconds: failures closer together than this are one burst, logged once

_lock = threading.Lock()
_clients: dict[tuple[str, float], NodeClient] = {}
_log = logging.getLogger("fs_cgr.embedded")


def client(get_variable) -> NodeClient:
    """The client for the node named by ``fs_cgr_rpc_url`` / ``fs_cgr_rpc_timeout``."""
    url = get_variable("fs_cgr_rpc_url") or DEFAULT_URL
    timeout = _seconds(get_variable("fs_cgr_rpc_timeout"))
    key = (url, timeout)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.setdefault(key, NodeClient(url, timeout))
    return found


def _seconds(text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT
    return value if 0 < value <= 30 else DEFAULT_TIMEOUT


class BurstLog:
    """Logs the first failure of a burst and how many followed when the next burst starts:
    a node that is down for a minute at 50 calls/s writes two lines, not three thousand."""

    def __init__(self, write, quiet: float = BURST_QUIET, clock=time.monotonic):
        self.write, self.quiet, self.clock = write, quiet, clock
        self.last = None
        self.suppressed = 0
        self._lock = threading.Lock()

    def failure(self, text: str) -> None:
        now = self.clock()
        with self._lock:
            if self.last is not None and now - self.last < self.quiet:
                self.last = now
                self.suppressed += 1
                return
            self.last, suppressed, self.suppressed = now, self.suppressed, 0
        if suppressed:
            self.write(f"fs_cgr: {suppressed} more calls failed the same way before this")
        self.write(text)


def log(text: str, level: str = "NOTICE") -> None:
    """FreeSWITCH's log when running inside it, else Python's logging."""
    try:
        import freeswitch  # only exists inside mod_python3
    except ImportError:
        _log.warning("%s", text)
        return
    freeswitch.consoleLog(level, text + "\n")


def _error(text: str) -> None:
    log(text, "ERR")


burst = BurstLog(_error)


def report(uuid: str, verdict) -> None:
    burst.failure(f"fs_cgr: call {uuid}: {verdict.notify} ({verdict.error})")


_shared: dict = {}


def shared(key, make):
    """One ``make()`` per key and interpreter (e.g. a compiled tariff plan), kept across
    the per-call reloads of the module that asks."""
    found = _shared.get(key)
    if found is None:
        with _lock:
            found = _shared.get(key)
            if found is None:
                found = _shared[key] = make()
    return found
