"""tests/agents' scenarios against a real FreeSWITCH (see conftest.py for the setup)."""

import time
from decimal import Decimal

import pytest

from fs_cgr.agents import notify
from tests.agents.lab import DE, UNPRICED
from tests.freeswitch.conftest import NEEDS_FREESWITCH

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
    time.sleep(2.5)
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    billmsec = real.next_hangup()["variable_billmsec"]
    cdr = real.cdr(uuid)
    assert cdr["Cost"] == per_second_cost(billmsec) == START - real.balance("1001")
    assert real.node.accounts.net == cdr["Cost"]


def test_socket_lost_mid_call_is_finished_over_the_inbound_link(real, answer_number):
    real.topup("1001", "1")
    real.originate(answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    real.agent.calls[uuid].conn.close("test: socket lost")
    time.sleep(1.5)
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
    real.agent.calls[uuid].conn.close("test: socket lost")
    time.sleep(0.2)
    assert real.agent.sync.sync() == []  # FreeSWITCH still lists the channel
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    real.next_hangup()
