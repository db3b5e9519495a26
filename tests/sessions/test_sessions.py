"""SessionService on both backends: authorize, the prepaid debit loop, refunds, rounding,
money running out, terminate without initiate, journal and recovery.

DST_FAST (1003...) costs 0.001 per 100 ms, so a 0.2 s debit interval runs fast.
"""

import time
from decimal import Decimal

import gevent
import pytest

from fs_cgr.durations import MILLISECOND, SECOND
from fs_cgr.errors import (
    AccountDisabled,
    InsufficientCredit,
    InvalidArgument,
    NotFound,
    UnauthorizedDestination,
)
from fs_cgr.sessions.service import INSUFFICIENT_FUNDS, SessionService
from fs_cgr.sessions.session import PendingDebit
from fs_cgr.storage.base import JOURNAL_APPENDED
from tests.cdrs.helpers import call, monetary, recent, top_up


def _session_cost(node, origin_id):
    cdrs = node.cdrs.get_cdrs({"OriginIDs": [origin_id], "RunIDs": ["*default"]})
    assert len(cdrs) == 1
    return cdrs[0]


def test_authorize_per_request_type(node):
    top_up(node, "1001", "0.6")
    prepaid = call("a1", RequestType="*prepaid", Usage="120s")
    assert node.sessions.authorize(prepaid) == {"MaxUsage": 60 * SECOND}  # 0.6 pays 1 min
    assert node.sessions.authorize(dict(prepaid, Usage="30s")) == {"MaxUsage": 30 * SECOND}
    postpaid = call("a2", RequestType="*postpaid", Usage="2h")
    assert node.sessions.authorize(postpaid)["MaxUsage"] == 2 * 3600 * SECOND
    rated = call("a3", account="nobody", RequestType="*rated", Usage="60s")
    assert node.sessions.authorize(rated)["MaxUsage"] == 60 * SECOND
    with pytest.raises(NotFound):
        node.sessions.authorize(dict(postpaid, Account="nobody", Subject="nobody"))
    with pytest.raises(UnauthorizedDestination):
        node.sessions.authorize(dict(rated, Destination="999"))
    top_up(node, "empty", "0")
    with pytest.raises(InsufficientCredit):
        node.sessions.authorize(call("a4", account="empty", RequestType="*prepaid"))


def test_prepaid_whole_usage_then_refund_to_final_usage(node):
    top_up(node, "1001", 10)
    event = call("p1", RequestType="*prepaid", Usage="120s", CGRDebitInterval="0s")
    assert node.sessions.initiate(event) == {"MaxUsage": 120 * SECOND}
    assert monetary(node, "1001") == Decimal("9.2998")
    result = node.sessions.terminate(dict(event, Usage="90s"))
    assert result.costs == {"*default": Decimal("0.6501")}
    assert monetary(node, "1001") == Decimal("9.3499")
    cdr = _session_cost(node, "p1")
    assert (cdr["Cost"], cdr["CostSource"], cdr["Usage"]) == (
        Decimal("0.6501"),
        "*sessions",
        90 * SECOND,
    )
    stored = node.stordb.get_session_cost(cdr["CGRID"], "*default")
    assert Decimal(str(stored["CostDetails"]["Cost"])) == Decimal("0.6501")
    assert node.datadb.journal_all() == []


def test_terminate_debits_what_was_not_reserved_and_rounds(node):
    top_up(node, "1001", 10)
    event = call(
        "p2", destination="1009", RequestType="*prepaid", Usage="60s", CGRDebitInterval="0s"
    )
    node.sessions.initiate(event)
    assert monetary(node, "1001") == Decimal("9.4")
    result = node.sessions.terminate(dict(event, Usage="90s"))
    # 0.6501 debited in all, rounded *up to 2 decimals: 0.0099 more charged
    assert result.costs["*default"] == Decimal("0.66")
    assert monetary(node, "1001") == Decimal("9.34")
    assert _session_cost(node, "p2")["Cost"] == Decimal("0.66")


