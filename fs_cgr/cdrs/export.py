"""CDRs out as files: CSV or JSON lines, written as they stream from StorDB.

``APIerSv1.ExportCDRs`` writes under ``cdrs.export_dir`` only: the file name
comes from the request (``ExportArgs.ExportFileName``, else
``cdre_<ExportID>.<csv|json>`` as CGrateS names it) and must stay inside
that folder. The file is written under a temporary name and renamed when
complete, so a reader never sees half an export. ``*file_csv`` has CGrateS'
default export columns (no header, Cost rounded to 4 decimals);
``*file_json`` one ExternalCDR object per line.

``fs-cgr cdrs --format csv|json`` uses the same writers on its side of the
API, a page at a time.
"""

import csv
import json
import os
import time
from decimal import ROUND_HALF_UP, Decimal

from fs_cgr import jsoncodec
from fs_cgr.cdrs.record import CGRATES_CSV_FIELDS, as_external, new_cdr, plain_amount
from fs_cgr.errors import InvalidArgument, MandatoryMissing

FILE_CSV = "*file_csv"
FILE_JSON = "*file_json"
_SUFFIXES = {FILE_CSV: "csv", FILE_JSON: "json"}
# CGrateS' *default cdre template, column by column
CDRE_FIELDS = (*CGRATES_CSV_FIELDS, "Cost")
# what ``fs-cgr cdrs --format csv`` prints: every ExternalCDR field but CostDetails
LISTING_FIELDS = tuple(
    name for name in as_external(new_cdr({"CGRID": ""})) if name != "CostDetails"
)
_COST_QUANTUM = Decimal("0.0001")


def csv_row(external: dict, fields=LISTING_FIELDS) -> list[str]:
    """One ExternalCDR as CSV values (ExtraFields as JSON text)."""
    return [
        json.dumps(external[name]) if name == "ExtraFields" else str(external[name])
        for name in fields
    ]


def json_line(external: dict) -> str:
    return jsoncodec.encode(external)


class ExportReport:
    """CGrateS' RplExportedCDRs, counted as the CDRs stream by."""

    def __init__(self, verbose: bool):
        self.total, self.cost = 0, Decimal(0)
        self.first = self.last = 0
        self.cgrids: list[str] | None = [] if verbose else None

    def add(self, cdr: dict) -> None:
        self.total += 1
        if cdr["Cost"] > 0:
            self.cost += cdr["Cost"]
        self.first = self.first or cdr["OrderID"]
        self.last = cdr["OrderID"]
        if self.cgrids is not None:
            self.cgrids.append(cdr["CGRID"])

    def as_json(self, path: str) -> dict:
        return {
            "ExportedPath": path if self.total else "",
            "TotalRecords": self.total,
            "TotalCost": plain_amount(self.cost),
            "FirstOrderID": self.first,
            "LastOrderID": self.last,
            "ExportedCGRIDs": self.cgrids if self.total else None,
            "UnexportedCGRIDs": {} if self.cgrids is not None and self.total else None,
        }


def export_path(export_dir: str, export_args: dict) -> tuple[str, str]:
    """(format, path) of an export; the path is always inside ``export_dir``."""
    file_format = str(export_args.get("ExportFormat") or FILE_CSV).lower()
    if file_format not in _SUFFIXES:
        raise MandatoryMissing("CdrFormat")
    export_id = str(export_args.get("ExportID") or int(time.time()))
    name = str(export_args.get("ExportFileName") or f"cdre_{export_id}.{_SUFFIXES[file_format]}")
    if os.path.basename(name) != name or name in ("", ".", ".."):
        raise InvalidArgument(f"ExportFileName must be a file name, got {name!r}")
    return file_format, os.path.join(export_dir, name)


def export_cdrs(cdrs, file_format: str, path: str, verbose: bool = False) -> dict:
    """Write the stream ``cdrs`` (stored CDR dicts) to ``path``; the RplExportedCDRs."""
    report = ExportReport(verbose)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".part"
    with open(partial, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream) if file_format == FILE_CSV else None
        for cdr in cdrs:
            report.add(cdr)
            external = as_external(cdr)
            if writer is not None:
                external["Cost"] = Decimal(external["Cost"]).quantize(_COST_QUANTUM, ROUND_HALF_UP)
                writer.writerow(csv_row(external, CDRE_FIELDS))
            else:
                stream.write(json_line(external) + "\n")
    if report.total:
        os.replace(partial, path)
    else:
        os.unlink(partial)  # CGrateS writes no file for an empty export
    return report.as_json(path)
