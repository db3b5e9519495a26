"""CDR dicts <-> ``cdrs`` rows (and rows as MySQL INSERT text), CDR queries as SQL conditions.

A CDR dict uses CGrateS' field names (see fs_cgr.storage.cdr_query). ``Cost`` None
or -1 means "not priced" and is stored as -1, as CGrateS does; a cost is
rounded half-up to 8 decimals (the column's scale). PreRated and
Partial are not stored (nor are they in CGrateS' table); read back, both are
False.

Queries are the normalised dicts of fs_cgr.storage.cdr_query: list filters by their
CGrateS names (``Accounts``, ``NotAccounts``, ...), start bounds inclusive,
end bounds exclusive, ``Unrated``, ``OrderBy`` as ``(field, descending)``,
``Limit``, ``Offset``. An unknown key is an error, so a raw API parameter
that skipped normalisation cannot silently match everything.
"""

import operator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce

import peewee as pw

from fs_cgr import jsoncodec
from fs_cgr.durations import parse_duration
from fs_cgr.encoded import json_text
from fs_cgr.money import to_decimal
from fs_cgr.storage.cdr_query import LIST_FILTERS
from fs_cgr.storage.sql_models import COST_DECIMALS, COST_LIMIT
from fs_cgr.times import UTC, now, parse_time

UNRATED_COST = Decimal(-1)
_COST_QUANTUM = Decimal(1).scaleb(-COST_DECIMALS)

# CDR field -> (column, longest value the column holds)
TEXT_FIELDS = {
    "CGRID": ("cgrid", 40),
    "RunID": ("run_id", 64),
    "OriginHost": ("origin_host", 64),
    "Source": ("source", 64),
    "OriginID": ("origin_id", 128),
    "ToR": ("tor", 16),
    "RequestType": ("request_type", 24),
    "Tenant": ("tenant", 64),
    "Category": ("category", 64),
    "Account": ("account", 128),
    "Subject": ("subject", 128),
    "Destination": ("destination", 128),
    "CostSource": ("cost_source", 64),
}
# query bound keys -> column; the first is inclusive, the second exclusive
RANGE_FILTERS = {
    ("SetupTimeStart", "SetupTimeEnd"): ("setup_time", parse_time),
    ("AnswerTimeStart", "AnswerTimeEnd"): ("answer_time", parse_time),
    ("MinUsage", "MaxUsage"): ("usage", parse_duration),
    ("MinCost", "MaxCost"): ("cost", to_decimal),
    ("OrderIDStart", "OrderIDEnd"): ("id", int),
}
ORDER_COLUMNS = {
    "OrderID": "id",
    "AnswerTime": "answer_time",
    "SetupTime": "setup_time",
    "Usage": "usage",
    "Cost": "cost",
}
QUERY_KEYS = frozenset(
    [*LIST_FILTERS, *("Not" + key for key in LIST_FILTERS)]
    + [key for bounds in RANGE_FILTERS for key in bounds]
    + ["DestinationPrefixes", "NotDestinationPrefixes", "Costs", "NotCosts"]
    + ["ExtraFields", "NotExtraFields", "Unrated", "OrderBy", "Limit", "Offset"]
)


def cdr_to_row(cdr: dict, created_at: datetime | None = None) -> dict:
    """The column values of one CDR (``created_at``: now unless given, as for a whole
    batch); ValueError names what is wrong with it."""
    if not isinstance(cdr, dict):
        raise ValueError(f"a CDR must be a dict, got {type(cdr).__name__}")
    row = {}
    for field, (column, size) in TEXT_FIELDS.items():
        value = cdr.get(field)
        if value.__class__ is not str or len(value) > size:  # else fine: no call for it
            value = _text(cdr, field, size)
        row[column] = value
    for required in ("CGRID", "RunID"):
        if not row[TEXT_FIELDS[required][0]]:
            raise ValueError(f"CDR without {required}: {cdr.get('OriginID')!r}")
    usage = cdr.get("Usage") or 0
    if isinstance(usage, bool) or not isinstance(usage, int):
        raise ValueError(f"CDR {row['cgrid']}: Usage must be int nanoseconds, got {usage!r}")
    extra_fields = cdr.get("ExtraFields") or {}
    if not isinstance(extra_fields, dict):
        raise ValueError(f"CDR {row['cgrid']}: ExtraFields must be a dict")
    cost_details = cdr.get("CostDetails")
    row.update(
        setup_time=parse_time(cdr.get("SetupTime")),
        answer_time=parse_time(cdr.get("AnswerTime")),
        usage=usage,
        extra_fields=jsoncodec.encode(extra_fields),
        cost=_cost(cdr.get("Cost"), row["cgrid"]),
        cost_details=None if cost_details is None else json_text(cost_details),
        extra_info=_text(cdr, "ExtraInfo", None),
        created_at=created_at or now(),
    )
    return row


