"""The TimerWheel alone, then the session service's debits on it: due debits run, many
calls due on one tick are each debited once, a call that ends leaves the wheel and gets
back exactly what it did not use."""

import time
from decimal import Decimal

import gevent

from fs_cgr.durations import MILLISECOND
from fs_cgr.sessions.wheel import TimerWheel
from fs_cgr.times import add_ns, diff_ns
from fs_cgr.times import now as utc_now
from tests.cdrs.helpers import call, monetary, recent, top_up


def _recorder():
    ran = []

    def job(arg):
        ran.append((arg, time.monotonic()))

    return ran, job


def test_due_jobs_run_in_time_order_not_before_their_time():
    wheel = TimerWheel()
    ran, job = _recorder()
    started = time.monotonic()
    for name, delay in (("c", 0.15), ("a", 0.05), ("b", 0.1)):
        wheel.schedule(delay, job, name)
    gevent.sleep(0.3)
    assert [name for name, _ in ran] == ["a", "b", "c"]
    for (name, at), delay in zip(ran, (0.05, 0.1, 0.15), strict=True):
        assert at - started >= delay - 0.002, name
    assert len(wheel) == 0
    wheel.stop()


def test_many_timers_on_one_tick_all_run_once():
    wheel = TimerWheel(concurrency=16)
    ran, job = _recorder()
    for index in range(2000):
        wheel.schedule(0.05, job, index)
    gevent.sleep(0.3)
    assert sorted(index for index, _ in ran) == list(range(2000))
    wheel.stop()


def test_a_cancelled_timer_never_runs_and_leaves_the_heap_when_due():
    wheel = TimerWheel()
    ran, job = _recorder()
    timer = wheel.schedule(0.05, job, "cancelled")
    wheel.schedule(0.1, job, "kept")
    timer.cancel()
    assert not timer.pending
    gevent.sleep(0.2)
    assert [name for name, _ in ran] == ["kept"]
    assert len(wheel) == 0
    wheel.stop()


def test_an_earlier_timer_wakes_the_sleeping_wheel():
    wheel = TimerWheel()
    ran, job = _recorder()
    wheel.schedule(5, job, "late")
    gevent.sleep(0.02)  # the wheel sleeps for 5 s
    wheel.schedule(0.05, job, "early")
    gevent.sleep(0.15)
    assert [name for name, _ in ran] == ["early"]
    wheel.stop()
    gevent.sleep(0)
    assert len(wheel) == 0


def _fast(origin_id, account, answered):
    """DST_FAST (0.001 per 100 ms), debited every 200 ms, all answered at ``answered``."""
    return call(
        origin_id, account=account, destination="1003", RequestType="*prepaid",
        CGRDebitInterval="200ms", AnswerTime=answered, SetupTime=answered,
    )  # fmt: skip


def test_many_calls_due_on_one_tick_are_each_debited_once_per_interval(node):
    answered = recent()
    events = [_fast(f"tick{n}", f"tick{n}", answered) for n in range(40)]
    for event in events:
        top_up(node, event["Account"], 1)
        node.sessions.initiate(event)
    gevent.sleep(0.6)
    interval = 200 * MILLISECOND
    for session in node.sessions.active():
        run = session.runs[0]
        assert len(run.debits) >= 3  # the first, then (due at ~0.18, ~0.38 s) the wheel's
        assert [offset for _, offset, _ in run.debits] == [
            n * interval for n in range(len(run.debits))
        ]  # each interval once, in order
        ahead = diff_ns(add_ns(session.anchor, run.reserved), utc_now())
        # paid ahead by one interval at most (none twice); behind only as far as a loaded
        # machine delays the wheel, never by a whole interval
        assert -interval < ahead <= interval + 20 * MILLISECOND
        account = session.event["Account"]
        assert monetary(node, account) == 1 - Decimal("0.001") * (run.reserved // interval * 2)
    for event in events:
        result = node.sessions.terminate(dict(event, Usage="450ms"))
        assert result.costs["*default"] == Decimal("0.005")
        assert monetary(node, event["Account"]) == Decimal("0.995")  # the rest refunded
    gevent.sleep(0.3)
    assert node.sessions.timers() == 0


def test_a_call_that_ends_leaves_the_wheel_and_is_debited_no_more(node):
    top_up(node, "cut", 1)
    event = _fast("cut1", "cut", recent())
    node.sessions.initiate(event)
    session = node.sessions.active()[0]
    assert session.timer is not None and session.timer.pending
    gevent.sleep(0.25)
    result = node.sessions.terminate(dict(event, Usage="250ms"))
    assert session.timer is None
    assert result.costs["*default"] == Decimal("0.003")
    gevent.sleep(0.5)  # two more intervals: nothing more is taken
    assert monetary(node, "cut") == Decimal("0.997")
    assert node.sessions.timers() == 0
    assert node.sessions.get(session.cgrid) is None
    assert session.paid_usage == 300 * MILLISECOND  # refunded to the final usage, whole 100 ms
