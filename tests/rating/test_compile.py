"""Compiling live documents: reference checks, API-shaped documents, prefix lookups."""

import copy
import datetime as dt
from decimal import Decimal

import pytest

from fs_cgr.rating import CallDescriptor, RatingEngine, TariffPlanError
from fs_cgr.rating.prefixes import PrefixIndex

MINIMAL = {
    "destinations": {"DST_1": {"ID": "DST_1", "Prefixes": ["1", "12"]}},
    "rates": {
        "RT_1": {
            "ID": "RT_1",
            "RateSlots": [
                {
                    "ConnectFee": 0.5,
                    "Rate": 1,
                    "RateUnit": "60s",
                    "RateIncrement": "60s",
                    "GroupIntervalStart": "0s",
                }
            ],
        }
    },
    "destination_rates": {
        "DR_1": {
            "ID": "DR_1",
            "DestinationRates": [
                {
                    "DestinationId": "DST_1",
                    "RateId": "RT_1",
                    "RoundingMethod": "*up",
                    "RoundingDecimals": 4,
                    "MaxCost": 0,
                    "MaxCostStrategy": "",
                }
            ],
        }
    },
    "rating_plans": {
        "RP_1": {
            "ID": "RP_1",
            "RatingPlanBindings": [
                {"DestinationRatesId": "DR_1", "TimingId": "*any", "Weight": 10}
            ],
        }
    },
    "rating_profiles": {
        "cgrates.org:call:*any": {
            "Tenant": "cgrates.org",
            "Category": "call",
            "Subject": "*any",
            "RatingPlanActivations": [
                {"ActivationTime": "2014-01-01T00:00:00Z", "RatingPlanId": "RP_1"}
            ],
        }
    },
}


def with_change(kind, obj_id, path, value):
    """A deep copy of MINIMAL with one nested field replaced."""
    live = copy.deepcopy(MINIMAL)
    target = live[kind][obj_id]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return live


def test_api_shaped_documents_compile_and_price():
    engine = RatingEngine.compile(MINIMAL)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    cc = engine.get_cost(CallDescriptor("cgrates.org", "call", "x", "123", start, usage=61 * 10**9))
    assert cc.cost == Decimal("2.5")  # 0.5 fee + 2 started minutes
    assert cc.timespans[0].timing.id == "*any"  # built in, no Timings document needed


@pytest.mark.parametrize(
    "kind, obj_id, path, value, message",
    [
        (
            "destination_rates",
            "DR_1",
            ("DestinationRates", 0, "RateId"),
            "RT_GONE",
            "DestinationRates DR_1: RateId 'RT_GONE' not found",
        ),
        (
            "destination_rates",
            "DR_1",
            ("DestinationRates", 0, "DestinationId"),
            "DST_GONE",
            "DestinationRates DR_1: DestinationId 'DST_GONE' not found",
        ),
        (
            "rating_plans",
            "RP_1",
            ("RatingPlanBindings", 0, "DestinationRatesId"),
            "DR_GONE",
            "RatingPlans RP_1: DestinationRatesId 'DR_GONE' not found",
        ),
        (
            "rating_plans",
            "RP_1",
            ("RatingPlanBindings", 0, "TimingId"),
            "NIGHTS",
            "RatingPlans RP_1: TimingId 'NIGHTS' not found",
        ),
        (
            "rating_profiles",
            "cgrates.org:call:*any",
            ("RatingPlanActivations", 0, "RatingPlanId"),
            "RP_GONE",
            "RatingProfiles cgrates.org:call:*any: RatingPlanId 'RP_GONE' not found",
        ),
        (
            "rates",
            "RT_1",
            ("RateSlots", 0, "RateUnit"),
            "soon",
            "Rates RT_1 slot 1: invalid RateUnit 'soon'",
        ),
        (
            "rates",
            "RT_1",
            ("RateSlots", 0, "GroupIntervalStart"),
            "60s",
            "Rates RT_1: no slot with GroupIntervalStart 0s",
        ),
    ],
)
def test_broken_references_name_the_object(kind, obj_id, path, value, message):
    with pytest.raises(TariffPlanError) as caught:
        RatingEngine.compile(with_change(kind, obj_id, path, value))
    assert caught.value.detail == message


def test_timing_used_by_a_plan_must_be_a_time_of_day():
    live = with_change("rating_plans", "RP_1", ("RatingPlanBindings", 0, "TimingId"), "ASAP")
    live["timings"] = {"ASAP": {"ID": "ASAP", "Time": "*asap"}}
    with pytest.raises(TariffPlanError, match="Timings ASAP: invalid time of day"):
        RatingEngine.compile(live)
    live["rating_plans"]["RP_1"]["RatingPlanBindings"][0]["TimingId"] = "*any"
    RatingEngine.compile(live)  # an unused action-plan timing is fine


def test_prefix_index_longest_first():
    index = PrefixIndex({"4": "DE?", "49": "DE", "4917": "DE_MOB"})
    assert index.longest("4917123") == ("4917", "DE_MOB")
    assert index.longest("4930") == ("49", "DE")
    assert index.longest("1") is None
    assert list(index.matches("4917")) == [("4917", "DE_MOB"), ("49", "DE"), ("4", "DE?")]


def test_engine_destination_lookups():
    engine = RatingEngine.compile(MINIMAL)
    assert engine.longest_prefix("1234") == ("12", ("DST_1",))
    assert engine.destination_ids("1234") == {"DST_1"}
    assert engine.destination_ids("999") == set()
    assert engine.has_rating_profile("cgrates.org", "call", "*any")
