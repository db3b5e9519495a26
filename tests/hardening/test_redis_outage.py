"""A Redis outage longer than ``sessions.debit_retry`` cuts the prepaid calls it cannot
charge (after retrying their next debit that long, not at the first failure), and loses
none of their money: once Redis is back, with fs_cgr running on, each has its CDR with
its real usage."""

import time
from decimal import Decimal

import gevent

from fs_cgr.agents import notify
from tests.agents.lab import DE
from tests.fssim import wait_until

CALLS = 6
DEBIT_INCREMENT_NS = 1_000_000_000  # the lab's tariff: per second


def test_calls_cut_by_a_redis_outage_are_billed_once_redis_is_back(make_lab, own_redis):
    lab = make_lab("redis+mariadb", **{"datadb.url": own_redis.url, "sessions.debit_retry": "1s"})
    lab.topup("1001", "10")
    start = lab.balance("1001")
    calls = [lab.call("1001", DE) for _ in range(CALLS)]
    for call in calls:
        lab.answer(call)
    gevent.sleep(1.6)  # a debit or two each

    ringing = lab.call("1001", DE)  # authorized before the outage, never answered
    own_redis.kill()
    killed_at = time.monotonic()
    wait_until(lambda: not all(call.channel.alive for call in calls), 10, "a call cut")
    assert time.monotonic() - killed_at >= 1.0  # its next debit was asked for debit_retry
    wait_until(lambda: not any(call.channel.alive for call in calls), 10, "the calls cut")
    assert {call.vars["cgr_notify"] for call in calls} == {notify.SYSTEM_ERROR}
    late = lab.call("1001", DE)  # a new call meets the outage: refused, nothing charged
    gevent.sleep(0.6)  # the live objects' and rating's periodic look is due: it fails
    ringing.hangup("ORIGINATOR_CANCEL")
    ringing.wait_closed()
    gevent.sleep(1.0)  # settling is refused meanwhile
    assert [cdr["OriginID"] for cdr in lab.cdrs()] == [ringing.uuid]  # no money: stored

    own_redis.start()
    wanted = CALLS + 1
    cdrs = wait_until(lambda: len(lab.cdrs()) == wanted and lab.cdrs(), 30, "every CDR")
    assert start - lab.balance("1001") == sum(Decimal(cdr["Cost"]) for cdr in cdrs)
    usages = {cdr["OriginID"]: cdr["Usage"] for cdr in cdrs}
    assert usages[ringing.uuid] == 0
    assert late.vars["cgr_notify"] == notify.SYSTEM_ERROR and late.uuid not in usages
    for call in calls:
        billed = int(call.vars["billmsec"]) * 1_000_000
        assert billed > 0
        assert abs(usages[call.uuid] - billed) < DEBIT_INCREMENT_NS
    assert lab.node.sessions.active() == []
    wait_until(lambda: lab.node.datadb.journal_all() == [], 5, "the journal entries to go")


def test_sessions_journaled_before_a_restart_are_recovered_once_redis_answers(make_lab, own_redis):
    """fs_cgr restarts while Redis is down: the journal cannot be read at start; the same
    process recovers it when Redis is back (no channel sync loop configured)."""
    lab = make_lab("redis+mariadb", **{"datadb.url": own_redis.url, "sessions.debit_retry": "1s"})
    lab.topup("1001", "10")
    start = lab.balance("1001")
    call = lab.call("1001", DE)
    lab.answer(call)
    gevent.sleep(1.2)
    lab.stop_node(hangup=False)
    own_redis.kill()
    lab.start_node()
    assert lab.node.sessions.active() == []  # the journal could not be read
    own_redis.start()
    wait_until(lambda: lab.session(call) is not None, 10, "the session resumed")
    gevent.sleep(1.0)
    call.hangup()
    cdr = lab.cdr_of(call)
    billed = int(call.vars["billmsec"]) * 1_000_000
    assert abs(cdr["Usage"] - billed) < DEBIT_INCREMENT_NS
    assert start - lab.balance("1001") == Decimal(cdr["Cost"]) > 0
