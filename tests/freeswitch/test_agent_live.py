"""tests/agents' scenarios against a real FreeSWITCH (see conftest.py for the setup)."""

from decimal import Decimal

import gevent
import pytest

from fs_cgr.agents import notify
from tests.agents.lab import DE, UNPRICED
from tests.freeswitch.conftest import NEEDS_FREESWITCH
from tests.fssim import wait_until

pytestmark = [pytest.mark.freeswitch, NEEDS_FREESWITCH]

START = Decimal("1")
PREPAID = {"cgr_reqtype": "*prepaid"}


def per_second_cost(billmsec: str) -> Decimal:
    return Decimal(-(-int(billmsec) // 1000)) * Decimal("0.01")


@pytest.mark.parametrize(
    ("variables", "number", "verdict"),
    [
        ({"cgr_account": "1001", **PREPAID}, UNPRICED, notify.UNAUTHORIZED_DESTINATION),
        (PREPAID, DE, notify.MISSING_PARAMETER),
        ({"cgr_account": "2001", **PREPAID}, DE, notify.INSUFFICIENT_FUNDS),
    ],
)
def test_refused_calls_get_their_verdict_and_cost_nothing(real, variables, number, verdict):
    real.topup("1001", "1")
    real.topup("2001", "1")
    real.node.accounts.add_balance("cgrates.org", "2001", "*monetary", "1", debit=True)
    real.originate(number, **variables)
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == verdict
    assert real.responses(hangup["Unique-ID"]) == [notify.SIP_RESPONSES[verdict]]
    assert hangup.get("variable_billsec", "0") == "0"  # refused by the dialplan, never answered
    assert real.balance("1001") == START and real.balance("2001") == 0
    assert real.node.accounts.net == 0


def test_prepaid_call_is_cut_when_money_runs_out(real, answer_number):
    real.topup("1001", "0.03")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    hangup = real.next_hangup(timeout=10)
    assert hangup["Unique-ID"] == uuid
    assert hangup["variable_cgr_notify"] == notify.INSUFFICIENT_FUNDS
    assert hangup["Hangup-Cause"] == "MANAGER_REQUEST"
    assert int(hangup["variable_billsec"]) <= 4  # cut within one debit interval
    cdr = real.cdr(uuid)
    assert cdr["Cost"] == min(per_second_cost(hangup["variable_billmsec"]), Decimal("0.03"))
    assert real.balance("1001") == Decimal("0.03") - cdr["Cost"] >= 0


def test_answered_call_is_charged_exactly_its_billmsec(real, answer_number):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    gevent.sleep(2.5)
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    hangup = real.next_hangup()
    assert real.responses(uuid) == []  # nothing in the dialplan tried to refuse it
    assert "variable_transfer_history" not in hangup  # no transfer, no second hunt
    assert ("execute_extension", "fs_cgr_verdict XML fs_cgr_verdict") in real.executed[uuid]
    cdr = real.cdr(uuid)
    assert cdr["Cost"] == per_second_cost(hangup["variable_billmsec"])
    assert cdr["Cost"] == START - real.balance("1001") == real.node.accounts.net


def test_inbound_link_lost_mid_call_is_reconnected_and_the_call_finished(real, answer_number):
    """The socket closed with the verdict; the call is the link's: a lost link comes back
    and still sees the hangup."""
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    assert uuid not in real.agent.calls  # no socket held for the call
    link = real.agent.links.links[0]
    link.client.conn.close("test: link lost")
    gevent.sleep(1.5)
    assert link.connected and real.alive(uuid)  # the call goes on, the link is back
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    billmsec = real.next_hangup()["variable_billmsec"]
    cdr = real.cdr(uuid)
    assert cdr["Cost"] == per_second_cost(billmsec) == START - real.balance("1001")


def test_shutdown_hangs_up_charged_calls(real, answer_number):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    real.live_call()
    real.agent.links.stop(hangup=True)
    hangup = real.next_hangup()
    assert hangup["Hangup-Cause"] == "MANAGER_REQUEST"


def test_channel_sync_keeps_live_calls(real, answer_number):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    gevent.sleep(0.2)
    assert real.agent.sync.sync() == []  # FreeSWITCH still lists the channel
    assert real.alive(uuid) and real.node.sessions.active()
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    real.next_hangup()


@pytest.mark.parametrize(
    ("reqtype", "charged"), [("*postpaid", True), ("*pseudoprepaid", True), ("*rated", False)]
)
def test_request_types_are_priced_at_hangup(real, answer_number, reqtype, charged):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype=reqtype, cgr_destination=DE)
    uuid = real.live_call()
    assert real.balance("1001") == START  # nothing paid ahead
    gevent.sleep(1.5)
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    billmsec = real.next_hangup()["variable_billmsec"]
    cdr = real.cdr(uuid)
    assert (cdr["RequestType"], cdr["Cost"]) == (reqtype, per_second_cost(billmsec))
    assert START - real.balance("1001") == (cdr["Cost"] if charged else 0)


def test_none_request_type_is_let_through_and_left_alone(real, answer_number):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*none", cgr_destination=DE)
    gevent.sleep(1.5)
    assert real.node.sessions.active() == []
    real.control.api("hupall NORMAL_CLEARING cgr_test yes")
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.AUTH_OK and int(hangup["variable_billsec"]) >= 1
    gevent.sleep(0.3)
    assert real.node.cdrs.get_cdrs({}) == [] and real.balance("1001") == START


def test_authorized_call_nobody_answers_costs_nothing(real):
    real.topup("1001", "1")
    real.originate(DE, cgr_account="1001", cgr_reqtype="*prepaid")  # no extension answers it
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.AUTH_OK
    assert hangup.get("variable_billsec", "0") == "0"
    cdr = real.cdr(hangup["Unique-ID"])
    assert (cdr["Cost"], cdr["Usage"]) == (0, 0)
    assert real.balance("1001") == START and real.node.accounts.net == 0


def test_restart_mid_call_resumes_the_session_and_charges_once(real, answer_number):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    gevent.sleep(1.2)
    real.stop_node(hangup=False)  # a crash or an upgrade: the outbound socket is gone
    real.start_node()
    assert [s.origin_id for s in real.node.sessions.active()] == [uuid]  # resumed
    gevent.sleep(1.2)
    assert real.alive(uuid)
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")  # seen over the new inbound link
    billmsec = real.next_hangup()["variable_billmsec"]
    cdr = real.cdr(uuid)
    assert cdr["Cost"] == per_second_cost(billmsec) == START - real.balance("1001")
    wait_until(lambda: real.node.datadb.journal_all() == [], 5, "the journal entry to go")


SEED_FLAGS = "*resources;*attributes;*sessions;*routes;*thresholds;*stats;*accounts"
NO_UNITS_LEFT = {
    "Tenant": "cgrates.org", "ID": "RES_NONE_LEFT", "UsageTTL": "1h", "Limit": 0,
    "FilterIDs": ["*string:~*req.Account:1001"], "Weight": 10,
}  # fmt: skip
E164_DESTINATION = {  # 00<number> is rated (and dialled) as <number>
    "Tenant": "cgrates.org", "ID": "ATTR_E164", "Contexts": ["*sessions"],
    "FilterIDs": ["*prefix:~*req.Destination:00"],
    "Attributes": [{"Path": "*req.Destination", "Type": "*variable",
                    "Value": "~*req.Destination:s/^00(\\d+)$/${1}/"}], "Weight": 10,
}  # fmt: skip


def test_call_over_its_resource_limit_is_refused_busy(real):
    real.topup("1001", "1")
    real.node.resources.set_profile(NO_UNITS_LEFT)
    real.originate(DE, cgr_account="1001", cgr_flags=SEED_FLAGS, **PREPAID)
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    assert real.responses(hangup["Unique-ID"]) == ["486 Busy Here"]
    assert real.balance("1001") == START and real.node.accounts.net == 0


def test_attribute_altered_destination_is_on_the_channel_and_rated(real, answer_number):
    real.topup("1001", "1")
    real.node.attributes.set_profile(E164_DESTINATION)
    real.originate(answer_number, cgr_account="1001", cgr_destination="00" + DE,
                   cgr_flags=SEED_FLAGS, **PREPAID)  # fmt: skip
    uuid = real.live_call()
    gevent.sleep(1.5)
    real.control.api(f"uuid_kill {uuid}")
    hangup = real.next_hangup()
    assert hangup["variable_Destination"] == DE
    cdr = real.cdr(uuid)
    assert cdr["Destination"] == DE and cdr["Cost"] > 0


@pytest.mark.parametrize("number", [f"{DE} XML default", "-bleg"])
def test_number_that_would_change_a_command_never_reaches_one(real, number):
    """A number with a blank or a leading '-' (which would add arguments to, or be read as
    a flag by, a command carrying it): no command carries the number, nothing is
    transferred, the call is rated on cgr_destination and not charged unanswered."""
    real.topup("1001", "1")
    real.originate(number, cgr_account="1001", cgr_destination=DE, fs_cgr_test_end="yes", **PREPAID)
    hangup = real.next_hangup()
    assert hangup["Caller-Destination-Number"] == number
    assert hangup["variable_cgr_notify"] == notify.AUTH_OK
    assert "variable_transfer_history" not in hangup
    assert real.node.sessions.active() == []
    assert real.balance("1001") == START and real.node.accounts.net == 0


def test_without_the_vars_file_charged_calls_are_refused(real):
    """fs_cgr_vars.xml sets fs_cgr_vars_loaded=true; without it the dialplan refuses a
    charged call before the socket (503, then hangup: on loopback ``respond`` is a no-op),
    and says why in FreeSWITCH's log."""
    real.topup("1001", "1")
    assert real.control.api("global_getvar fs_cgr_vars_loaded").text == "true"
    real.control.api("global_setvar fs_cgr_vars_loaded=false")
    try:
        real.originate(DE, cgr_account="1001", **PREPAID)
        hangup = real.next_hangup()
    finally:
        real.control.api("global_setvar fs_cgr_vars_loaded=true")
    uuid = hangup["Unique-ID"]
    log_line, respond = real.executed[uuid][:2]
    assert log_line[0] == "log" and "fs_cgr_vars.xml is missing" in log_line[1]
    assert respond == ("respond", "503 Service Unavailable")
    assert hangup["Hangup-Cause"] == "NORMAL_TEMPORARY_FAILURE"