def test_terminate_without_initiate(node):
    top_up(node, "1001", 10)
    node.sessions.terminate(call("t1", RequestType="*prepaid", Usage="120s"))
    node.sessions.terminate(call("t2", RequestType="*postpaid", Usage="120s"))
    node.sessions.terminate(call("t3", RequestType="*rated", Usage="120s"))
    for origin_id in ("t1", "t2", "t3"):
        assert _session_cost(node, origin_id)["Cost"] == Decimal("0.7002")
    assert monetary(node, "1001") == Decimal(10) - 2 * Decimal("0.7002")
    assert _session_cost(node, "t1")["CostSource"] == "*sessions"
    assert _session_cost(node, "t2")["CostSource"] == "*cdrs"


def _fast_call(origin_id, account="fast", **fields):
    """A prepaid call to DST_FAST answered now, debited every 200 ms."""
    fields = {"CGRDebitInterval": "200ms", **fields}
    return call(
        origin_id,
        account=account,
        destination="1003",
        RequestType="*prepaid",
        AnswerTime=recent(),
        SetupTime=recent(),
        **fields,
    )


def test_debit_loop_charges_ahead_and_refunds_on_early_hangup(node):
    top_up(node, "fast", 1)
    event = _fast_call("loop1")
    node.sessions.initiate(event)
    assert monetary(node, "fast") == Decimal("0.998")  # the first 200 ms ahead
    gevent.sleep(0.7)
    session = node.sessions.get(node.sessions.active()[0].cgrid)
    reserved = session.runs[0].reserved
    assert 800 * MILLISECOND <= reserved <= 1000 * MILLISECOND
    assert monetary(node, "fast") == Decimal(1) - Decimal("0.001") * (
        reserved // (100 * MILLISECOND)
    )
    result = node.sessions.terminate(dict(event, Usage="450ms"))
    assert result.costs["*default"] == Decimal("0.005")  # 5 increments of 100 ms
    assert monetary(node, "fast") == Decimal("0.995")
    assert _session_cost(node, "loop1")["Cost"] == Decimal("0.005")
    assert node.sessions.active() == []


def test_money_running_out_disconnects_within_one_interval(node):
    top_up(node, "fast", "0.005")  # 500 ms of talk
    fired = []
    event = _fast_call("out1")
    started = time.monotonic()
    node.sessions.initiate(event, on_disconnect=lambda s, reason: fired.append((s, reason)))
    while not fired and time.monotonic() - started < 3:
        gevent.sleep(0.02)
    elapsed = time.monotonic() - started
    assert fired and fired[0][1] == INSUFFICIENT_FUNDS
    assert 0.45 <= elapsed <= 0.5 + 0.2 + 0.1  # paid time + at most one interval (+ slack)
    assert monetary(node, "fast") == Decimal(0)
    session = fired[0][0]
    assert session.paid_usage == 500 * MILLISECOND
    result = node.sessions.terminate(dict(event, Usage=f"{int(elapsed * 1000)}ms"))
    assert result.costs["*default"] == Decimal("0.005")


def test_session_without_callback_is_terminated_when_paid_out(node):
    top_up(node, "fast", "0.003")
    node.sessions.initiate(_fast_call("out2"))
    gevent.sleep(0.8)
    assert node.sessions.active() == []
    assert _session_cost(node, "out2")["Cost"] == Decimal("0.003")
    assert _session_cost(node, "out2")["Usage"] == 300 * MILLISECOND


def _restart(node) -> SessionService:
    """What a crash leaves: the DataDB journal, no debits going on, a fresh SessionService."""
    node.sessions.stop()
    return SessionService(node)


def test_recover_finishes_sessions_whose_channel_is_gone(node):
    top_up(node, "fast", 1)
    event = _fast_call("rec1")
    node.sessions.initiate(event)
    gevent.sleep(0.5)
    assert len(node.datadb.journal_all()) == 1
    fresh = _restart(node)
    charged = Decimal(1) - monetary(node, "fast")
    report = fresh.recover(live_origin_ids=[], usages={"rec1": 250 * MILLISECOND})
    assert report == {"resumed": [], "finished": [node.sessions.active()[0].cgrid]}
    assert charged > Decimal("0.003")
    assert monetary(node, "fast") == Decimal("0.997")  # 250 ms = 3 increments kept
    assert node.datadb.journal_all() == []
    assert _session_cost(node, "rec1")["Cost"] == Decimal("0.003")


