"""Changing one state document (a stat queue, a threshold) without losing a concurrent change.

Several nodes may update the same document at once. Each change is computed from the
document as read and written with ``DataDB.cas_state``; when another writer got there
first, the change is computed again from the document it left. Nothing is ever written
from a stale read.
"""

import random
import time
from collections.abc import Callable

from fs_cgr.errors import ServerError

MAX_ATTEMPTS = 50
MAX_BACKOFF = 0.02  # seconds
UNCHANGED = object()  # returned by a change that writes nothing


def update_state(datadb, kind: str, obj_id: str, change: Callable[[dict | None], tuple]):
    """Apply ``change(doc or None) -> (new doc, None to remove, or UNCHANGED; result)``
    atomically and return its result."""
    stored = datadb.get_state(kind, obj_id)
    doc, version = stored if stored is not None else (None, 0)
    for attempt in range(MAX_ATTEMPTS):
        new_doc, result = change(doc)
        if new_doc is UNCHANGED:
            return result
        outcome = datadb.cas_state(kind, obj_id, version, new_doc)
        if outcome.applied:
            return result
        doc, version = outcome.doc, outcome.version
        time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.0005 * 2**attempt)))
    raise ServerError(f"{kind} {obj_id}: {MAX_ATTEMPTS} concurrent changes won, try again")
