"""The agent against the FreeSWITCH simulator: verdicts on the wire, sessions, money.

Tariff (conftest): 0.01 per second billed per second to 49..., debit interval 1 s.
"""

import socket
from decimal import Decimal

import gevent
import pytest

from fs_cgr.agents import notify
from tests.agents.conftest import BACKENDS
from tests.agents.lab import DE, UNPRICED
from tests.fssim import wait_until
from tests.fssim.sim import Listener
from tests.fssim.wire import command_reply

START = Decimal("1")


def wire(call) -> list[str]:
    """What the agent sent on the call's socket, the uuid written as <uuid>."""
    return [command.replace(call.uuid, "<uuid>") for command in call.api_log]


def setup_commands(linger: int = 5) -> list[str]:
    return [
        "connect",
        "myevents",
        f"linger {linger}",
        "event json CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE",
        "filter Event-Name CHANNEL_ANSWER",
        "filter Event-Name CHANNEL_HANGUP_COMPLETE",
    ]


def verdict(variables: str, destination: str = DE) -> list[str]:
    return [
        f"api uuid_setvar_multi <uuid> {variables}",
        f"api uuid_transfer <uuid> {destination} XML cgr",
    ]


def talk(lab, call, seconds: float) -> None:
    lab.answer(call)
    gevent.sleep(seconds)
    call.hangup()


def billed(call) -> int:
    """The seconds FreeSWITCH billed (billsec), once the call is over."""
    wait_until(lambda: "billsec" in call.vars, 5, "billsec")
    return int(call.vars["billsec"]), int(call.vars["billmsec"])


