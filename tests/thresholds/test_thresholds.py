"""ThresholdS: hits, MinHits, MaxHits (actions exactly once per hit allowed, then gone),
MinSleep, Blocker, Async, the account-change events and their deadlock-free path, on the
memory and the Redis DataDB."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from fs_cgr.accounts.model import Account, Balance
from fs_cgr.errors import NotFound, PartiallyExecuted
from fs_cgr.storage.base import ACTIONS
from fs_cgr.thresholds import service as thresholds_service
from fs_cgr.thresholds.events import account_update_events
from fs_cgr.times import UTC

TENANT = "cgrates.org"


def topup_actions(node, units="1", actions_id="ACT_BONUS"):
    node.tariffplans.apply_live(
        [
            (
                ACTIONS,
                actions_id,
                {
                    "ID": actions_id,
                    "Actions": [
                        {
                            "Identifier": "*topup",
                            "BalanceId": "bonus",
                            "BalanceType": "*monetary",
                            "Units": units,
                            "Weight": 10,
                        }
                    ],
                },
            )
        ]
    )


def threshold(threshold_id="TH_1001", **fields):
    return {
        "Tenant": TENANT,
        "ID": threshold_id,
        "FilterIDs": ["*string:~*req.Account:1001"],
        "MaxHits": -1,
        "MinHits": 1,
        "MinSleep": 0,
        "Weight": 10,
        "ActionIDs": ["ACT_BONUS"],
        **fields,
    }


def event(event_id, account="1001", **fields):
    return {"Tenant": TENANT, "ID": event_id, "Event": {"Account": account, **fields}}


def bonus(node, account="1001") -> D:
    found = node.accounts.get_account(TENANT, account)
    balances = [b for b in found.balances.get("*monetary", []) if b.id == "bonus"]
    return balances[0].value if balances else D(0)


@pytest.fixture
def ready(node):
    topup_actions(node)
    node.accounts.set_account(TENANT, "1001")
    return node


class Clock:
    def __init__(self, monkeypatch):
        self.now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        monkeypatch.setattr(thresholds_service, "utc_now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_every_hit_runs_the_actions_on_the_events_account(ready):
    ready.thresholds.set_profile(threshold())
    for event_id in ("e1", "e2", "e3"):
        assert ready.thresholds.process_event(event(event_id)) == ["TH_1001"]
    assert bonus(ready) == 3
    found = ready.thresholds.get_threshold(TENANT, "TH_1001")
    assert found["Hits"] == 3 and found["Tenant"] == TENANT


def test_max_hits_runs_the_actions_exactly_that_often_then_the_threshold_is_gone(ready):
    ready.thresholds.set_profile(threshold(MaxHits=2))
    ready.thresholds.process_event(event("e1"))
    ready.thresholds.process_event(event("e2"))
    assert bonus(ready) == 2
    with pytest.raises(NotFound):
        ready.thresholds.get_threshold(TENANT, "TH_1001")
    with pytest.raises(NotFound):
        ready.thresholds.process_event(event("e3"))
    assert bonus(ready) == 2
    assert ready.thresholds.threshold_ids(TENANT) == []
    ready.thresholds.set_profile(threshold(MaxHits=2))  # set again: counts from 0
    assert ready.thresholds.get_threshold(TENANT, "TH_1001")["Hits"] == 0


def test_min_hits_waits_for_enough_hits(ready):
    ready.thresholds.set_profile(threshold(MinHits=3))
    for event_id in ("e1", "e2"):
        ready.thresholds.process_event(event(event_id))
    assert bonus(ready) == 0
    ready.thresholds.process_event(event("e3"))
    ready.thresholds.process_event(event("e4"))
    assert bonus(ready) == 2


def test_min_sleep_snoozes_the_threshold(ready, monkeypatch):
    clock = Clock(monkeypatch)
    ready.thresholds.set_profile(threshold(MinSleep="1m"))
    ready.thresholds.process_event(event("e1"))
    clock.advance(30)
    ready.thresholds.process_event(event("e2"))  # counted, but snoozed: no actions
    assert bonus(ready) == 1
    assert ready.thresholds.get_threshold(TENANT, "TH_1001") == {
        "Tenant": TENANT,
        "ID": "TH_1001",
        "Hits": 2,
        "Snooze": "2026-11-22T10:01:00Z",
    }
    clock.advance(31)
    ready.thresholds.process_event(event("e3"))
    assert bonus(ready) == 2


def test_blocker_stops_lower_weights(ready):
    ready.thresholds.set_profile(threshold("TH_HIGH", Weight=20, Blocker=True))
    ready.thresholds.set_profile(threshold("TH_LOW", Weight=10))
    assert ready.thresholds.process_event(event("e1")) == ["TH_HIGH"]
    assert ready.thresholds.process_event(event("e2"), ["TH_LOW"]) == ["TH_LOW"]
    assert [t["ID"] for t in ready.thresholds.thresholds_for_event(event("e3"))] == ["TH_HIGH"]


def test_async_actions_run_off_the_callers_path(ready):
    ready.thresholds.set_profile(threshold(Async=True))
    ready.thresholds.process_event(event("e1"))
    assert ready.thresholds.background.wait_idle()
    assert bonus(ready) == 1


def test_failed_actions_are_partially_executed(ready):
    ready.thresholds.set_profile(threshold(FilterIDs=[]))
    with pytest.raises(PartiallyExecuted):  # no such account: the top-up fails
        ready.thresholds.process_event(event("e1", account="nobody"))
    assert ready.thresholds.get_threshold(TENANT, "TH_1001")["Hits"] == 1


def test_no_match_is_not_found(ready):
    ready.thresholds.set_profile(threshold())
    with pytest.raises(NotFound):
        ready.thresholds.process_event(event("e1", account="1002"))


def test_account_update_events_as_accounts_publish_them():
    before = Account(TENANT, "1001")
    before.add_balance(Balance("u1", "*monetary", "main", value=D("5")))
    after = before.copy()
    after.find_balance("u1").value = D("0.5")
    expiry = datetime(2027, 1, 1, tzinfo=UTC)
    after.add_balance(Balance("u2", "*voice", "minutes", value=D(60), expiry=expiry))
    after.disabled = True
    events = account_update_events(before, after)
    assert [e["Event"] for e in events] == [
        {
            "EventType": "BalanceUpdate",
            "EventSource": "AccountS",
            "Account": "1001",
            "BalanceID": "main",
            "Units": D("0.5"),
        },
        {
            "EventType": "BalanceUpdate",
            "EventSource": "AccountS",
            "Account": "1001",
            "BalanceID": "minutes",
            "Units": D(60),
            "ExpiryTime": "2027-01-01T00:00:00Z",
        },
        {
            "EventType": "AccountUpdate",
            "EventSource": "AccountS",
            "Account": "1001",
            "AllowNegative": False,
            "Disabled": True,
        },
    ]
    assert {e["Tenant"] for e in events} == {TENANT}
    assert len({e["ID"] for e in events}) == 3


def test_threshold_acting_on_the_account_whose_change_raised_it_does_not_deadlock(ready):
    """The hook is called while the account's change holds it (as a debit does): the
    threshold's top-up of that same account must neither block the change nor be lost."""
    ready.thresholds.set_profile(
        threshold(
            "TH_LOW_BALANCE",
            FilterIDs=["*string:~*req.EventType:BalanceUpdate", "*lt:~*req.Units:1"],
        )
    )
    before = ready.accounts.get_account(TENANT, "1001")
    after = before.copy()
    after.add_balance(Balance("u9", "*monetary", "main", value=D("0.4")))
    returned = threading.Event()
    with ready.accounts._locks.hold(f"{TENANT}:1001"):
        ready.thresholds.account_changed(before, after)
        returned.set()
    assert returned.is_set()
    assert ready.thresholds.background.wait_idle()
    assert bonus(ready) == 1
    assert ready.thresholds.get_threshold(TENANT, "TH_LOW_BALANCE")["Hits"] == 1


