"""Chargers and routes may only name filters that exist: a charger whose FilterIDs point
at nothing never matches, so every CDR it was meant for is refused at charging time.

Inline filters (``*string:~*req.Account:1001``) must have a known type and an element;
any other ID must be a live ``filters`` object of the same tenant. Checked for the
chargers and routes a change writes (as CGrateS refuses a "broken reference to filter"),
so removing a filter later is not blocked by this check.
"""

from fs_cgr.rating import TariffPlanError
from fs_cgr.rating.loader import inline_filter_problem
from fs_cgr.storage.base import CHARGERS, FILTERS, ROUTES

_KIND_NAMES = {CHARGERS: "Chargers", ROUTES: "Routes"}  # as their CSV files are named


def check_filter_references(changes, merged: dict) -> None:
    """TariffPlanError for the first written charger or route naming an unusable filter."""
    filters = merged.get(FILTERS) or {}
    for kind, obj_id, doc in changes:
        if kind not in _KIND_NAMES or doc is None:
            continue
        for filter_id in _filter_ids(doc):
            reason = _problem(str(filter_id), doc.get("Tenant", ""), filters)
            if reason:
                raise TariffPlanError(
                    f"{_KIND_NAMES[kind]} {obj_id}: FilterIDs {filter_id!r}: {reason}",
                    _KIND_NAMES[kind],
                    obj_id,
                    field="FilterIDs",
                )


def _filter_ids(doc: dict) -> list:
    ids = list(doc.get("FilterIDs") or [])
    for route in doc.get("Routes") or []:
        ids += route.get("FilterIDs") or []
    return ids


def _problem(filter_id: str, tenant: str, filters: dict) -> str:
    if filter_id.startswith("*"):
        return inline_filter_problem(filter_id)
    return "" if f"{tenant}:{filter_id}" in filters else "no such filter"