def per_second_cost(billmsec: int) -> Decimal:
    return Decimal(-(-billmsec // 1000)) * Decimal("0.01")


# -- connect: the verdict on the wire ---------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_prepaid_call_authorized_debited_ahead_and_refunded_at_hangup(make_lab, backend):
    lab = make_lab(backend)
    lab.topup("1001", "1")
    call = lab.call()
    assert wire(call) == setup_commands() + verdict("cgr_notify=+AUTH_OK;cgr_max_usage=100")
    assert call.vars["cgr_notify"] == "+AUTH_OK" and call.vars["cgr_max_usage"] == "100"
    lab.answer(call)
    assert lab.balance("1001") == Decimal("0.99")  # the first interval, paid ahead
    gevent.sleep(1.5)
    # the loop paid the next interval(s); paid time counts from the whole answer second
    assert lab.balance("1001") in (Decimal("0.98"), Decimal("0.97"))
    call.hangup()
    _, billmsec = billed(call)
    cdr = lab.cdr_of(call)
    assert cdr["RequestType"] == "*prepaid" and cdr["Usage"] == billmsec * 1_000_000
    assert cdr["Cost"] == per_second_cost(billmsec) == START - lab.balance("1001")
    assert lab.node.accounts.net == cdr["Cost"]
    call.wait_closed()  # fs_cgr closes the socket once the call is settled
    assert lab.node.sessions.active() == []


@pytest.mark.parametrize(
    ("reqtype", "charged", "cdr_type"),
    [
        ("*postpaid", True, "*postpaid"),
        ("*pseudoprepaid", True, "*pseudoprepaid"),
        ("*rated", False, "*rated"),
        (None, False, "*rated"),  # no cgr_reqtype: the configured default
    ],
)
def test_request_types_are_charged_by_the_cdr_path(lab, reqtype, charged, cdr_type):
    lab.topup("1001", "1")
    call = lab.call(reqtype=reqtype)
    assert wire(call) == setup_commands() + verdict("cgr_notify=+AUTH_OK;cgr_max_usage=10800")
    lab.answer(call)
    assert lab.balance("1001") == START  # nothing paid ahead
    gevent.sleep(1.2)
    call.hangup()
    _, billmsec = billed(call)
    cdr = lab.cdr_of(call)
    assert cdr["RequestType"] == cdr_type
    assert cdr["Cost"] == per_second_cost(billmsec)
    assert START - lab.balance("1001") == (cdr["Cost"] if charged else 0)
    assert lab.node.accounts.net == (cdr["Cost"] if charged else 0)


def test_none_request_type_is_let_through_and_left_alone(lab):
    lab.topup("1001", "1")
    call = lab.call(reqtype="*none")
    assert wire(call) == ["connect", *verdict("cgr_notify=+AUTH_OK")]  # no events needed
    call.wait_closed()  # nothing to follow
    call.channel.sim.answer(call.channel)
    gevent.sleep(0.2)
    call.channel.sim.hangup(call.channel, "NORMAL_CLEARING")
    gevent.sleep(0.3)
    assert lab.cdrs() == [] and lab.node.sessions.active() == []
    assert lab.balance("1001") == START


def test_routes_flag_sets_cgr_routes_best_first(lab):
    lab.topup("1001", "1")
    call = lab.call(cgr_flags="*accounts;*routes")
    assert wire(call) == setup_commands() + verdict(
        "cgr_notify=+AUTH_OK;cgr_routes=ARRAY::2|:supplier2|:supplier1;cgr_max_usage=100"
    )
    assert call.vars["cgr_routes"] == "ARRAY::2|:supplier2|:supplier1"


def test_empty_balance_is_refused_with_insufficient_funds_and_not_charged(lab):
    lab.topup("1001", "1")
    lab.node.accounts.add_balance("cgrates.org", "1001", "*monetary", "1", debit=True)
    call = lab.call()
    assert wire(call) == setup_commands() + verdict("cgr_notify=-INSUFFICIENT_FUNDS")
    call.hangup("CALL_REJECTED")  # the dialplan answers 403
    cdr = lab.cdr_of(call)
    assert cdr["Usage"] == 0 and cdr["Cost"] == 0
    assert lab.balance("1001") == 0 and lab.node.accounts.net == 0
    assert lab.node.sessions.active() == []


def test_unpriced_destination_is_refused_as_unauthorized(lab):
    lab.topup("1001", "1")
    call = lab.call(destination=UNPRICED)
    assert wire(call) == setup_commands() + verdict(
        "cgr_notify=-UNAUTHORIZED_DESTINATION", UNPRICED
    )
    call.hangup("CALL_REJECTED")
    call.wait_closed()
    assert lab.balance("1001") == START and lab.node.accounts.net == 0


def test_missing_account_is_refused_as_missing_parameter(lab):
    lab.topup("1001", "1")
    call = lab.call(account=None)
    assert wire(call) == setup_commands() + verdict("cgr_notify=-MISSING_PARAMETER")
    assert lab.balance("1001") == START


def test_missing_destination_is_refused_and_the_call_ended(lab):
    """No number to transfer back to: cgr_notify says why, then the call is hung up."""
    lab.topup("1001", "1")
    call = lab.sim.place_call(
        lab.agent.address, {"cgr_reqtype": "*prepaid", "cgr_account": "1001"}, destination=""
    )
    call.wait_closed()
    assert wire(call) == setup_commands() + [
        "api uuid_setvar_multi <uuid> cgr_notify=-MISSING_PARAMETER",
        "api uuid_kill <uuid> MANDATORY_IE_MISSING",
    ]
    assert call.vars["cgr_notify"] == notify.MISSING_PARAMETER
    assert lab.balance("1001") == START


@pytest.fixture
def silent_redis():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0?timeout=0.3"
    listener.close()


def test_unreachable_datadb_is_a_system_error_and_moves_no_money(make_lab, silent_redis):
    lab = make_lab()
    lab.topup("1001", "1")
    lab.stop_node()
    lab.start_node(**{"datadb.url": silent_redis})
    call = lab.call()
    assert wire(call) == setup_commands() + verdict("cgr_notify=-SYSTEM_ERROR")
    assert lab.node.accounts.net == 0 and lab.node.sessions.active() == []


def test_a_verdict_freeswitch_refuses_kills_the_call_uncharged(lab, monkeypatch):
    lab.topup("1001", "1")
    monkeypatch.setattr(lab.sim, "_api_uuid_setvar_multi", lambda args: ("-ERR oops\n", None))
    call = lab.sim.place_call(lab.agent.address, {"cgr_reqtype": "*prepaid", "cgr_account": "1001"})
    call.wait_closed()
    # never transferred without its verdict: the dialplan would send it back to fs_cgr
    assert wire(call)[-2].startswith("api uuid_setvar_multi <uuid> cgr_notify=")
    assert wire(call)[-1] == "api uuid_kill <uuid> MANAGER_REQUEST"
    assert not any(command.startswith("api uuid_transfer") for command in wire(call))
    assert not call.channel.alive and call.channel.hangup_cause == "MANAGER_REQUEST"
    assert lab.balance("1001") == START and lab.node.sessions.active() == []


# -- during the call -------------------------------------------------------------------------


def test_money_running_out_cuts_the_call_within_one_debit_interval(lab):
    lab.topup("1001", "0.03")
    call = lab.call()
    assert call.vars["cgr_max_usage"] == "3"
    lab.answer(call)
    call.wait_closed(timeout=6)
    # the paid time counts from the answer to the microsecond: cut neither early nor late
    money_ends = call.channel.answered_us / 1e6 + 3
    killed = call.channel.hangup_us / 1e6
    assert money_ends <= killed <= money_ends + 0.25
    assert call.channel.hangup_cause == "MANAGER_REQUEST"
    commands = wire(call)
    assert commands[-2:] == [
        "api uuid_setvar <uuid> cgr_notify -INSUFFICIENT_FUNDS",
        "api uuid_kill <uuid> MANAGER_REQUEST",
    ]
    cdr = lab.cdr_of(call)
    _, billmsec = billed(call)
    assert cdr["Cost"] == min(per_second_cost(billmsec), Decimal("0.03"))
    assert lab.balance("1001") == Decimal("0.03") - cdr["Cost"]
    assert lab.balance("1001") >= 0 and lab.node.accounts.net == cdr["Cost"]


def test_empty_balance_announcement_is_played_before_the_hangup(make_lab):
    lab = make_lab(**{"freeswitch_agent.empty_balance_ann_file": "/sounds/no_credit.wav"})
    lab.topup("1001", "0.02")
    call = lab.call()
    lab.answer(call)
    call.wait_closed(timeout=5)
    assert "api uuid_broadcast <uuid> playback!manager_request::/sounds/no_credit.wav aleg" in wire(
        call
    )
    assert call.channel.broadcasts == ["playback!manager_request::/sounds/no_credit.wav"]
    assert lab.balance("1001") == Decimal("0.02") - lab.cdr_of(call)["Cost"]


@pytest.mark.parametrize(
    "wait, reqtype, batches",
    [
        ("200ms", "*prepaid", [["c0", "c1"]]),
        ("0s", "*prepaid", [["c0"], ["c1"]]),
        # charged when its CDR is priced, with nothing journaled: never held
        ("200ms", "*postpaid", [["c0"], ["c1"]]),
    ],
)
def test_calls_hanging_up_apart_share_a_cdr_commit_within_cdr_commit_wait(
    make_lab, wait, reqtype, batches
):
    lab = make_lab(**{"freeswitch_agent.cdr_commit_wait": wait})
    lab.topup("1001", "1")
    calls = [lab.call(reqtype=reqtype), lab.call(reqtype=reqtype)]
    for call in calls:
        lab.answer(call)
    names = {call.uuid: f"c{n}" for n, call in enumerate(calls)}
    stored, store = [], lab.node.stordb.store_cdrs
    lab.node.stordb.store_cdrs = lambda cdrs: stored.append(cdrs) or store(cdrs)
    calls[0].hangup()
    gevent.sleep(0.05)
    calls[1].hangup()
    cdrs = [lab.cdr_of(call) for call in calls]
    assert [sorted(names[cdr["OriginID"]] for cdr in batch) for batch in stored] == batches
    assert sum(cdr["Cost"] for cdr in cdrs) == Decimal(1) - lab.balance("1001")


def test_caller_hanging_up_before_answer_costs_nothing(lab):
    lab.topup("1001", "1")
    call = lab.call()
    gevent.sleep(0.2)
    call.hangup("ORIGINATOR_CANCEL")
    cdr = lab.cdr_of(call)
    assert cdr["Usage"] == 0 and cdr["Cost"] == 0
    assert lab.balance("1001") == START and lab.node.accounts.net == 0
    assert lab.node.sessions.active() == []


def test_socket_dropped_mid_call_is_finished_through_the_inbound_link(lab):
    lab.topup("1001", "1")
    call = lab.call()
    lab.answer(call)
    call.drop()
    wait_until(lambda: call.uuid not in lab.agent.calls, 5, "the agent to see the drop")
    gevent.sleep(1.3)  # the debit loop goes on without the socket
    assert lab.session(call) is not None
    call.channel.sim.hangup(call.channel, "NORMAL_CLEARING")
    _, billmsec = billed(call)
    cdr = lab.cdr_of(call)
    assert cdr["Cost"] == per_second_cost(billmsec) == START - lab.balance("1001")
    assert lab.node.accounts.net == cdr["Cost"] and lab.node.sessions.active() == []


def test_socket_dropped_then_money_out_kills_over_the_inbound_link(lab):
    lab.topup("1001", "0.02")
    call = lab.call()
    lab.answer(call)
    call.drop()
    wait_until(lambda: not call.channel.alive, 5, "the kill")
    assert f"api uuid_kill {call.uuid} MANAGER_REQUEST" in lab.sim.inbound_log
    assert f"api uuid_setvar {call.uuid} cgr_notify -INSUFFICIENT_FUNDS" in lab.sim.inbound_log
    cdr = lab.cdr_of(call)
    assert lab.balance("1001") == Decimal("0.02") - cdr["Cost"] >= 0


def test_socket_lost_before_answer_kills_the_call(lab):
    lab.topup("1001", "1")
    call = lab.call()
    call.drop()
    wait_until(lambda: not call.channel.alive, 5, "the kill")
    assert f"api uuid_kill {call.uuid} MANAGER_REQUEST" in lab.sim.inbound_log
    assert lab.balance("1001") == START


# -- the inbound link: shutdown, channel sync --------------------------------------------------


def test_shutdown_hangs_up_charged_calls_with_hupall(lab):
    lab.topup("1001", "1")
    call = lab.call()
    lab.answer(call)
    lab.agent.stop(hangup=True)
    assert lab.sim.inbound_log[-2:] == [
        "api hupall MANAGER_REQUEST cgr_reqtype *prepaid",
        "api hupall MANAGER_REQUEST cgr_reqtype *postpaid",
    ]
    assert not call.channel.alive
    lab.agent = type(lab.agent)(lab.node).start()  # for the fixture's teardown


def test_channel_sync_ends_only_sessions_freeswitch_no_longer_has(lab):
    lab.topup("1001", "1")
    lab.topup("1002", "1")
    kept, lost = lab.call(), lab.call(account="1002")
    lab.answer(kept)
    lab.answer(lost)
    kept.drop()
    lost.drop()
    wait_until(lambda: not lab.agent.calls, 5, "the drops")
    assert lab.agent.sync.sync() == []  # both channels listed
    gevent.sleep(1.1)
    del lab.sim.channels[lost.uuid]  # gone, its HANGUP_COMPLETE lost
    assert lab.agent.sync.sync() == []  # missing once: FreeSWITCH may list a channel late
    ended = lab.agent.sync.sync()
    assert [s for s in lab.node.sessions.active()] == [lab.session(kept)]
    assert len(ended) == 1
    cdr = lab.cdr_of(lost)
    assert Decimal("0.01") <= cdr["Cost"] <= Decimal("0.02")  # up to when it was last listed
    assert lab.balance("1002") == START - cdr["Cost"]


def test_channel_sync_that_times_out_ends_nothing(lab, monkeypatch):
    monkeypatch.setattr("fs_cgr.agents.fslink.COMMAND_TIMEOUT", 0.3)
    lab.topup("1001", "1")
    call = lab.call()
    lab.answer(call)
    call.drop()
    wait_until(lambda: not lab.agent.calls, 5, "the drop")
    for link in lab.agent.links.links:
        link.command_timeout = 0.3
    lab.sim.inbound_stalled = True
    assert lab.agent.sync.sync() == []
    assert lab.session(call) is not None and call.channel.alive
    lab.sim.inbound_stalled = False


@pytest.mark.parametrize("backend", BACKENDS)
def test_money_check_over_many_concurrent_calls(make_lab, backend):
    lab = make_lab(backend)
    accounts = [f"20{n:02d}" for n in range(12)]

    def place(account, reqtype):
        return lab.call(account=account, reqtype=reqtype)

    lab.money_check(place, lab.answer, accounts, dry="0.05", talk=6)


# -- fs_cgr restarts mid-call (the journal lives in Redis) -----------------------------------


def restart(lab) -> None:
    """Stop without hupall (a crash or an upgrade), start a new node on the same DataDB."""
    lab.stop_node(hangup=False)
    lab.start_node()


def test_restart_mid_call_resumes_the_session_and_charges_once(make_lab):
    lab = make_lab("redis+mariadb")
    lab.topup("1001", "1")
    call = lab.call()
    lab.answer(call)
    gevent.sleep(1.2)
    restart(lab)
    assert lab.session(call) is not None  # resumed: the channel is live
    gevent.sleep(1.2)
    call.channel.sim.hangup(call.channel, "NORMAL_CLEARING")  # seen over the new link
    _, billmsec = billed(call)
    cdr = lab.cdr_of(call)
    assert cdr["Cost"] == per_second_cost(billmsec) == START - lab.balance("1001")
    assert lab.node.sessions.active() == []
    wait_until(lambda: lab.node.datadb.journal_all() == [], 5, "the journal entry to go")


def test_restart_mid_call_resumed_session_is_cut_when_money_runs_out(make_lab):
    lab = make_lab("redis+mariadb")
    lab.topup("1001", "0.03")
    call = lab.call()
    lab.answer(call)
    restart(lab)
    wait_until(lambda: not call.channel.alive, 5, "the kill over the new link")
    assert f"api uuid_kill {call.uuid} MANAGER_REQUEST" in lab.sim.inbound_log
    cdr = lab.cdr_of(call)
    assert lab.balance("1001") == Decimal("0.03") - cdr["Cost"] >= 0


def test_call_ended_while_fs_cgr_was_down_is_finished_at_restart(make_lab):
    lab = make_lab("redis+mariadb")
    lab.topup("1001", "1")
    call = lab.call()
    lab.answer(call)
    gevent.sleep(1.2)
    lab.stop_node(hangup=False)
    call.channel.sim.hangup(call.channel, "NORMAL_CLEARING")  # nobody listens
    lab.start_node()
    assert lab.node.sessions.active() == []
    wait_until(lambda: lab.node.datadb.journal_all() == [], 5, "the journal entry to go")
    cdr = lab.cdr_of(call)
    paid = START - lab.balance("1001")
    assert cdr["Cost"] == paid and Decimal("0.01") <= paid <= Decimal("0.03")  # no refund lost


def test_a_freeswitch_refusing_event_filters_is_still_followed(lab, monkeypatch):
    """Filters only save CPU: without them the call is charged all the same."""
    handle = Listener.handle

    def refuse_filters(listener, command):
        if command.startswith("filter "):
            listener.write(command_reply("-ERR command not found"))
        else:
            handle(listener, command)

    monkeypatch.setattr(Listener, "handle", refuse_filters)
    lab.topup("1001", "1")
    call = lab.call()
    lab.answer(call)
    gevent.sleep(1.1)
    call.hangup()
    _, billmsec = billed(call)
    assert "CHANNEL_EXECUTE" in call.events_sent  # unfiltered: the agent skips them
    assert lab.cdr_of(call)["Cost"] == per_second_cost(billmsec) == START - lab.balance("1001")
