"""StatSv1 / ThresholdSv1 / APIerSv1 profile methods over HTTP, on both backends: the
reply shapes and error strings CGrateS v0.10 clients see."""

from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError

TENANT = "cgrates.org"


def set_queue(api, **fields):
    profile = {
        "Tenant": TENANT,
        "ID": "SQ_API",
        "FilterIDs": ["*string:~*req.Account:1001;1002"],
        "QueueLength": 100,
        "TTL": 10_000_000_000,
        "MinItems": 2,
        "Metrics": [{"MetricID": m} for m in ("*asr", "*acc", "*tcc", "*acd", "*tcd")]
        + [
            {"MetricID": "*sum:~*req.Usage"},
            {"MetricID": "*average:~*req.Usage"},
            {"MetricID": "*pdd", "FilterIDs": ["*exists:~*req.PDD:"]},
        ],
        "ThresholdIDs": ["*none"],
        "Stored": True,
        "Weight": 20,
        **fields,
    }
    assert api.call("APIerSv1.SetStatQueueProfile", profile) == "OK"


def process(api, event_id, event):
    return api.call("StatSv1.ProcessEvent", {"Tenant": TENANT, "ID": event_id, "Event": event})


def test_metrics_over_three_calls_with_min_items(api):
    set_queue(api)
    assert api.call("StatSv1.GetQueueIDs", {"Tenant": TENANT}) == ["SQ_API"]
    answered = "2014-07-14T14:25:00Z"
    first = {"Account": "1001", "AnswerTime": answered, "Usage": 135_000_000_000, "Cost": 123.0,
             "PDD": 12_000_000_000}  # fmt: skip
    assert process(api, "event1", first) == ["SQ_API"]
    metrics = api.call("StatSv1.GetQueueStringMetrics", {"Tenant": TENANT, "ID": "SQ_API"})
    assert set(metrics.values()) == {"N/A"} and len(metrics) == 8  # MinItems 2
    floats = api.call("StatSv1.GetQueueFloatMetrics", {"Tenant": TENANT, "ID": "SQ_API"})
    assert set(floats.values()) == {-1}
    process(api, "event2", {"Account": "1002", "AnswerTime": answered, "Usage": 45_000_000_000,
                            "Cost": 12.1})  # fmt: skip
    process(api, "event3", {"Account": "1002", "SetupTime": answered, "Usage": 0, "Cost": 0})
    # 2 of 3 answered; 180 s over 3; 135.1 over 3; one PDD only (below MinItems)
    assert api.call("StatSv1.GetQueueStringMetrics", {"Tenant": TENANT, "ID": "SQ_API"}) == {
        "*asr": "66.66667%",
        "*acd": "1m0s",
        "*acc": "45.03333",
        "*tcd": "3m0s",
        "*tcc": "135.1",
        "*pdd": "N/A",
        "*sum:~*req.Usage": "180000000000",
        "*average:~*req.Usage": "60000000000",
    }
    floats = api.call("StatSv1.GetQueueFloatMetrics", {"Tenant": TENANT, "ID": "SQ_API"})
    assert floats["*asr"] == Decimal("66.66667") and floats["*acd"] == 60
    assert floats["*tcd"] == 180 and floats["*sum:~*req.Usage"] == 180000000000
    queue = api.call("StatSv1.GetStatQueue", {"Tenant": TENANT, "ID": "SQ_API"})
    assert [item["EventID"] for item in queue["SQItems"]] == ["event1", "event2", "event3"]
    assert queue["SQMetrics"]["*asr"]["Answered"] == 2 and queue["SQMetrics"]["*asr"]["Count"] == 3
    assert queue["SQMetrics"]["*acd"]["Sum"] == 180_000_000_000
    assert queue["MinItems"] == 2


def test_profile_methods_and_errors(api):
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("APIerSv1.GetStatQueueProfileIDs", {"Tenant": TENANT})
    set_queue(api)
    profile = api.call("APIerSv1.GetStatQueueProfile", {"Tenant": TENANT, "ID": "SQ_API"})
    assert profile["TTL"] == 10_000_000_000 and profile["ThresholdIDs"] == ["*none"]
    assert api.call("APIerSv1.GetStatQueueProfileIDs", {"Tenant": TENANT}) == ["SQ_API"]
    probe = {"Tenant": TENANT, "ID": "e", "Event": {"Account": "1001"}}
    assert api.call("StatSv1.GetStatQueuesForEvent", probe) == ["SQ_API"]
    with pytest.raises(RpcError, match="NOT_FOUND"):
        process(api, "e", {"Account": "1003"})
    with pytest.raises(RpcError, match=r"MANDATORY_IE_MISSING: \[Event\]"):
        api.call("StatSv1.ProcessEvent", {"Tenant": TENANT, "ID": "e"})
    assert api.call("APIerSv1.RemoveStatQueueProfile", {"Tenant": TENANT, "ID": "SQ_API"}) == "OK"
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("StatSv1.GetQueueStringMetrics", {"Tenant": TENANT, "ID": "SQ_API"})
    assert api.call("StatSv1.Ping", {}) == "Pong"


def test_thresholds_over_the_api(api):
    threshold = {
        "Tenant": TENANT,
        "ID": "TH_API",
        "FilterIDs": ["*string:~*req.Account:1001"],
        "MaxHits": 2,
        "MinHits": 1,
        "MinSleep": 0,
        "Weight": 10,
        "ActionIDs": [],
    }
    assert api.call("APIerSv1.SetThresholdProfile", threshold) == "OK"
    assert api.call("APIerSv1.GetThresholdProfile", {"Tenant": TENANT, "ID": "TH_API"}) == {
        **threshold, "ActivationInterval": None, "Blocker": False, "Async": False}  # fmt: skip
    assert api.call("ThresholdSv1.GetThresholdIDs", {"Tenant": TENANT}) == ["TH_API"]
    event = {"Tenant": TENANT, "ID": "e1", "Event": {"Account": "1001"}}
    found = api.call("ThresholdSv1.GetThresholdsForEvent", event)
    assert found == [{"Tenant": TENANT, "ID": "TH_API", "Hits": 0,
                      "Snooze": "0001-01-01T00:00:00Z"}]  # fmt: skip
    assert api.call("ThresholdSv1.ProcessEvent", event) == ["TH_API"]
    assert api.call("ThresholdSv1.GetThreshold", {"Tenant": TENANT, "ID": "TH_API"})["Hits"] == 1
    assert api.call("ThresholdSv1.ProcessEvent", {**event, "ID": "e2"}) == ["TH_API"]
    with pytest.raises(RpcError, match="NOT_FOUND"):  # MaxHits reached: gone
        api.call("ThresholdSv1.GetThreshold", {"Tenant": TENANT, "ID": "TH_API"})
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("ThresholdSv1.ProcessEvent", {**event, "ID": "e3"})
    assert api.call("APIerSv1.RemoveThresholdProfile", {"Tenant": TENANT, "ID": "TH_API"}) == "OK"
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("APIerSv1.GetThresholdProfileIDs", {"Tenant": TENANT})
    assert api.call("ThresholdSv1.Ping", {}) == "Pong"
