"""Read a CGrateS tariff-plan folder (CSV files) into tariff-plan documents.

Columns are positional, as in CGrateS v0.10. Lines starting with '#' (the header
included), blank lines and lines of bare commas are skipped; empty numeric fields
are 0; durations may carry a unit or not ("60s", "1m", "1024" = ns). Rows with the
same ID continue one object (rate slots, prefixes, bindings, ...); in Filters,
Chargers and Routes a continuation row may leave Tenant and ID empty. A bad value
raises TariffPlanError "File.csv:LINE:COLUMN: column NAME: reason", without echoing
the value (the folder may not be what the caller says it is); a row with fewer or
more columns than the file has, an unbalanced quote, a plan file that is a directory
or a link out of the folder are refused the same way. Every document remembers the
lines it came from (``TariffPlan.origins``), so the compiler's errors about it can
name them too (``TariffPlan.locate``).

``progress(rows)`` is called every PROGRESS_ROWS rows: the tariff-plan service logs
there and lets the rest of the node run during a big load.

Files that carry nothing fs_cgr rates or executes (SharedGroups, ...) are
ignored.
"""

import csv
import math
import os
from pathlib import Path

from fs_cgr.durations import parse_duration
from fs_cgr.money import plan_amount
from fs_cgr.rating.errors import TariffPlanError
from fs_cgr.rating.timing import parse_clock, parse_int_list
from fs_cgr.storage.base import (
    ACTION_PLANS,
    ACTION_TRIGGERS,
    ACTIONS,
    ATTRIBUTES,
    CHARGERS,
    DESTINATION_RATES,
    DESTINATIONS,
    FILTERS,
    RATES,
    RATING_PLANS,
    RATING_PROFILES,
    RESOURCES,
    ROUTES,
    STAT_QUEUE_PROFILES,
    THRESHOLD_PROFILES,
    TIMINGS,
)
from fs_cgr.times import parse_time

ROUNDING_METHODS = ("", "*up", "*down", "*middle")
MAX_COST_STRATEGIES = ("", "*free", "*disconnect")
MAX_ROUNDING_DECIMALS = 20
MAX_COUNT = 2**31 - 1  # queue lengths and hit counts: Go's int as CGrateS stores them
ACCOUNT_ACTIONS = "account_actions"
PROGRESS_ROWS = 20_000
# CGrateS v0.10's filter types (each also as *not...), and its route sortings
FILTER_TYPES = (
    "*string", "*prefix", "*suffix", "*empty", "*exists", "*timings", "*rsr",
    "*destinations", "*lt", "*lte", "*gt", "*gte", "*eq", "*ne",
)  # fmt: skip
ROUTE_SORTINGS = (
    "", "*weight", "*lc", "*hc", "*least_cost", "*highest_cost", "*qos", "*reas", "*reds", "*load"
)  # fmt: skip
# the field a compile error names -> the CSV column that holds it
_COLUMN_OF_FIELD = {"RateId": "RatesTag", "TimingId": "TimingTag"}


class TariffPlan:
    """What one folder defines: live documents and the account actions to execute."""

    def __init__(self, live: dict, account_actions: list, origins: dict | None = None):
        self.live: dict[str, dict[str, dict]] = live
        self.account_actions: list[dict] = account_actions
        # (file stem, document id) -> line of each row that built it, in order
        self.origins: dict[tuple[str, str], list[int]] = origins or {}

    def object_ids(self) -> list[tuple[str, str]]:
        """Every (kind, id) of the live documents, sorted."""
        return sorted((kind, obj_id) for kind, docs in self.live.items() for obj_id in docs)

    def locate(self, error: TariffPlanError) -> TariffPlanError:
        """The compiler's ``error`` prefixed with File.csv:LINE[:COLUMN] of the row it is
        about, when it came from this folder (else unchanged)."""
        lines = self.origins.get((error.kind, error.obj_id))
        if not lines:
            return error
        row = error.row if error.row and error.row <= len(lines) else 1
        where = f"{error.kind}.csv:{lines[row - 1]}"
        columns = _FILES.get(f"{error.kind}.csv", ("", (), None))[1]
        column = _COLUMN_OF_FIELD.get(error.field, error.field)
        if column in columns:
            where += f":{columns.index(column) + 1}"
        return TariffPlanError(f"{where}: {error.detail}")


