"""SessionSv1.* over the real HTTP API, on both backends (the conformance flow)."""

import time
from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError
from tests.cdrs.helpers import monetary, top_up

EVENT = {
    "Tenant": "cgrates.org",
    "Category": "call",
    "ToR": "*voice",
    "OriginID": "api-sess-1",
    "OriginHost": "tests",
    "RequestType": "*prepaid",
    "Account": "1001",
    "Subject": "1001",
    "Destination": "1002",
    "SetupTime": "2014-08-04T13:00:00Z",
    "AnswerTime": "2014-08-04T13:00:00Z",
    "Usage": "120s",
    "CGRDebitInterval": "0s",
}


@pytest.fixture
def tutorial(api, tariffplans_dir):
    folder = str(tariffplans_dir / "cgrates_tutorial")
    api.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": folder})
    return api


def _balance(api) -> Decimal:
    return monetary(api.node, "1001")


def test_prepaid_session_flow(tutorial):
    api = tutorial
    reply = api.call("SessionSv1.AuthorizeEvent", {"GetMaxUsage": True, "Event": EVENT})
    assert reply["MaxUsage"] == 120 * 10**9
    reply = api.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": EVENT})
    assert reply == {
        "Attributes": None,
        "ResourceAllocation": None,
        "MaxUsage": 120 * 10**9,
        "ThresholdIDs": None,
        "StatQueueIDs": None,
    }
    assert _balance(api) == Decimal("9.2998")
    assert len(api.call("SessionSv1.GetActiveSessions", {})) == 2  # *default and *raw runs
    (active,) = api.call(
        "SessionSv1.GetActiveSessions", {"Filters": ["*string:~*req.RunID:*default"]}
    )
    assert (active["OriginID"], active["RunID"], active["Usage"]) == (
        "api-sess-1",
        "*default",
        120 * 10**9,
    )
    with pytest.raises(RpcError, match="MANDATORY_IE_MISSING"):
        api.call("SessionSv1.TerminateSession", {"Event": EVENT})
    terminate = {"TerminateSession": True, "Event": dict(EVENT, Usage="90s")}
    assert api.call("SessionSv1.TerminateSession", terminate) == "OK"
    assert _balance(api) == Decimal("9.3499")
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("SessionSv1.GetActiveSessions", {})
    cdrs = api.call("APIerSv1.GetCDRs", {"OriginIDs": ["api-sess-1"], "OrderBy": "Cost"})
    assert [(c["RunID"], c["Cost"], c["CostSource"]) for c in cdrs] == [
        ("*raw", -1, ""),
        ("*default", Decimal("0.6501"), "*sessions"),
    ]
    with pytest.raises(RpcError, match="EXISTS"):
        api.call("SessionSv1.ProcessCDR", {"Event": dict(EVENT, Usage="90s")})


def test_authorize_answers_zero_when_nothing_can_be_paid(tutorial):
    api = tutorial
    top_up(api.node, "broke", 0)
    event = dict(EVENT, Account="broke", Subject="1001")
    reply = api.call("SessionSv1.AuthorizeEvent", {"GetMaxUsage": True, "Event": event})
    assert reply["MaxUsage"] == 0
    with pytest.raises(RpcError, match="subsystems"):
        api.call("SessionSv1.AuthorizeEvent", {"Event": event})


def test_an_api_cdr_never_waits_for_the_agents_commit_company(tutorial, monkeypatch):
    api = tutorial
    agent_config = api.node.config.freeswitch_agent
    monkeypatch.setattr(agent_config, "cdr_commit_wait", 30 * 10**9)  # the agent's: 30 s
    started = time.monotonic()
    assert api.call("SessionSv1.ProcessCDR", {"Event": dict(EVENT, Usage="90s")}) == "OK"
    assert time.monotonic() - started < 5
    (cdr,) = api.call("APIerSv1.GetCDRs", {"OriginIDs": ["api-sess-1"], "RunIDs": ["*default"]})
    assert cdr["Usage"] == "1m30s"
