"""Changing one state document (a stat queue, a threshold) without losing a concurrent change.

Several nodes may update the same document at once. Each change is computed from the
document as read and written with ``DataDB.cas_state``; when another writer got there
first, the change is computed again from the document it left. Nothing is ever written
from a stale read. Within one process the changes of one document also wait for each
other (striped locks), so compare-and-set conflicts only come from other nodes: many
greenlets updating one hot stat queue queue up instead of retrying each other out.
"""

import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable

from fs_cgr.errors import ServerError

MAX_ATTEMPTS = 50
MAX_BACKOFF = 0.02  # seconds
UNCHANGED = object()  # returned by a change that writes nothing
STRIPES = 256


class _FairLock:
    """A lock handed to its waiters in arrival order: a greenlet that releases and at once
    asks again queues behind the others instead of taking it back (a plain lock lets one
    busy feeder of a hot queue starve the rest for seconds)."""

    def __init__(self):
        self._guard = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._held = False

    def __enter__(self):
        with self._guard:
            if not self._held:
                self._held = True
                return self
            turn = threading.Event()
            self._waiting.append(turn)
        try:
            turn.wait()
        except BaseException:  # stopped while waiting: leave the line, or pass the turn on
            with self._guard:
                if turn in self._waiting:
                    self._waiting.remove(turn)
                    raise
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info):
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # the lock passes on without being free
            else:
                self._held = False


class StateStore:
    """The state documents of one DataDB, changed one at a time per document in this
    process (built with the node, so its locks are gevent's when gevent patched).

    It remembers the documents it wrote last (``KNOWN`` of them), so the next change of a
    document starts from it without reading it back: a stale copy (another node wrote
    since) only costs one compare-and-set conflict, which returns the current document.
    A change that writes nothing (UNCHANGED) on a remembered copy is decided again on a
    read, so reads never answer from a stale copy. A change may alter the document it is
    given in place; what it returns as its result must be treated as read-only.
    """

    KNOWN = 256

    def __init__(self, datadb):
        self.datadb = datadb
        self._stripes = [_FairLock() for _ in range(STRIPES)]
        self._known: dict[tuple[str, str], tuple[dict | None, int]] = {}

    def get(self, kind: str, obj_id: str) -> dict | None:
        stored = self.datadb.get_state(kind, obj_id)
        return None if stored is None else stored[0]

    def ids(self, kind: str) -> list[str]:
        return self.datadb.state_ids(kind)

    def update(self, kind: str, obj_id: str, change: Callable[[dict | None], tuple]):
        """Apply ``change(doc or None) -> (new doc, None to remove, or UNCHANGED; result)``
        atomically and return its result."""
        key = (kind, obj_id)
        with self._stripes[zlib.crc32(f"{kind}:{obj_id}".encode()) % STRIPES]:
            state = self._known.pop(key, None)
            read = state is None  # a remembered copy may be stale: only a write checks it
            for attempt in range(MAX_ATTEMPTS):
                if state is None:
                    stored = self.datadb.get_state(kind, obj_id)
                    state = stored if stored is not None else (None, 0)
                doc, version = state
                new_doc, result = change(doc)
                if new_doc is UNCHANGED:
                    if not read:  # decided on the remembered copy: decide again on a read
                        state, read = None, True
                        continue
                    self._remember(key, state)
                    return result
                outcome = self.datadb.cas_state(kind, obj_id, version, new_doc)
                if outcome.applied:
                    self._remember(key, (new_doc, outcome.version))
                    return result
                state, read = (outcome.doc, outcome.version), True
                time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.0005 * 2**attempt)))
        raise ServerError(f"{kind} {obj_id}: {MAX_ATTEMPTS} concurrent changes won, try again")

    def _remember(self, key: tuple[str, str], state: tuple[dict | None, int]) -> None:
        if len(self._known) >= self.KNOWN:
            self._known.pop(next(iter(self._known)))  # the least recently changed
        self._known[key] = state
