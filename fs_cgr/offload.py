"""Work beside the gevent loop: a big tariff plan parses and compiles for seconds, SQLite
blocks in C (fs_cgr.storage.sqlite_thread).

A greenlet that runs pure Python for seconds stops every other greenlet of its hub (the
API, the calls). ``off_the_loop(fn, ...)`` runs ``fn`` in a thread of the hub's pool
instead: the calling greenlet waits, the loop goes on, and the interpreter switches
between the two threads every few milliseconds. The function must not touch gevent
objects (sockets, locks) of the loop's thread; ``on_the_loop`` hands it a way to call
back into the loop (progress logging). ``collection_paused()`` keeps the garbage
collector's full passes over a big plan from stopping both threads.

A worker process would not share the interpreter lock at all, but it would have to
pickle a million documents back; measured with bench/plan_load.py, the thread keeps
Ping within tens of milliseconds during the load, which is what the node needs.
"""

import contextlib
import gc
import sys

import gevent

_paused = 0  # nested or concurrent big loads of this process
_in_flight: list[float] = []  # the switch intervals of the offloaded calls running now
_default_interval = sys.getswitchinterval()
# Seconds a thread may keep the interpreter lock while another waits for it (Python's
# default is 5 ms). Answering one request takes the loop's thread a dozen waits for the
# lock (after every socket call), so while a pool thread computes it is shortened.
OFFLOADED_SWITCH_INTERVAL = 0.001


def off_the_loop(fn, *args, pool=None, switch_interval: float = OFFLOADED_SWITCH_INTERVAL):
    """``fn(*args)`` in ``pool`` (a gevent ThreadPool; default: the hub's); its result, or
    its exception raised here (the pool would print an expected error, a refused plan, as
    a crash). ``switch_interval``: the interpreter's switch interval while it runs (the
    shortest of all calls in flight)."""
    pool = gevent.get_hub().threadpool if pool is None else pool
    with switching_often(switch_interval):
        succeeded, outcome = pool.apply(_outcome, (fn, args))
    if succeeded:
        return outcome
    raise outcome


@contextlib.contextmanager
def switching_often(interval: float):
    """The interpreter's switch interval at most ``interval`` while the block runs (the
    shortest of all such blocks in flight), so a thread doing the work gets the lock back
    soon."""
    _in_flight.append(interval)
    sys.setswitchinterval(min(_in_flight))
    try:
        yield
    finally:
        _in_flight.remove(interval)
        sys.setswitchinterval(min(_in_flight, default=_default_interval))


def _outcome(fn, args) -> tuple:
    try:
        return True, fn(*args)
    except Exception as exc:
        return False, exc


def on_the_loop(fn):
    """``fn`` wrapped so that calling it from a pool thread runs it in the calling
    greenlet's loop (thread-safe, asynchronous)."""
    loop = gevent.get_hub().loop

    def call(*args):
        loop.run_callback_threadsafe(fn, *args)

    return call


@contextlib.contextmanager
def collection_paused():
    """No cyclic garbage collection while a big plan is built, then its objects frozen.

    A full collection walks every object of the process while holding the interpreter
    lock, so with a million new documents each one stops the loop for up to a second
    (bench/plan_load.py). The plan's objects are long-lived: freezing them after the
    load keeps later collections from walking them again.
    """
    global _paused
    _paused += 1
    gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if not _paused:
            gc.freeze()
            gc.enable()
