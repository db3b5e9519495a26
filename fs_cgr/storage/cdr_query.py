"""CDR queries: CGrateS' CDRsFilter as one normalised dict every StorDB understands.

``parse_query(params)`` turns API parameters (``APIerSv1.GetCDRs``' AttrGetCdrs
names such as ``MediationRunIds``/``TimeStart`` and ``APIerSv2``/``CDRsV1``'
RPCCDRsFilter names) into a query dict with only the keys that filter:

- list filters, ``LIST_FILTERS[key]`` names the CDR field; the ``Not`` form excludes:
  ``CGRIDs RunIDs OriginIDs OriginHosts Sources ToRs RequestTypes Tenants
  Categories Accounts Subjects`` (+ ``NotCGRIDs`` ...)
- ``DestinationPrefixes`` / ``NotDestinationPrefixes``: lists of prefixes
- ``Costs`` / ``NotCosts``: lists of Decimal
- ``ExtraFields`` / ``NotExtraFields``: ``{field: value}``; value ``*exists`` = present
  (``ExtraFields`` match when ANY pair matches, ``NotExtraFields`` when none does,
  as CGrateS' SQL)
- ``SetupTimeStart`` / ``SetupTimeEnd`` / ``AnswerTimeStart`` / ``AnswerTimeEnd``:
  aware datetimes, start inclusive, end exclusive
- ``MinUsage`` / ``MaxUsage``: int ns (min inclusive, max exclusive)
- ``MinCost`` / ``MaxCost``: Decimal (min inclusive, max exclusive)
- ``Unrated``: True = only unpriced CDRs (Cost < 0); False = only priced ones
- ``OrderIDStart`` / ``OrderIDEnd``: ints (start inclusive, end exclusive)
- ``OrderBy``: ``(field, descending)``, field one of ``ORDER_FIELDS``
- ``Limit`` / ``Offset``: ints

A stored CDR (what ``StorDB.store_cdrs`` takes and ``get_cdrs`` returns) is a
dict with CGrateS' field names: CGRID, RunID, OrderID (int, set by the store),
OriginHost, Source, OriginID, ToR, RequestType, Tenant, Category, Account,
Subject, Destination, SetupTime / AnswerTime (aware datetime or None), Usage
(int ns), ExtraFields ({str: str}), ExtraInfo (str), PreRated (bool),
CostSource (str), Cost (Decimal, -1 = not priced), CostDetails (EventCost dict
or None; JSON-able, may hold Decimals).

``select(cdrs, query)`` evaluates a query in Python (memory backends, tests).
"""

from decimal import Decimal

from fs_cgr.durations import parse_duration
from fs_cgr.errors import ServerError
from fs_cgr.money import to_decimal
from fs_cgr.times import parse_time

LIST_FILTERS = {
    "CGRIDs": "CGRID",
    "RunIDs": "RunID",
    "OriginIDs": "OriginID",
    "OriginHosts": "OriginHost",
    "Sources": "Source",
    "ToRs": "ToR",
    "RequestTypes": "RequestType",
    "Tenants": "Tenant",
    "Categories": "Category",
    "Accounts": "Account",
    "Subjects": "Subject",
}
TIME_FILTERS = ("SetupTimeStart", "SetupTimeEnd", "AnswerTimeStart", "AnswerTimeEnd")
ORDER_FIELDS = ("OrderID", "AnswerTime", "SetupTime", "Usage", "Cost")

# APIerSv1.GetCDRs (AttrGetCdrs) spells some filters its own way.
_LEGACY_NAMES = {
    "CgrIds": "CGRIDs",
    "MediationRunIds": "RunIDs",
    "TORs": "ToRs",
    "CdrHosts": "OriginHosts",
    "CdrSources": "Sources",
    "ReqTypes": "RequestTypes",
    "TimeStart": "AnswerTimeStart",
    "TimeEnd": "AnswerTimeEnd",
    "OrderIdStart": "OrderIDStart",
    "OrderIdEnd": "OrderIDEnd",
}


def parse_query(params: dict | None) -> dict:
    """A normalised query from API parameters; bad values raise ServerError."""
    params = {_LEGACY_NAMES.get(key, key): value for key, value in (params or {}).items()}
    query: dict = {}
    try:
        _parse_lists(params, query)
        _parse_ranges(params, query)
        _parse_paging(params, query)
    except (TypeError, ValueError) as exc:
        raise ServerError(str(exc)) from None
    return query


