"""A clock that moves only when the test says so, with timers that fire as it passes them."""

import heapq
import itertools

CAPTURE_START = 1795314809.747636  # Event-Date-Timestamp of the connect in capture 01


class FakeClock:
    def __init__(self, start: float = CAPTURE_START):
        self._now_us = round(start * 1_000_000)
        self._timers: list = []
        self._order = itertools.count()

    def now_us(self) -> int:
        """Microseconds since the epoch, as FreeSWITCH's *-Time headers and *_uepoch variables."""
        return self._now_us

    def now(self) -> float:
        return self._now_us / 1_000_000

    def advance(self, seconds: float) -> None:
        """Move forward; timers due by then fire in time order, in the caller's greenlet."""
        self._now_us += round(seconds * 1_000_000)
        while self._timers and self._timers[0][0] <= self._now_us:
            _, _, callback = heapq.heappop(self._timers)
            callback()

    def call_later(self, seconds: float, callback) -> None:
        when = self._now_us + round(seconds * 1_000_000)
        heapq.heappush(self._timers, (when, next(self._order), callback))