def load_folder(path, progress=None) -> TariffPlan:
    folder = Path(path)
    if not folder.is_dir():
        raise TariffPlanError(f"{folder}: not a directory")
    real_folder = os.path.realpath(folder)
    live: dict[str, dict[str, dict]] = {}
    account_actions: list[dict] = []
    origins: dict[tuple[str, str], list[int]] = {}
    rows_read = 0
    for file_name, (kind, columns, add_row) in _FILES.items():
        file_path = folder / file_name
        if not _plan_file(file_path, real_folder):
            continue
        target = account_actions if kind == ACCOUNT_ACTIONS else live.setdefault(kind, {})
        state = {}
        stem = file_name[:-4]
        for row in _rows(file_path, columns):
            doc_id = add_row(row, target, state)
            if doc_id is not None:
                origins.setdefault((stem, doc_id), []).append(row.line)
            rows_read += 1
            if progress is not None and rows_read % PROGRESS_ROWS == 0:
                progress(rows_read)
    return TariffPlan(live, account_actions, origins)


def _plan_file(path: Path, real_folder: str) -> bool:
    """Whether the folder has this plan file; refuses one that is not a regular file or
    that is a link to somewhere outside the folder."""
    if not os.path.lexists(path):
        return False
    if not path.is_file():
        raise TariffPlanError(f"{path.name}: not a regular file")
    if os.path.commonpath([os.path.realpath(path), real_folder]) != real_folder:
        raise TariffPlanError(f"{path.name}: a link to a file outside the folder")
    return True


def folder_object_ids(path) -> list[tuple[str, str]]:
    """The (kind, id) pairs a folder defines (what RemoveTPFromFolder deletes)."""
    return load_folder(path).object_ids()


# -- reading rows ------------------------------------------------------------------------


class _Row:
    """One CSV record with typed, error-reporting accessors by column name."""

    __slots__ = ("file", "line", "columns", "values")

    def __init__(self, file: str, line: int, columns: tuple[str, ...], values: list[str]):
        self.file = file
        self.line = line
        self.columns = columns
        self.values = values

    def fail(self, column: str, reason: str):
        number = self.columns.index(column) + 1
        raise TariffPlanError(f"{self.file}:{self.line}:{number}: column {column}: {reason}")

    def text(self, column: str) -> str:
        return self.values[self.columns.index(column)]

    def required(self, column: str) -> str:
        value = self.text(column)
        if not value:
            self.fail(column, "must not be empty")
        return value

    def items(self, column: str) -> list[str]:
        return [item.strip() for item in self.text(column).split(";") if item.strip()]

    def amount(self, column: str) -> str:
        """A decimal as a string ("" = "0"), not negative and of a sane size."""
        try:
            value = plan_amount(self.text(column))
        except ValueError as exc:
            self.fail(column, str(exc))
        return str(value)

    def duration(self, column: str, positive: bool = False) -> str:
        """A duration kept as written ("" = "0s"), after checking it parses."""
        value = self.text(column)
        try:
            ns = parse_duration(value)
        except ValueError:
            self.fail(column, "not a duration (60s, 1m, or nanoseconds)")
        if ns < 0:
            self.fail(column, "negative duration")
        if positive and ns == 0:
            self.fail(column, "must be greater than 0")
        return value or "0s"

    def number(self, column: str):
        """A weight: int when whole, else float ("" = 0)."""
        value = self.text(column)
        if not value:
            return 0
        try:
            number = float(value)
        except ValueError:
            self.fail(column, "not a number")
        if not math.isfinite(number):
            self.fail(column, "not a finite number")
        return int(number) if number.is_integer() else number

    def integer(self, column: str, low: int, high: int) -> int:
        value = self.text(column)
        try:
            number = int(value) if value else 0
        except ValueError:
            self.fail(column, "not an integer")
        if not low <= number <= high:
            self.fail(column, f"must be from {low} to {high}")
        return number

    def flag(self, column: str) -> bool:
        value = self.text(column).lower()
        if value not in ("", "true", "false"):
            self.fail(column, "expected true or false")
        return value == "true"

    def time(self, column: str) -> str:
        value = self.text(column)
        try:
            parse_time(value)
        except ValueError:
            self.fail(column, "not a time (RFC 3339, 2006-01-02 15:04:05, *now, ...)")
        return value

    def choice(self, column: str, allowed: tuple[str, ...]) -> str:
        value = self.text(column)
        if value not in allowed:
            self.fail(column, f"unknown value (expected one of {', '.join(filter(None, allowed))})")
        return value

    def activation_interval(self, column: str) -> dict | None:
        """ "start" or "start;end" as {"ActivationTime", "ExpiryTime"}; empty = None."""
        parts = self.text(column).split(";")
        if not parts[0]:
            return None
        for part in parts[:2]:
            try:
                parse_time(part)
            except ValueError:
                self.fail(column, "not a time (RFC 3339, 2006-01-02 15:04:05, ...)")
        return {"ActivationTime": parts[0], "ExpiryTime": parts[1] if len(parts) > 1 else ""}


