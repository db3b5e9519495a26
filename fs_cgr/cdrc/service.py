"""The Mediator: one watching loop per ``cdrc`` folder, started and stopped with the node.

Each loop takes the finished files of its in_dir one at a time, oldest first,
and imports them (``importer``). A file whose import fails for a reason that
is not its lines' (StorDB and spool both refusing) stays in in_dir and is
tried again after ``RETRY_DELAY``; its checkpoint makes the retry resume.
The loops are threads, greenlets when gevent patched the process.
"""

import logging
import os
import threading
import time

from fs_cgr.cdrc.formats import RecordReader
from fs_cgr.cdrc.importer import FileImporter
from fs_cgr.cdrc.watcher import FolderWatcher
from fs_cgr.cdrs.freeswitch import defaults_for
from fs_cgr.config import ConfigError
from fs_cgr.durations import SECOND
from fs_cgr.errors import CGRError
from fs_cgr.workers import role

log = logging.getLogger(__name__)

RETRY_DELAY = 5.0  # seconds before a file whose import failed is tried again
IDLE_WAKE = 0.5  # seconds: how soon a loop notices stop() when nothing happens
COMMIT_BATCHES = 4  # store batches (cdrs.store_batch CDRs each) per file checkpoint


class FolderMediator:
    """One watched folder: its watcher, its importer, its loop."""

    def __init__(self, node, spec, stopping: threading.Event):
        _check(spec)
        os.makedirs(spec.out_dir, exist_ok=True)
        try:
            reader = RecordReader(spec.format, spec.template, spec.timezone, defaults_for(node))
        except CGRError as exc:
            raise ConfigError(f"cdrc {spec.in_dir}: {exc.message}") from None
        self.spec = spec
        # a commit (and checkpoint) per COMMIT_BATCHES store batches: the INSERT of one
        # store batch overlaps the rating of the next inside process_events
        batch = max(1, node.config.cdrs.store_batch) * COMMIT_BATCHES
        self.importer = FileImporter(node, spec, reader, batch, stopping)
        poll = spec.run_delay / SECOND if spec.run_delay else 1.0
        self.watcher = FolderWatcher(spec.in_dir, spec.settle, poll, not spec.run_delay)
        self._retry_at: dict[str, float] = {}

    def run_once(self) -> int:
        """Import every finished file now; how many were imported."""
        imported = 0
        for path in self.watcher.finished():
            if self._retry_at.get(path, 0.0) > time.monotonic():
                continue
            if self._import(path):
                imported += 1
        return imported

    def _import(self, path: str) -> bool:
        try:
            report = self.importer.run(path)
            if report is None:  # stopping: the checkpoint says where to resume
                return False
        except Exception:
            log.exception("cdrc %s: import failed; retrying in %ss", path, RETRY_DELAY)
            self._retry_at[path] = time.monotonic() + RETRY_DELAY
            return False
        self._retry_at.pop(path, None)
        self.watcher.done(path)
        log.info("cdrc %s", report.summary())
        return True

    def loop(self) -> None:
        stopping = self.importer.stopping
        while not stopping.is_set():
            try:
                self.run_once()
            except OSError as exc:  # the folder itself went away or is unreadable
                log.error("cdrc %s: %s", self.spec.in_dir, exc)
            if self.watcher.uses_inotify:
                self.watcher.wait(IDLE_WAKE)
            else:
                stopping.wait(self.watcher.poll)


def _check(spec) -> None:
    for name in ("in_dir", "out_dir"):
        if not getattr(spec, name):
            raise ConfigError(f"cdrc: {name} is required")
    if not os.path.isdir(spec.in_dir):
        raise ConfigError(f"cdrc: in_dir {spec.in_dir!r} is not a folder")
    if os.path.realpath(spec.in_dir) == os.path.realpath(spec.out_dir):
        raise ConfigError(f"cdrc: out_dir must differ from in_dir ({spec.in_dir!r})")


class Mediator:
    """``node.cdrc``: the configured folders' loops."""

    def __init__(self, node):
        """Checks every folder's config now (ConfigError), before the node starts anything."""
        self.node = node
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.folders = [FolderMediator(node, spec, self._stopping) for spec in node.config.cdrc]

    def start(self) -> None:
        if not role.holds_node_duty():  # one importer per node: the folders are the node's
            return
        self._stopping.clear()
        for folder in self.folders:
            thread = threading.Thread(
                target=folder.loop,
                name=f"fs-cgr-cdrc-{os.path.basename(folder.spec.in_dir)}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            how = "inotify" if folder.watcher.uses_inotify else "polling"
            log.info("cdrc watching %s (%s) -> %s", folder.spec.in_dir, how, folder.spec.out_dir)

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []
        for folder in self.folders:
            folder.watcher.close()
