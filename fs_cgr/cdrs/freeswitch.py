"""FreeSWITCH's own CDRs into the CDR pipeline: mod_json_cdr over HTTP, mod_cdr_csv files.

Both become a mod_json_cdr-like document (``variables`` + caller profile) that
``fs_cgr.fschannel.FSEvent`` turns into the neutral event, so cgr_reqtype,
cgr_account, ... mean here what they mean to the live agent. A CSV file has no
channel username; the account falls back to ``accountcode`` (vanilla
FreeSWITCH sets it to the directory user), then ``caller_id_number``.

mod_cdr_csv writes times as local time strings (``start_stamp``); ``timezone``
says which zone the FreeSWITCH box uses (UTC unless told).
"""

import csv
import functools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fs_cgr.errors import CGRError, InvalidArgument, MandatoryMissing
from fs_cgr.fschannel import Defaults, FSEvent
from fs_cgr.textcheck import lone_surrogate_path

# FreeSWITCH's cdr_csv.conf.xml "example" template, column by column.
EXAMPLE_TEMPLATE = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)
_STAMPS = {
    "start_stamp": "start_uepoch",
    "answer_stamp": "answer_uepoch",
    "end_stamp": "end_uepoch",
}
_INTEGERS = ("duration", "billsec", "billmsec")
_TEMPLATE_VARIABLE = re.compile(r"\$\{([^}]+)\}")
IMPORT_BATCH = 500


def parse_template(text: str | None) -> tuple[str, ...]:
    """Column names from a cdr_csv template (``"${uuid}","${billsec}"``) or a plain
    comma-separated list (``uuid,billsec``); None gives the "example" template."""
    if not text:
        return EXAMPLE_TEMPLATE
    names = _TEMPLATE_VARIABLE.findall(text)
    if not names:
        names = [name.strip() for name in text.split(",")]
    if not names or not all(names):
        raise InvalidArgument(f"unusable CSV template {text!r}")
    return tuple(names)


def defaults_for(node, origin_host: str = "") -> Defaults:
    """CGRIDs must match the live agent's: with one ESL connection use its alias/address."""
    conns = node.config.freeswitch_agent.event_socket_conns
    if len(conns) == 1:
        origin_host = conns[0].alias or conns[0].address.partition(":")[0]
    return Defaults.from_config(node.config, origin_host)


# -- mod_json_cdr --------------------------------------------------------------------


