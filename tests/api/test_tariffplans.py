"""Tariff plans through the API: folders, TP* objects in the StorDB, live rating profiles.

Costs are hand-computed from examples/tariffplan (see docs in README.md):
DE mobile 0.1 connect + 0.12/min per second; DE fixed 0.02 for the first
minute, then 0.01/min per second (each second rounds to 0.00017).
"""

from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError

from .helpers import EXAMPLE_PLAN, PEAK, copy_plan, replace_in

TP = "tp_api_test"
CALL = {"Tenant": "cgrates.org", "Category": "call"}


def _load_example(api):
    assert api.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(EXAMPLE_PLAN)}) == "OK"


def _cost(api, subject="1002", destination="4915112345678", usage="2m30s", answer=PEAK):
    reply = api.call(
        "APIerSv1.GetCost",
        {
            "Tenant": "cgrates.org",
            "Category": "call",
            "Subject": subject,
            "Destination": destination,
            "Usage": usage,
            "AnswerTime": answer,
        },
    )
    return reply["Cost"]


def _error(api, method, params) -> str:
    with pytest.raises(RpcError) as err:
        api.call(method, params)
    return err.value.message


# -- GetCost -------------------------------------------------------------------
def test_get_cost_prices_the_example_plan(api):
    _load_example(api)
    assert _cost(api) == Decimal("0.4")
    assert _cost(api, subject="1001") == Decimal("0.15")  # own profile
    assert _cost(api, subject="1001", destination="4930123456", usage="90s") == Decimal("0.0251")
    evening = "2024-05-06T19:00:00Z"
    assert _cost(api, destination="4930123456", usage="90s", answer=evening) == Decimal("0.009")
    reply = api.call(
        "APIerSv1.GetCost",
        {"Subject": "1002", "Destination": "442071234567", "Usage": "45s", "AnswerTime": PEAK},
    )
    assert reply["Cost"] == Decimal("0.14") and reply["Usage"] == 60_000_000_000  # 30s steps