def _text(cdr: dict, field: str, size: int | None) -> str:
    value = cdr.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"CDR field {field} must be a string, got {value!r}")
    if size is not None and len(value) > size:
        raise ValueError(f"CDR field {field} longer than {size} characters: {value!r}")
    return value


def _cost(value, cgrid: str) -> Decimal:
    if value is None:
        return UNRATED_COST
    cost = to_decimal(value).quantize(_COST_QUANTUM, rounding=ROUND_HALF_UP)
    if abs(cost) >= COST_LIMIT:
        raise ValueError(f"CDR {cgrid}: Cost {value} out of range (below {COST_LIMIT})")
    return cost


def mysql_insert_statements(head: str, rows: list[dict], limit: int):
    """``head`` ("INSERT ... VALUES ") with ``rows`` as literal tuples, split into
    statements of at most ``limit`` characters (one row may exceed it alone).

    Building the text here costs a fraction of PyMySQL's per-value escaping. Every
    statement is plain ASCII, and nothing in it is escaped, so it means the same
    whatever the SQL mode: text goes as it is between quotes when it is ASCII without a
    quote, backslash or NUL (CostDetails' JSON nearly always: half the bytes of hex and
    no copy), else as a hex literal (X'...', as PyMySQL sends bytes).
    """
    parts, size = [], len(head)
    for row in rows:
        literals = [  # most values are text: one call for those
            _mysql_text(value) if value.__class__ is str else _mysql_literal(value)
            for value in row.values()
        ]
        values = "(" + ",".join(literals) + ")"
        if parts and size + len(values) + 1 > limit:
            yield head + ",".join(parts)
            parts, size = [], len(head)
        parts.append(values)
        size += len(values) + 1
    if parts:
        yield head + ",".join(parts)


def _mysql_text(value: str) -> str:
    if value.isascii() and "'" not in value and "\\" not in value and "\0" not in value:
        return "'" + value + "'"
    return "X'" + value.encode().hex() + "'"