def json_cdr_event(body: bytes | str, defaults: Defaults) -> dict:
    """The neutral event of one mod_json_cdr POST body."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("variables"), dict):
        raise InvalidArgument("a mod_json_cdr document needs a 'variables' object")
    invalid = lone_surrogate_path(body, document)
    if invalid is not None:  # refused before any charge; mod_json_cdr keeps the CDR
        raise InvalidArgument(f"{invalid}: not valid Unicode text (a lone UTF-16 surrogate)")
    return _event(FSEvent.from_json_cdr(document), defaults)


def _event(fs_event: FSEvent, defaults: Defaults) -> dict:
    if not fs_event.uuid:
        raise MandatoryMissing("OriginID")
    return fs_event.cgr_event(defaults)


def handle_json_cdr(node, body: bytes, remote_addr: str = "") -> tuple[int, str]:
    """Process one POST /freeswitch_json; (HTTP status, text). Not 200 = mod_json_cdr
    keeps the CDR (retries, then its error log), so nothing refused is lost."""
    try:
        event = json_cdr_event(body, defaults_for(node, remote_addr))
        outcome = node.cdrs.process_event(event)
    except CGRError as exc:
        return 400, exc.message
    except OSError as exc:  # neither StorDB nor the spool took it
        return 503, f"SERVER_ERROR: {exc}"
    if outcome.error is not None:
        return 422, outcome.error.message
    return 200, "OK"


# -- mod_cdr_csv ---------------------------------------------------------------------


@dataclass
class ImportReport:
    processed: int = 0  # CDR lines read
    stored: int = 0  # lines whose CDRs were stored (or spooled for StorDB)
    duplicates: int = 0  # lines whose CDRs were stored before
    failed: int = 0  # lines refused: malformed, or no charger/mandatory field
    unrated_runs: int = 0  # stored CDR runs that could not be priced (Cost -1)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "Processed": self.processed,
            "Stored": self.stored,
            "Duplicates": self.duplicates,
            "Failed": self.failed,
            "UnratedRuns": self.unrated_runs,
            "Problems": list(self.problems),
        }

    def summary(self) -> str:
        return (
            f"processed {self.processed}, stored {self.stored}, duplicates {self.duplicates},"
            f" failed {self.failed}, unrated runs {self.unrated_runs}"
        )


def import_csv(
    node, name: str, text: str, template=None, timezone: str = "UTC", first_line: int = 1
) -> ImportReport:
    """Process the CSV ``text`` (from file ``name``, its first line numbered ``first_line``)."""
    columns = parse_template(template)
    zone = local_zone(timezone)
    defaults = defaults_for(node)
    report = ImportReport()
    pending = []  # (where, event)
    for number, row in enumerate(csv.reader(text.splitlines()), first_line):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        report.processed += 1
        where = f"{name}:{number}"
        try:
            pending.append((where, csv_row_event(row, columns, zone, defaults)))
        except CGRError as exc:
            report.failed += 1
            report.problems.append(f"{where}: {exc.message}")
        if len(pending) >= IMPORT_BATCH:
            _process(node, pending, report)
            pending = []
    _process(node, pending, report)
    return report


def local_zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"unknown timezone {name!r}") from None


def _process(node, pending, report: ImportReport) -> None:
    if not pending:
        return
    outcomes = node.cdrs.process_events([event for _, event in pending])
    for (where, _), outcome in zip(pending, outcomes, strict=True):
        if outcome.error is not None:
            report.failed += 1
            report.problems.append(f"{where}: {outcome.error.message}")
            continue
        if outcome.stored or outcome.spooled:
            report.stored += 1
        else:
            report.duplicates += 1
        for cdr in outcome.failed_runs:
            report.unrated_runs += 1
            report.problems.append(f"{where}: run {cdr['RunID']} not rated: {cdr['ExtraInfo']}")


def csv_row_event(row: list[str], columns, zone, defaults: Defaults) -> dict:
    """The neutral event of one CSV line; InvalidArgument names the bad field."""
    if len(row) != len(columns):
        raise InvalidArgument(f"expected {len(columns)} fields, got {len(row)}")
    values = {name: value.strip() for name, value in zip(columns, row, strict=True)}
    variables = {}
    for name, value in values.items():
        if name in _STAMPS:
            variables[_STAMPS[name]] = _stamp_uepoch(name, value, zone)
        elif name in _INTEGERS and value and not value.isdigit():
            raise InvalidArgument(f"field {name}: not a whole number: {value!r}")
        variables[name] = value
    username = values.get("accountcode") or values.get("caller_id_number", "")
    profile = {"username": username, "destination_number": values.get("destination_number", "")}
    document = {"variables": variables, "callflow": {"caller_profile": profile}}
    try:
        return _event(FSEvent.from_json_cdr(document), defaults)
    except MandatoryMissing:
        raise InvalidArgument("field uuid: empty") from None


def _stamp_uepoch(name: str, value: str, zone) -> str:
    """A local "YYYY-mm-dd HH:MM:SS" stamp as FreeSWITCH's µs epoch ("0" = never)."""
    if not value:
        return "0"
    try:
        return _local_stamp_uepoch(value, zone)
    except ValueError:
        raise InvalidArgument(f"field {name}: invalid time {value!r}") from None


@functools.lru_cache(maxsize=4096)
def _local_stamp_uepoch(value: str, zone) -> str:
    """The parse behind ``_stamp_uepoch``, cached: a file's calls share their stamps
    (start, answer and end are often one second), and strptime is slow. The strict
    layout check keeps fromisoformat (fast) from taking other ISO forms."""
    if len(value) != 19 or value[4] != "-" or value[10] != " " or value[13] != ":":
        raise ValueError(value)
    moment = datetime.fromisoformat(value).replace(tzinfo=zone)
    return str(int(moment.timestamp()) * 1_000_000)
