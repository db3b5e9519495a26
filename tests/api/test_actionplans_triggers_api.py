"""Action plan and trigger methods: CGrateS' errors and shapes, and Go's case-insensitive
parameter names for every method."""

import pytest

from fs_cgr.api.client import RpcError
from fs_cgr.api.params import GoParams

TENANT = "cgrates.org"


def error(api, method, params) -> str:
    with pytest.raises(RpcError) as caught:
        api.call(method, params)
    return caught.value.message


def actions(api, actions_id="ACT_A"):
    assert (
        api.call(
            "APIerSv1.SetActions",
            {
                "ActionsId": actions_id,
                "Actions": [
                    {
                        "Identifier": "*topup",
                        "BalanceId": "main",
                        "BalanceType": "*monetary",
                        "Units": 5,
                        "Weight": 10,
                    }
                ],
            },
        )
        == "OK"
    )


def plan(time="*asap", actions_id="ACT_A", **extra) -> dict:
    return {
        "Id": "AP_A",
        "ActionPlan": [{"ActionsId": actions_id, "Time": time, "Weight": 10}],
        **extra,
    }


def test_set_action_plan_errors(api):
    assert error(api, "APIerSv1.GetActionPlanIDs", {}) == "NOT_FOUND"
    assert (
        error(api, "APIerSv1.SetActionPlan", {"Id": "AP_A"}) == "MANDATORY_IE_MISSING: [ActionPlan]"
    )
    actions(api)
    assert error(api, "APIerSv1.SetActionPlan", plan(actions_id="NOPE")) == (
        "BROKEN_REFERENCE:NOPE"
    )
    assert error(api, "APIerSv1.SetActionPlan", plan(time="*monthly")) == (
        "UNSUPPORTED_FORMAT:*monthly"
    )
    assert api.call("APIerSv1.SetActionPlan", plan()) == "OK"
    assert error(api, "APIerSv1.SetActionPlan", plan()) == "EXISTS"
    assert api.call("APIerSv1.SetActionPlan", plan(time="08:00:00", Overwrite=True)) == "OK"
    [shown] = api.call("APIerSv1.GetActionPlan", {"ID": "AP_A"})
    assert shown["ActionTimings"][0]["Timing"]["Timing"]["StartTime"] == "08:00:00"
    assert error(api, "APIerSv1.GetActionPlan", {"ID": "AP_NONE"}) == "NOT_FOUND"
    assert api.call("APIerSv1.RemoveActionPlan", {"ID": "AP_A"}) == "OK"
    assert api.call("APIerSv1.RemoveActionPlan", {"ID": "AP_A"}) == "OK"  # as CGrateS
    assert error(api, "APIerSv1.GetActionPlan", {"ID": "AP_A"}) == "NOT_FOUND"
    assert api.call("APIerSv1.RemoveActions", {"ActionIDs": ["ACT_A", "ACT_NONE"]}) == "OK"
    assert error(api, "APIerSv1.GetActions", {"ActionsId": "ACT_A"}) == "NOT_FOUND"


def test_remove_action_timing_takes_an_account_off_a_plan(api):
    actions(api)
    api.call("APIerSv1.SetActionPlan", plan(time="*hourly"))
    api.call("APIerSv2.SetAccount", {"Tenant": TENANT, "Account": "a1", "ActionPlanIDs": ["AP_A"]})
    assert (
        api.call(
            "APIerSv1.RemoveActionTiming",
            {"ActionPlanId": "AP_A", "Tenant": TENANT, "Account": "a1"},
        )
        == "OK"
    )
    [shown] = api.call("APIerSv1.GetActionPlan", {"ID": "AP_A"})
    assert shown["AccountIDs"] is None
    account = api.call("APIerSv2.GetAccount", {"Tenant": TENANT, "Account": "a1"})
    assert "main" not in str(account["BalanceMap"])  # *hourly: nothing ran yet


def test_account_triggers_set_reset_remove(api):
    actions(api)
    assert (
        api.call(
            "APIerSv1.SetActionTrigger",
            {
                "GroupID": "ATG",
                "UniqueID": "u1",
                "ActionTrigger": {
                    "ThresholdType": "*max_balance",
                    "ThresholdValue": 100,
                    "BalanceType": "*monetary",
                    "ActionsID": "ACT_A",
                    "Recurrent": True,
                    "MinSleep": "1m",
                },
            },
        )
        == "OK"
    )
    assert error(
        api,
        "APIerSv1.SetActionTrigger",
        {"GroupID": "ATG", "ActionTrigger": {"ThresholdType": "*sometimes", "ThresholdValue": 1}},
    ).startswith("INVALID_ARGUMENT")
    api.call("APIerSv1.SetAccount", {"Tenant": TENANT, "Account": "t1", "ActionTriggersID": "ATG"})
    [trigger] = api.call("APIerSv1.GetAccountActionTriggers", {"Tenant": TENANT, "Account": "t1"})
    assert (trigger["UniqueID"], trigger["Recurrent"], trigger["MinSleep"]) == (
        "u1",
        True,
        60 * 10**9,
    )
    api.call(
        "APIerSv1.ResetAccountActionTriggers", {"Tenant": TENANT, "Account": "t1", "Executed": True}
    )
    [trigger] = api.call("APIerSv1.GetAccountActionTriggers", {"Tenant": TENANT, "Account": "t1"})
    assert trigger["Executed"] is True
    api.call(
        "APIerSv1.RemoveAccountActionTriggers",
        {"Tenant": TENANT, "Account": "t1", "GroupID": "ATG"},
    )
    assert api.call("APIerSv1.GetAccountActionTriggers", {"Tenant": TENANT, "Account": "t1"}) == []
    assert api.call("APIerSv1.RemoveActionTrigger", {"GroupID": "ATG"}) == "OK"
    assert api.call("APIerSv1.RemoveActionTrigger", {"GroupID": "ATG"}) == "OK"  # as CGrateS
    assert error(api, "APIerSv1.GetActionTriggers", {}) == "NOT_FOUND"
    no_account = {"Tenant": TENANT, "Account": "nobody", "ActionTriggerIDs": ["ATG"]}
    assert error(api, "APIerSv1.ResetAccountActionTriggers", no_account) == "NOT_FOUND"
    assert error(api, "APIerSv1.GetAccountActionTriggers", no_account) == (
        "SERVER_ERROR: NOT_FOUND"
    )