class NodeDied(BaseException):
    """What the node dying looks like to the code it was running: nothing after it runs."""


def test_a_node_dying_before_the_cdr_is_stored_stores_it_at_restart(node, monkeypatch):
    top_up(node, "fast", 1)
    event = _fast_call("die1")
    node.sessions.initiate(event)
    gevent.sleep(0.5)

    def dies(*args, **kwargs):
        raise NodeDied()

    monkeypatch.setattr(node.cdrs, "process_call_events", dies)
    with pytest.raises(NodeDied):  # the money settled, the CDR not yet stored
        node.sessions.terminate(dict(event, Usage="250ms"))
    assert monetary(node, "fast") == Decimal("0.997")
    assert len(node.datadb.journal_all()) == 1  # kept until the CDR is stored
    monkeypatch.undo()
    report = _restart(node).recover(live_origin_ids=[], usages={"die1": 250 * MILLISECOND})
    assert len(report["finished"]) == 1
    assert monetary(node, "fast") == Decimal("0.997")  # settled again: charged once
    assert _session_cost(node, "die1")["Cost"] == Decimal("0.003")
    assert node.datadb.journal_all() == []


def test_recover_resumes_live_sessions(node):
    top_up(node, "fast", 1)
    event = _fast_call("rec2")
    node.sessions.initiate(event)
    fresh = _restart(node)
    gevent.sleep(0.5)  # no loop runs meanwhile: nothing more is debited
    assert monetary(node, "fast") == Decimal("0.998")
    report = fresh.recover(live_origin_ids=["rec2"])
    assert report["resumed"] and not report["finished"]
    gevent.sleep(0.3)
    assert monetary(node, "fast") < Decimal("0.998")  # the loop caught up and goes on
    result = fresh.terminate(dict(event, Usage="1s"))
    assert result.costs["*default"] == Decimal("0.01")
    assert monetary(node, "fast") == Decimal("0.99")


def _second_debit_asked(node, origin_id: str):
    """(session, run) of a started 1 s call whose next debit, 500 ms, is asked (pending)
    but not applied yet."""
    top_up(node, "fast", 1)
    node.sessions.initiate(_fast_call(origin_id, CGRDebitInterval="0s", Usage="1s"))
    session = node.sessions.active()[0]
    run = session.runs[0]
    run.pending = PendingDebit(run.next_seq, run.reserved, 500 * MILLISECOND)
    run.next_seq += 1
    return session, run


def test_a_debit_lost_in_a_crash_is_not_charged_twice(node):
    session, run = _second_debit_asked(node, "rec3")
    # crash between asking for the next debit and recording its answer, in a record
    # written whole with its pending debit (as every debit wrote it before notes)
    node.sessions._journal(session)
    node.sessions._apply_pending(session, run)  # the DataDB took it...
    assert monetary(node, "fast") == Decimal("0.985")
    session.runs[0].debits.pop()  # ...but the answer never reached the journal
    run.pending = PendingDebit(run.next_seq - 1, 1 * SECOND, 500 * MILLISECOND)
    node.sessions._journal(session)
    report = _restart(node).recover(live_origin_ids=[], usages={"rec3": 1500 * MILLISECOND})
    assert report["finished"]
    assert monetary(node, "fast") == Decimal("0.985")
    assert _session_cost(node, "rec3")["Cost"] == Decimal("0.015")


def test_recover_from_a_record_written_in_the_middle_of_a_call(node):
    """Each debit only appends a note to the record written at the start; recovery
    applies the notes and charges the final usage exactly."""
    top_up(node, "fast", 1)
    node.sessions.initiate(_fast_call("rec4"))
    gevent.sleep(0.7)  # the first debit and 3 more every 200 ms
    run = node.sessions.active()[0].runs[0]
    fresh = _restart(node)
    (record,) = node.datadb.journal_all()
    assert record["Runs"][0]["Debits"] == [] and record["Runs"][0]["Pending"] is None
    notes = record[JOURNAL_APPENDED]
    assert [note[1] for note in notes] == list(range(1, run.next_seq)) and len(notes) >= 3
    assert monetary(node, "fast") == 1 - run.charged
    report = fresh.recover(live_origin_ids=[], usages={"rec4": 450 * MILLISECOND})
    assert len(report["finished"]) == 1
    assert monetary(node, "fast") == Decimal("0.995")  # 5 increments of 100 ms kept
    assert _session_cost(node, "rec4")["Cost"] == Decimal("0.005")
    assert node.datadb.journal_all() == []


