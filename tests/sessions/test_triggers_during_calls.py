"""A low-balance action trigger during a live prepaid call, debited by the session's
greenlet every 200 ms: it fires once per crossing, again after a top-up that resets it,
acts on the very account being debited, and never delays (or deadlocks) a debit, even
with a slow and a failing change listener beside it."""

import time
from decimal import Decimal

import gevent

from fs_cgr.accounts import triggers as trig
from fs_cgr.storage.base import ACTION_TRIGGERS, ACTIONS
from tests.cdrs.helpers import TENANT, call, monetary, recent, top_up

LIVE = [
    (
        ACTIONS,
        "ACT_LOW_ALERT",  # counts the alerts on a balance of the account being debited
        {
            "ID": "ACT_LOW_ALERT",
            "Actions": [
                {
                    "Identifier": "*topup",
                    "BalanceId": "alerts",
                    "BalanceType": "*generic",
                    "Units": "1",
                    "Weight": 10,
                },
                {"Identifier": "*cdrlog", "Weight": 5},
            ],
        },
    ),
    (
        ACTIONS,
        "ACT_RECHARGE",
        {
            "ID": "ACT_RECHARGE",
            "Actions": [
                {
                    "Identifier": "*topup",
                    "BalanceId": "main",
                    "BalanceType": "*monetary",
                    "Units": "0.01",
                    "Weight": 20,
                },
                {"Identifier": "*reset_triggers", "Weight": 10},
            ],
        },
    ),
    (
        ACTION_TRIGGERS,
        "ATG_LOW",
        {
            "ID": "ATG_LOW",
            "ActionTriggers": [
                {
                    "UniqueID": "low",
                    "ThresholdType": "*min_balance",
                    "ThresholdValue": "0.012",
                    "BalanceType": "*monetary",
                    "BalanceID": "main",
                    "ActionsID": "ACT_LOW_ALERT",
                },
            ],
        },
    ),
]


def alerts(node) -> int:
    account = node.accounts.get_account(TENANT, "fast")
    return int(sum(b.value for b in account.balances.get("*generic", ())))


def executed(node) -> bool:
    [trigger] = trig.account_triggers(node.accounts.get_account(TENANT, "fast"))
    return trigger.executed


def wait_for(condition, timeout=3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        gevent.sleep(0.02)
    return False


def test_low_balance_trigger_during_a_live_call(node):
    node.tariffplans.apply_live(LIVE)
    top_up(node, "fast", "0.02")  # 20 increments of 100 ms: 2 s of talk
    node.accounts.add_triggers(TENANT, "fast", ["ATG_LOW"])

    slow_listener_calls = []

    def slow_listener(
        tenant, account, doc, _previous
    ):  # e.g. a slow ThresholdS: must not hold debits
        slow_listener_calls.append(account)
        time.sleep(0.3)

    def failing_listener(tenant, account, doc, _previous):
        raise RuntimeError("a broken listener")

    node.accounts.on_change(slow_listener)
    node.accounts.on_change(failing_listener)

    debit_seconds = []
    debit = node.accounts.debit

    def timed_debit(*args, **kwargs):
        started = time.monotonic()
        try:
            return debit(*args, **kwargs)
        finally:
            debit_seconds.append(time.monotonic() - started)

    node.accounts.debit = timed_debit
    event = call(
        "trig1",
        account="fast",
        destination="1003",
        RequestType="*prepaid",
        AnswerTime=recent(),
        SetupTime=recent(),
        CGRDebitInterval="200ms",
    )
    node.sessions.initiate(event)

    # 0.02 - 0.002 per interval: at or below 0.012 after the 4th interval (~0.8 s)
    assert wait_for(lambda: alerts(node) == 1)
    assert executed(node) and monetary(node, "fast") <= Decimal("0.012")
    gevent.sleep(0.5)  # two more debits below the threshold: no second alert
    assert alerts(node) == 1

    node.accounts.execute_actions(TENANT, "fast", "ACT_RECHARGE")  # top-up, re-armed
    assert wait_for(lambda: alerts(node) == 2, timeout=4)  # the next crossing fires again
    node.sessions.terminate(dict(event, Usage="1s"))

    assert node.sessions.active() == []
    assert len(debit_seconds) >= 6 and max(debit_seconds) < 0.28  # never waited 0.3 s
    assert slow_listener_calls  # the listeners ran, beside the debits

    def cdrlogs():
        return node.cdrs.get_cdrs({"Sources": ["*cdrlog"], "Accounts": ["fast"]})

    assert wait_for(lambda: len(cdrlogs()) == 2)  # stored after the alert's balance changed
    assert [(c["RunID"], c["ToR"], c["Cost"]) for c in cdrlogs()] == [("*topup", "*generic", 1)] * 2