def test_field_names_match_case_insensitively_like_go(api):
    assert (
        api.call(
            "APIerSv1.SetAccount",
            {"tenant": TENANT, "ACCOUNT": "c1", "extraoptions": {"allownegative": True}},
        )
        == "OK"
    )
    account = api.call("APIerSv2.GetAccount", {"Tenant": TENANT, "account": "c1"})
    assert account["AllowNegative"] is True
    assert (
        api.call(
            "APIerSv1.AddBalance",
            {
                "Tenant": TENANT,
                "Account": "c1",
                "balancetype": "*monetary",
                "value": 3,
                "balance": {"id": "main"},
            },
        )
        == "OK"
    )
    account = api.call("APIerSv2.GetAccount", {"Tenant": TENANT, "Account": "c1"})
    assert account["BalanceMap"]["*monetary"][0]["ID"] == "main"


def test_go_params_prefers_the_exact_name():
    params = GoParams({"Tenant": "a", "tenant": "b", "Inner": [{"iD": 1}]})
    assert params["Tenant"] == "a" and params["tenant"] == "b" and params["TENANT"] == "a"
    assert params["inner"][0]["ID"] == 1 and "id" in params["Inner"][0]
    assert params.get("missing", 7) == 7 and "missing" not in params


def test_an_overwritten_plan_starts_without_accounts_as_in_cgrates(api):
    actions(api)
    api.call("APIerSv1.SetActionPlan", plan(time="*hourly"))
    api.call("APIerSv2.SetAccount", {"Tenant": TENANT, "Account": "a2", "ActionPlanIDs": ["AP_A"]})
    [shown] = api.call("APIerSv1.GetActionPlan", {"ID": "AP_A"})
    assert shown["AccountIDs"] == {f"{TENANT}:a2": True}
    api.call("APIerSv1.SetActionPlan", plan(time="*every_minute", Overwrite=True))
    [shown] = api.call("APIerSv1.GetActionPlan", {"ID": "AP_A"})
    assert shown["AccountIDs"] is None
    [scheduled] = api.call("APIerSv1.GetScheduledActions", {})
    assert (scheduled["ActionPlanID"], scheduled["Accounts"]) == ("AP_A", 0)


def test_legacy_get_account_shows_triggers_in_the_old_structure(api):
    actions(api)
    api.call(
        "APIerSv1.SetActionTrigger",
        {
            "GroupID": "ATG_OLD",
            "UniqueID": "u",
            "ActionTrigger": {
                "ThresholdType": "*min_balance",
                "ThresholdValue": 2,
                "BalanceType": "*monetary",
                "BalanceDestinationIds": ["DST_A", "DST_B"],
                "ActionsID": "ACT_A",
            },
        },
    )
    api.call(
        "APIerSv1.SetAccount", {"Tenant": TENANT, "Account": "old", "ActionTriggersID": "ATG_OLD"}
    )
    [old] = api.call("APIerSv1.GetAccount", {"Tenant": TENANT, "Account": "old"})["ActionTriggers"]
    assert (old["Id"], old["ThresholdValue"], old["BalanceType"], old["ActionsId"]) == (
        "ATG_OLD",
        2,
        "*monetary",
        "ACT_A",
    )
    assert set(old["BalanceDestinationIds"].split(";")) == {"DST_A", "DST_B"}


def test_scheduled_actions_filters(api):
    actions(api)
    api.call("APIerSv1.SetActionPlan", plan(time="*hourly"))
    api.call("APIerSv2.SetAccount", {"Tenant": TENANT, "Account": "f1", "ActionPlanIDs": ["AP_A"]})
    [shown] = api.call("APIerSv1.GetScheduledActions", {"Tenant": TENANT, "Account": "f1"})
    assert (shown["ActionPlanID"], shown["Accounts"]) == ("AP_A", 1)
    assert error(api, "APIerSv1.GetScheduledActions", {"Account": "other"}) == "NOT_FOUND"
    assert error(api, "APIerSv1.GetScheduledActions", {"TimeStart": "2999-01-01T00:00:00Z"}) == (
        "NOT_FOUND"
    )
    assert api.call("APIerSv1.GetScheduledActions", {"TimeEnd": "2999-01-01T00:00:00Z"})


def test_account_action_plan(api):
    actions(api)
    api.call("APIerSv1.SetActionPlan", plan(time="*hourly"))
    api.call("APIerSv2.SetAccount", {"Tenant": TENANT, "Account": "g1", "ActionPlanIDs": ["AP_A"]})
    [timing] = api.call("APIerSv1.GetAccountActionPlan", {"Tenant": TENANT, "Account": "g1"})
    assert (timing["ActionPlanId"], timing["ActionsId"]) == ("AP_A", "ACT_A")
    assert timing["NextExecTime"].endswith(":00:00Z")  # the next full hour
    assert api.call("APIerSv1.GetAccountActionPlan", {"Tenant": TENANT, "Account": "x"}) == []
