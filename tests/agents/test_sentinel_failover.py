"""Calls through a Sentinel failover: the master is killed while answered prepaid calls are
being debited every second (FreeSWITCH simulator, a real Sentinel group).

The promise to operators (docs/redis.md): an answered call rides the failover out (its
next debit is asked again with the same idempotency key until the new master answers),
every call ends charged exactly what FreeSWITCH billed, and new calls are authorized
again within the failover time. An outage longer than ``sessions.debit_retry`` cuts the
calls: tests/hardening/test_redis_outage.py.
"""

import time
from decimal import Decimal

import gevent
import pytest

from fs_cgr.agents import notify
from tests.agents.test_freeswitch import billed, per_second_cost
from tests.fssim import wait_until
from tests.storage.conftest import wipe_redis_prefix

PREFIX = "fscgrfailovercalls"
START = Decimal("100")
CALLS = 3


@pytest.fixture
def sentinel_datadb(redis_sentinel):
    url = f"{redis_sentinel.url}?prefix={PREFIX}&wait_replicas=1&wait_timeout=0.3"
    wipe_redis_prefix(redis_sentinel.url, PREFIX)
    yield url
    redis_sentinel.heal()
    wipe_redis_prefix(redis_sentinel.url, PREFIX)


def _kill_master(group) -> int:
    """SIGKILL the data server that is master now; its port."""
    port = group.master_port()
    (group.master if port == group.master.port else group.replica).kill()
    return port


def _authorized_again(lab, killed_at: float) -> float:
    """Place calls until one gets +AUTH_OK; the seconds since the kill when it did."""
    while True:
        call = lab.call("1099")
        if call.vars["cgr_notify"] == notify.AUTH_OK:
            call.hangup()
            return time.monotonic() - killed_at
        assert call.vars["cgr_notify"] == notify.SYSTEM_ERROR  # refused, nothing charged
        assert time.monotonic() - killed_at < 30, "no call authorized 30 s after the kill"
        gevent.sleep(0.2)


def test_answered_calls_ride_out_a_sentinel_failover_charged_exactly(
    make_lab, sentinel_datadb, redis_sentinel
):
    lab = make_lab(**{"datadb.url": sentinel_datadb})
    accounts = [f"10{n:02d}" for n in range(CALLS)] + ["1099"]
    for account in accounts:
        lab.topup(account, str(START))
    calls = [lab.call(account) for account in accounts[:CALLS]]
    for call in calls:
        lab.answer(call)
    gevent.sleep(1.5)  # a debit or two each on the old master
    redis_sentinel.wait_replicated()  # the top-ups and debits so far survive the kill
    old_master = _kill_master(redis_sentinel)
    killed_at = time.monotonic()
    wait_until(lambda: redis_sentinel.master_port() != old_master, 30, "the failover")
    failover = time.monotonic() - killed_at
    authorized_after = _authorized_again(lab, killed_at)
    gevent.sleep(1.5)  # debits on the new master
    assert all(call.channel.alive for call in calls)  # no call was cut by the failover
    for call in calls:
        call.hangup()

    for account, call in zip(accounts, calls, strict=False):
        _, billmsec = billed(call)
        # a debit caught by the failover may still be on its retry back-off (up to 10 s)
        cdr = lab.cdr_of(call, timeout=20)
        assert cdr["Usage"] == billmsec * 1_000_000
        # every debit once, none lost: the balance moved by exactly the billed cost
        assert cdr["Cost"] == per_second_cost(billmsec) == START - lab.balance(account)
    assert lab.balance("1099") == START  # refused during the failover, then a 0 s call
    assert not any("uuid_kill" in line for call in calls for line in call.api_log)
    wait_until(lambda: lab.node.sessions.active() == [], 5, "every session to end")
    assert authorized_after < failover + 5
    print(
        f"failover {failover:.1f}s, calls authorized again {authorized_after:.1f}s after the kill"
    )
