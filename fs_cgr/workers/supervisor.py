"""The supervisor: bind the listen sockets once, fork the workers, restart a dead one.

It is a plain process (no gevent, no databases): it only forks, waits and forwards
signals, so nothing it holds can be corrupted by a fork. N workers share one API port
and one outbound ESL port. The API port: the supervisor only reserves it (``reserve``)
and each worker listens on it with a socket of its own (SO_REUSEPORT, ``listen_reusing``),
so the kernel spreads new connections evenly over the workers. The ESL port: each
worker inherits one listening socket and the kernel wakes them all per new connection
(the pre-forked listener model); whoever runs first takes it, which under load may be
one worker taking a whole burst (fine for call set-ups, one connection per call).

Start-up: slot 0 first, and the others only once it said it is ready, so its journal
recovery never meets a session another worker opened meanwhile. Shutdown (SIGTERM or
SIGINT): slot 0 first (it hangs up the node's calls, when configured), then the
others, which are still there to charge the hangups they receive. When a worker dies,
or tells it (ADOPT_SIGNAL) that it handed sessions over, slot 0 gets ADOPT_SIGNAL: it
adopts them (docs/workers.md).
"""

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback

from fs_cgr.config import parse_hostport
from fs_cgr.workers.role import ADOPT_SIGNAL, WorkerRole, assume

log = logging.getLogger(__name__)

READY_TIMEOUT = 120.0  # seconds slot 0 may take to start (journal recovery included)
RESTART_DELAY = 1.0  # seconds between two starts of one slot: a crashing worker is no fork bomb
STOP_TIMEOUT = 20.0  # seconds a worker may take to stop before it is killed
_POLL = 0.2  # seconds between checks for dead workers and signals


