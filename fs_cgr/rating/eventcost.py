"""A CallCost as CGrateS' EventCost JSON (engine/eventcost.go, libeventcost.go).

Charges point by id into the shared Rating, RatingFilters, Rates and Timings maps.
CGrateS uses random ids; here an id is a short hash of what it names, so the same
call always produces the same document.

Compiled Rating and Timing objects never change, so the entries (and ids) one
rating, timing and destination match give are built once and memoized; each
document gets its own copies.
"""

import hashlib
import json
from decimal import Decimal
from typing import NamedTuple

from fs_cgr.money import ROUND_MIDDLE, ZERO, round_money, to_json_number
from fs_cgr.times import format_time

_CACHE_SIZE = 4096  # memoized entries / numbers; emptied when full (recompiles leave old keys)


def _short_id(content) -> str:
    text = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:7]


class _Entries(NamedTuple):
    """The table entries of one rated timespan, ids included (cached: never mutate)."""

    rating_id: str
    rating: dict
    filters_id: str
    filters: dict
    rates_id: str
    rates: list
    timing_id: str
    timing: dict


_entries_cache: dict[tuple, _Entries] = {}
_numbers_cache: dict[Decimal, int | float] = {}


def _json_number(amount: Decimal):
    """to_json_number, memoized: increment costs repeat call after call."""
    number = _numbers_cache.get(amount)
    if number is None:
        if len(_numbers_cache) >= _CACHE_SIZE:
            _numbers_cache.clear()
        number = _numbers_cache[amount] = to_json_number(amount)
    return number


def _entries_of(ts) -> _Entries:
    interval, info = ts.interval, ts.rating_info
    match = (info.subject, info.prefix, info.destination_id, info.rating_plan_id) if info else ()
    key = (interval.rating, interval.timing, match)
    entries = _entries_cache.get(key)
    if entries is None:
        if len(_entries_cache) >= _CACHE_SIZE:
            _entries_cache.clear()
        entries = _entries_cache[key] = _build_entries(ts)
    return entries


def _build_entries(ts) -> _Entries:
    """ratingIDForRateInterval's entries for a timespan some rate interval priced."""
    rating, timing = ts.interval.rating, ts.interval.timing
    filters = {
        "Subject": ts.subject,
        "DestinationPrefix": ts.prefix,
        "DestinationID": ts.destination_id,
        "RatingPlanID": ts.rating_plan_id,
    }
    rates = [
        {
            "GroupIntervalStart": slot.group_start,
            "Value": to_json_number(slot.value),
            "RateIncrement": slot.increment,
            "RateUnit": slot.unit,
        }
        for slot in rating.slots
    ]
    charged_timing = timing.charged()
    timing_id, rates_id, filters_id = (
        _short_id(charged_timing),
        _short_id(rates),
        _short_id(filters),
    )
    unit = {
        "ConnectFee": to_json_number(rating.connect_fee),
        "RoundingMethod": rating.rounding_method,
        "RoundingDecimals": rating.rounding_decimals,
        "MaxCost": to_json_number(rating.max_cost),
        "MaxCostStrategy": rating.max_cost_strategy,
        "TimingID": timing_id,
        "RatesID": rates_id,
        "RatingFiltersID": filters_id,
    }
    return _Entries(
        _short_id(unit), unit, filters_id, filters, rates_id, rates, timing_id, charged_timing
    )


class _Tables:
    """The id-keyed maps of one EventCost, filled as charges reference them."""

    def __init__(self):
        self.rating: dict[str, dict] = {}
        self.rating_filters: dict[str, dict] = {}
        self.rates: dict[str, list] = {}
        self.timings: dict[str, dict] = {}

    def rating_id(self, ts) -> str:
        """ratingIDForRateInterval: "" for a timespan that no rate interval priced."""
        if ts.interval is None:
            return ""
        entries = _entries_of(ts)
        if entries.rating_id not in self.rating:  # else its referenced entries are in too
            if entries.timing_id not in self.timings:
                self.timings[entries.timing_id] = {
                    key: list(value) if isinstance(value, list) else value
                    for key, value in entries.timing.items()
                }
            if entries.rates_id not in self.rates:
                self.rates[entries.rates_id] = [dict(rate) for rate in entries.rates]
            if entries.filters_id not in self.rating_filters:
                self.rating_filters[entries.filters_id] = dict(entries.filters)
            self.rating[entries.rating_id] = dict(entries.rating)
        return entries.rating_id


def event_cost(cc, cgrid: str = "", run_id: str = "") -> dict:
    tables = _Tables()
    charges = []
    usage, cost = 0, ZERO
    for ts in cc.timespans:
        increments = None
        if ts.increments:
            increments = []
            for inc in ts.increments:
                increments.append(
                    {
                        "Usage": inc.duration,
                        "Cost": _json_number(inc.cost),
                        "AccountingID": "",
                        "CompressFactor": inc.compress,
                    }
                )
                usage += inc.duration * inc.compress
                cost += inc.cost * inc.compress
        charges.append(
            {"RatingID": tables.rating_id(ts), "Increments": increments, "CompressFactor": 1}
        )
    return {
        "CGRID": cgrid,
        "RunID": run_id,
        "StartTime": format_time(cc.timespans[0].start if cc.timespans else None),
        "Usage": usage,
        "Cost": to_json_number(round_money(cost, 5, ROUND_MIDDLE)),
        "Charges": charges,
        "AccountSummary": None,
        "Rating": tables.rating,
        "Accounting": {},
        "RatingFilters": tables.rating_filters,
        "Rates": tables.rates,
        "Timings": tables.timings,
    }
