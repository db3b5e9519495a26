"""TimerWheel: one greenlet wakes every live call when its next debit (or the end of its
paid time) falls due.

A sleeping greenlet per call costs its saved stack and its Event's waiters (~5 KB a
call: 100 MB for 20,000 calls); an entry in one heap costs ~150 bytes. Due jobs run in
short-lived greenlets of a bounded pool, so a slow DataDB answer delays only the calls
it answers, never the wheel; when the pool is full the wheel waits for a free slot
(back-pressure instead of an unbounded pile of greenlets). Calls are answered at all
moments, so their debits come due spread over the interval, not in bursts.

A cancelled timer stays in the heap until its time comes and is then dropped: cancel
is O(1) and a call ends without a search.
"""

import heapq
import itertools
import time

import gevent
import gevent.event
import gevent.pool

CONCURRENCY = 256  # due jobs running at once (each waits at most for one DataDB answer)


class Timer:
    """A job due at ``due`` (time.monotonic()); ``cancel()`` makes the wheel drop it."""

    __slots__ = ("due", "job", "arg")

    def __init__(self, due: float, job, arg):
        self.due = due
        self.job = job
        self.arg = arg

    @property
    def pending(self) -> bool:
        return self.job is not None

    def cancel(self) -> None:
        self.job = self.arg = None


class TimerWheel:
    def __init__(self, concurrency: int = CONCURRENCY):
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # ties keep the order they were scheduled in
        self._wake = gevent.event.Event()
        self._pool = gevent.pool.Pool(concurrency)
        self._runner: gevent.Greenlet | None = None

    def __len__(self) -> int:
        """Timers in the heap, cancelled ones not yet dropped included."""
        return len(self._heap)

    def schedule(self, delay: float, job, arg) -> Timer:
        """Run ``job(arg)`` in ``delay`` seconds (at once when <= 0)."""
        timer = Timer(time.monotonic() + max(delay, 0.0), job, arg)
        heapq.heappush(self._heap, (timer.due, next(self._order), timer))
        if self._runner is None:
            self._runner = gevent.spawn(self._run)
        elif self._heap[0][2] is timer:  # earlier than what the wheel sleeps for
            self._wake.set()
        return timer

    def stop(self) -> None:
        """Forget every timer and stop the wheel and the jobs still running."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.kill()
        self._pool.kill()
        self._heap.clear()

    def _run(self) -> None:
        heap = self._heap
        while True:
            self._wake.clear()
            delay = heap[0][0] - time.monotonic() if heap else None
            if delay is not None and delay <= 0:
                self._start(heapq.heappop(heap)[2])
            else:
                self._wake.wait(delay)

    def _start(self, timer: Timer) -> None:
        job, arg = timer.job, timer.arg
        if job is None:
            return  # cancelled
        timer.cancel()  # fired: no longer pending
        self._pool.spawn(job, arg)