def test_a_debit_made_but_not_noted_is_found_by_its_key(node):
    """The process died between a debit and its journal note: recovery reads the debit
    back from its idempotency record, so the refund gives back what it took."""
    session, run = _second_debit_asked(node, "rec5")
    node.sessions._apply_pending(session, run)  # the DataDB took it, the note never written
    assert monetary(node, "fast") == Decimal("0.985")
    report = _restart(node).recover(live_origin_ids=[], usages={"rec5": 600 * MILLISECOND})
    assert report["finished"]
    assert monetary(node, "fast") == Decimal("0.994")
    assert _session_cost(node, "rec5")["Cost"] == Decimal("0.006")


def test_a_call_whose_session_could_not_start_is_charged_at_hangup(node):
    """The first run was debited, the second refused it (its account disabled): the first
    debit is given back and the call goes on to be killed; its hangup charges it. Reusing
    the debit's idempotency key would have returned the given-back debit: a CDR of 0.6
    with 1001's money untouched."""
    top_up(node, "1001", 10)
    top_up(node, "reseller", 10)
    node.cdrs.chargers.set_profile(
        {"Tenant": "cgrates.org", "ID": "RESELLER", "RunID": "reseller",
         "AttributeIDs": ["*constant:*req.Account:reseller"], "Weight": -10}
    )  # fmt: skip
    node.accounts.set_account("cgrates.org", "reseller", disabled=True)
    event = call("abandoned", RequestType="*prepaid", CGRDebitInterval="10s")
    with pytest.raises(AccountDisabled):
        node.sessions.initiate(event)
    assert monetary(node, "1001") == Decimal(10)  # the first run's debit given back
    node.accounts.set_account("cgrates.org", "reseller", disabled=False)
    result = node.sessions.terminate(dict(event, Usage="5s"))
    assert result.costs == {"*default": Decimal("0.6"), "reseller": Decimal("0.6")}
    assert monetary(node, "1001") == monetary(node, "reseller") == Decimal("9.4")
    cdrs = node.cdrs.get_cdrs({"OriginIDs": ["abandoned"]})
    assert sorted(cdr["Cost"] for cdr in cdrs) == [Decimal("0.6")] * 2


def test_terminate_twice_charges_once(node):
    top_up(node, "fast", "0.003")
    event = _fast_call("twice")
    node.sessions.initiate(event)  # no callback: terminated by the service when paid out
    gevent.sleep(0.6)
    first = _session_cost(node, "twice")["Cost"]
    result = node.sessions.terminate(dict(event, Usage="2s"))
    assert result.costs["*default"] == first == Decimal("0.003")
    assert monetary(node, "fast") == Decimal(0)


def test_a_hangup_making_the_extra_fields_too_long_leaves_the_call_without_its_cdr(node):
    """The session's run is not normalized again for its CDR, but still checked: the
    fields the hangup merged can make its ExtraFields longer than the StorDB column."""
    top_up(node, "1001", 10)
    event = call("long", RequestType="*prepaid", CGRDebitInterval="0s", Note="x" * 40_000)
    node.sessions.initiate(event)
    (run,) = node.sessions.active()[0].runs
    assert run.as_normalized
    hangup = {key: value for key, value in event.items() if key != "Note"}
    result = node.sessions.terminate(dict(hangup, Usage="60s", Other="y" * 40_000))
    assert result.costs == {"*default": Decimal("0.6")}
    if result.cdr is not None:
        (outcome,) = result.cdr
        assert isinstance(outcome.error, InvalidArgument) and outcome.cdrs == []
    assert node.cdrs.get_cdrs({"OriginIDs": ["long"]}) == []