def _rows(path: Path, columns: tuple[str, ...]):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            for record in reader:
                values = [value.strip() for value in record]
                if not any(values) or values[0].startswith("#"):
                    continue
                if len(values) > len(columns) and not any(values[len(columns) :]):
                    values = values[: len(columns)]  # trailing empty columns
                if len(values) != len(columns):
                    raise TariffPlanError(
                        f"{path.name}:{reader.line_num}:1: expected {len(columns)} columns,"
                        f" got {len(values)}"
                    )
                yield _Row(path.name, reader.line_num, columns, values)
        except csv.Error as exc:  # an unbalanced quote, a NUL byte: name the problem only
            reason = str(exc).split(":", 1)[0]
            raise TariffPlanError(f"{path.name}:{reader.line_num}:1: {reason}") from None
        except UnicodeDecodeError:
            raise TariffPlanError(f"{path.name}: not UTF-8 text") from None


# -- one function per file: merge a row into the documents -------------------------------


def _destination(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "Prefixes": []})
    prefix = row.required("Prefix")
    if prefix not in doc["Prefixes"]:
        doc["Prefixes"].append(prefix)
    return doc["ID"]


def _timing(row: _Row, docs: dict, _state):
    doc = {"ID": row.required("ID")}
    for column in ("Years", "Months", "MonthDays", "WeekDays"):
        try:
            parse_int_list(row.text(column), column)
        except ValueError as exc:
            row.fail(column, str(exc))
        doc[column] = row.text(column)
    clock = row.text("Time")
    if not clock.startswith("*"):
        try:
            for part in filter(None, clock.split(";")):
                parse_clock(part)
        except ValueError as exc:
            row.fail("Time", str(exc))
    doc["Time"] = clock
    docs[doc["ID"]] = doc
    return doc["ID"]


def _rate(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "RateSlots": []})
    doc["RateSlots"].append(
        {
            "ConnectFee": row.amount("ConnectFee"),
            "Rate": row.amount("Rate"),
            "RateUnit": row.duration("RateUnit", positive=True),
            "RateIncrement": row.duration("RateIncrement", positive=True),
            "GroupIntervalStart": row.duration("GroupIntervalStart"),
        }
    )
    return doc["ID"]