def test_two_nodes_count_every_hit_and_run_max_hits_actions_once(redis_nodes):
    one, two = redis_nodes.new(), redis_nodes.new()
    topup_actions(one)
    one.accounts.set_account(TENANT, "1001")
    one.thresholds.set_profile(threshold("TH_COUNT", ActionIDs=[]))
    one.thresholds.set_profile(threshold("TH_ONCE", MaxHits=1, Weight=5))
    results = []

    def hit(node, name):
        for i in range(20):
            try:
                results.append(node.thresholds.process_event(event(f"{name}-{i}")))
            except NotFound:
                results.append("gone")

    threads = [threading.Thread(target=hit, args=(n, str(i))) for i, n in enumerate((one, two))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert bonus(one) == 1  # TH_ONCE's top-up ran once, whichever node hit first
    counted = sum(1 for r in results if r != "gone")
    assert two.thresholds.get_threshold(TENANT, "TH_COUNT")["Hits"] == counted


def test_hits_and_snooze_survive_a_restart(redis_nodes):
    first = redis_nodes.new()
    topup_actions(first)
    first.accounts.set_account(TENANT, "1001")
    first.thresholds.set_profile(threshold(MaxHits=3, MinSleep="1h"))
    first.thresholds.process_event(event("e1"))
    first.thresholds.process_event(event("e2"))  # snoozed: counted, no actions
    first.stop()
    second = redis_nodes.new()
    assert second.thresholds.get_threshold(TENANT, "TH_1001")["Hits"] == 2
    second.thresholds.process_event(event("e3"))  # still snoozed, and the last hit
    assert bonus(second) == 1
    with pytest.raises(NotFound):
        second.thresholds.get_threshold(TENANT, "TH_1001")


def test_tariff_plan_thresholds_load(node, tariffplans_dir):
    node.tariffplans.load_folder(tariffplans_dir / "cgrates_tutorial")
    profile = node.thresholds.get_profile(TENANT, "THD_ACNT_1001")
    assert profile["MaxHits"] == 1 and profile["MinSleep"] == 1_000_000_000
    assert profile["Async"] is True and profile["ActionIDs"] == ["ACT_LOG_WARNING"]
    assert node.thresholds.threshold_ids(TENANT) == ["THD_ACNT_1001", "THD_ACNT_1002"]