def bind(address: str, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host:port`` for the workers to inherit."""
    host, port = parse_hostport(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def reserve(address: str) -> socket.socket:
    """The API port for workers that each listen on it (``listen_reusing``): bound, so it
    stays ours and port 0 gets its number, but not listening (a listening socket would
    take a share of the connections that no one accepts). Refused like ``bind`` when
    anything holds the port, even another SO_REUSEPORT listener: a second fs-cgr must
    fail to start, not share the port with a running one."""
    host, port = parse_hostport(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # no SO_REUSEPORT: exclusive
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listen_reusing(reserved: socket.socket, backlog: int = 1024) -> socket.socket:
    """A worker's own listening socket on the ``reserve``d port. The kernel gives each new
    connection to one of the workers' sockets by a hash of the client's address and
    port, whoever is busy; with one shared socket the worker that wakes first takes it,
    and under load one worker took every connection of a burst (bench/workers.py showed
    100 % / 0 %). A connection still queued on a worker that dies is lost with it."""
    sock = socket.socket(reserved.family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(reserved.getsockname())
    sock.listen(backlog)
    return sock


class Supervisor:
    """Runs ``work(role, ready)`` in ``count`` forked workers until told to stop.

    ``work`` runs in the child: it serves, calls ``ready()`` once it takes requests,
    and returns an exit code when SIGTERM asks it to stop.
    """

    def __init__(self, count: int, work):
        if count < 1:
            raise ValueError("a node needs at least one worker")
        self.count = count
        self.work = work
        self.pids: dict[int, int] = {}  # pid -> slot
        self._started_at: dict[int, float] = {}  # slot -> when it was last started
        self._stopping = False
        self._wake_duty = False  # tell slot 0 to adopt orphaned sessions (ADOPT_SIGNAL)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop_signal)
        signal.signal(ADOPT_SIGNAL, self._adopt_signal)
        if not self._start(0, restarted=False, wait_ready=True):
            self._stop_all()
            return 0 if self._stopping else 2  # asked to stop while starting: a clean stop
        for slot in range(1, self.count):
            self._start(slot, restarted=False)
        log.info("supervisor %d: %d workers running", os.getpid(), self.count)
        while not self._stopping:
            self._reap_and_restart()
            self._forward_wake()
            time.sleep(_POLL)
        self._stop_all()
        return 0

    def _stop_signal(self, signum, frame) -> None:
        self._stopping = True

    def _adopt_signal(self, signum, frame) -> None:
        self._wake_duty = True  # a worker handed sessions over

    def _forward_wake(self) -> None:
        """Slot 0 adopts the sessions of a dead worker or handed over by a live one."""
        if not self._wake_duty:
            return
        self._wake_duty = False
        for pid, slot in self.pids.items():
            if slot == 0:
                _signal(pid, ADOPT_SIGNAL)

    # -- workers -------------------------------------------------------------------
    def _start(self, slot: int, restarted: bool, wait_ready: bool = False) -> bool:
        role = WorkerRole(slot, self.count, restarted, supervisor=os.getpid())
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self._child(role, write_end)  # never returns
        os.close(write_end)
        self.pids[pid] = slot
        self._started_at[slot] = time.monotonic()
        log.info("worker %d started (pid %d%s)", slot, pid, ", restarted" if restarted else "")
        try:
            return not wait_ready or self._wait_ready(pid, read_end)
        finally:
            os.close(read_end)

    def _child(self, role: WorkerRole, ready_fd: int) -> None:
        os.setpgid(0, 0)  # Ctrl-C in a terminal reaches the supervisor only: it stops in order
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(ADOPT_SIGNAL, signal.SIG_IGN)  # slot 0's node handles it once it runs
        assume(role)

        def ready() -> None:
            try:
                os.write(ready_fd, b"1")
                os.close(ready_fd)
            except OSError:
                pass  # told twice, or nobody waits any more

        code = 1
        try:
            code = self.work(role, ready)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 1)

    def _wait_ready(self, pid: int, read_end: int) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and not self._stopping:
            readable, _, _ = select.select([read_end], [], [], _POLL)
            if readable:
                return os.read(read_end, 1) == b"1"
        if not self._stopping:
            log.error("worker 0 (pid %d) did not get ready in %ss", pid, READY_TIMEOUT)
        return False

    def _reap_and_restart(self) -> None:
        for pid, status in self._reaped():
            slot = self.pids.pop(pid)
            log.warning("worker %d (pid %d) died (%s); restarting it", slot, pid, _describe(status))
            self._wake_duty |= slot != 0  # its sessions go to slot 0 (a new slot 0 resumes them)
            pause = self._started_at[slot] + RESTART_DELAY - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if not self._stopping:
                self._start(slot, restarted=True)

    def _reaped(self) -> list[tuple[int, int]]:
        dead = []
        while self.pids:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self.pids:
                dead.append((pid, status))
        return dead

    def _stop_all(self) -> None:
        first = [pid for pid, slot in self.pids.items() if slot == 0]
        for group in (first, [pid for pid in self.pids if pid not in first]):
            for pid in group:
                _signal(pid, signal.SIGTERM)
            self._wait_gone(group)
        log.info("supervisor %d: every worker stopped", os.getpid())

    def _wait_gone(self, pids: list[int]) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT
        waiting = set(pids)
        while waiting:
            for pid in list(waiting):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    waiting.discard(pid)
                    self.pids.pop(pid, None)
            if waiting and time.monotonic() > deadline:
                for pid in waiting:
                    log.error("worker pid %d did not stop in %ss; killing it", pid, STOP_TIMEOUT)
                    _signal(pid, signal.SIGKILL)
                deadline = float("inf")  # SIGKILL always ends it: wait for the exit
            time.sleep(0.05 if waiting else 0)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.kill(pid, signum)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def default_count(config) -> tuple[int, str]:
    """Workers to run when ``--workers`` is not given, and why."""
    if not shares_state(config):
        return 1, "one worker: the embedded DataDB/in-memory StorDB live in one process"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cpus or 1), f"{cpus} workers, one per CPU"


def shares_state(config) -> bool:
    """Whether processes of this config share one node's data: Redis DataDB, and a
    StorDB that is not in one process's memory."""
    from fs_cgr.storage import is_in_memory_stordb, is_shared_datadb

    return is_shared_datadb(config.datadb.url) and not is_in_memory_stordb(config.stordb.url)