def _destination_rate(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "DestinationRates": []})
    doc["DestinationRates"].append(
        {
            "DestinationId": row.required("DestinationId"),
            "RateId": row.required("RatesTag"),
            "RoundingMethod": row.choice("RoundingMethod", ROUNDING_METHODS),
            "RoundingDecimals": row.integer("RoundingDecimals", 0, MAX_ROUNDING_DECIMALS),
            "MaxCost": row.amount("MaxCost"),
            "MaxCostStrategy": row.choice("MaxCostStrategy", MAX_COST_STRATEGIES),
        }
    )
    return doc["ID"]


def _rating_plan(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "RatingPlanBindings": []})
    doc["RatingPlanBindings"].append(
        {
            "DestinationRatesId": row.required("DestinationRatesId"),
            "TimingId": row.required("TimingTag"),
            "Weight": row.number("Weight"),
        }
    )
    return doc["ID"]


def _rating_profile(row: _Row, docs: dict, _state):
    tenant, category = row.required("Tenant"), row.required("Category")
    subject = row.required("Subject")
    doc = docs.setdefault(
        f"{tenant}:{category}:{subject}",
        {"Tenant": tenant, "Category": category, "Subject": subject, "RatingPlanActivations": []},
    )
    doc["RatingPlanActivations"].append(
        {
            "ActivationTime": row.time("ActivationTime"),
            "RatingPlanId": row.required("RatingPlanId"),
            "FallbackSubjects": row.text("RatesFallbackSubject"),
        }
    )
    return f"{tenant}:{category}:{subject}"


_ACTION_FIELDS = (
    ("ExtraParameters", "ExtraParameters"),
    ("Filter", "Filter"),
    ("BalanceId", "BalanceId"),
    ("BalanceType", "BalanceType"),
    ("Categories", "Categories"),
    ("DestinationIds", "DestinationIds"),
    ("RatingSubject", "RatingSubject"),
    ("SharedGroup", "SharedGroups"),
    ("ExpiryTime", "ExpiryTime"),
    ("TimingIds", "TimingTags"),
    ("Units", "Units"),
    ("BalanceWeight", "BalanceWeight"),
    ("BalanceBlocker", "BalanceBlocker"),
    ("BalanceDisabled", "BalanceDisabled"),
)


def _action(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ActionsId"), {"ID": row.text("ActionsId"), "Actions": []})
    action = {"Identifier": row.required("Action")}
    for column, field in _ACTION_FIELDS:
        action[field] = row.text(column)
    action["Weight"] = row.number("Weight")
    doc["Actions"].append(action)


def _action_plan(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "ActionPlan": []})
    doc["ActionPlan"].append(
        {
            "ActionsId": row.required("ActionsId"),
            "TimingId": row.required("TimingId"),
            "Weight": row.number("Weight"),
        }
    )


# ActionTriggers.csv column -> the SetActionTrigger field it fills
_TRIGGER_FIELDS = (
    ("ThresholdType", "ThresholdType"),
    ("ThresholdValue", "ThresholdValue"),
    ("Recurrent", "Recurrent"),
    ("MinSleep", "MinSleep"),
    ("ExpiryTime", "ExpirationDate"),
    ("ActivationTime", "ActivationDate"),
    ("BalanceTag", "BalanceID"),
    ("BalanceType", "BalanceType"),
    ("BalanceCategories", "BalanceCategories"),
    ("BalanceDestinationIds", "BalanceDestinationIds"),
    ("BalanceRatingSubject", "BalanceRatingSubject"),
    ("BalanceSharedGroup", "BalanceSharedGroups"),
    ("BalanceExpiryTime", "BalanceExpirationDate"),
    ("BalanceTimingIds", "BalanceTimingTags"),
    ("BalanceWeight", "BalanceWeight"),
    ("BalanceBlocker", "BalanceBlocker"),
    ("BalanceDisabled", "BalanceDisabled"),
    ("ActionsId", "ActionsID"),
    ("Weight", "Weight"),
)


