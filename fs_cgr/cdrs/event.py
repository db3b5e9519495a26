"""The neutral event: one flat dict with CGrateS' field names, shared by sessions and CDRs.

Agents (FreeSWITCH channel variables, mod_json_cdr, CSV files) and the JSON-RPC
API all produce the same shape, so chargers, rating and CDR building never
know where a call came from. ``normalize`` fills CGrateS' defaults and parses
types once: times become aware UTC datetimes, ``Usage`` and
``CGRDebitInterval`` int nanoseconds. Fields that are not CGrateS' main CDR
fields are kept as they are and end up in the CDR's ExtraFields.
"""

try:  # CPython's own SHA-1: hashlib's (OpenSSL 3) fetches the algorithm on every hash,
    from _sha1 import sha1 as _sha1  # twice the CPU of a CGRID in a busy node (~17 µs, ~9)
except ImportError:  # an interpreter without it
    from hashlib import sha1 as _sha1

from fs_cgr import jsoncodec
from fs_cgr.durations import format_duration, parse_duration
from fs_cgr.errors import InvalidArgument
from fs_cgr.errors import require as require_fields
from fs_cgr.storage.sql_cdrs import TEXT_FIELDS
from fs_cgr.times import format_time, parse_time

PREPAID = "*prepaid"
POSTPAID = "*postpaid"
PSEUDOPREPAID = "*pseudoprepaid"
RATED = "*rated"
NONE = "*none"
REQUEST_TYPES = (PREPAID, POSTPAID, PSEUDOPREPAID, RATED, NONE)
CHARGED_BY_CDR = (POSTPAID, PSEUDOPREPAID)  # the account is debited when the CDR is priced
VOICE = "*voice"

# CGrateS' MainCDRFields: everything else in an event is an extra field.
MAIN_FIELDS = frozenset(
    (
        "CGRID",
        "RunID",
        "OrderID",
        "OriginHost",
        "Source",
        "OriginID",
        "ToR",
        "RequestType",
        "Tenant",
        "Category",
        "Account",
        "Subject",
        "Destination",
        "SetupTime",
        "AnswerTime",
        "Usage",
        "ExtraInfo",
        "Partial",
        "PreRated",
        "CostSource",
        "Cost",
        "CostDetails",
        "Rated",
    )
)
EXTRA_FIELDS_BYTES = 65_535  # a MySQL TEXT column: the CDR's ExtraFields as JSON
_TIME_FIELDS = ("SetupTime", "AnswerTime")
_DURATION_FIELDS = ("Usage", "CGRDebitInterval")
# normalize's text fields (stripped; empty when absent)
_TEXT_KEYS = (
    "Tenant", "Category", "RequestType", "Account", "Subject", "Destination", "ToR",
    "OriginID", "OriginHost", "Source",
)  # fmt: skip
_TEXT_SIZES = tuple((name, size) for name, (_, size) in TEXT_FIELDS.items())


def cgrid(origin_id: str, origin_host: str) -> str:
    """CGrateS' CGRID: sha1 hex of OriginID followed by OriginHost."""
    return _sha1(f"{origin_id}{origin_host}".encode()).hexdigest()


def normalize(event: dict, general, require=("Account", "Destination")) -> dict:
    """A copy of ``event`` with defaults from ``general`` (config.general) and parsed types.

    Nested ``ExtraFields`` (ExternalCDR form) are flattened into the event.
    Raises MandatoryMissing for empty ``require`` fields, InvalidArgument for
    unparsable times or durations.
    """
    if not isinstance(event, dict):
        raise InvalidArgument("event must be an object")
    out = dict(event)  # copied in C
    out.pop("ExtraFields", None)
    extra = event.get("ExtraFields") or {}
    if not isinstance(extra, dict):
        raise InvalidArgument("ExtraFields must be an object")
    for key, value in extra.items():
        out.setdefault(key, value)
    get = out.get
    for key in _TEXT_KEYS:
        value = get(key)
        # _text inlined: ten fields of every event, text as good as always
        out[key] = value.strip() if value.__class__ is str else _text(value)
    out["Tenant"] = out["Tenant"] or general.default_tenant
    out["Category"] = out["Category"] or general.default_category
    out["RequestType"] = out["RequestType"] or general.default_request_type
    out["ToR"] = out["ToR"] or VOICE
    out["Subject"] = out["Subject"] or out["Account"]
    require_fields(out, require)
    _parse_types(out)
    out["CGRID"] = _text(out.get("CGRID")) or cgrid(out["OriginID"], out["OriginHost"])
    return check_storable(out)