def _parse_lists(params: dict, query: dict) -> None:
    for key in list(LIST_FILTERS) + ["DestinationPrefixes"]:
        for name in (key, "Not" + key):
            values = params.get(name)
            if values:
                query[name] = [str(value) for value in _as_list(values, name)]
    for name in ("Costs", "NotCosts"):
        if params.get(name):
            query[name] = [to_decimal(value) for value in _as_list(params[name], name)]
    for name in ("ExtraFields", "NotExtraFields"):
        if params.get(name):
            if not isinstance(params[name], dict):
                raise ValueError(f"{name} must be an object")
            query[name] = {str(k): str(v) for k, v in params[name].items()}


def _parse_ranges(params: dict, query: dict) -> None:
    for name in TIME_FILTERS:
        moment = parse_time(params.get(name))
        if moment is not None:
            query[name] = moment
    for name in ("MinUsage", "MaxUsage"):
        if params.get(name) not in (None, ""):
            query[name] = parse_duration(params[name])
    extra = params.get("ExtraArgs") or {}
    for name in ("MinCost", "MaxCost", "OrderIDStart", "OrderIDEnd"):
        value = params.get(name, extra.get(name))
        if value not in (None, ""):
            query[name] = to_decimal(value) if "Cost" in name else int(value)
    if params.get("SkipRated"):
        query["Unrated"] = True
    elif params.get("SkipErrors"):
        query["Unrated"] = False


def _parse_paging(params: dict, query: dict) -> None:
    order = params.get("OrderBy") or ""
    if order:
        field, _, direction = str(order).partition(";")
        if field not in ORDER_FIELDS:
            raise ValueError(f"Invalid value : {field}")
        query["OrderBy"] = (field, direction == "desc")
    paginator = params.get("Paginator") or {}
    for name in ("Limit", "Offset"):
        value = params.get(name, paginator.get(name))
        if value is not None:
            query[name] = int(value)


def _as_list(values, name: str) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list")
    return list(values)


def matches(cdr: dict, query: dict) -> bool:
    """True when the stored CDR passes every filter of the query."""
    for key, field in LIST_FILTERS.items():
        if key in query and cdr.get(field) not in query[key]:
            return False
        if "Not" + key in query and cdr.get(field) in query["Not" + key]:
            return False
    destination = cdr.get("Destination") or ""
    if "DestinationPrefixes" in query and not any(
        destination.startswith(p) for p in query["DestinationPrefixes"]
    ):
        return False
    if any(destination.startswith(p) for p in query.get("NotDestinationPrefixes", ())):
        return False
    return _matches_values(cdr, query) and _matches_ranges(cdr, query)


def _matches_values(cdr: dict, query: dict) -> bool:
    cost = Decimal(cdr.get("Cost", -1))
    if "Costs" in query and cost not in query["Costs"]:
        return False
    if cost in query.get("NotCosts", ()):
        return False
    extra = cdr.get("ExtraFields") or {}
    if "ExtraFields" in query and not any(
        _extra_matches(extra, k, v) for k, v in query["ExtraFields"].items()
    ):
        return False
    if any(_extra_matches(extra, k, v) for k, v in query.get("NotExtraFields", {}).items()):
        return False
    return not ("Unrated" in query and (cost < 0) != query["Unrated"])


def _extra_matches(extra: dict, field: str, value: str) -> bool:
    return field in extra if value == "*exists" else extra.get(field) == value


def _matches_ranges(cdr: dict, query: dict) -> bool:
    checks = (
        ("SetupTime", "SetupTimeStart", "SetupTimeEnd"),
        ("AnswerTime", "AnswerTimeStart", "AnswerTimeEnd"),
        ("Usage", "MinUsage", "MaxUsage"),
        ("Cost", "MinCost", "MaxCost"),
        ("OrderID", "OrderIDStart", "OrderIDEnd"),
    )
    for field, low, high in checks:
        value = cdr.get(field)
        if low in query and (value is None or value < query[low]):
            return False
        if high in query and (value is None or value >= query[high]):
            return False
    return True


def select(cdrs, query: dict) -> list[dict]:
    """Filter, order and page CDRs in Python, as the SQL backends do in SQL."""
    found = [cdr for cdr in cdrs if matches(cdr, query)]
    if "OrderBy" in query:
        field, descending = query["OrderBy"]
        found.sort(key=lambda cdr: _sort_key(cdr.get(field)), reverse=descending)
    offset = query.get("Offset", 0)
    end = offset + query["Limit"] if "Limit" in query else None
    return found[offset:end]


def _sort_key(value):
    return (value is not None, value if value is not None else 0)
