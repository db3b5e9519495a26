"""SessionSv1's subsystem booleans and ResourceSv1 over JSON-RPC, with CGrateS' replies and
error strings. StatS/ThresholdS are recording stand-ins here (their packages are apart)."""

import pytest

from fs_cgr.api.client import RpcError

TENANT = "cgrates.org"
EVENT = {"Tenant": TENANT, "Category": "call", "ToR": "*voice", "RequestType": "*postpaid",
         "Account": "1001", "Subject": "1001", "Destination": "1002",
         "SetupTime": "2026-01-01T10:00:00Z", "AnswerTime": "2026-01-01T10:00:00Z",
         "Usage": "60s"}  # fmt: skip


ALLOCATE = {"InitSession": True, "AllocateResources": True}


class Recorder:
    def __init__(self, matched):
        self.matched, self.events = matched, []

    def process_event(self, cgr_event, ids=None):
        self.events.append((cgr_event, ids))
        return self.matched


@pytest.fixture
def plan(api, tariffplans_dir):
    api.call("APIerSv1.LoadTariffPlanFromFolder",
             {"FolderPath": str(tariffplans_dir / "cgrates_tutorial")})  # fmt: skip
    api.call("APIerSv1.SetResourceProfile", {"Tenant": TENANT, "ID": "RES_2_CALLS",
             "FilterIDs": ["*string:~*req.Account:1001"], "UsageTTL": -1, "Limit": 2,
             "AllocationMessage": "CALL_OK", "Weight": 50, "Blocker": True})  # fmt: skip
    return api


def call_event(origin_id):
    return {"Tenant": TENANT, "ID": origin_id, "Event": dict(EVENT, OriginID=origin_id)}


def test_resource_methods_and_errors(plan):
    api = plan
    args = {"Tenant": TENANT, "ID": "e1", "UsageID": "u1", "Units": 2, "Event": EVENT}
    assert api.call("ResourceSv1.AuthorizeResources", args) == "CALL_OK"
    assert api.call("ResourceSv1.AllocateResources", args) == "CALL_OK"
    with pytest.raises(RpcError, match="^RESOURCE_UNAUTHORIZED$"):
        api.call("ResourceSv1.AuthorizeResources", dict(args, UsageID="u2", Units=1))
    with pytest.raises(RpcError, match="^RESOURCE_UNAVAILABLE$"):
        api.call("ResourceSv1.AllocateResources", dict(args, UsageID="u2", Units=1))
    with pytest.raises(RpcError, match=r"MANDATORY_IE_MISSING: \[UsageID\]"):
        api.call("ResourceSv1.AllocateResources", dict(args, UsageID=""))
    (found,) = api.call("ResourceSv1.GetResourcesForEvent", args)
    assert (found["ID"], found["Usages"]["u1"]["Units"]) == ("RES_2_CALLS", 2)
    assert api.call("ResourceSv1.ReleaseResources", args) == "OK"
    assert (
        api.call("ResourceSv1.GetResource", {"Tenant": TENANT, "ID": "RES_2_CALLS"})["Usages"] == {}
    )
    profile = api.call("APIerSv1.GetResourceProfile", {"Tenant": TENANT, "ID": "RES_2_CALLS"})
    assert (profile["Limit"], profile["UsageTTL"], profile["Blocker"]) == (2, -1, True)
    assert "RES_2_CALLS" in api.call("APIerSv1.GetResourceProfileIDs", {"Tenant": TENANT})
    assert api.call("APIerSv1.RemoveResourceProfile", {"Tenant": TENANT, "ID": "RES_2_CALLS"})


