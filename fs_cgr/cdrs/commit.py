"""Group commit: many callers' CDRs stored by one writer, one duplicate check and insert a batch.

A call ending costs a duplicate-check query and an insert of its own; under
load the callers instead queue their rated CDRs and wait, and one writer takes
whatever queued meanwhile (up to ``limit`` CDRs) and commits it at once. An
idle writer commits the first arrival alone, so nothing waits for company,
unless its caller lets it: with ``wait`` a caller's CDRs may wait that long for
others to join them. Calls ending a few a second then share commits too: each
commit (a transaction, and on SQLite a crossing to its thread) costs as much
for one call as for several, and the batch runs on warm caches. Only the agent's
answered *prepaid calls wait (freeswitch_agent.cdr_commit_wait, SessionService);
an API reply never does.

The writer is a thread: a greenlet when gevent patched the process (the
server, the agent), a native thread otherwise. Callers wait on a gevent
AsyncResult, which wakes a waiter in any thread or greenlet. A writer idle
for IDLE_EXIT seconds ends; the next caller starts another.
"""

import logging
import queue
import threading
import time
from typing import NamedTuple

import gevent
from gevent.event import AsyncResult

from fs_cgr.errors import StorageUnavailable

log = logging.getLogger(__name__)

COMMIT_WAIT = 60.0  # seconds a caller waits for its batch (StorDB calls time out sooner)
IDLE_EXIT = 10.0  # seconds
_STOP = None


class _Queued(NamedTuple):
    """A caller's CDRs waiting for the writer."""

    rated: list
    extra: object  # what else the commit does for this caller, or None
    done: AsyncResult  # set when stored, spooled or refused
    until: float  # time.monotonic() past which the caller waits for no company


class GroupCommit:
    def __init__(self, commit, limit: int, name: str = "fs-cgr-cdr-commit"):
        """``commit(rated, extras)`` stores a list of (outcome, CDR) and counts each outcome;
        ``extras``: the callers' other work for the same StorDB call (their ``extra``
        arguments of ``store``, the Nones left out)."""
        self._commit = commit
        self.limit = max(1, limit)
        self._name = name
        self._queue = queue.Queue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def store(self, rated: list, extra=None, wait: float = 0.0) -> None:
        """Queue ``rated`` and wait until the writer stored, spooled or refused it.
        ``extra`` (with a ``reset()``): what else the commit does for this caller.
        ``wait``: seconds the writer may hold this caller's CDRs for others to join."""
        if not rated and extra is None:
            return
        done = AsyncResult()
        with self._lock:  # the writer ends only under this lock, with nothing queued
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._writer.start()
            self._queue.put(_Queued(rated, extra, done, time.monotonic() + wait))
        try:
            done.get(timeout=COMMIT_WAIT)
        except gevent.Timeout:
            raise StorageUnavailable(
                f"CDR commit took over {COMMIT_WAIT:g}s; still queued to be stored or spooled"
            ) from None

    def stop(self) -> None:
        """Let the writer commit what is queued, then end."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(_STOP)
            writer.join(timeout=COMMIT_WAIT)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if batch:
                self._write(batch)
        with self._lock:
            self._leave()

    def _take(self) -> tuple[list, bool]:
        """The first waiting item, then what else is queued or comes before the earliest
        ``wait`` of the batch's callers runs out, up to ``limit`` CDRs. ``([], True)``
        when the writer should end: stopped, or idle with nothing queued."""
        try:
            item = self._queue.get(timeout=IDLE_EXIT)
        except queue.Empty:
            with self._lock:  # callers queue under it: none can slip in unseen
                if not self._queue.empty():
                    return [], False
                self._leave()
                return [], True
        batch, rows, until = [], 0, float("inf")
        while item is not _STOP:
            batch.append(item)
            rows += len(item.rated)
            until = min(until, item.until)
            if rows >= self.limit:
                return batch, False
            try:  # a timeout of 0 (or less): what is queued now, as get_nowait
                item = self._queue.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                return batch, False
        return batch, True

    def _leave(self) -> None:
        """Forget this writer (under the lock), unless another took its place."""
        if self._writer is threading.current_thread():
            self._writer = None

    def _write(self, batch: list) -> None:
        try:
            self._commit(
                [pair for item in batch for pair in item.rated],
                [item.extra for item in batch if item.extra is not None],
            )
        except Exception as exc:
            if len(batch) == 1:
                batch[0].done.set_exception(exc)
                return
            log.warning("CDR group commit failed (%s); storing each caller's CDRs apart", exc)
            for item in batch:
                _reset(item.rated)
                if item.extra is not None:
                    item.extra.reset()
                self._write([item])
            return
        for item in batch:
            item.done.set(None)


def _reset(rated: list) -> None:
    """Undo the counts of a failed commit: the outcomes were fresh when queued."""
    for outcome, _ in rated:
        outcome.cdrs.clear()
        outcome.stored = outcome.duplicates = outcome.spooled = 0
