"""SQLite StorDB calls in a native thread of their own, so a gevent loop never waits on SQLite.

SQLite is a library: an insert, a commit, a WAL checkpoint's fsync, a wait for another
process's lock (busy_timeout) all run in the calling thread. In a gevent-patched process
(the server, the agent) that is the event loop's thread, so every call in flight waits
with it: at several hundred call set-ups a second the CDR commits alone put tens of
milliseconds on the p99 of connect -> uuid_transfer (bench/calls.py). Here every call of
the StorDB runs in one dedicated native thread (one: the single connection is used by
that thread only, and calls keep their order) while the calling greenlet waits and the
loop goes on; SQLite works without the interpreter lock. MySQL needs none of this:
PyMySQL talks over gevent's sockets, so its waits already yield.

The thread needs the interpreter lock back after each step SQLite takes in C (one per
row of an insert): while a call is in flight the switch interval is 0.2 ms, so the busy
loop hands it over sooner (bench/calls.py: a call's CDR commit waited 2-6 ms at the median,
14-21 ms with the 1 ms a tariff-plan load uses, in two runs each on a loaded machine).

Callers still wait for each call's outcome, so durability is unchanged: a CDR reported
stored is committed, one that is not is spooled by its caller as before.
"""

import os
from _queue import SimpleQueue  # the C queue: gevent never patches it, its get blocks natively
from collections import deque
from functools import partial

from gevent.hub import Waiter, get_hub
from gevent.monkey import get_original, is_module_patched

from fs_cgr.offload import switching_often

SWITCH_INTERVAL = 0.0002  # seconds; see above
_native_thread_id = get_original("threading", "get_ident")  # patched: the greenlet's
_start_native_thread = get_original("_thread", "start_new_thread")
_native_lock = get_original("_thread", "allocate_lock")


class _Returns:
    """Outcomes the StorDB thread hands back to the greenlets of one hub: one async watcher
    per hub, woken once for whatever is ready (gevent's ThreadPool.apply made a watcher,
    a result object and a greenlet's worth of bookkeeping per call, ~20 % of a crossing's
    CPU; bench/hangup.py)."""

    def __init__(self, hub):
        self.ready = deque()  # (Waiter, outcome); appended by the StorDB thread
        self.waiting = 0
        self.watcher = hub.loop.async_()
        self.watcher.start(self._wake)
        self.watcher.ref = False  # keeps the loop alive only while a call is waited for

    def _wake(self) -> None:
        while self.ready:
            waiter, outcome = self.ready.popleft()
            waiter.switch(outcome)


class ThreadedStorDB:
    """A StorDB whose methods run in a thread of their own; attributes read through."""

    def __init__(self, stordb):
        self._stordb = stordb
        self._calls: SimpleQueue | None = None  # the thread's, once started in this process
        self._pid = 0
        self._returns: dict = {}  # hub -> _Returns
        self._lock = _native_lock()
        self._thread_id = None  # the native thread's, once it ran something

    def __getattr__(self, name: str):
        attribute = getattr(self._stordb, name)
        if not callable(attribute):
            return attribute
        return partial(self.run, attribute)

    def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the StorDB's thread: a caller with several StorDB
        calls to make (the CDR group commit: duplicate check, then insert) crosses over
        once; the StorDB calls ``fn`` makes there run directly."""
        if _native_thread_id() == self._thread_id:
            return fn(*args, **kwargs)
        calls, returns = self._started()
        waiter = Waiter()
        returns.waiting += 1
        returns.watcher.ref = True
        try:
            with switching_often(SWITCH_INTERVAL):
                calls.put((fn, args, kwargs, waiter, returns))
                succeeded, outcome = waiter.get()
        finally:
            returns.waiting -= 1
            if not returns.waiting:
                returns.watcher.ref = False
        if succeeded:
            return outcome
        raise outcome

    def _started(self) -> tuple:
        """The thread's call queue (the thread started if need be: first call, or a forked
        child) and the returns of the calling hub."""
        hub = get_hub()
        with self._lock:
            if self._pid != os.getpid():  # a fork leaves the parent's thread behind
                self._pid, self._calls, self._returns = os.getpid(), SimpleQueue(), {}
                _start_native_thread(self._serve, (self._calls,))
            returns = self._returns.get(hub)
            if returns is None:
                returns = self._returns[hub] = _Returns(hub)
            return self._calls, returns

    def _serve(self, calls: SimpleQueue) -> None:
        self._thread_id = _native_thread_id()
        while True:
            call = calls.get()
            if call is None:
                return
            fn, args, kwargs, waiter, returns = call
            try:
                outcome = True, fn(*args, **kwargs)
            except BaseException as exc:  # raised in the caller, as it would have been
                outcome = False, exc
            returns.ready.append((waiter, outcome))
            returns.watcher.send()

    def close(self) -> None:
        try:
            self.run(self._stordb.close)
        finally:
            with self._lock:
                calls, self._calls, self._pid = self._calls, None, 0
            if calls is not None:
                calls.put(None)


def off_the_loop_when_patched(stordb):
    """``stordb`` in a thread of its own where gevent patched the process (its threads are
    greenlets of one loop), else as it is: plain threads already wait apart."""
    return ThreadedStorDB(stordb) if is_module_patched("threading") else stordb