def test_sessions_allocate_refuse_and_release(plan):
    api = plan
    for origin_id in ("c1", "c2"):
        reply = api.call("SessionSv1.InitiateSession", {**ALLOCATE, **call_event(origin_id)})
        assert reply["ResourceAllocation"] == "CALL_OK"
    with pytest.raises(RpcError, match="^RESOURCES_ERROR:RESOURCE_UNAUTHORIZED$"):
        api.call("SessionSv1.AuthorizeEvent",
                 {"GetMaxUsage": True, "AuthorizeResources": True, **call_event("c3")})  # fmt: skip

    with pytest.raises(RpcError, match="^RESOURCES_ERROR:RESOURCE_UNAVAILABLE$"):
        api.call("SessionSv1.InitiateSession", {**ALLOCATE, **call_event("c3")})
    assert api.call("SessionSv1.GetActiveSessionsCount", {}) == 4  # c1, c2: 2 runs each
    release = {"TerminateSession": True, "ReleaseResources": True, **call_event("c1")}
    assert api.call("SessionSv1.TerminateSession", release) == "OK"
    reply = api.call("SessionSv1.InitiateSession", {**ALLOCATE, **call_event("c3")})
    assert reply["ResourceAllocation"] == "CALL_OK"
    usages = api.call("ResourceSv1.GetResource", {"Tenant": TENANT, "ID": "RES_2_CALLS"})["Usages"]
    assert sorted(usages) == ["c2", "c3"]


def test_resources_optional_answers_without_a_limit_when_no_profile_matches(plan):
    """fs_cgr's ResourcesOptional (the embedded handler's): no profile, no limit, one request;
    a matching profile is still enforced, and without the field it stays CGrateS' error."""
    other = call_event("c5")
    other["Event"]["Account"] = "1009"  # no resource profile filters it in
    ask = {"AuthorizeResources": True}
    with pytest.raises(RpcError, match="^RESOURCES_ERROR:NOT_FOUND$"):
        plan.call("SessionSv1.AuthorizeEvent", {**ask, **other})
    reply = plan.call("SessionSv1.AuthorizeEvent", {**ask, "ResourcesOptional": True, **other})
    assert reply["ResourceAllocation"] is None
    for origin_id in ("o1", "o2"):
        plan.call("SessionSv1.InitiateSession", {**ALLOCATE, **call_event(origin_id)})
    with pytest.raises(RpcError, match="^RESOURCES_ERROR:RESOURCE_UNAUTHORIZED$"):
        plan.call("SessionSv1.AuthorizeEvent",
                  {**ask, "ResourcesOptional": True, **call_event("o3")})  # fmt: skip


def test_attributes_stats_and_thresholds_flags(plan, monkeypatch):
    api = plan
    stats, thresholds = Recorder(["Stats2"]), Recorder(["THD_1"])
    monkeypatch.setattr(api.node, "stats", stats, raising=False)
    monkeypatch.setattr(api.node, "thresholds", thresholds, raising=False)
    event = call_event("c9")
    event["Event"]["RequestType"] = "*rated"
    reply = api.call("SessionSv1.InitiateSession",
                     {"InitSession": True, "GetAttributes": True, "ProcessStats": True,
                      "ProcessThresholds": True, "ThresholdIDs": ["THD_1"], **event})  # fmt: skip
    assert reply["Attributes"]["MatchedProfiles"] == ["ATTR_1001_SESSIONAUTH"]
    assert (reply["ThresholdIDs"], reply["StatQueueIDs"]) == (["THD_1"], ["Stats2"])
    sent, ids = stats.events[-1]
    assert sent["Event"]["RequestType"] == "*prepaid"  # the altered event is what StatS sees
    assert ids is None and thresholds.events[-1][1] == ["THD_1"]
    done = api.call("SessionSv1.TerminateSession",
                    {"TerminateSession": True, "ProcessStats": True, **event})  # fmt: skip
    assert done == "OK" and stats.events[-1][0]["Event"]["Usage"] == "60s"


def test_stats_flag_feeds_the_real_stat_queues(plan):
    """With StatS on the node, ProcessStats reaches the queues StatS itself matches
    (the tutorial's Stats2 wants RunID *default)."""
    event = call_event("c1")
    event["Event"].update(RunID="*default", Cost=0.5)  # its *tcc metric needs a Cost
    matched = plan.call("StatSv1.GetStatQueuesForEvent", event)
    reply = plan.call("SessionSv1.AuthorizeEvent",
                      {"GetMaxUsage": True, "ProcessStats": True, **event})  # fmt: skip
    assert matched and sorted(reply["StatQueueIDs"]) == sorted(matched)
