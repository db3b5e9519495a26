"""The agent with a static socket (``socket 127.0.0.1:8084 full``, the shipped dialplan):
one round trip sets the verdict, the socket closes, the dialplan reads the verdict in the
same extension (no transfer, no second hunt) and the inbound link follows the call.

Tariff (conftest): 0.01 per second billed per second to 49..., debit interval 1 s.
"""

from decimal import Decimal

import gevent
import pytest

from fs_cgr.agents import notify
from tests.agents.conftest import BACKENDS
from tests.agents.lab import DE, SEED_FLAGS, UNPRICED, one_call_limit
from tests.fssim import wait_until
from tests.fssim.sim import VERDICT_HANGUPS

START = Decimal("1")
LINKED = "fs_cgr_embedded=true"  # the marker that hands the call to the link


def place(lab, account="1001", destination=DE, reqtype="*prepaid", **variables):
    """A static-socket call; returns once fs_cgr closed the socket (the verdict is given)."""
    if account is not None:
        variables.setdefault("cgr_account", account)
    if reqtype is not None:
        variables.setdefault("cgr_reqtype", reqtype)
    call = lab.sim.place_call(lab.agent.address, variables, destination=destination, static=True)
    call.wait_closed()
    return call


def wire(call) -> list[str]:
    return [command.replace(call.uuid, "<uuid>") for command in call.api_log]


def answer(lab, call) -> None:
    call.answer()
    wait_until(lambda: lab.session(call) is not None, 5, "the session")


def billed(call) -> int:
    wait_until(lambda: "billmsec" in call.vars, 5, "billmsec")
    return int(call.vars["billmsec"])