def test_get_cost_errors(api):
    _load_example(api)
    # no Destination: only a *any destination rate can price it, and this plan has none
    assert _error(api, "APIerSv1.GetCost", {"Subject": "1002", "Usage": "1m"}) == (
        "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    )
    assert _error(api, "APIerSv1.GetCost", {"Usage": "1m"}) == "MANDATORY_IE_MISSING: [Subject]"
    unknown = {"Subject": "1002", "Destination": "33123", "Usage": "1m"}
    assert _error(api, "APIerSv1.GetCost", unknown) == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    bad_usage = {"Subject": "1002", "Destination": "4930", "Usage": "ten minutes"}
    assert _error(api, "APIerSv1.GetCost", bad_usage).startswith("INVALID_ARGUMENT: Usage")


# -- folders -------------------------------------------------------------------
def test_failed_load_names_file_line_column_and_changes_nothing(api, tmp_path):
    _load_example(api)
    broken = copy_plan(tmp_path / "broken")
    replace_in(broken / "Rates.csv", "RT_DE_MOBILE,0.1,0.12", "RT_DE_MOBILE,0.1,cheap")
    replace_in(broken / "Destinations.csv", "DST_UK,44", "DST_UK,44\nDST_FR,33")
    message = _error(api, "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(broken)})
    assert "Rates.csv" in message and ":6" in message and "Rate" in message
    assert _cost(api) == Decimal("0.4")  # still the old plan
    assert _error(api, "APIerSv1.GetDestination", {"ID": "DST_FR"}) == "NOT_FOUND"


def test_dangling_reference_refuses_the_whole_folder(api, tmp_path):
    _load_example(api)
    broken = copy_plan(tmp_path / "dangling")
    replace_in(broken / "Rates.csv", "RT_DE_MOBILE,0.1,0.12", "RT_DE_MOBILE,0.2,0.5")
    replace_in(broken / "DestinationRates.csv", "DST_UK,RT_UK", "DST_UK,RT_NOWHERE")
    message = _error(api, "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(broken)})
    assert "RT_NOWHERE" in message
    assert _cost(api) == Decimal("0.4")  # the cheaper mobile rate of the bad folder never applied


def test_action_plan_naming_missing_actions_refuses_the_whole_folder(api, tmp_path):
    _load_example(api)
    broken = copy_plan(tmp_path / "no_actions")
    replace_in(broken / "Rates.csv", "RT_DE_MOBILE,0.1,0.12", "RT_DE_MOBILE,0.2,0.5")
    plans = (broken / "ActionPlans.csv").read_text().splitlines()
    (broken / "ActionPlans.csv").write_text("\n".join([*plans, "AP_GHOST,ACT_NOWHERE,*asap,10"]))
    message = _error(api, "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(broken)})
    assert "ACT_NOWHERE" in message
    assert _cost(api) == Decimal("0.4")  # nothing of the refused folder was written


def test_missing_folder_and_path(api, tmp_path):
    missing = {"FolderPath": str(tmp_path / "nope")}
    assert _error(api, "APIerSv1.LoadTariffPlanFromFolder", missing) == "INVALID_PATH"
    assert _error(api, "APIerSv1.LoadTariffPlanFromFolder", {}) == (
        "MANDATORY_IE_MISSING: [FolderPath]"
    )


def test_dry_run_validates_without_loading(api):
    params = {"FolderPath": str(EXAMPLE_PLAN), "DryRun": True}
    assert api.call("APIerSv1.LoadTariffPlanFromFolder", params) == "OK"
    assert _error(api, "APIerSv1.GetDestination", {"ID": "DST_UK"}) == "NOT_FOUND"


def test_load_runs_account_actions_and_remove_deletes_folder_objects_and_accounts(api):
    _load_example(api)
    assert api.node.datadb.get_account("cgrates.org", "1001") is not None
    assert api.call("APIerSv1.RemoveTPFromFolder", {"FolderPath": str(EXAMPLE_PLAN)}) == "OK"
    assert api.node.datadb.get_account("cgrates.org", "1001") is None
    assert _error(api, "APIerSv1.GetDestination", {"ID": "DST_UK"}) == "NOT_FOUND"
    assert _error(api, "APIerSv1.GetRatingPlan", {"ID": "RP_STANDARD"}) == "NOT_FOUND"
    assert "SERVER_ERROR" in _error(
        api, "APIerSv1.GetCost", {"Subject": "1002", "Destination": "4915", "Usage": "1m"}
    )
    # removing again finds nothing to remove and still succeeds
    assert api.call("APIerSv1.RemoveTPFromFolder", {"FolderPath": str(EXAMPLE_PLAN)}) == "OK"


def test_remove_drops_rows_of_other_objects_that_pointed_into_the_folder(api):
    _load_example(api)
    _set_tp_plan(api, destination_id="DST_DE_MOBILE")  # uses the folder's destination
    api.call("APIerSv1.LoadTariffPlanFromStorDb", {"TPid": TP})
    assert api.call("APIerSv1.RemoveTPFromFolder", {"FolderPath": str(EXAMPLE_PLAN)}) == "OK"
    # DR_TP_FR lost its only row, so it went, and RP_TP_FR with it; DST_TP_FR stays
    assert _error(api, "APIerSv1.GetRatingPlan", {"ID": "RP_TP_FR"}) == "NOT_FOUND"
    assert api.call("APIerSv1.GetDestination", {"ID": "DST_TP_FR"})["Prefixes"] == ["33", "262"]
    # the live plan still compiles: a new folder loads and prices
    _load_example(api)
    assert _cost(api) == Decimal("0.4")


# -- TP* in the StorDB ---------------------------------------------------------
def _set_tp_plan(api, destination_id="DST_TP_FR"):
    calls = [
        ("SetTPDestination", {"TPid": TP, "ID": "DST_TP_FR", "Prefixes": ["33", "262"]}),
        (
            "SetTPRate",
            {
                "TPid": TP,
                "ID": "RT_TP_FR",
                "RateSlots": [
                    {
                        "ConnectFee": 0.05,
                        "Rate": 0.0167,
                        "RateUnit": "60s",
                        "RateIncrement": "1s",
                        "GroupIntervalStart": "0s",
                    },
                ],
            },
        ),
        (
            "SetTPDestinationRate",
            {
                "TPid": TP,
                "ID": "DR_TP_FR",
                "DestinationRates": [
                    {
                        "DestinationID": destination_id,
                        "RateID": "RT_TP_FR",
                        "RoundingMethod": "*up",
                        "RoundingDecimals": 4,
                        "MaxCost": 0,
                        "MaxCostStrategy": "",
                    },
                ],
            },
        ),
        (
            "SetTPRatingPlan",
            {
                "TPid": TP,
                "ID": "RP_TP_FR",
                "RatingPlanBindings": [
                    {"DestinationRatesId": "DR_TP_FR", "TimingId": "*any", "Weight": 10}
                ],
            },
        ),
    ]
    for method, params in calls:
        assert api.call(f"APIerSv1.{method}", params) == "OK"


def test_tp_objects_round_trip_with_exact_amounts(api):
    _set_tp_plan(api)
    assert api.call("APIerSv1.GetTPDestination", {"TPid": TP, "ID": "DST_TP_FR"}) == {
        "TPid": TP,
        "ID": "DST_TP_FR",
        "Prefixes": ["33", "262"],
    }
    rate = api.call("APIerSv1.GetTPRate", {"TPid": TP, "ID": "RT_TP_FR"})
    slot = rate["RateSlots"][0]
    assert (slot["ConnectFee"], slot["Rate"]) == (Decimal("0.05"), Decimal("0.0167"))
    assert slot["RateIncrement"] == "1s"
    dr = api.call("APIerSv1.GetTPDestinationRate", {"TPid": TP, "ID": "DR_TP_FR"})
    assert dr["DestinationRates"][0]["DestinationId"] == "DST_TP_FR"  # ID spelling accepted
    assert dr["DestinationRates"][0]["RoundingDecimals"] == 4
    plan = api.call("APIerSv1.GetTPRatingPlan", {"TPid": TP, "ID": "RP_TP_FR"})
    assert plan["RatingPlanBindings"] == [
        {"DestinationRatesId": "DR_TP_FR", "TimingId": "*any", "Weight": 10}
    ]
    assert api.call("APIerSv1.GetTPDestinationIDs", {"TPid": TP}) == ["DST_TP_FR"]
    assert api.call("APIerSv1.GetTPRateIds", {"TPid": TP}) == ["RT_TP_FR"]
    assert api.call("APIerSv1.GetTPDestinationRateIds", {"TPid": TP}) == ["DR_TP_FR"]
    assert api.call("APIerSv1.GetTPRatingPlanIds", {"TPid": TP}) == ["RP_TP_FR"]


def test_tp_timing_and_rating_profile_ids(api):
    timing = {
        "TPid": TP,
        "ID": "EVENINGS",
        "Years": "*any",
        "Months": "*any",
        "MonthDays": "*any",
        "WeekDays": "1;2;3;4;5",
        "Time": "18:00:00",
    }
    assert api.call("APIerSv1.SetTPTiming", timing) == "OK"
    assert api.call("APIerSv1.GetTPTiming", {"TPid": TP, "ID": "EVENINGS"}) == timing
    assert api.call("APIerSv1.GetTPTimingIds", {"TPid": TP}) == ["EVENINGS"]
    profile = {
        "TPid": TP,
        "LoadId": "L1",
        "Tenant": "cgrates.org",
        "Category": "call",
        "Subject": "2001",
        "RatingPlanActivations": [
            {
                "ActivationTime": "2024-01-01T00:00:00Z",
                "RatingPlanId": "RP_TP_FR",
                "FallbackSubjects": "",
            },
        ],
    }
    assert api.call("APIerSv1.SetTPRatingProfile", profile) == "OK"
    profile_id = "L1:cgrates.org:call:2001"
    assert api.call("APIerSv1.GetTPRatingProfileIds", {"TPid": TP}) == [profile_id]
    got = api.call("APIerSv1.GetTPRatingProfile", {"TPid": TP, "RatingProfileID": profile_id})
    assert got == profile
    assert "Wrong TPRatingProfileId" in _error(
        api, "APIerSv1.GetTPRatingProfile", {"TPid": TP, "RatingProfileID": "cgrates.org:2001"}
    )


def test_tp_remove_and_not_found(api):
    _set_tp_plan(api)
    assert api.call("APIerSv1.RemoveTPRate", {"TPid": TP, "ID": "RT_TP_FR"}) == "OK"
    assert _error(api, "APIerSv1.GetTPRate", {"TPid": TP, "ID": "RT_TP_FR"}) == "NOT_FOUND"
    assert _error(api, "APIerSv1.GetTPRateIds", {"TPid": TP}) == "NOT_FOUND"
    assert _error(api, "APIerSv1.RemoveTPDestination", {"TPid": TP, "ID": "NOPE"}) == "NOT_FOUND"


def test_tp_mandatory_fields_and_bad_values(api):
    assert _error(api, "APIerSv1.SetTPDestination", {"Prefixes": ["1"]}) == (
        "MANDATORY_IE_MISSING: [TPid ID]"
    )
    bad_rate = {"TPid": TP, "ID": "R", "RateSlots": [{"Rate": "lots", "RateUnit": "60s"}]}
    assert _error(api, "APIerSv1.SetTPRate", bad_rate).startswith(
        "INVALID_ARGUMENT: RateSlots[0].Rate"
    )
    bad_unit = {"TPid": TP, "ID": "R", "RateSlots": [{"Rate": 1, "RateUnit": "a minute"}]}
    assert "RateSlots[0].RateUnit" in _error(api, "APIerSv1.SetTPRate", bad_unit)
    assert _error(api, "APIerSv1.GetTPRateIds", {"TPid": TP}) == "NOT_FOUND"  # nothing stored


def test_load_from_stordb_then_set_rating_profile_prices_calls(api):
    _set_tp_plan(api)
    assert api.call("APIerSv1.LoadTariffPlanFromStorDb", {"TPid": TP, "DryRun": False}) == "OK"
    profile = {
        "Tenant": "cgrates.org",
        "Category": "call",
        "Subject": "2001",
        "Overwrite": True,
        "RatingPlanActivations": [
            {
                "ActivationTime": "2024-01-01T00:00:00Z",
                "RatingPlanId": "RP_TP_FR",
                "FallbackSubjects": "",
            },
        ],
    }
    assert api.call("APIerSv1.SetRatingProfile", profile) == "OK"
    # 0.05 + 61 s x round5(0.0167 / 60 = 0.000278333) = 0.05 + 61 x 0.00028
    assert _cost(api, subject="2001", destination="33612345678", usage="61s") == Decimal("0.06708")


def test_load_from_stordb_is_validated_and_atomic(api):
    _load_example(api)
    _set_tp_plan(api)
    api.call("APIerSv1.RemoveTPRate", {"TPid": TP, "ID": "RT_TP_FR"})
    message = _error(api, "APIerSv1.LoadTariffPlanFromStorDb", {"TPid": TP})
    assert "RT_TP_FR" in message
    assert _error(api, "APIerSv1.GetDestination", {"ID": "DST_TP_FR"}) == "NOT_FOUND"
    # an unknown TPid loads nothing and answers OK, as CGrateS does
    assert api.call("APIerSv1.LoadTariffPlanFromStorDb", {"TPid": "empty"}) == "OK"
    assert _error(api, "APIerSv1.LoadTariffPlanFromStorDb", {}) == "MANDATORY_IE_MISSING: [TPid]"


# -- live objects --------------------------------------------------------------
def test_set_rating_profile_takes_effect_immediately(api):
    _load_example(api)
    assert _cost(api, subject="1002") == Decimal("0.4")
    vip = {
        "Tenant": "cgrates.org",
        "Category": "call",
        "Subject": "1002",
        "RatingPlanActivations": [
            {
                "ActivationTime": "2024-01-01T00:00:00Z",
                "RatingPlanId": "RP_VIP",
                "FallbackSubjects": "*any",
            },
        ],
    }
    assert api.call("APIerSv1.SetRatingProfile", vip) == "OK"
    assert _cost(api, subject="1002") == Decimal("0.15")
    got = api.call("APIerSv1.GetRatingProfile", {**CALL, "Subject": "1002"})
    assert got == {
        "Id": "*out:cgrates.org:call:1002",
        "RatingPlanActivations": [
            {
                "ActivationTime": "2024-01-01T00:00:00Z",
                "RatingPlanId": "RP_VIP",
                "FallbackKeys": ["*out:cgrates.org:call:*any"],
            },
        ],
    }
    ids = api.call("APIerSv1.GetRatingProfileIDs", {"Tenant": "cgrates.org"})
    assert ids == ["call:*any", "call:1001", "call:1002"]


def test_set_rating_profile_appends_unless_overwrite(api):
    _load_example(api)
    later = {
        "Tenant": "cgrates.org",
        "Category": "call",
        "Subject": "1001",
        "RatingPlanActivations": [
            {"ActivationTime": "2024-06-01T00:00:00Z", "RatingPlanId": "RP_STANDARD"}
        ],
    }
    api.call("APIerSv1.SetRatingProfile", later)
    assert _cost(api, subject="1001") == Decimal("0.15")  # May: still VIP
    assert _cost(api, subject="1001", answer="2024-06-03T10:00:00Z") == Decimal("0.4")
    api.call("APIerSv1.SetRatingProfile", {**later, "Overwrite": True})
    profile = api.call("APIerSv1.GetRatingProfile", {**CALL, "Subject": "1001"})
    assert [a["RatingPlanId"] for a in profile["RatingPlanActivations"]] == ["RP_STANDARD"]


def test_set_rating_profile_needs_an_existing_live_plan(api):
    _load_example(api)
    params = {
        "Tenant": "cgrates.org",
        "Category": "call",
        "Subject": "1002",
        "RatingPlanActivations": [
            {"ActivationTime": "2024-01-01T00:00:00Z", "RatingPlanId": "RP_NOWHERE"}
        ],
    }
    assert _error(api, "APIerSv1.SetRatingProfile", params) == "NOT_FOUND:RatingPlanId:RP_NOWHERE"
    assert _error(api, "APIerSv1.SetRatingProfile", {"Tenant": "cgrates.org"}) == (
        "MANDATORY_IE_MISSING: [Subject RatingPlanActivations]"
    )
    assert _cost(api, subject="1002") == Decimal("0.4")


def test_set_and_get_destination_live(api):
    _load_example(api)
    params = {"Id": "DST_DE_MOBILE", "Prefixes": ["4915", "4916", "4917", "4919"]}
    assert _error(api, "APIerSv1.SetDestination", params) == "EXISTS"
    assert api.call("APIerSv1.SetDestination", {**params, "Overwrite": True}) == "OK"
    assert api.call("APIerSv1.GetDestination", {"ID": "DST_DE_MOBILE"})["Prefixes"][-1] == "4919"
    assert _cost(api, destination="4919000") == Decimal("0.4")
    plan = api.call("APIerSv1.GetRatingPlan", {"ID": "RP_VIP"})
    assert plan["Id"] == "RP_VIP"
    assert plan["RatingPlanBindings"][0]["DestinationRatesId"] == "DR_VIP"
