"""CDR and charger methods over the real HTTP API, on both backends."""

import json
from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError

TUTORIAL_CDR = {
    "OriginID": "tut-1",
    "OriginHost": "tests",
    "Source": "tests",
    "ToR": "*voice",
    "RequestType": "*rated",
    "Tenant": "cgrates.org",
    "Category": "call",
    "Account": "1001",
    "Subject": "1001",
    "Destination": "1002",
    "SetupTime": "2014-08-04T13:00:00Z",
    "AnswerTime": "2014-08-04T13:00:00Z",
    "Usage": "120s",
}


@pytest.fixture
def tutorial(api, tariffplans_dir):
    api.call(
        "APIerSv1.LoadTariffPlanFromFolder",
        {"FolderPath": str(tariffplans_dir / "cgrates_tutorial")},
    )
    return api


def test_tutorial_flow_needs_a_charger(tutorial):
    for charger in tutorial.call("APIerSv1.GetChargerProfileIDs", {"Tenant": "cgrates.org"}):
        tutorial.call("APIerSv1.RemoveChargerProfile", {"Tenant": "cgrates.org", "ID": charger})
    with pytest.raises(RpcError, match="PARTIALLY_EXECUTED"):
        tutorial.call("CDRsV1.ProcessExternalCDR", TUTORIAL_CDR)
    with pytest.raises(RpcError, match="NOT_FOUND"):
        tutorial.call("APIerSv1.GetCDRs", {"Accounts": ["1001"]})
    default = {
        "Tenant": "cgrates.org",
        "ID": "DEFAULT",
        "RunID": "*default",
        "AttributeIDs": ["*none"],
        "Weight": 0,
    }
    assert tutorial.call("APIerSv1.SetChargerProfile", default) == "OK"
    assert (
        tutorial.call("APIerSv1.GetChargerProfile", {"Tenant": "cgrates.org", "ID": "DEFAULT"})[
            "RunID"
        ]
        == "*default"
    )
    assert tutorial.call("CDRsV1.ProcessExternalCDR", TUTORIAL_CDR) == "OK"
    with pytest.raises(RpcError, match="EXISTS"):
        tutorial.call("CDRsV1.ProcessExternalCDR", TUTORIAL_CDR)
    (cdr,) = tutorial.call(
        "APIerSv1.GetCDRs",
        {"Tenants": ["cgrates.org"], "Accounts": ["1001"], "MediationRunIds": ["*default"]},
    )
    assert (cdr["Cost"], cdr["Usage"], cdr["CostSource"]) == (Decimal("0.7002"), "2m0s", "*cdrs")
    assert cdr["SetupTime"] == "2014-08-04T13:00:00Z"
    assert json.loads(cdr["CostDetails"])["Cost"] == pytest.approx(0.7002)
    assert tutorial.call("CDRsV1.GetCDRsCount", {"Accounts": ["1001"]}) == 1
    assert tutorial.call("APIerSv2.CountCDRs", {"Accounts": ["1002"]}) == 0
    (internal,) = tutorial.call("CDRsV1.GetCDRs", {"OriginIDs": ["tut-1"]})
    assert internal["Usage"] == 120 * 10**9
    cost = tutorial.call("APIerSv1.GetEventCost", {"CgrId": cdr["CGRID"]})
    assert cost["Cost"] == Decimal("0.7002")


def test_process_event_with_tutorial_chargers(tutorial):
    event = dict(TUTORIAL_CDR, OriginID="tut-2")
    assert tutorial.call("CDRsV1.ProcessEvent", {"Flags": [], "Event": event}) == "OK"
    runs = tutorial.call("APIerSv1.GetCDRs", {"OriginIDs": ["tut-2"], "OrderBy": "Cost"})
    assert [(cdr["RunID"], cdr["Cost"]) for cdr in runs] == [
        ("*raw", -1),
        ("*default", Decimal("0.7002")),
    ]
    single = dict(TUTORIAL_CDR, OriginID="tut-3", RunID="only")
    tutorial.call("CDRsV1.ProcessEvent", {"Flags": ["*chargers:false"], "Event": single})
    assert [c["RunID"] for c in tutorial.call("APIerSv2.GetCDRs", {"OriginIDs": ["tut-3"]})] == [
        "only"
    ]


def test_chargers_for_event(tutorial):
    event = {"Tenant": "cgrates.org", "Event": {"Account": "1001", "Destination": "1002"}}
    profiles = tutorial.call("ChargerSv1.GetChargersForEvent", event)
    assert sorted(p["ID"] for p in profiles) == ["DEFAULT", "Raw"]
    forked = tutorial.call("ChargerSv1.ProcessEvent", event)
    by_run = {reply["CGREvent"]["Event"]["RunID"]: reply["CGREvent"]["Event"] for reply in forked}
    assert by_run["*raw"]["RequestType"] == "*none"
    assert by_run["*default"]["RequestType"] == "*rated"


def test_freeswitch_json_endpoint(tutorial):
    body = {
        "variables": {
            "uuid": "fs-json-1",
            "cgr_reqtype": "*rated",
            "cgr_account": "1001",
            "start_uepoch": "1407157200000000",
            "answer_uepoch": "1407157200000000",
            "billsec": "120",
        },
        "callflow": {"caller_profile": {"destination_number": "1002", "username": "1001"}},
    }
    status, reply = tutorial.post(json.dumps(body).encode(), "/freeswitch_json")
    assert (status, reply) == (200, "OK")
    (cdr,) = tutorial.call("APIerSv1.GetCDRs", {"OriginIDs": ["fs-json-1"], "RunIDs": ["*default"]})
    assert (cdr["Cost"], cdr["Usage"], cdr["Account"]) == (Decimal("0.7002"), "2m0s", "1001")
    status, reply = tutorial.post(b"{not json", "/freeswitch_json")
    assert status == 400 and "not JSON" in reply
    status, reply = tutorial.post(
        json.dumps({"variables": {"billsec": "1"}}).encode(), "/freeswitch_json"
    )
    assert status == 400 and "OriginID" in reply