def per_second_cost(billmsec: int) -> Decimal:
    return Decimal(-(-billmsec // 1000)) * Decimal("0.01")


@pytest.mark.parametrize("backend", BACKENDS)
def test_prepaid_call_one_round_trip_then_followed_over_the_link(make_lab, backend):
    lab = make_lab(backend)
    lab.topup("1001", "1")
    call = place(lab)
    assert wire(call) == [
        "connect",
        f"api uuid_setvar_multi <uuid> cgr_notify=+AUTH_OK;cgr_max_usage=100;{LINKED}",
    ]
    assert call.channel.alive and not call.channel.transferred.is_set()  # goes on as it is
    assert call.uuid not in lab.agent.calls
    answer(lab, call)
    assert lab.balance("1001") == Decimal("0.99")  # the first interval, paid ahead
    gevent.sleep(1.2)
    call.hangup()
    billmsec = billed(call)
    cdr = lab.cdr_of(call)
    assert cdr["RequestType"] == "*prepaid" and cdr["Usage"] == billmsec * 1_000_000
    assert cdr["Cost"] == per_second_cost(billmsec) == START - lab.balance("1001")
    assert lab.node.accounts.net == cdr["Cost"]
    wait_until(lambda: lab.node.sessions.active() == [], 5, "the session to end")


@pytest.mark.parametrize(
    ("variables", "destination", "verdict"),
    [
        ({}, UNPRICED, notify.UNAUTHORIZED_DESTINATION),
        ({"account": None}, DE, notify.MISSING_PARAMETER),
        ({"account": "2001"}, DE, notify.INSUFFICIENT_FUNDS),
    ],
)
def test_refusals_set_the_verdict_only_and_the_dialplan_ends_the_call(
    lab, variables, destination, verdict
):
    lab.topup("1001", "1")
    call = place(lab, destination=destination, **variables)
    assert wire(call) == ["connect", f"api uuid_setvar_multi <uuid> cgr_notify={verdict}"]
    assert call.channel.hangup_cause == VERDICT_HANGUPS[verdict]  # never transferred/continued
    assert lab.balance("1001") == START and lab.node.accounts.net == 0
    assert lab.node.sessions.active() == []


def test_uncharged_request_type_is_let_through_and_not_followed(lab):
    call = place(lab, reqtype="*none")
    assert wire(call) == ["connect", "api uuid_setvar_multi <uuid> cgr_notify=+AUTH_OK"]
    call.answer()
    gevent.sleep(0.2)
    assert lab.node.sessions.active() == []


def test_no_inbound_link_means_no_authorization(lab):
    """The answer and hangup would go unseen: a charged call is refused, not let through."""
    lab.topup("1001", "1")
    lab.sim.stop_inbound()
    wait_until(lambda: not lab.agent.links.links[0].connected, 5, "the link down")
    call = place(lab)
    assert call.vars["cgr_notify"] == notify.SYSTEM_ERROR
    assert call.channel.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    assert lab.balance("1001") == START


def test_verdict_not_taken_kills_the_call(lab):
    lab.topup("1001", "1")
    variables = {"cgr_account": "1001", "cgr_reqtype": "*prepaid"}
    call = lab.sim.place_call(lab.agent.address, variables, destination=DE, static=True)
    call.stall = "api uuid_setvar_multi"  # FreeSWITCH never answers the verdict
    wait_until(lambda: not call.channel.alive, 8, "the call killed")
    assert call.channel.hangup_cause == "MANAGER_REQUEST"
    assert lab.node.accounts.net == 0 and lab.node.sessions.active() == []


@pytest.mark.parametrize("static", [True, False])
def test_a_call_fs_cgr_got_to_late_is_shed_without_rating(make_lab, static):
    """shed_after: a call whose socket waited longer (here the connect reply is slow) is
    refused at once with -SYSTEM_ERROR, nothing rated or reserved."""
    lab = make_lab(**{"freeswitch_agent.shed_after": "20ms"})
    lab.topup("1001", "1")
    variables = {"cgr_account": "1001", "cgr_reqtype": "*prepaid"}
    call = lab.sim.place_call(
        lab.agent.address, variables, destination=DE, reply_delay=0.05, static=static
    )
    if static:
        call.wait_closed()
        assert wire(call) == ["connect", "api uuid_setvar_multi <uuid> cgr_notify=-SYSTEM_ERROR"]
    else:
        call.wait_transfer()
        assert call.vars["cgr_notify"] == notify.SYSTEM_ERROR
        assert not any(line.startswith("myevents") for line in call.api_log)
    assert lab.balance("1001") == START and lab.node.sessions.active() == []


def test_node_restart_mid_call_resumes_the_session_and_charges_once(make_lab):
    lab = make_lab("redis+mariadb")
    lab.topup("1001", "1")
    call = place(lab)
    answer(lab, call)
    gevent.sleep(1.2)
    lab.stop_node(hangup=False)
    lab.start_node()
    assert lab.session(call) is not None  # resumed: the channel is live
    gevent.sleep(1.2)
    call.hangup()  # seen over the new link
    cdr = lab.cdr_of(call)
    assert cdr["Cost"] == per_second_cost(billed(call)) == START - lab.balance("1001")
    wait_until(lambda: lab.node.datadb.journal_all() == [], 5, "the journal to empty")


def test_money_running_out_kills_the_call_over_the_link(lab):
    lab.topup("1001", "0.02")
    call = place(lab)
    answer(lab, call)
    wait_until(lambda: not call.channel.alive, 6, "the call cut")
    assert call.vars["cgr_notify"] == notify.INSUFFICIENT_FUNDS
    cdr = lab.cdr_of(call)
    assert cdr["Cost"] == Decimal("0.02") - lab.balance("1001")
    assert lab.balance("1001") >= 0


def test_hupall_on_shutdown_ends_static_socket_calls(lab):
    lab.topup("1001", "1")
    call = place(lab)
    answer(lab, call)
    lab.stop_node(hangup=True)
    wait_until(lambda: not call.channel.alive, 5, "the hupall")
    assert call.channel.hangup_cause == "MANAGER_REQUEST"
    lab.start_node()  # settles what the stopped node left journaled
    wait_until(lambda: lab.node.sessions.active() == [], 5, "the session settled")


def test_money_check_over_many_concurrent_static_socket_calls(lab):
    accounts = [f"30{n:02d}" for n in range(16)]
    lab.money_check(
        lambda account, reqtype: place(lab, account=account, reqtype=reqtype),
        lambda call: answer(lab, call),
        accounts,
        dry="0.03",
        talk=4,
    )


def test_call_over_its_resource_limit_is_refused_busy(lab):
    lab.topup("1001", "1")
    lab.node.resources.set_profile(one_call_limit(0))
    call = place(lab, cgr_flags=SEED_FLAGS)
    assert call.vars["cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    assert call.channel.hangup_cause == "USER_BUSY" and lab.node.accounts.net == 0


def test_unit_is_taken_at_answer_and_given_back_at_hangup(lab):
    """The verdict only asks whether a unit is free (CGrateS' AuthorizeEvent); the answer,
    seen over the link, takes it (InitiateSession), the hangup gives it back."""
    lab.topup("1001", "1")
    lab.node.resources.set_profile(one_call_limit(1))
    first = place(lab, cgr_flags=SEED_FLAGS)
    assert first.vars["cgr_notify"] == notify.AUTH_OK
    assert lab.node.resources.owned(lab.agent.owner("fs1")) == []  # nothing held yet
    answer(lab, first)
    assert [u[2] for u in lab.node.resources.owned(lab.agent.owner("fs1"))] == [first.uuid]
    assert place(lab, cgr_flags=SEED_FLAGS).vars["cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    first.hangup()
    lab.cdr_of(first)
    wait_until(lambda: not lab.node.resources.owned(lab.agent.owner("fs1")), 5, "the unit back")
    assert place(lab, cgr_flags=SEED_FLAGS).vars["cgr_notify"] == notify.AUTH_OK


def test_no_resource_profile_means_no_limit(lab):
    lab.topup("1001", "1")
    assert place(lab, cgr_flags=SEED_FLAGS).vars["cgr_notify"] == notify.AUTH_OK


def test_link_lost_before_the_answer_ends_the_call_fail_closed(lab):
    """Its answer may have come while the link was down: it would go on uncharged."""
    lab.topup("1001", "1")
    waiting = place(lab)
    talking = place(lab)
    answer(lab, talking)
    lab.sim.drop_inbound()
    wait_until(lambda: not waiting.channel.alive, 5, "the unanswered call killed")
    assert waiting.channel.hangup_cause == "MANAGER_REQUEST"
    assert talking.channel.alive and lab.session(talking) is not None  # followed as before
    talking.hangup()
    cdr = lab.cdr_of(talking)
    assert cdr["Cost"] == per_second_cost(billed(talking)) == START - lab.balance("1001")
    assert lab.agent.unanswered == {}