def _mysql_literal(value) -> str:
    """A column value as MySQL literal text (what PyMySQL would send, text as hex)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return _mysql_text(value)
    if isinstance(value, datetime):  # UTC without zone, as UTCDateTimeField stores it
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return "'" + str(value)[:-6] + "'"  # isoformat(" ") without "+00:00", but faster
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"no MySQL literal for {type(value).__name__} {value!r}")


def row_to_cdr(row: dict) -> dict:
    cost_details = row["cost_details"]
    cdr = {field: row[column] for field, (column, _) in TEXT_FIELDS.items()}
    cdr.update(
        OrderID=row["id"],
        SetupTime=row["setup_time"],
        AnswerTime=row["answer_time"],
        Usage=row["usage"],
        ExtraFields=jsoncodec.decode(row["extra_fields"]),
        Cost=row["cost"],
        CostDetails=None if cost_details is None else jsoncodec.decode(cost_details),
        ExtraInfo=row["extra_info"],
        PreRated=False,
        Partial=False,
    )
    return cdr


def conditions(model, query: dict) -> list:
    """The WHERE conditions of a CDR query on ``model`` (the CDR table)."""
    unknown = set(query) - QUERY_KEYS
    if unknown:
        raise ValueError(f"unknown CDR query keys: {', '.join(sorted(unknown))}")
    found = []
    for key, field in LIST_FILTERS.items():
        column = getattr(model, TEXT_FIELDS[field][0])
        if query.get(key) is not None:
            found.append(_one_of(column, _strings(query[key], key)))
        if query.get("Not" + key):
            found.append(~_one_of(column, _strings(query["Not" + key], "Not" + key)))
    found += _range_conditions(model, query)
    found += _destination_conditions(model.destination, query)
    found += _extra_field_conditions(model.extra_fields, query)
    if query.get("Costs") is not None:
        found.append(model.cost.in_([to_decimal(cost) for cost in query["Costs"]]))
    if query.get("NotCosts"):
        found.append(model.cost.not_in([to_decimal(cost) for cost in query["NotCosts"]]))
    unrated = query.get("Unrated")
    if unrated is not None:
        if not isinstance(unrated, bool):
            raise ValueError(f"Unrated must be true or false, got {unrated!r}")
        found.append(model.cost < 0 if unrated else model.cost >= 0)
    return found


def _one_of(column, values: list[str]):
    """``column IN (values)``, one placeholder per value: peewee's own IN builds a node
    per value, which costs more than the query for the 500 CGRIDs of a CDR batch."""
    if not values:
        return column.in_(values)  # peewee writes the always-false condition
    placeholders = ",".join([column.model._meta.database.param] * len(values))
    return column.in_(pw.SQL(f"({placeholders})", values))


def _strings(values, key: str) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set)):
        raise ValueError(f"{key} must be a list of strings, got {values!r}")
    return [str(value) for value in values]


def _range_conditions(model, query: dict) -> list:
    found = []
    for (low, high), (column_name, convert) in RANGE_FILTERS.items():
        column = getattr(model, column_name)
        if query.get(low) is not None:
            found.append(column >= convert(query[low]))
        if query.get(high) is not None:
            found.append(column < convert(query[high]))
    return found


def _destination_conditions(column, query: dict) -> list:
    """Prefix matches compared exactly (SQLite's LIKE would ignore letter case)."""

    def starts_with(prefix: str):
        return pw.fn.SUBSTR(column, 1, len(prefix)) == prefix

    found = []
    prefixes = _strings(query.get("DestinationPrefixes") or [], "DestinationPrefixes")
    if prefixes:
        found.append(reduce(operator.or_, map(starts_with, prefixes)))
    for prefix in _strings(query.get("NotDestinationPrefixes") or [], "NotDestinationPrefixes"):
        found.append(~starts_with(prefix))
    return found


def _extra_field_conditions(column, query: dict) -> list:
    """ExtraFields match when any pair matches, NotExtraFields when none does (as CGrateS).

    ``extra_fields`` is compact JSON of a flat string map, so a pair is present
    exactly when its JSON text is; ``*exists`` looks for the key alone.
    """

    def present(field: str, value: str):
        needle = (
            jsoncodec.encode(field) + ":" + ("" if value == "*exists" else jsoncodec.encode(value))
        )
        return pw.fn.INSTR(column, needle) > 0

    found = []
    wanted = query.get("ExtraFields") or {}
    if wanted:
        found.append(reduce(operator.or_, (present(k, v) for k, v in wanted.items())))
    for field, value in (query.get("NotExtraFields") or {}).items():
        found.append(~present(field, value))
    return found


def paging(query: dict) -> tuple[int | None, int]:
    """``(limit or None, offset)`` of a CDR query."""
    limit, offset = query.get("Limit"), query.get("Offset") or 0
    for name, value in (("Limit", limit), ("Offset", offset)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return limit, offset


def order_by(model, query: dict) -> list:
    """Ordering of a CDR query; equal keys keep insertion order, as CGrateS' SQL mostly does."""
    order = query.get("OrderBy")
    if not order:
        return [model.id]
    field, descending = order
    if field not in ORDER_COLUMNS:
        raise ValueError(f"Invalid value : {field}")
    column = getattr(model, ORDER_COLUMNS[field])
    return [column.desc() if descending else column.asc(), model.id]