def _action_trigger(row: _Row, docs: dict, _state):
    """A trigger group: its rows as SetActionTrigger maps (empty columns left out)."""
    group = row.required("Tag")
    doc = docs.setdefault(group, {"ID": group, "ActionTriggers": []})
    params = {"UniqueID": row.text("UniqueId") or f"{group}_{len(doc['ActionTriggers']) + 1}"}
    for column, name in _TRIGGER_FIELDS:
        if row.text(column):
            params[name] = row.text(column)
    params["ThresholdType"] = row.required("ThresholdType")
    params.setdefault("ThresholdValue", "0")
    doc["ActionTriggers"].append(params)


def _account_action(row: _Row, actions: list, _state):
    actions.append(
        {
            "Tenant": row.required("Tenant"),
            "Account": row.required("Account"),
            "ActionPlanId": row.text("ActionPlanId"),
            "ActionTriggersId": row.text("ActionTriggersId"),
            "AllowNegative": row.flag("AllowNegative"),
            "Disabled": row.flag("Disabled"),
        }
    )


def _profile_doc(row: _Row, docs: dict, state: dict, empty: dict) -> dict:
    """The tenant-scoped object this row belongs to: its own Tenant/ID, or the previous
    row's object when both are empty (a continuation row)."""
    tenant, obj_id = row.text("Tenant"), row.text("ID")
    if not tenant and not obj_id:
        if "last" not in state:
            row.fail("ID", "must not be empty")
        return state["last"]
    key = f"{row.required('Tenant')}:{row.required('ID')}"
    doc = docs.get(key)
    if doc is None:
        doc = docs[key] = {"Tenant": tenant, "ID": obj_id, **empty}
    state["last"] = doc
    return doc


def _profile_id(doc: dict) -> str:
    return f"{doc['Tenant']}:{doc['ID']}"


def _extend(items: list, more: list):
    items.extend(item for item in more if item not in items)


def filter_type_problem(rule_type: str) -> str:
    """Why a filter rule type is unusable (CGrateS' types, each also as *not...), or ""."""
    base = "*" + rule_type[4:] if rule_type.startswith("*not") else rule_type
    return "" if base in FILTER_TYPES else f"unknown filter type (known: {', '.join(FILTER_TYPES)})"


def inline_filter_problem(filter_id: str) -> str:
    """Why an inline filter (``*type:element:values``) cannot work, or ""."""
    rule_type, *rest = filter_id.split(":")
    if len(rest) < 2 or not rest[0]:
        return "an inline filter is *type:element:values"
    return filter_type_problem(rule_type)


def _filter_ids(row: _Row, column: str) -> list[str]:
    """FilterIDs: IDs of Filters objects, or inline ``*type:element:values`` filters."""
    ids = row.items(column)
    for filter_id in ids:
        problem = filter_id.startswith("*") and inline_filter_problem(filter_id)
        if problem:
            row.fail(column, problem)
    return ids


def _filter(row: _Row, docs: dict, state: dict):
    doc = _profile_doc(row, docs, state, {"Rules": [], "ActivationInterval": None})
    if row.text("Type"):
        problem = filter_type_problem(row.text("Type"))
        if problem:
            row.fail("Type", problem)
        doc["Rules"].append(
            {
                "Type": row.text("Type"),
                "Element": row.text("Element"),
                "Values": row.items("Values"),
            }
        )
    doc["ActivationInterval"] = (
        row.activation_interval("ActivationInterval") or doc["ActivationInterval"]
    )
    return _profile_id(doc)


def _charger(row: _Row, docs: dict, state: dict):
    doc = _profile_doc(
        row,
        docs,
        state,
        {"FilterIDs": [], "ActivationInterval": None, "RunID": "", "AttributeIDs": [], "Weight": 0},
    )
    _profile_fields(row, doc)
    _extend(doc["AttributeIDs"], row.items("AttributeIDs"))
    doc["RunID"] = row.text("RunID") or doc["RunID"]
    return _profile_id(doc)


