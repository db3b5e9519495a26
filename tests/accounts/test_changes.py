"""The "account changed" hook: listeners get every written change after it, outside it;
one that fails is logged; one that changes the same account cannot deadlock the change
that told it (CGrateS v0.10 deadlocks there when a synchronous threshold acts on the
account it is debiting)."""

import threading
from decimal import Decimal as D

from fs_cgr.accounts.model import MONETARY
from tests.accounts.conftest import call

TENANT = "cgrates.org"
SECOND = 10**9


def test_listeners_get_each_change_after_it(service):
    seen = []
    service.on_change(lambda tenant, account, doc, _previous: seen.append((tenant, account, doc)))
    service.add_balance(TENANT, "1001", MONETARY, "10", {"ID": "main"})
    service.debit(call("1002", 60 * SECOND))
    assert service.changes.wait(TENANT, "1001")
    assert [(t, a) for t, a, _ in seen] == [(TENANT, "1001")] * 2
    assert D(seen[1][2]["BalanceMap"]["*monetary"][0]["Value"]) == D("9.4")  # 10 - 0.6
    service.set_account(TENANT, "1001")  # changes nothing new, yet is a write: told too
    assert service.changes.wait() and len(seen) == 3


def test_a_change_no_listener_wants_is_not_queued(service):
    """A listener with ``wants`` is told the changes it wants (and the others only when
    another listener wants them); the node's own, the triggers', wants accounts with
    triggers, so a charge of one without them queues nothing."""
    seen = []
    service.add_balance(TENANT, "1001", MONETARY, "10", {"ID": "main"})
    assert service.changes.wait()
    queued = service.changes._queued
    service.debit(call("1002", 60 * SECOND))  # 1001 has no triggers
    assert service.changes._queued == queued
    service.on_change(
        lambda tenant, account, doc, _previous: seen.append(doc["BalanceMap"]),
        wants=lambda doc: D(doc["BalanceMap"]["*monetary"][0]["Value"]) < 8.5,
    )
    service.debit(call("1002", 60 * SECOND))  # 8.8 left: not wanted
    service.debit(call("1002", 60 * SECOND))  # 8.2 left
    assert service.changes.wait(TENANT, "1001") and service.changes._queued == queued + 1
    assert [D(b["*monetary"][0]["Value"]) for b in seen] == [D("8.2")]
    service.on_change(lambda tenant, account, doc, _previous: seen.append(doc["BalanceMap"]))
    service.debit(call("1002", 60 * SECOND))  # told to every listener: one wants it all
    assert service.changes.wait() and [D(b["*monetary"][0]["Value"]) for b in seen[1:]] == [
        D("7.6"),
        D("7.6"),
    ]


def test_a_listener_changing_the_same_account_never_deadlocks_the_debit(service, caplog):
    service.add_balance(TENANT, "1001", MONETARY, "10", {"ID": "main"})
    refills = []

    def refill(tenant, account, doc, _previous):  # acts on the account whose change told it
        value = D(doc["BalanceMap"]["*monetary"][0]["Value"])
        if value < 9 and not refills:
            refills.append(value)
            service.add_balance(tenant, account, MONETARY, "5", {"ID": "main"})

    def broken(tenant, account, doc, _previous):
        raise ValueError("listener bug")

    service.on_change(broken)
    service.on_change(refill)
    done = threading.Event()

    def debits():
        for _ in range(4):
            service.debit(call("1002", 60 * SECOND))
        done.set()

    threading.Thread(target=debits).start()
    assert done.wait(5)  # every debit returned
    assert service.changes.wait(TENANT, "1001")
    money = service.get_account(TENANT, "1001").balances[MONETARY][0].value
    assert refills and money == D("10") - 4 * D("0.6") + 5
    assert "listener bug" in caplog.text


def test_event_counter_trigger_counts_the_money_of_debits(service):
    from fs_cgr.accounts import triggers as trig

    service.add_balance(TENANT, "1001", MONETARY, "10", {"ID": "main"})
    counting = trig.trigger_from_params(
        "SPEND",
        {
            "UniqueID": "spent_1",
            "ThresholdType": "*max_event_counter",
            "ThresholdValue": "1",
            "BalanceType": "*monetary",
            "BalanceDestinationIds": "DST_1002",
            "ActionsID": "DISABLE",
        },
    )
    service.change_triggers(TENANT, "1001", lambda docs: [counting.to_doc()])
    service.debit(call("1002", 60 * SECOND))  # 0.6 counted
    service.debit(call("1003", 10 * SECOND))  # 0.1 to another destination: not counted
    assert service.changes.wait(TENANT, "1001")
    account = service.get_account(TENANT, "1001")
    [trigger] = trig.account_triggers(account)
    assert trigger.counter == D("0.6") and not trigger.executed and not account.disabled
    service.debit(call("1002", 60 * SECOND))  # 1.2 >= 1: DISABLE runs
    assert service.changes.wait(TENANT, "1001")
    account = service.get_account(TENANT, "1001")
    [trigger] = trig.account_triggers(account)
    assert trigger.counter == D("1.2") and trigger.executed and account.disabled
    [counters] = trig.unit_counters(account)["*monetary"]
    assert counters["Counters"][0]["Value"] == D("1.2")
