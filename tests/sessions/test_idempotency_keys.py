"""A settled call leaves no idempotency records behind; a live one keeps them.

The records are what makes a retried debit harmless, so they must be there while a
retry can come (a live or journaled session) and gone once nothing can ask again,
or the DataDB grows by every debit ever made (docs/sessions.md)."""

from decimal import Decimal

import gevent
import redis

from fs_cgr.cdrs.rater import call_descriptor
from fs_cgr.durations import MILLISECOND
from fs_cgr.sessions.service import SessionService
from fs_cgr.storage.memory import MemoryDataDB
from tests.cdrs.helpers import TENANT, monetary, top_up
from tests.sessions.test_sessions import _fast_call


def _records(node, request) -> int:
    """Idempotency records held by the node's DataDB (expired ones not counted)."""
    if isinstance(node.datadb, MemoryDataDB):
        return node.datadb.idempotency_count()
    raw = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        return sum(1 for _ in raw.scan_iter(match="fs_cgr_charging_test:*:idem:*", count=1000))
    finally:
        raw.close()


def _run_keys(session) -> list[str]:
    run = session.runs[0]
    keys = [f"{session.cgrid}:{run.run_id}:round"]
    for seq in range(1, run.next_seq):
        keys += [run.key(session.cgrid, "debit", seq), run.key(session.cgrid, "refund", seq)]
    return keys


def test_a_settled_call_leaves_no_keys_and_a_live_one_keeps_them(node, request):
    top_up(node, "fast", 1)
    event = _fast_call("keys1")
    node.sessions.initiate(event)
    gevent.sleep(0.5)  # a few debits of 200 ms
    session = node.sessions.active()[0]
    debits = session.runs[0].next_seq - 1
    assert debits >= 2
    assert _records(node, request) == debits
    first = node.accounts.stored_result(TENANT, "fast", _run_keys(session)[1])
    assert first is not None and Decimal(str(first["Cost"])) == Decimal("0.002")
    node.sessions.terminate(dict(event, Usage="250ms"))  # refunds the debits past 300 ms
    assert monetary(node, "fast") == Decimal("0.997")
    assert _records(node, request) == 0
    assert all(node.accounts.stored_result(TENANT, "fast", k) is None for k in _run_keys(session))


def test_a_retried_debit_of_a_live_call_returns_its_answer_and_charges_nothing(node):
    top_up(node, "fast", 1)
    event = _fast_call("keys2", CGRDebitInterval="0s", Usage="1s")
    node.sessions.initiate(event)
    session = node.sessions.active()[0]
    key = _run_keys(session)[1]  # debit:1
    cd = call_descriptor(session.runs[0].event, usage=500 * MILLISECOND)
    retried = node.accounts.debit(cd, key)
    assert retried.usage == 1000 * MILLISECOND and retried.cost == Decimal("0.01")  # the first
    assert monetary(node, "fast") == Decimal("0.99")
    node.sessions.terminate(dict(event, Usage="1s"))
    assert monetary(node, "fast") == Decimal("0.99")


def test_a_terminate_repeated_after_a_restart_charges_nothing(node, request):
    """The keys are gone with the settled call: the stored session cost answers instead."""
    top_up(node, "fast", 1)
    event = _fast_call("keys3", CGRDebitInterval="0s", Usage="1s")
    node.sessions.initiate(event)
    first = node.sessions.terminate(dict(event, Usage="600ms"))
    assert _records(node, request) == 0
    node.sessions.stop()
    node.sessions = SessionService(node)  # restarted: nothing of the call remembered
    again = node.sessions.terminate(dict(event, Usage="600ms"))
    assert again.costs == first.costs == {"*default": Decimal("0.006")}
    assert again.usage == 600 * MILLISECOND
    assert monetary(node, "fast") == Decimal("0.994")
    assert _records(node, request) == 0


def test_the_records_stay_bounded_over_many_calls(embedded):
    top_up(embedded, "fast", 100)
    for n in range(200):
        event = _fast_call(f"many{n}", CGRDebitInterval="0s", Usage="300ms")
        embedded.sessions.initiate(event)
        embedded.sessions.terminate(dict(event, Usage="150ms"))  # a debit and a refund
    assert embedded.datadb.idempotency_count() == 0
    assert monetary(embedded, "fast") == Decimal(100) - Decimal("0.002") * 200