def _route(row: _Row, docs: dict, state: dict):
    doc = _profile_doc(
        row,
        docs,
        state,
        {
            "FilterIDs": [],
            "ActivationInterval": None,
            "Sorting": "",
            "SortingParameters": [],
            "Routes": [],
            "Weight": 0,
        },
    )
    _profile_fields(row, doc)
    _extend(doc["SortingParameters"], row.items("SortingParameters"))
    doc["Sorting"] = row.choice("Sorting", ROUTE_SORTINGS) or doc["Sorting"]
    route_id = row.text("RouteID")
    if not route_id:
        return _profile_id(doc)
    _filter_ids(row, "RouteFilterIDs")
    route = next((r for r in doc["Routes"] if r["ID"] == route_id), None)
    if route is None:
        route = {
            "ID": route_id,
            "FilterIDs": [],
            "AccountIDs": [],
            "RatingPlanIDs": [],
            "ResourceIDs": [],
            "StatIDs": [],
            "Weight": 0,
            "Blocker": False,
            "RouteParameters": "",
        }
        doc["Routes"].append(route)
    for column, field in (
        ("RouteFilterIDs", "FilterIDs"),
        ("RouteAccountIDs", "AccountIDs"),
        ("RouteRatingPlanIDs", "RatingPlanIDs"),
        ("RouteResourceIDs", "ResourceIDs"),
        ("RouteStatIDs", "StatIDs"),
    ):
        _extend(route[field], row.items(column))
    if row.text("RouteWeight"):
        route["Weight"] = row.number("RouteWeight")
    route["Blocker"] = row.flag("RouteBlocker") or route["Blocker"]
    route["RouteParameters"] = row.text("RouteParameters") or route["RouteParameters"]
    return _profile_id(doc)


def _stat_queue(row: _Row, docs: dict, state: dict):
    """Later rows of a queue add filters, metrics (with their MetricFilterIDs) and
    thresholds; a non-empty value replaces the one before, as CGrateS merges them."""
    doc = _profile_doc(row, docs, state, dict(_STAT_QUEUE_DEFAULTS, FilterIDs=[], Metrics=[]))
    doc.setdefault("ThresholdIDs", [])
    _blocker_profile_fields(row, doc)
    _extend(doc["ThresholdIDs"], row.items("ThresholdIDs"))
    for column in ("QueueLength", "MinItems"):
        doc[column] = row.integer(column, 0, MAX_COUNT) or doc[column]
    if row.text("TTL"):
        doc["TTL"] = _signed_duration(row, "TTL")
    doc["Stored"] = row.flag("Stored") or doc["Stored"]
    for metric_id in row.items("Metrics"):
        metric = next((m for m in doc["Metrics"] if m["MetricID"] == metric_id), None)
        if metric is None:
            metric = {"MetricID": metric_id, "FilterIDs": []}
            doc["Metrics"].append(metric)
        metric["FilterIDs"].extend(row.items("MetricFilterIDs"))


_STAT_QUEUE_DEFAULTS = {
    "ActivationInterval": None,
    "QueueLength": 0,
    "TTL": 0,
    "MinItems": 0,
    "Stored": False,
    "Blocker": False,
    "Weight": 0,
}


def _threshold(row: _Row, docs: dict, state: dict):
    """The first row of a threshold sets MaxHits, MinHits, MinSleep, Blocker and Async;
    every row may add filters and action sets and replace the Weight."""
    is_new = f"{row.text('Tenant')}:{row.text('ID')}" not in docs
    doc = _profile_doc(row, docs, state, {"FilterIDs": [], "ActionIDs": [], "Weight": 0})
    if is_new and row.text("ID"):
        doc.update(
            {
                "ActivationInterval": None,
                "MaxHits": row.integer("MaxHits", -1, MAX_COUNT),  # -1: no limit
                "MinHits": row.integer("MinHits", 0, MAX_COUNT),
                "MinSleep": parse_duration(row.duration("MinSleep")),
                "Blocker": row.flag("Blocker"),
                "Async": row.flag("Async"),
            }
        )
    _profile_fields(row, doc)
    _extend(doc["ActionIDs"], row.items("ActionIDs"))


