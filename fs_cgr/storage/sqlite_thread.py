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

from functools import partial

from gevent.monkey import get_original, is_module_patched
from gevent.threadpool import ThreadPool

from fs_cgr.offload import off_the_loop

SWITCH_INTERVAL = 0.0002  # seconds; see above
_native_thread_id = get_original("threading", "get_ident")  # patched: the greenlet's


class ThreadedStorDB:
    """A StorDB whose methods run in a thread of their own; attributes read through."""

    def __init__(self, stordb):
        self._stordb = stordb
        self._thread = ThreadPool(1)
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
        call = partial(self._marked, fn, args, kwargs)
        return off_the_loop(call, pool=self._thread, switch_interval=SWITCH_INTERVAL)

    def _marked(self, fn, args, kwargs):
        self._thread_id = _native_thread_id()
        return fn(*args, **kwargs)

    def close(self) -> None:
        try:
            self.run(self._stordb.close)
        finally:
            self._thread.kill()


def off_the_loop_when_patched(stordb):
    """``stordb`` in a thread of its own where gevent patched the process (its threads are
    greenlets of one loop), else as it is: plain threads already wait apart."""
    return ThreadedStorDB(stordb) if is_module_patched("threading") else stordb
