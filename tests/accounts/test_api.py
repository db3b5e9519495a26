"""The account methods over real JSON-RPC (the API helper's ``api`` fixture: a node behind
HTTP, on memory+SQLite and on Redis+MariaDB), priced with this package's test plan."""

from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError
from tests.accounts.conftest import LIVE

D = Decimal
ACCOUNT = {"Tenant": "cgrates.org", "Account": "1001"}


@pytest.fixture
def node_api(api):
    api.node.tariffplans.apply_live(
        (kind, obj_id, doc) for kind, objects in LIVE.items() for obj_id, doc in objects.items()
    )
    return api


def topup(api, value, balance_id="main", balance_type="*monetary", **fields):
    params = {**ACCOUNT, "BalanceType": balance_type, "Value": value}
    params["Balance"] = {"ID": balance_id, **fields}
    assert api.call("APIerSv1.AddBalance", params) == "OK"


def monetary(api, balance_id="main"):
    account = api.call("APIerSv2.GetAccount", ACCOUNT)
    return next(b["Value"] for b in account["BalanceMap"]["*monetary"] if b["ID"] == balance_id)


def usage(**fields) -> dict:
    return {**ACCOUNT, "Destination": "1002", "AnswerTime": "2014-08-04T13:00:00Z", **fields}


def test_set_get_and_remove_accounts(node_api):
    api = node_api
    options = {"ExtraOptions": {"AllowNegative": True}}
    assert api.call("APIerSv1.SetAccount", {**ACCOUNT, **options}) == "OK"
    assert api.call("APIerSv1.SetAccount", {**ACCOUNT, "Account": "1002"}) == "OK"
    current = api.call("APIerSv2.GetAccount", ACCOUNT)
    assert current["ID"] == "cgrates.org:1001" and current["AllowNegative"] is True
    legacy = api.call("APIerSv1.GetAccount", ACCOUNT)
    assert legacy["Id"] == "*out:cgrates.org:1001" and legacy["BalanceMap"] == {}
    assert api.call("APIerSv1.GetAccountsCount", {"Tenant": "cgrates.org"}) == 2
    listed = api.call("APIerSv2.GetAccounts", {"Tenant": "cgrates.org"})
    assert [a["ID"] for a in listed] == ["cgrates.org:1001", "cgrates.org:1002"]
    only = api.call(
        "APIerSv1.GetAccounts", {"Tenant": "cgrates.org", "Filter": {"AllowNegative": True}}
    )
    assert [a["Id"] for a in only] == ["*out:cgrates.org:1001"]
    assert api.call("APIerSv1.RemoveAccount", ACCOUNT) == "OK"
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("APIerSv2.GetAccount", ACCOUNT)
    with pytest.raises(RpcError, match=r"MANDATORY_IE_MISSING: \[Account\]"):
        api.call("APIerSv1.SetAccount", {"Tenant": "cgrates.org"})


def test_balances_through_the_api(node_api):
    api = node_api
    topup(api, 10, Weight=10)
    topup(api, D("2.5"))
    topup(api, 90_000_000_000, "free", "*voice", DestinationIDs="DST_1002", RatingSubject="*zero1m")
    account = api.call("APIerSv2.GetAccount", ACCOUNT)
    assert monetary(api) == D("12.5")
    [free] = account["BalanceMap"]["*voice"]
    assert free["Value"] == 90_000_000_000 and free["DestinationIDs"] == {"DST_1002": True}
    legacy = api.call("APIerSv1.GetAccount", ACCOUNT)
    assert legacy["BalanceMap"]["*voice*out"][0]["Value"] == 90_000_000_000
    set_params = {**ACCOUNT, "BalanceType": "*monetary", "Value": 3, "Balance": {"ID": "main"}}
    assert api.call("APIerSv1.SetBalance", set_params) == "OK"
    assert monetary(api) == 3
    removal = {**ACCOUNT, "BalanceType": "*voice", "Balance": {"ID": "free"}}
    assert api.call("APIerSv1.RemoveBalances", removal) == "OK"
    assert "*voice" not in api.call("APIerSv1.GetAccount", ACCOUNT)["BalanceMap"]
    with pytest.raises(RpcError, match="MANDATORY_IE_MISSING"):
        api.call("APIerSv1.AddBalance", {**ACCOUNT, "BalanceType": "*monetary", "Value": 0})


