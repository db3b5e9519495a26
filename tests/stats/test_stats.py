"""StatS: metrics after hand-computed call mixes, TTL, MinItems, QueueLength, the link to
ThresholdS, restarts and concurrent nodes, on the memory and the Redis DataDB."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from fs_cgr.errors import NotFound, PartiallyExecuted, ServerError
from fs_cgr.stats import service as stats_service
from fs_cgr.times import UTC

TENANT = "cgrates.org"
ANSWERED = "2026-11-22T10:00:00Z"
ALL_METRICS = ["*asr", "*acd", "*tcd", "*acc", "*tcc", "*ddc"]


def queue_profile(queue_id="SQ_CALLS", metrics=ALL_METRICS, **fields):
    return {
        "Tenant": TENANT,
        "ID": queue_id,
        "FilterIDs": ["*string:~*req.Account:1001"],
        "QueueLength": 100,
        "TTL": -1,
        "MinItems": 0,
        "Metrics": [{"MetricID": m, "FilterIDs": []} for m in metrics],
        "ThresholdIDs": ["*none"],
        "Weight": 10,
        **fields,
    }


def call(event_id, usage="0s", cost=0, destination="1002", answered=True, **extra):
    event = {"Account": "1001", "Destination": destination, "Usage": usage, "Cost": cost}
    if answered:
        event["AnswerTime"] = ANSWERED
    return {"Tenant": TENANT, "ID": event_id, "Event": {**event, **extra}}


class Clock:
    """Stands in for StatS' clock, so TTLs pass without sleeping."""

    def __init__(self, monkeypatch):
        self.now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        monkeypatch.setattr(stats_service, "utc_now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_asr_acd_after_answered_and_failed_calls(node):
    node.stats.set_profile(queue_profile())
    calls = [
        call("c1", "60s", "1.0", "1002"),
        call("c2", "2m", "2.5", "1003"),
        call("c3", "0s", 0, "1002", answered=False),
        call("c4", "30s", "0.5", "1004"),
        call("c5", 0, 0, "1002", answered=False, AnswerTime="0001-01-01T00:00:00Z"),
    ]
    for event in calls:
        assert node.stats.process_event(event) == ["SQ_CALLS"]
    # 3 of 5 answered; 210 s over 5 calls (failed calls count, as in CGrateS); 4.00 over 5
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {
        "*asr": "60%",
        "*acd": "42s",
        "*tcd": "3m30s",
        "*acc": "0.8",
        "*tcc": "4",
        "*ddc": "3",
    }
    floats = node.stats.float_metrics(TENANT, "SQ_CALLS")
    assert floats == {"*asr": 60, "*acd": 42, "*tcd": 210, "*acc": D("0.8"), "*tcc": 4, "*ddc": 3}


def test_ratios_round_to_five_decimals(node):
    node.stats.set_profile(queue_profile(metrics=["*asr", "*acc"]))
    for event in (call("a", cost="1"), call("b", cost="1"), call("c", answered=False, cost="0")):
        node.stats.process_event(event)
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*asr": "66.66667%", "*acc": "0.66667"}


def test_sum_average_distinct_on_event_fields(node):
    metrics = ["*sum:~*req.Usage", "*average#~*req.Cost", "*distinct:~*req.Carrier", "*sum:2"]
    node.stats.set_profile(queue_profile(metrics=metrics))
    node.stats.process_event(call("a", 90_000_000_000, "1.2", Carrier="A"))
    node.stats.process_event(call("b", 30_000_000_000, "0.3", Carrier="B"))
    node.stats.process_event(call("c", "0s", "0", Carrier="A"))  # a duration text: its ns
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {
        "*sum:~*req.Usage": "120000000000",
        "*average#~*req.Cost": "0.5",
        "*distinct:~*req.Carrier": "2",
        "*sum:2": "6",
    }


def test_min_items_keeps_metrics_not_available(node):
    node.stats.set_profile(queue_profile(metrics=["*asr", "*acd"], MinItems=3))
    node.stats.process_event(call("a", "60s"))
    node.stats.process_event(call("b", "30s"))
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*asr": "N/A", "*acd": "N/A"}
    assert node.stats.float_metrics(TENANT, "SQ_CALLS") == {"*asr": -1, "*acd": -1}
    node.stats.process_event(call("c", "0s", answered=False))
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*asr": "66.66667%", "*acd": "30s"}


def test_items_expire_after_their_ttl(node, monkeypatch):
    clock = Clock(monkeypatch)
    node.stats.set_profile(queue_profile(metrics=["*tcd", "*asr"], TTL="10s"))
    node.stats.process_event(call("early", "60s"))
    clock.advance(5)
    node.stats.process_event(call("later", "20s", answered=False))
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*tcd": "1m20s", "*asr": "50%"}
    clock.advance(6)  # "early" is 11 s old: gone; "later" 6 s: kept
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*tcd": "20s", "*asr": "0%"}
    queue = node.stats.get_queue(TENANT, "SQ_CALLS")
    assert [item["EventID"] for item in queue["SQItems"]] == ["later"]
    assert queue["SQItems"][0]["ExpiryTime"] == "2026-11-22T10:00:15Z"
    clock.advance(5)
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*tcd": "N/A", "*asr": "N/A"}


def test_queue_length_drops_the_oldest_item(node):
    node.stats.set_profile(queue_profile(metrics=["*tcd"], QueueLength=2))
    for event_id, usage in (("a", "10s"), ("b", "20s"), ("c", "40s")):
        node.stats.process_event(call(event_id, usage))
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*tcd": "1m0s"}
    items = node.stats.get_queue(TENANT, "SQ_CALLS")["SQItems"]
    assert [item["EventID"] for item in items] == ["b", "c"]


def test_metric_filters_and_a_metric_that_cannot_take_the_event(node):
    metrics = [
        {"MetricID": "*asr", "FilterIDs": []},
        {"MetricID": "*pdd", "FilterIDs": ["*exists:~*req.PDD:"]},
        {"MetricID": "*acd", "FilterIDs": []},
    ]
    node.stats.set_profile({**queue_profile(), "Metrics": metrics})
    node.stats.process_event(call("a", "60s", PDD="3s"))
    node.stats.process_event(call("b", "30s"))  # no PDD: *pdd skips it
    event = call("c")
    del event["Event"]["Usage"]
    with pytest.raises(PartiallyExecuted):  # *acd needs Usage; *asr still took the event
        node.stats.process_event(event)
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {
        "*asr": "100%",
        "*pdd": "3s",
        "*acd": "45s",
    }


def test_no_matching_queue_is_not_found(node):
    node.stats.set_profile(queue_profile())
    with pytest.raises(NotFound):
        node.stats.process_event({**call("x"), "Event": {"Account": "1002", "Usage": "1s"}})
    with pytest.raises(NotFound):
        node.stats.string_metrics(TENANT, "NO_SUCH_QUEUE")


def test_blocker_and_weight_order_and_stat_ids(node):
    node.stats.set_profile(queue_profile("SQ_LOW", ["*tcd"], Weight=10))
    node.stats.set_profile(queue_profile("SQ_HIGH", ["*tcd"], Weight=20))
    assert node.stats.process_event(call("a", "1s")) == ["SQ_HIGH", "SQ_LOW"]
    node.stats.set_profile(queue_profile("SQ_HIGH", ["*tcd"], Weight=20, Blocker=True))
    assert node.stats.process_event(call("b", "1s")) == ["SQ_HIGH"]
    assert node.stats.process_event(call("c", "1s"), ["SQ_LOW"]) == ["SQ_LOW"]
    assert node.stats.queues_for_event(call("d")) == ["SQ_HIGH"]
    assert node.stats.string_metrics(TENANT, "SQ_LOW") == {"*tcd": "2s"}
    assert node.stats.queue_ids(TENANT) == ["SQ_HIGH", "SQ_LOW"]


def test_unknown_metric_is_refused(node):
    with pytest.raises(ServerError, match=r"unsupported metric type <\*nope>"):
        node.stats.set_profile(queue_profile(metrics=["*nope"]))
    with pytest.raises(NotFound):
        node.stats.get_profile(TENANT, "SQ_CALLS")


def test_setting_the_profile_again_keeps_the_queue_and_removing_drops_it(node):
    node.stats.set_profile(queue_profile(metrics=["*tcd"]))
    node.stats.process_event(call("a", "5s"))
    node.stats.set_profile(queue_profile(metrics=["*tcd"], Weight=30))
    assert node.stats.string_metrics(TENANT, "SQ_CALLS") == {"*tcd": "5s"}
    node.stats.remove_profile(TENANT, "SQ_CALLS")
    assert node.stats.queue_ids(TENANT) == []
    with pytest.raises(NotFound):
        node.stats.get_queue(TENANT, "SQ_CALLS")


def test_metric_updates_raise_threshold_events(node):
    node.thresholds.set_profile(
        {
            "Tenant": TENANT,
            "ID": "TH_LOW_ASR",
            "FilterIDs": ["*string:~*req.EventType:StatUpdate", "*lt:~*req.*asr:30"],
            "MaxHits": -1,
            "MinHits": 1,
            "Weight": 10,
        }
    )
    node.stats.set_profile(queue_profile(metrics=["*asr"], ThresholdIDs=[]))
    node.stats.process_event(call("a"))  # ASR 100 %: no hit
    node.stats.process_event(call("b", answered=False))  # 50 %
    assert node.thresholds.get_threshold(TENANT, "TH_LOW_ASR")["Hits"] == 0
    for event_id in ("c", "d", "e", "f"):  # 1/3 = 33.3 %, then 25 %, 20 %, 16.7 %
        node.stats.process_event(call(event_id, answered=False))
    assert node.thresholds.get_threshold(TENANT, "TH_LOW_ASR")["Hits"] == 3
    node.stats.set_profile(queue_profile(metrics=["*asr"], ThresholdIDs=["*none"]))
    node.stats.process_event(call("g", answered=False))
    assert node.thresholds.get_threshold(TENANT, "TH_LOW_ASR")["Hits"] == 3


def test_queues_survive_a_restart(redis_nodes):
    first = redis_nodes.new()
    first.stats.set_profile(queue_profile())
    first.stats.process_event(call("a", "60s", "1"))
    first.stats.process_event(call("b", "0s", "0", answered=False))
    before = first.stats.string_metrics(TENANT, "SQ_CALLS")
    first.stop()
    second = redis_nodes.new()
    assert second.stats.string_metrics(TENANT, "SQ_CALLS") == before
    assert before["*asr"] == "50%" and before["*acd"] == "30s"
    second.stats.process_event(call("c", "90s", "2"))
    assert second.stats.string_metrics(TENANT, "SQ_CALLS")["*tcd"] == "2m30s"


def test_two_nodes_updating_one_queue_lose_nothing(redis_nodes):
    one, two = redis_nodes.new(), redis_nodes.new()
    one.stats.set_profile(queue_profile(metrics=["*tcd", "*tcc"], QueueLength=0))
    per_thread = 30
    errors = []

    def feed(node, name):
        try:
            for i in range(per_thread):
                node.stats.process_event(call(f"{name}-{i}", "1s", "0.01"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=feed, args=(node, f"{index}"))
        for index, node in enumerate((one, two, one, two))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    total = 4 * per_thread
    assert one.stats.string_metrics(TENANT, "SQ_CALLS") == {"*tcd": "2m0s", "*tcc": "1.2"}
    assert len(two.stats.get_queue(TENANT, "SQ_CALLS")["SQItems"]) == total


def test_tariff_plan_load_and_removal(node, tariffplans_dir):
    folder = tariffplans_dir / "oldtutorial"
    node.tariffplans.load_folder(folder)
    profile = node.stats.get_profile(TENANT, "Stats1")
    assert profile["TTL"] == 1_000_000_000 and profile["MinItems"] == 2
    assert profile["ActivationInterval"] == {
        "ActivationTime": "2014-07-29T15:00:00Z",
        "ExpiryTime": "0001-01-01T00:00:00Z",  # Go's zero time, as CGrateS replies
    }
    assert [m["MetricID"] for m in profile["Metrics"]][-1] == "*pdd"
    assert node.stats.queue_ids(TENANT) == ["Stats1"]
    assert node.thresholds.get_threshold(TENANT, "THD_STATS_3")["Hits"] == 0
    node.tariffplans.remove_folder(folder)
    assert node.stats.queue_ids(TENANT) == []
    assert node.thresholds.threshold_ids(TENANT) == []
    with pytest.raises(NotFound):
        node.stats.get_profile(TENANT, "Stats1")


def test_a_folder_with_an_unknown_metric_loads_nothing(node, tmp_path):
    folder = tmp_path / "plan"
    folder.mkdir()
    (folder / "Stats.csv").write_text(
        "#Tenant,ID,FilterIDs,ActivationInterval,QueueLength,TTL,MinItems,Metrics,"
        "MetricFilterIDs,Stored,Blocker,Weight,ThresholdIDs\n"
        "cgrates.org,SQ_BAD,,,10,-1,0,*asr;*nope,,false,false,10,*none\n"
    )
    with pytest.raises(ServerError, match=r"unsupported metric type <\*nope>"):
        node.tariffplans.load_folder(folder)
    with pytest.raises(NotFound):
        node.stats.get_profile(TENANT, "SQ_BAD")
    assert node.stats.queue_ids(TENANT) == []
