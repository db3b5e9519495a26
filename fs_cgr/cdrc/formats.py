"""Lines of a CDR file as events: mod_cdr_csv, mod_json_cdr's log files, CGrateS CSV.

A ``Record`` keeps the line as read, so a refused one can be written to the
``.bad`` file unchanged and an accepted one copied to out_dir with its costs.
A line that cannot even become an event carries the reason instead.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from fs_cgr.cdrs.freeswitch import csv_row_event, json_cdr_event, local_zone, parse_template
from fs_cgr.cdrs.record import CGRATES_CSV_FIELDS
from fs_cgr.errors import CGRError, InvalidArgument

FREESWITCH_CSV = "freeswitch_csv"
FREESWITCH_JSON = "freeswitch_json"
CGRATES_CSV = "cgrates_csv"
FORMATS = (FREESWITCH_CSV, FREESWITCH_JSON, CGRATES_CSV)

# CGrateS' default CSV reader template, column by column (its ~*req.N indexes);
# CGRID, RunID and Direction columns are read but not used, as CGrateS does.
CGRATES_TEMPLATE = (*CGRATES_CSV_FIELDS[:5], "Direction", *CGRATES_CSV_FIELDS[5:])
_UNUSED_COLUMNS = frozenset(("", "CGRID", "RunID", "Direction"))


@dataclass(slots=True)
class Record:
    number: int  # the line number in the file (1-based); 1 for a whole JSON document
    raw: str  # the line as read, without its line end
    event: dict | None = None
    error: str = ""  # why there is no event


class RecordReader:
    """Records from a file of one format; ``defaults`` as the live agent's (CGRIDs match)."""

    def __init__(self, file_format: str, template: str, timezone: str, defaults):
        if file_format not in FORMATS:
            raise InvalidArgument(f"unknown CDR file format {file_format!r} (known: {FORMATS})")
        self.format = file_format
        self.defaults = defaults
        self.zone = local_zone(timezone)
        if file_format == CGRATES_CSV:
            self.columns = _cgrates_columns(template)
        elif file_format == FREESWITCH_CSV:
            self.columns = parse_template(template or None)

    @property
    def line_based(self) -> bool:
        return self.format != FREESWITCH_JSON

    def records(self, stream, skip: int = 0) -> Iterator[Record]:
        """The records of ``stream`` (a text file) after its first ``skip`` lines."""
        if not self.line_based:
            if not skip:
                yield self._json(stream.read())
            return
        for number, line in enumerate(stream, 1):
            if number <= skip:
                continue
            raw = line.rstrip("\r\n")
            if raw.strip():
                yield self._line(number, raw)

    def _line(self, number: int, raw: str) -> Record:
        try:
            row = next(csv.reader((raw,)))
            if self.format == FREESWITCH_CSV:
                event = csv_row_event(row, self.columns, self.zone, self.defaults)
            else:
                event = self._cgrates_event(row)
        except csv.Error as exc:
            return Record(number, raw, error=f"INVALID_ARGUMENT: not CSV: {exc}")
        except (CGRError, ValueError) as exc:
            return Record(number, raw, error=_reason(exc))
        return Record(number, raw, event)

    def _cgrates_event(self, row: list[str]) -> dict:
        if len(row) != len(self.columns):
            raise InvalidArgument(f"expected {len(self.columns)} fields, got {len(row)}")
        return {
            name: value.strip()
            for name, value in zip(self.columns, row, strict=True)
            if name not in _UNUSED_COLUMNS
        }

    def _json(self, text: str) -> Record:
        raw = text.strip()
        try:
            return Record(1, raw, json_cdr_event(raw, self.defaults))
        except (CGRError, ValueError) as exc:
            return Record(1, raw, error=_reason(exc))


def _cgrates_columns(template: str) -> tuple[str, ...]:
    if not template:
        return CGRATES_TEMPLATE
    return tuple(name.strip() for name in template.split(","))


def _reason(exc: Exception) -> str:
    if isinstance(exc, CGRError):
        return exc.message
    return f"INVALID_ARGUMENT: {exc}"