def test_debit_usage_charges_and_may_go_negative(node_api):
    api = node_api
    topup(api, 1)
    assert api.call("APIerSv1.DebitUsage", usage(Usage="90s")) == "OK"
    assert monetary(api) == D("0.3499")  # 1 - (0.4 + 0.2 + 30 * 0.00167)
    assert api.call("APIerSv1.DebitUsage", usage(Usage="120s")) == "OK"
    # 0.4 + 0.2 + 60 * 0.00167 = 0.7002: main pays what it can, *default goes negative
    total = sum(
        b["Value"] for b in api.call("APIerSv2.GetAccount", ACCOUNT)["BalanceMap"]["*monetary"]
    )
    assert total == D("0.3499") - D("0.7002")


def test_debit_usage_with_options_stops_without_negative(node_api):
    api = node_api
    topup(api, 1)
    params = {"UsageRecord": usage(Usage="600s"), "AllowNegativeAccount": False}
    assert api.call("APIerSv1.DebitUsageWithOptions", params) == "OK"
    assert monetary(api) == D("0.00087")  # 299 s paid whole


def test_debit_usage_errors(node_api):
    api = node_api
    with pytest.raises(RpcError, match=r"MANDATORY_IE_MISSING: \[Destination Usage\]"):
        api.call("APIerSv1.DebitUsage", ACCOUNT)
    with pytest.raises(RpcError, match="SERVER_ERROR: ACCOUNT_NOT_FOUND"):
        api.call("APIerSv1.DebitUsage", usage(Usage="60s"))
    topup(api, 1)
    with pytest.raises(RpcError, match="SERVER_ERROR: UNAUTHORIZED_DESTINATION"):
        api.call("APIerSv1.DebitUsage", usage(Usage="60s", Destination="999"))


def test_get_max_usage(node_api):
    api = node_api
    topup(api, 1)
    assert api.call("APIerSv1.GetMaxUsage", usage(Usage="1h")) == 299_000_000_000
    assert api.call("APIerSv1.GetMaxUsage", usage(Usage="120s")) == 120_000_000_000
    assert api.call("APIerSv1.GetMaxUsage", usage()) == 299_000_000_000  # default: 3h
    assert api.call("APIerSv1.SetAccount", {**ACCOUNT, "ExtraOptions": {"AllowNegative": True}})
    assert api.call("APIerSv1.GetMaxUsage", usage(Usage="1h")) == -1


def test_actions_through_the_api(node_api):
    api = node_api
    api.call("APIerSv1.SetAccount", {**ACCOUNT, "ActionPlanID": "AP_PACKAGE"})
    assert monetary(api) == 10
    actions = [
        {"Identifier": "*topup", "BalanceId": "main", "BalanceType": "*monetary", "Units": 5}
    ]
    assert api.call("APIerSv1.SetActions", {"ActionsId": "MORE", "Actions": actions}) == "OK"
    assert api.call("APIerSv1.GetActions", "MORE")[0]["Identifier"] == "*topup"
    with pytest.raises(RpcError, match="EXISTS"):
        api.call("APIerSv1.SetActions", {"ActionsId": "MORE", "Actions": actions})
    assert api.call("APIerSv1.ExecuteAction", {**ACCOUNT, "ActionsId": "MORE"}) == "OK"
    assert monetary(api) == 15
    unknown = [{"Identifier": "*make_money"}]
    with pytest.raises(RpcError, match="unknown action"):
        api.call("APIerSv1.SetActions", {"ActionsId": "BAD", "Actions": unknown})


def test_unit_balances_pay_data_and_monetary_usage(node_api):
    """CGrateS' own checks (apier/v1/debit_test.go, general_tests/data_it_test.go): a *data
    balance rated *zero10000ns pays 256000000 units whole; ToR *monetary debits the usage
    itself (1 ns = 1 unit) from money."""
    api = node_api
    data = {"ID": "data", "Categories": "data", "RatingSubject": "*zero10000ns"}
    setting = {**ACCOUNT, "BalanceType": "*data", "Value": 356000000, "Balance": data}
    assert api.call("APIerSv2.SetBalance", setting) == "OK"
    record = {**ACCOUNT, "Destination": "*any", "Usage": "256000000", "ToR": "*data"}
    assert api.call("APIerSv1.DebitUsage", {**record, "Category": "data"}) == "OK"
    [left] = api.call("APIerSv2.GetAccount", ACCOUNT)["BalanceMap"]["*data"]
    assert left["Value"] == 100000000
    topup(api, 10)
    options = {"UsageRecord": {**record, "Usage": "1", "ToR": "*monetary"}}
    assert api.call("APIerSv1.DebitUsageWithOptions", options) == "OK"
    assert monetary(api) == 9