def check_storable(event: dict) -> dict:
    """``event``, or InvalidArgument naming the first field the StorDB would refuse: a main
    text field that is not text or is longer than its column, or ExtraFields longer than
    theirs. Runs on every entry path before any charge (``normalize``, and each charger
    run), so a CDR the StorDB cannot take never moves money."""
    get = event.get
    for name, size in _TEXT_SIZES:
        value = get(name)
        if value is not None and (value.__class__ is not str or len(value) > size):
            check_text(name, value)
    if _extra_bytes(event) > EXTRA_FIELDS_BYTES:
        raise InvalidArgument(f"ExtraFields take more than {EXTRA_FIELDS_BYTES} bytes as JSON")
    return event


def check_text(name: str, value) -> None:
    """InvalidArgument when the StorDB would refuse ``value`` for the main text field
    ``name``: not text, or longer than its column."""
    if value.__class__ is not str:
        raise InvalidArgument(f"{name} must be text, got {value!r:.60}")
    size = TEXT_FIELDS[name][1]
    if len(value) > size:
        raise InvalidArgument(f"{name} is {len(value)} characters long, at most {size}")


def _extra_bytes(event: dict) -> int:
    """The ExtraFields' JSON size; encoded only when a cheap upper bound (6 bytes a
    character, as for an escaped one) could exceed the column."""
    bound = 6 * sum(
        len(key) + len(str(value)) + 6 for key, value in event.items() if key not in MAIN_FIELDS
    )
    if bound <= EXTRA_FIELDS_BYTES:
        return bound
    return len(jsoncodec.encode(extra_fields(event)).encode())


def charging(request_type: str) -> str:
    """How a RequestType is charged: one of ``REQUEST_TYPES``.

    The event keeps its RequestType as given (a CDR stores ``*raw`` as ``*raw``);
    this says what it means. CGrateS' old spellings without the star mean the
    same as with it (its CDR server debits ``postpaid`` like ``*postpaid``);
    any other value (``*raw``, ``*monetary``, a typo) is priced without
    touching an account, as CGrateS prices every RequestType it does not
    account for.
    """
    text = request_type if request_type.startswith("*") else "*" + request_type
    return text if text in REQUEST_TYPES else RATED


def _parse_types(out: dict) -> None:
    try:
        for key in _TIME_FIELDS:
            out[key] = parse_time(out.get(key))
        for key in _DURATION_FIELDS:
            if out.get(key) not in (None, ""):
                out[key] = parse_duration(out[key])
            else:
                out.pop(key, None)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def _text(value) -> str:
    if value.__class__ is str:  # as good as always: no str() call
        return value.strip()
    return "" if value is None else str(value).strip()


def start_time(event: dict):
    """When rating starts: AnswerTime, else SetupTime (unanswered FreeSWITCH calls)."""
    return event.get("AnswerTime") or event.get("SetupTime")


def extra_fields(event: dict) -> dict[str, str]:
    """The event's non-main fields as strings, as a CDR stores them."""
    return {k: _as_string(v) for k, v in event.items() if k not in MAIN_FIELDS}


def _as_string(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "tzinfo"):
        return format_time(value)
    return str(value)


def to_json(event: dict) -> dict:
    """The event with times printed, JSON-able (journal, API replies); durations stay ns."""
    out = dict(event)
    for key in _TIME_FIELDS:
        if key in out:
            out[key] = format_time(out[key]) if out[key] else ""
    return out


def usage_text(ns: int, tor: str) -> str:
    """Usage as ExternalCDR prints it: Go duration for voice, plain units otherwise."""
    return format_duration(ns) if tor == VOICE else str(ns)
