"""CDRs that StorDB could not take wait on disk, then are replayed exactly once.

``append`` writes rated CDRs to ``<spool_dir>/cdrs.jsonl``, one JSON object a
line, flushed and fsynced before it returns: a CDR the caller was told is
spooled survives a crash. ``replay`` first renames the file to
``cdrs.replaying.jsonl`` (new CDRs go to a fresh file meanwhile), stores its
CDRs in batches, and deletes it only after every batch was stored. A crash or
a StorDB failure mid-replay leaves the file for the next attempt; CDRs stored
twice are harmless because StorDB keeps one row per (CGRID, RunID).
"""

import logging
import os
import threading
from decimal import Decimal

from fs_cgr import jsoncodec
from fs_cgr.times import format_time, parse_time

log = logging.getLogger(__name__)

SPOOL_FILE = "cdrs.jsonl"
REPLAY_FILE = "cdrs.replaying.jsonl"


class Spool:
    def __init__(self, directory: str, batch: int = 500):
        self.directory = directory
        self.batch = max(1, batch)
        self._lock = threading.Lock()  # one writer or renamer at a time
        self._replay_lock = threading.Lock()

    @property
    def path(self) -> str:
        return os.path.join(self.directory, SPOOL_FILE)

    @property
    def replay_path(self) -> str:
        return os.path.join(self.directory, REPLAY_FILE)

    def append(self, cdrs: list[dict]) -> None:
        if not cdrs:
            return
        lines = "".join(encode_cdr(cdr) + "\n" for cdr in cdrs)
        with self._lock:
            os.makedirs(self.directory, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as spool:
                spool.write(lines)
                spool.flush()
                os.fsync(spool.fileno())
        log.warning("StorDB unavailable: %d CDR(s) spooled to %s", len(cdrs), self.path)

    def pending(self) -> bool:
        return any(os.path.exists(p) and os.path.getsize(p) for p in (self.path, self.replay_path))

    def replay(self, store) -> int:
        """Store spooled CDRs with ``store(list) -> new rows``; return how many were new.

        Raises StorageUnavailable (the spool is kept) when StorDB still fails.
        """
        with self._replay_lock:
            self._take_spool()
            if not os.path.exists(self.replay_path):
                return 0
            cdrs = self._read(self.replay_path)
            stored = 0
            for start in range(0, len(cdrs), self.batch):
                stored += store(cdrs[start : start + self.batch])
            os.remove(self.replay_path)
            log.info("replayed %d spooled CDR(s), %d new", len(cdrs), stored)
            return stored

    def _take_spool(self) -> None:
        """Move the spool aside for replay, unless an earlier replay file is still waiting."""
        with self._lock:
            if os.path.exists(self.replay_path) or not os.path.exists(self.path):
                return
            os.replace(self.path, self.replay_path)

    def _read(self, path: str) -> list[dict]:
        cdrs = []
        with open(path, encoding="utf-8") as spool:
            for number, line in enumerate(spool, 1):
                if not line.strip():
                    continue
                try:
                    cdrs.append(decode_cdr(line))
                except ValueError:  # a line cut short by a crash while appending
                    log.error("%s line %d unreadable, skipped: %.200r", path, number, line)
        return cdrs


_TIME_FIELDS = ("SetupTime", "AnswerTime")


def encode_cdr(cdr: dict) -> str:
    """One spool line (without newline): exact decimals, RFC 3339 times."""
    doc = dict(cdr)
    for key in _TIME_FIELDS:
        doc[key] = format_time(doc[key]) if doc.get(key) else ""
    return jsoncodec.encode(doc)


def decode_cdr(line: str) -> dict:
    cdr = jsoncodec.decode(line)
    for key in _TIME_FIELDS:
        cdr[key] = parse_time(cdr.get(key))
    cdr["Cost"] = Decimal(cdr.get("Cost", -1))
    return cdr
