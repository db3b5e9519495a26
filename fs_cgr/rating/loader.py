"""Read a CGrateS tariff-plan folder (CSV files) into tariff-plan documents.

Columns are positional, as in CGrateS v0.10. Lines starting with '#' (the header
included), blank lines and lines of bare commas are skipped; empty numeric fields
are 0; durations may carry a unit or not ("60s", "1m", "1024" = ns). Rows with the
same ID continue one object (rate slots, prefixes, bindings, ...); in Filters,
Chargers and Routes a continuation row may leave Tenant and ID empty. A bad value
raises TariffPlanError "File.csv:LINE: column NAME: reason".

Files that carry nothing fs_cgr rates or executes (Attributes, Resources, Stats,
Thresholds, SharedGroups, ...) are ignored.
"""

import csv
from pathlib import Path

from fs_cgr.durations import parse_duration
from fs_cgr.money import to_decimal
from fs_cgr.rating.errors import TariffPlanError
from fs_cgr.rating.timing import parse_clock, parse_int_list
from fs_cgr.storage.base import (
    ACTION_PLANS,
    ACTION_TRIGGERS,
    ACTIONS,
    CHARGERS,
    DESTINATION_RATES,
    DESTINATIONS,
    FILTERS,
    RATES,
    RATING_PLANS,
    RATING_PROFILES,
    ROUTES,
    TIMINGS,
)
from fs_cgr.times import parse_time

ROUNDING_METHODS = ("", "*up", "*down", "*middle")
MAX_COST_STRATEGIES = ("", "*free", "*disconnect")
ACCOUNT_ACTIONS = "account_actions"


class TariffPlan:
    """What one folder defines: live documents and the account actions to execute."""

    def __init__(self, live: dict, account_actions: list):
        self.live: dict[str, dict[str, dict]] = live
        self.account_actions: list[dict] = account_actions

    def object_ids(self) -> list[tuple[str, str]]:
        """Every (kind, id) of the live documents, sorted."""
        return sorted((kind, obj_id) for kind, docs in self.live.items() for obj_id in docs)


def load_folder(path) -> TariffPlan:
    folder = Path(path)
    if not folder.is_dir():
        raise TariffPlanError(f"{folder}: not a directory")
    live: dict[str, dict[str, dict]] = {}
    account_actions: list[dict] = []
    for file_name, (kind, columns, add_row) in _FILES.items():
        file_path = folder / file_name
        if not file_path.is_file():
            continue
        target = account_actions if kind == ACCOUNT_ACTIONS else live.setdefault(kind, {})
        state = {}
        for row in _rows(file_path, columns):
            add_row(row, target, state)
    return TariffPlan(live, account_actions)


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
        raise TariffPlanError(f"{self.file}:{self.line}: column {column}: {reason}")

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
        """A decimal as a string ("" = "0")."""
        value = self.text(column)
        try:
            return str(to_decimal(value))
        except ValueError:
            self.fail(column, f"invalid amount {value!r}")

    def duration(self, column: str) -> str:
        """A duration kept as written ("" = "0s"), after checking it parses."""
        value = self.text(column)
        try:
            ns = parse_duration(value)
        except ValueError:
            self.fail(column, f"invalid duration {value!r}")
        if ns < 0:
            self.fail(column, f"negative duration {value!r}")
        return value or "0s"

    def number(self, column: str):
        """A weight: int when whole, else float ("" = 0)."""
        value = self.text(column)
        if not value:
            return 0
        try:
            number = float(value)
        except ValueError:
            self.fail(column, f"invalid number {value!r}")
        return int(number) if number.is_integer() else number

    def integer(self, column: str) -> int:
        value = self.text(column)
        try:
            return int(value) if value else 0
        except ValueError:
            self.fail(column, f"invalid integer {value!r}")

    def flag(self, column: str) -> bool:
        value = self.text(column).lower()
        if value not in ("", "true", "false"):
            self.fail(column, f"invalid boolean {value!r}")
        return value == "true"

    def time(self, column: str) -> str:
        value = self.text(column)
        try:
            parse_time(value)
        except ValueError:
            self.fail(column, f"invalid time {value!r}")
        return value

    def choice(self, column: str, allowed: tuple[str, ...]) -> str:
        value = self.text(column)
        if value not in allowed:
            self.fail(column, f"invalid value {value!r} (expected one of {', '.join(allowed[1:])})")
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
                self.fail(column, f"invalid time {part!r}")
        return {"ActivationTime": parts[0], "ExpiryTime": parts[1] if len(parts) > 1 else ""}


