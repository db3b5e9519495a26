"""Which files of a folder FreeSWITCH has finished with.

A file is finished when nothing has written to it for ``settle`` ns, with two
refinements where the kernel reports file events (inotify, through
``inotify_simple``): a file moved into the folder (mod_cdr_csv's rotation
renames the full file in) is finished at once, and a file written since its
last close (a writer still holds it open) is never finished however long it
stays quiet. Without inotify (not Linux, watches exhausted) the folder is
polled every ``poll`` seconds and the quiet time alone decides.

Hidden files, ``.tmp``/``.part`` files and the importer's own ``.bad`` files
are never offered.
"""

import logging
import os
import select
import time

from fs_cgr.durations import SECOND

log = logging.getLogger(__name__)

_SKIPPED_SUFFIXES = (".tmp", ".part", ".bad")


def _inotify():
    """An inotify instance and its flags, or (None, None) where there is none."""
    try:
        import inotify_simple

        return inotify_simple.INotify(), inotify_simple.flags
    except (ImportError, OSError) as exc:
        log.warning("no inotify (%s): polling CDR folders instead", exc)
        return None, None


class FolderWatcher:
    def __init__(self, path: str, settle: int, poll: float, use_inotify: bool = True):
        self.path = path
        self.settle = settle / SECOND
        self.poll = poll
        self._quiet_since: dict[str, tuple[tuple[int, int], float]] = {}
        self._open: set[str] = set()  # written since last closed
        self._moved_in: set[str] = set()
        self._inotify, self._flags = _inotify() if use_inotify else (None, None)
        if self._inotify is not None:
            f = self._flags
            mask = f.MODIFY | f.CLOSE_WRITE | f.MOVED_TO | f.MOVED_FROM | f.DELETE | f.CREATE
            self._inotify.add_watch(path, mask)

    @property
    def uses_inotify(self) -> bool:
        return self._inotify is not None

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def wait(self, seconds: float) -> None:
        """With inotify: sleep up to ``seconds``, less when the folder changes."""
        readable, _, _ = select.select([self._inotify.fileno()], [], [], seconds)
        if readable:
            self._read_events()

    def _read_events(self) -> None:
        f = self._flags
        for event in self._inotify.read(timeout=0):
            if event.mask & f.Q_OVERFLOW:  # events lost: trust quiet time alone for now
                self._open.clear()
                self._moved_in.clear()
                continue
            name = event.name
            if event.mask & (f.MODIFY | f.CREATE):
                self._open.add(name)
                self._moved_in.discard(name)
            if event.mask & f.CLOSE_WRITE:
                self._open.discard(name)
            if event.mask & f.MOVED_TO:
                self._open.discard(name)
                self._moved_in.add(name)
            if event.mask & (f.MOVED_FROM | f.DELETE):
                self._forget(name)

    def _forget(self, name: str) -> None:
        self._open.discard(name)
        self._moved_in.discard(name)
        self._quiet_since.pop(name, None)

    def finished(self) -> list[str]:
        """Paths of the finished files, oldest first."""
        now = time.monotonic()
        ready, present = [], set()
        for entry in os.scandir(self.path):
            name = entry.name
            if name.startswith(".") or name.endswith(_SKIPPED_SUFFIXES):
                continue
            try:
                if not entry.is_file():
                    continue
                stat = entry.stat()
            except FileNotFoundError:
                continue
            present.add(name)
            if self._is_finished(name, (stat.st_size, stat.st_mtime_ns), now):
                ready.append((stat.st_mtime_ns, name))
        for name in set(self._quiet_since) - present:
            self._forget(name)
        return [os.path.join(self.path, name) for _, name in sorted(ready)]

    def _is_finished(self, name: str, signature: tuple[int, int], now: float) -> bool:
        seen = self._quiet_since.get(name)
        if seen is None or seen[0] != signature:
            self._quiet_since[name] = (signature, now)
            quiet = 0.0
        else:
            quiet = now - seen[1]
        if name in self._open:
            return False
        return name in self._moved_in or quiet >= self.settle

    def done(self, path: str) -> None:
        """The file left the folder (imported): forget what was known of it."""
        self._forget(os.path.basename(path))
