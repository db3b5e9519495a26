"""CDRsV2 and the other CDR methods of issue 9 over the real HTTP API, on both backends:
replies as CGrateS gives them, data and SMS without a Destination (tutorial2's *any
destination rates), ToR *monetary/*generic, StoreSessionCost, RateCDRs, ExportCDRs."""

import csv
import json
import os
from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError

DATA_CDR = {
    "OriginID": "data-1",
    "OriginHost": "tests",
    "ToR": "*data",
    "RequestType": "*rated",
    "Tenant": "cgrates.org",
    "Category": "data",
    "Account": "1001",
    "AnswerTime": "2014-08-04T13:00:00Z",
    "Usage": "2048",
}


@pytest.fixture
def tutorial2(api, tariffplans_dir):
    folder = str(tariffplans_dir / "tutorial2")
    assert api.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": folder}) == "OK"
    return api


def test_get_cost_without_destination_uses_any_rates(tutorial2):
    data = {"Tenant": "cgrates.org", "Category": "data", "Subject": "1001", "Usage": "2048"}
    cost = tutorial2.call("APIerSv1.GetCost", dict(data, AnswerTime="2014-08-04T13:00:00Z"))
    assert (cost["Cost"], cost["Usage"]) == (Decimal("0.2"), 2048)
    (filters,) = cost["RatingFilters"].values()
    assert (filters["DestinationID"], filters["RatingPlanID"]) == ("*any", "RP_DATA")
    sms = dict(data, Category="sms", Usage="1", AnswerTime="2014-08-04T13:00:00Z")
    assert tutorial2.call("APIerSv1.GetCost", sms)["Cost"] == Decimal("0.1")


def test_data_and_sms_cdrs_without_destination(tutorial2):
    assert tutorial2.call("CDRsV2.ProcessExternalCDR", DATA_CDR) == "OK"
    sms = dict(DATA_CDR, OriginID="sms-1", ToR="*sms", Category="sms", Usage="1")
    assert tutorial2.call("CDRsV1.ProcessExternalCDR", sms) == "OK"
    cdrs = tutorial2.call("APIerSv1.GetCDRs", {"OrderBy": "Cost"})
    assert [(c["OriginID"], c["Usage"], c["Cost"], c["Destination"]) for c in cdrs] == [
        ("sms-1", "1", Decimal("0.1"), ""),
        ("data-1", "2048", Decimal("0.2"), ""),
    ]


def test_tor_monetary_and_generic_are_accepted(tutorial2):
    for tor in ("*monetary", "*generic"):
        cdr = dict(DATA_CDR, OriginID=tor, ToR=tor, Category="call", Destination="1002")
        cdr["Usage"] = "60s"
        assert tutorial2.call("CDRsV2.ProcessExternalCDR", cdr) == "OK"
    by_tor = {c["ToR"]: c for c in tutorial2.call("APIerSv2.GetCDRs", {"ToRs": ["*monetary"]})}
    assert by_tor["*monetary"]["Usage"] == "60000000000"  # CGrateS prints non-voice as units
    assert tutorial2.call("CDRsV2.GetCDRsCount", {"ToRs": ["*generic", "*monetary"]}) == 2


def test_cdrs_v2_reply_shapes(tutorial2):
    assert tutorial2.call("CDRsV2.ProcessExternalCDR", DATA_CDR) == "OK"
    with pytest.raises(RpcError, match="EXISTS"):
        tutorial2.call("CDRsV2.ProcessExternalCDR", DATA_CDR)
    event = {"Flags": ["*chargers:false"], "Event": dict(DATA_CDR, OriginID="data-2")}
    assert tutorial2.call("CDRsV2.ProcessEvent", event) == "OK"
    assert tutorial2.call("CDRsV2.ProcessCDR", dict(DATA_CDR, OriginID="data-3")) == "OK"
    (cdr,) = tutorial2.call("CDRsV2.GetCDRs", {"OriginIDs": ["data-1"]})
    assert cdr["Usage"] == 2048 and isinstance(cdr["CostDetails"], dict)  # engine.CDR
    assert cdr["CostDetails"]["Cost"] == Decimal("0.2")
    assert tutorial2.call("CDRsV2.GetCDRsCount", {}) == 3
    with pytest.raises(RpcError, match="NOT_FOUND"):
        tutorial2.call("CDRsV2.GetCDRs", {"OriginIDs": ["nothing"]})
    assert tutorial2.call("CDRsV2.RateCDRs", {"OriginIDs": ["data-1"]}) == "OK"


def test_store_session_cost(tutorial2):
    cost = {"CGRID": "c1", "RunID": "*default", "Usage": "10s", "CostDetails": {"Cost": 1.5}}
    assert tutorial2.call("CDRsV1.StoreSessionCost", {"Cost": cost}) == "OK"
    with pytest.raises(RpcError, match="EXISTS"):
        tutorial2.call("CDRsV2.StoreSessionCost", {"Cost": cost, "CheckDuplicate": True})
    with pytest.raises(RpcError, match="MANDATORY_IE_MISSING"):
        tutorial2.call("CDRsV1.StoreSessionCost", {"Cost": {"RunID": "*default"}})
    stored = tutorial2.node.stordb.get_session_cost("c1", "*default")
    assert stored["Usage"] == 10 * 10**9 and stored["CostDetails"] == {"Cost": Decimal("1.5")}


def test_export_cdrs_under_the_export_dir(tutorial2):
    for n in range(3):
        tutorial2.call("CDRsV1.ProcessExternalCDR", dict(DATA_CDR, OriginID=f"e{n}"))
    reply = tutorial2.call(
        "APIerSv1.ExportCDRs",
        {"ExportArgs": {"ExportFileName": "all.csv"}, "Verbose": True, "Accounts": ["1001"]},
    )
    export_dir = tutorial2.node.config.cdrs.export_dir
    assert reply["ExportedPath"] == os.path.join(export_dir, "all.csv")
    assert (reply["TotalRecords"], reply["TotalCost"]) == (3, Decimal("0.6"))
    assert len(reply["ExportedCGRIDs"]) == 3 and reply["LastOrderID"] > reply["FirstOrderID"]
    with open(reply["ExportedPath"], newline="") as stream:
        rows = list(csv.reader(stream))
    assert [row[3] for row in rows] == ["e0", "e1", "e2"] and rows[0][-1] == "0.2000"
    reply = tutorial2.call(
        "APIerSv1.ExportCDRs", {"ExportArgs": {"ExportFormat": "*file_json", "ExportID": "x"}}
    )
    assert reply["ExportedPath"].endswith("cdre_x.json") and reply["ExportedCGRIDs"] is None
    with open(reply["ExportedPath"]) as stream:
        assert [json.loads(line)["OriginID"] for line in stream] == ["e0", "e1", "e2"]
    with pytest.raises(RpcError, match="ExportFileName"):
        tutorial2.call("APIerSv1.ExportCDRs", {"ExportArgs": {"ExportFileName": "../x.csv"}})
    empty = tutorial2.call("APIerSv1.ExportCDRs", {"Accounts": ["nobody"]})
    assert (empty["ExportedPath"], empty["TotalRecords"]) == ("", 0)
