"""One worker that runs jobs off the caller's path, in order, one at a time.

ThresholdS runs ``Async`` action sets and the thresholds of account changes here: the
caller (a debit holding its account, an API request) never waits for them, so an action
that changes the very account whose change raised the threshold cannot deadlock.
A job's error is logged, never lost silently, and never stops the worker.
"""

import logging
import queue
import threading
import time

log = logging.getLogger(__name__)

_STOP = object()


class Background:
    def __init__(self, name: str):
        self.name = name
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0

    def submit(self, job, *args) -> None:
        with self._lock:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._jobs.put((job, args))

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            job, args = item
            try:
                job(*args)
            except Exception:
                log.exception("%s: background job %s failed", self.name, job.__name__)
            finally:
                with self._lock:
                    self._pending -= 1

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once every submitted job ran (False after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.005)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Run the jobs already submitted (up to ``timeout`` seconds), then end the worker."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._jobs.put(_STOP)
            thread.join(timeout)
