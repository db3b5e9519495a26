"""Importing one finished CDR file: through the CDR pipeline in batches, then out of in_dir.

Per batch: the events go to ``node.cdrs.process_events`` (chargers, rating,
one duplicate check and one INSERT per batch), refused lines go to
``<out_dir>/<name>.bad`` as ``# line N: <reason>`` followed by the line as it
was, and with ``cost_runs`` configured each line is copied to
``<out_dir>/<name>`` with one more column per RunID: its Cost, -1 when that
run was not priced (as the seed's Mediator appends costs, -1 on errors).
Then the checkpoint (``progress``) is saved. At the end the file leaves
in_dir: moved to out_dir, or deleted once its copy with costs is complete.

A failure that is not the lines' fault (StorDB and spool both refusing, a
full disk) raises: the file stays in in_dir, its checkpoint says where to
resume, and the mediator tries again later.
"""

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass

from fs_cgr.cdrc.formats import Record, RecordReader
from fs_cgr.cdrc.progress import Progress
from fs_cgr.cdrs.event import cgrid
from fs_cgr.cdrs.record import UNRATED, plain_amount

log = logging.getLogger(__name__)

BAD_SUFFIX = ".bad"
PROGRESS_SUFFIX = ".cdrc-progress"


@dataclass
class FileReport:
    name: str
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    bad: int = 0
    unrated_runs: int = 0

    def summary(self) -> str:
        return (
            f"{self.name}: {self.lines} lines, stored {self.stored}, duplicates"
            f" {self.duplicates}, bad {self.bad}, unrated runs {self.unrated_runs}"
        )


class FileImporter:
    """Imports files of one watched folder (one ``cdrc`` config entry)."""

    def __init__(self, node, spec, reader: RecordReader, batch: int, stopping):
        self.node = node
        self.stopping = stopping  # a threading.Event: set, an import ends after its batch
        self.out_dir = spec.out_dir
        self.cost_runs = list(spec.cost_runs) if reader.line_based else []
        self.reader = reader
        self.batch = batch

    def run(self, path: str) -> FileReport | None:
        """Import ``path`` to its end (its report), or to the next batch when stopping (None)."""
        name = os.path.basename(path)
        progress_path = os.path.join(self.out_dir, "." + name + PROGRESS_SUFFIX)
        with open(path, encoding="utf-8", errors="replace", newline="") as source:
            progress = Progress.load(progress_path, os.fstat(source.fileno()))
            bad_path = os.path.join(self.out_dir, name + BAD_SUFFIX)
            with (
                _resumed(bad_path, progress.bad_bytes) as bad,
                _resumed(self._copy_path(name), progress.copy_bytes) as copy,
            ):
                batch: list[Record] = []
                for record in self.reader.records(source, progress.lines):
                    batch.append(record)
                    if len(batch) >= self.batch:
                        self._commit(batch, bad, copy, progress, progress_path)
                        batch = []
                        if self.stopping.is_set():
                            return None
                self._commit(batch, bad, copy, progress, progress_path)
        self._finish(path, name, bad_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(progress_path)
        return FileReport(
            name,
            progress.lines,
            progress.stored,
            progress.duplicates,
            progress.bad,
            progress.unrated_runs,
        )

    def _copy_path(self, name: str) -> str | None:
        return os.path.join(self.out_dir, name) if self.cost_runs else None

    def _commit(self, batch, bad, copy, progress: Progress, progress_path: str) -> None:
        if not batch:
            return
        events = [record.event for record in batch if record.event is not None]
        outcomes = iter(self.node.cdrs.process_events(events))  # in the records' order
        for record in batch:
            outcome = next(outcomes) if record.event is not None else None
            reason = record.error or (outcome.error.message if outcome.error else "")
            if reason:
                progress.bad += 1
                bad.write(f"# line {record.number}: {reason}\n{record.raw}\n")
                continue
            progress.stored += bool(outcome.stored or outcome.spooled)
            progress.duplicates += not (outcome.stored or outcome.spooled)
            progress.unrated_runs += len(outcome.failed_runs)
            if copy is not None:
                copy.write(f"{record.raw},{self._costs(record, outcome)}\n")
        progress.lines = batch[-1].number
        for stream in (bad, copy):
            if stream is not None:
                stream.flush()
                os.fsync(stream.fileno())
        progress.bad_bytes = bad.tell()
        progress.copy_bytes = copy.tell() if copy is not None else 0
        progress.save(progress_path)
        time.sleep(0)  # under gevent: let calls and the API run between batches

    def _costs(self, record: Record, outcome) -> str:
        costs = {cdr["RunID"]: cdr["Cost"] for cdr in outcome.cdrs}
        if outcome.duplicates:  # stored before (a resumed batch): read what it cost
            query = {"CGRIDs": [outcome_cgrid(record, outcome)], "RunIDs": self.cost_runs}
            costs.update((cdr["RunID"], cdr["Cost"]) for cdr in self.node.cdrs.get_cdrs(query))
        return ",".join(str(plain_amount(costs.get(run, UNRATED))) for run in self.cost_runs)

    def _finish(self, path: str, name: str, bad_path: str) -> None:
        if os.path.getsize(bad_path) == 0:
            os.unlink(bad_path)
        if self.cost_runs:
            os.unlink(path)  # its copy with costs is complete in out_dir
        else:
            shutil.move(path, os.path.join(self.out_dir, name))


def outcome_cgrid(record: Record, outcome) -> str:
    """The CGRID of a record's CDRs (the pipeline computes it when the line had none)."""
    if outcome.cdrs:
        return outcome.cdrs[0]["CGRID"]
    event = record.event
    return event.get("CGRID") or cgrid(event.get("OriginID", ""), event.get("OriginHost", ""))


@contextlib.contextmanager
def _resumed(path: str | None, size: int):
    """An output file opened for appending, cut back to ``size`` (what the checkpoint saw);
    None for an output not asked for."""
    if path is None:
        yield None
        return
    with open(path, "a+", encoding="utf-8", newline="") as stream:
        stream.truncate(size)
        stream.seek(size)
        yield stream
