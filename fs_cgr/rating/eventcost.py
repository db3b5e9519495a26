"""A CallCost as CGrateS' EventCost JSON (engine/eventcost.go, libeventcost.go).

Charges point by id into the shared Rating, RatingFilters, Rates and Timings maps.
CGrateS uses random ids; here an id is a short hash of what it names, so the same
call always produces the same document.
"""

import hashlib
import json

from fs_cgr.money import ROUND_MIDDLE, ZERO, round_money, to_json_number
from fs_cgr.times import format_time


def _short_id(content) -> str:
    text = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:7]


class _Tables:
    """The id-keyed maps of one EventCost, filled as charges reference them."""

    def __init__(self):
        self.rating: dict[str, dict] = {}
        self.rating_filters: dict[str, dict] = {}
        self.rates: dict[str, list] = {}
        self.timings: dict[str, dict] = {}

    @staticmethod
    def _put(table: dict, content) -> str:
        key = _short_id(content)
        table.setdefault(key, content)
        return key

    def rating_id(self, ts) -> str:
        """ratingIDForRateInterval: "" for a timespan that no rate interval priced."""
        if ts.interval is None:
            return ""
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
        unit = {
            "ConnectFee": to_json_number(rating.connect_fee),
            "RoundingMethod": rating.rounding_method,
            "RoundingDecimals": rating.rounding_decimals,
            "MaxCost": to_json_number(rating.max_cost),
            "MaxCostStrategy": rating.max_cost_strategy,
            "TimingID": self._put(self.timings, timing.charged()),
            "RatesID": self._put(self.rates, rates),
            "RatingFiltersID": self._put(self.rating_filters, filters),
        }
        return self._put(self.rating, unit)


def event_cost(cc, cgrid: str = "", run_id: str = "") -> dict:
    tables = _Tables()
    charges = []
    usage, cost = 0, ZERO
    for ts in cc.timespans:
        increments = None
        if ts.increments:
            increments = [
                {
                    "Usage": inc.duration,
                    "Cost": to_json_number(inc.cost),
                    "AccountingID": "",
                    "CompressFactor": inc.compress,
                }
                for inc in ts.increments
            ]
        for inc in ts.increments:
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
