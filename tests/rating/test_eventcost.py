"""CallCost -> CGrateS EventCost JSON."""

import datetime as dt
import json

from .plans import seconds


def test_event_cost_of_a_tiered_call(cost):
    ec = cost("4912345", 130).to_event_cost(cgrid="abc", run_id="*default")
    assert (ec["CGRID"], ec["RunID"]) == ("abc", "*default")
    assert ec["StartTime"] == "2024-06-03T13:00:00Z"
    assert (ec["Cost"], ec["Usage"]) == (0.7169, seconds(130))
    first, second = ec["Charges"]
    assert first["Increments"] == [
        {"Usage": 0, "Cost": 0.4, "AccountingID": "", "CompressFactor": 1},
        {"Usage": seconds(60), "Cost": 0.2, "AccountingID": "", "CompressFactor": 1},
    ]
    assert second["Increments"] == [
        {"Usage": seconds(1), "Cost": 0.00167, "AccountingID": "", "CompressFactor": 70}
    ]
    assert first["RatingID"] == second["RatingID"]  # same rating, timing and match
    rating = ec["Rating"][first["RatingID"]]
    assert {k: rating[k] for k in ("ConnectFee", "RoundingMethod", "RoundingDecimals")} == {
        "ConnectFee": 0.4,
        "RoundingMethod": "*up",
        "RoundingDecimals": 4,
    }
    assert (rating["MaxCost"], rating["MaxCostStrategy"]) == (0, "")
    assert ec["Rates"][rating["RatesID"]] == [
        {
            "GroupIntervalStart": 0,
            "Value": 0.2,
            "RateIncrement": seconds(60),
            "RateUnit": seconds(60),
        },
        {
            "GroupIntervalStart": seconds(60),
            "Value": 0.1,
            "RateIncrement": seconds(1),
            "RateUnit": seconds(60),
        },
    ]
    assert ec["Timings"][rating["TimingID"]] == {
        "Years": [],
        "Months": [],
        "MonthDays": [],
        "WeekDays": [],
        "StartTime": "00:00:00",
    }
    assert ec["RatingFilters"][rating["RatingFiltersID"]] == {
        "Subject": "*out:cgrates.org:call:*any",
        "DestinationPrefix": "49",
        "DestinationID": "DST_TIERS",
        "RatingPlanID": "RP_MAIN",
    }
    assert (ec["Accounting"], ec["AccountSummary"]) == ({}, None)


def test_event_cost_is_deterministic_json(cost):
    first = cost("39123", 120).to_event_cost()
    again = cost("39123", 120).to_event_cost()
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)


def test_event_cost_separates_ratings_of_a_split_call(cost):
    start = dt.datetime(2024, 6, 3, 18, 59, tzinfo=dt.timezone.utc)
    ec = cost("39123", 120, start=start).to_event_cost()
    ids = [charge["RatingID"] for charge in ec["Charges"]]
    assert len(set(ids)) == 2 and len(ec["Rating"]) == 2 and len(ec["Timings"]) == 2
    weekdays = [ec["Timings"][ec["Rating"][i]["TimingID"]]["WeekDays"] for i in ids]
    assert weekdays == [[1, 2, 3, 4, 5]] * 2
    assert ec["Cost"] == 0.9