def _rows(path: Path, columns: tuple[str, ...]):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            for record in reader:
                values = [value.strip() for value in record]
                if not any(values) or values[0].startswith("#"):
                    continue
                if len(values) > len(columns):
                    if any(values[len(columns) :]):
                        raise TariffPlanError(
                            f"{path.name}:{reader.line_num}: expected {len(columns)} columns,"
                            f" got {len(values)}"
                        )
                    values = values[: len(columns)]
                values += [""] * (len(columns) - len(values))
                yield _Row(path.name, reader.line_num, columns, values)
        except csv.Error as exc:
            raise TariffPlanError(f"{path.name}:{reader.line_num}: {exc}") from None
        except UnicodeDecodeError:
            raise TariffPlanError(f"{path.name}: not UTF-8 text") from None


# -- one function per file: merge a row into the documents -------------------------------


def _destination(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "Prefixes": []})
    prefix = row.required("Prefix")
    if prefix not in doc["Prefixes"]:
        doc["Prefixes"].append(prefix)


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


def _rate(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "RateSlots": []})
    doc["RateSlots"].append(
        {
            "ConnectFee": row.amount("ConnectFee"),
            "Rate": row.amount("Rate"),
            "RateUnit": row.duration("RateUnit"),
            "RateIncrement": row.duration("RateIncrement"),
            "GroupIntervalStart": row.duration("GroupIntervalStart"),
        }
    )


def _destination_rate(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "DestinationRates": []})
    doc["DestinationRates"].append(
        {
            "DestinationId": row.required("DestinationId"),
            "RateId": row.required("RatesTag"),
            "RoundingMethod": row.choice("RoundingMethod", ROUNDING_METHODS),
            "RoundingDecimals": row.integer("RoundingDecimals"),
            "MaxCost": row.amount("MaxCost"),
            "MaxCostStrategy": row.choice("MaxCostStrategy", MAX_COST_STRATEGIES),
        }
    )


def _rating_plan(row: _Row, docs: dict, _state):
    doc = docs.setdefault(row.required("ID"), {"ID": row.text("ID"), "RatingPlanBindings": []})
    doc["RatingPlanBindings"].append(
        {
            "DestinationRatesId": row.required("DestinationRatesId"),
            "TimingId": row.required("TimingTag"),
            "Weight": row.number("Weight"),
        }
    )


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


def _extend(items: list, more: list):
    items.extend(item for item in more if item not in items)


def _filter(row: _Row, docs: dict, state: dict):
    doc = _profile_doc(row, docs, state, {"Rules": [], "ActivationInterval": None})
    if row.text("Type"):
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


def _charger(row: _Row, docs: dict, state: dict):
    doc = _profile_doc(
        row,
        docs,
        state,
        {"FilterIDs": [], "ActivationInterval": None, "RunID": "", "AttributeIDs": [], "Weight": 0},
    )
    _extend(doc["FilterIDs"], row.items("FilterIDs"))
    _extend(doc["AttributeIDs"], row.items("AttributeIDs"))
    doc["ActivationInterval"] = (
        row.activation_interval("ActivationInterval") or doc["ActivationInterval"]
    )
    doc["RunID"] = row.text("RunID") or doc["RunID"]
    if row.text("Weight"):
        doc["Weight"] = row.number("Weight")


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
    _extend(doc["FilterIDs"], row.items("FilterIDs"))
    _extend(doc["SortingParameters"], row.items("SortingParameters"))
    doc["ActivationInterval"] = (
        row.activation_interval("ActivationInterval") or doc["ActivationInterval"]
    )
    doc["Sorting"] = row.text("Sorting") or doc["Sorting"]
    if row.text("Weight"):
        doc["Weight"] = row.number("Weight")
    route_id = row.text("RouteID")
    if not route_id:
        return
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
}