def _signed_duration(row: _Row, column: str) -> int:
    """Nanoseconds; negative allowed (a stat queue TTL of -1 means no TTL)."""
    try:
        return parse_duration(row.text(column))
    except ValueError:
        row.fail(column, f"invalid duration {row.text(column)!r}")


def _attribute(row: _Row, docs: dict, state: dict):
    """Rows of one profile add Contexts, FilterIDs and one attribute each (when Path is set);
    Blocker and Weight come from the rows that give them."""
    doc = _profile_doc(
        row,
        docs,
        state,
        {
            "Contexts": [],
            "FilterIDs": [],
            "ActivationInterval": None,
            "Attributes": [],
            "Blocker": False,
            "Weight": 0,
        },
    )
    _extend(doc["Contexts"], row.items("Contexts"))
    _blocker_profile_fields(row, doc)
    if row.text("Path"):
        doc["Attributes"].append(
            {
                "FilterIDs": row.items("AttributeFilterIDs"),
                "Path": row.text("Path"),
                "Type": row.text("Type"),
                "Value": row.text("Value"),
            }
        )


def _resource(row: _Row, docs: dict, state: dict):
    doc = _profile_doc(
        row,
        docs,
        state,
        {
            "FilterIDs": [],
            "ActivationInterval": None,
            "UsageTTL": 0,
            "Limit": 0,
            "AllocationMessage": "",
            "Blocker": False,
            "Stored": False,
            "Weight": 0,
            "ThresholdIDs": [],
        },
    )
    _blocker_profile_fields(row, doc)
    _extend(doc["ThresholdIDs"], row.items("ThresholdIDs"))
    if row.text("TTL"):
        doc["UsageTTL"] = _usage_ttl(row)
    if row.text("Limit"):
        doc["Limit"] = row.number("Limit")
    doc["AllocationMessage"] = row.text("AllocationMessage") or doc["AllocationMessage"]
    doc["Stored"] = row.flag("Stored") or doc["Stored"]


def _profile_fields(row: _Row, doc: dict) -> None:
    """FilterIDs, ActivationInterval and Weight, the columns every profile file has:
    continuation rows add filters; the others keep what an earlier row gave."""
    _extend(doc["FilterIDs"], _filter_ids(row, "FilterIDs"))
    doc["ActivationInterval"] = (
        row.activation_interval("ActivationInterval") or doc["ActivationInterval"]
    )
    if row.text("Weight"):
        doc["Weight"] = row.number("Weight")


def _blocker_profile_fields(row: _Row, doc: dict) -> None:
    _profile_fields(row, doc)
    doc["Blocker"] = row.flag("Blocker") or doc["Blocker"]


def _usage_ttl(row: _Row) -> int:
    """ns; ``*unlimited`` and negative values are -1 (usages never expire), as CGrateS."""
    value = row.text("TTL")
    if value == "*unlimited":
        return -1
    try:
        return max(parse_duration(value.lstrip("-")) * (-1 if value.startswith("-") else 1), -1)
    except ValueError:
        row.fail("TTL", f"invalid duration {value!r}")


_ROUTE_COLUMNS = (
    "Tenant",
    "ID",
    "FilterIDs",
    "ActivationInterval",
    "Sorting",
    "SortingParameters",
    "RouteID",
    "RouteFilterIDs",
    "RouteAccountIDs",
    "RouteRatingPlanIDs",
    "RouteResourceIDs",
    "RouteStatIDs",
    "RouteWeight",
    "RouteBlocker",
    "RouteParameters",
    "Weight",
)

