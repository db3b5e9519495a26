"""CPU-heavy work beside the gevent loop: a big tariff plan parses and compiles for seconds.

A greenlet that runs pure Python for seconds stops every other greenlet of its hub (the
API, the calls). ``off_the_loop(fn, ...)`` runs ``fn`` in a thread of the hub's pool
instead: the calling greenlet waits, the loop goes on, and the interpreter switches
between the two threads every few milliseconds. The function must not touch gevent
objects (sockets, locks) of the loop's thread; ``on_the_loop`` hands it a way to call
back into the loop (progress logging).

A worker process would not share the interpreter lock at all, but it would have to
pickle a million documents back; measured with bench/plan_load.py, the thread keeps
Ping within tens of milliseconds during the load, which is what the node needs.
"""

import gevent


def off_the_loop(fn, *args):
    """``fn(*args)`` in the hub's thread pool; its result or its exception."""
    return gevent.get_hub().threadpool.apply(fn, args)


def on_the_loop(fn):
    """``fn`` wrapped so that calling it from a pool thread runs it in the calling
    greenlet's loop (thread-safe, asynchronous)."""
    loop = gevent.get_hub().loop

    def call(*args):
        loop.run_callback_threadsafe(fn, *args)

    return call