# file name -> (kind, positional column names, row handler)
_FILES = {
    "Destinations.csv": (DESTINATIONS, ("ID", "Prefix"), _destination),
    "Timings.csv": (
        TIMINGS,
        ("ID", "Years", "Months", "MonthDays", "WeekDays", "Time"),
        _timing,
    ),
    "Rates.csv": (
        RATES,
        ("ID", "ConnectFee", "Rate", "RateUnit", "RateIncrement", "GroupIntervalStart"),
        _rate,
    ),
    "DestinationRates.csv": (
        DESTINATION_RATES,
        (
            "ID",
            "DestinationId",
            "RatesTag",
            "RoundingMethod",
            "RoundingDecimals",
            "MaxCost",
            "MaxCostStrategy",
        ),
        _destination_rate,
    ),
    "RatingPlans.csv": (
        RATING_PLANS,
        ("ID", "DestinationRatesId", "TimingTag", "Weight"),
        _rating_plan,
    ),
    "RatingProfiles.csv": (
        RATING_PROFILES,
        ("Tenant", "Category", "Subject", "ActivationTime", "RatingPlanId", "RatesFallbackSubject"),
        _rating_profile,
    ),
    "Actions.csv": (
        ACTIONS,
        ("ActionsId", "Action", *(column for column, _ in _ACTION_FIELDS), "Weight"),
        _action,
    ),
    "ActionPlans.csv": (ACTION_PLANS, ("ID", "ActionsId", "TimingId", "Weight"), _action_plan),
    "ActionTriggers.csv": (
        ACTION_TRIGGERS,
        ("Tag", "UniqueId", *(column for column, _ in _TRIGGER_FIELDS[:-2]), "ActionsId", "Weight"),
        _action_trigger,
    ),
    "AccountActions.csv": (
        ACCOUNT_ACTIONS,
        ("Tenant", "Account", "ActionPlanId", "ActionTriggersId", "AllowNegative", "Disabled"),
        _account_action,
    ),
    "Filters.csv": (
        FILTERS,
        ("Tenant", "ID", "Type", "Element", "Values", "ActivationInterval"),
        _filter,
    ),
    "Chargers.csv": (
        CHARGERS,
        ("Tenant", "ID", "FilterIDs", "ActivationInterval", "RunID", "AttributeIDs", "Weight"),
        _charger,
    ),
    "Routes.csv": (ROUTES, _ROUTE_COLUMNS, _route),
    "Suppliers.csv": (ROUTES, _ROUTE_COLUMNS, _route),  # CGrateS' older name, same columns
    "Stats.csv": (
        STAT_QUEUE_PROFILES,
        (
            "Tenant",
            "ID",
            "FilterIDs",
            "ActivationInterval",
            "QueueLength",
            "TTL",
            "MinItems",
            "Metrics",
            "MetricFilterIDs",
            "Stored",
            "Blocker",
            "Weight",
            "ThresholdIDs",
        ),
        _stat_queue,
    ),
    "Thresholds.csv": (
        THRESHOLD_PROFILES,
        (
            "Tenant",
            "ID",
            "FilterIDs",
            "ActivationInterval",
            "MaxHits",
            "MinHits",
            "MinSleep",
            "Blocker",
            "Weight",
            "ActionIDs",
            "Async",
        ),
        _threshold,
    ),
    "Attributes.csv": (
        ATTRIBUTES,
        ("Tenant", "ID", "Contexts", "FilterIDs", "ActivationInterval", "AttributeFilterIDs")
        + ("Path", "Type", "Value", "Blocker", "Weight"),
        _attribute,
    ),
    "Resources.csv": (
        RESOURCES,
        ("Tenant", "ID", "FilterIDs", "ActivationInterval", "TTL", "Limit", "AllocationMessage")
        + ("Blocker", "Stored", "Weight", "ThresholdIDs"),
        _resource,
    ),
}
