"""Embedded mode on a real FreeSWITCH with mod_python3 (skipped where it is absent).

The box needs fs_cgr installed into the Python its mod_python3 embeds, and a context
``fs_cgr_embedded`` running ``dialplan/default/00_fs_cgr_embedded.xml.inactive`` and the
answering test extension (docs/freeswitch.md, "Embedded mode"). The handler reaches this
test's node at the ``fs_cgr_rpc_url`` each call carries.
"""

import socket
from decimal import Decimal

import gevent
import pytest

from fs_cgr.agents import notify
from fs_cgr.api.server import ApiServer
from tests.agents.lab import DE, UNPRICED
from tests.freeswitch.conftest import NEEDS_FREESWITCH
from tests.freeswitch.test_agent_live import E164_DESTINATION, NO_UNITS_LEFT, SEED_FLAGS

pytestmark = [pytest.mark.freeswitch, NEEDS_FREESWITCH]

START = Decimal("1")
CONTEXT = "fs_cgr_embedded"


def per_second_cost(billmsec: str) -> Decimal:
    return Decimal(-(-int(billmsec) // 1000)) * Decimal("0.01")


@pytest.fixture
def embedded(real):
    if real.control.api("module_exists mod_python3").text != "true":
        pytest.skip("FreeSWITCH has no mod_python3")
    api = ApiServer(real.node, "127.0.0.1:0")
    api.start()
    real.rpc_url = api.url
    yield real
    api.stop(timeout=1)


def originate(real, number: str, url: str = "", **variables) -> None:
    variables = {
        "origination_caller_id_number": "1001",
        "cgr_test": "yes",
        "fs_cgr_rpc_url": url or real.rpc_url,
        "fs_cgr_rpc_timeout": "0.5",
        **variables,
    }
    channel_vars = ",".join(f"{name}={value}" for name, value in variables.items())
    reply = real.control.bgapi(f"originate {{{channel_vars}}}loopback/{number}/{CONTEXT} &park")
    assert reply.ok, reply.text


def closed_port_url() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/jsonrpc"


def test_a_handler_that_cannot_run_fails_closed(embedded):
    """mod_python3 logs a module it cannot import and goes on with the next action: the
    embedded dialplan's (tests/test_freeswitch_conf.py checks it is this pair) reads no
    verdict and refuses the call, which never reaches the routing."""
    real = embedded
    originate(real, DE, fs_cgr_test_failed_handler="yes")
    hangup = real.next_hangup()
    uuid = hangup["Unique-ID"]
    assert ("python", "fs_cgr_test_no_such_module") in real.executed[uuid]
    assert real.responses(uuid) == ["503 Service Unavailable"]
    assert hangup["Hangup-Cause"] == "NORMAL_TEMPORARY_FAILURE"
    assert not real.node.cdrs.get_cdrs({"OriginIDs": [uuid]})  # never charged, never routed


@pytest.mark.parametrize(
    ("variables", "number", "verdict"),
    [
        ({"cgr_account": "1001"}, UNPRICED, notify.UNAUTHORIZED_DESTINATION),
        ({}, DE, notify.MISSING_PARAMETER),
        ({"cgr_account": "2001"}, DE, notify.INSUFFICIENT_FUNDS),
        ({"cgr_account": "1001", "url": "unreachable"}, DE, notify.SYSTEM_ERROR),
    ],
)
def test_refused_calls_are_answered_by_the_handler(embedded, variables, number, verdict):
    real = embedded
    real.topup("1001", "1")
    if variables.get("url"):
        variables = {**variables, "url": closed_port_url()}
    originate(real, number, cgr_reqtype="*prepaid", **variables)
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == verdict
    assert real.responses(hangup["Unique-ID"]) == [notify.SIP_RESPONSES[verdict]]
    assert hangup["variable_fs_cgr_embedded"] == "true"
    assert hangup.get("variable_billsec", "0") == "0"  # never answered: no routing ran
    assert real.balance("1001") == START and real.node.accounts.net == 0


@pytest.mark.parametrize("reqtype", ["*prepaid", "*postpaid", "*pseudoprepaid", "*rated"])
def test_authorized_call_goes_on_and_is_charged_its_billmsec(embedded, answer_number, reqtype):
    real = embedded
    real.topup("1001", "1")
    originate(real, answer_number, cgr_account="1001", cgr_reqtype=reqtype, cgr_destination=DE)
    uuid = real.live_call()
    gevent.sleep(1.5)
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.AUTH_OK
    assert real.responses(uuid) == []  # nothing in the dialplan tried to refuse it
    assert hangup["variable_cgr_max_usage"] == ("100" if reqtype == "*prepaid" else "10800")
    cdr = real.cdr(uuid)
    assert cdr["RequestType"] == reqtype
    assert cdr["Cost"] == per_second_cost(hangup["variable_billmsec"])
    charged = cdr["Cost"] if reqtype != "*rated" else 0
    assert START - real.balance("1001") == charged == real.node.accounts.net


def test_none_request_type_goes_on_and_is_not_followed(embedded, answer_number):
    real = embedded
    originate(real, answer_number, cgr_account="1001", cgr_reqtype="*none", cgr_destination=DE)
    gevent.sleep(1.5)
    assert real.node.sessions.active() == []
    real.control.api("hupall MANAGER_REQUEST cgr_test yes")
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.AUTH_OK and int(hangup["variable_billsec"]) >= 1


def test_routes_reach_the_channel(embedded, answer_number):
    real = embedded
    real.topup("1001", "1")
    originate(
        real, answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE,
        cgr_flags="*accounts;*routes",
    )  # fmt: skip
    uuid = real.live_call()
    assert real.control.api(f"uuid_getvar {uuid} cgr_route").text == "supplier2"
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    real.next_hangup()


def test_prepaid_call_is_cut_when_money_runs_out(embedded, answer_number):
    real = embedded
    real.topup("1001", "0.03")
    originate(real, answer_number, cgr_account="1001", cgr_reqtype="*prepaid", cgr_destination=DE)
    uuid = real.live_call()
    hangup = real.next_hangup(timeout=10)
    assert hangup["Unique-ID"] == uuid
    assert hangup["variable_cgr_notify"] == notify.INSUFFICIENT_FUNDS
    assert hangup["Hangup-Cause"] == "MANAGER_REQUEST"
    cdr = real.cdr(uuid)
    assert real.balance("1001") == Decimal("0.03") - cdr["Cost"] >= 0


def test_call_over_its_resource_limit_is_refused_busy(embedded):
    real = embedded
    real.topup("1001", "1")
    real.node.resources.set_profile(NO_UNITS_LEFT)
    originate(real, DE, cgr_account="1001", cgr_reqtype="*prepaid", cgr_flags=SEED_FLAGS)
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    assert real.responses(hangup["Unique-ID"]) == ["486 Busy Here"]
    assert real.balance("1001") == START and real.node.accounts.net == 0


def test_attribute_altered_destination_is_on_the_channel_and_rated(embedded, answer_number):
    real = embedded
    real.topup("1001", "1")
    real.node.attributes.set_profile(E164_DESTINATION)
    originate(real, answer_number, cgr_account="1001", cgr_reqtype="*prepaid",
              cgr_destination="00" + DE, cgr_flags=SEED_FLAGS)  # fmt: skip
    uuid = real.live_call()
    assert real.control.api(f"uuid_getvar {uuid} Destination").text == DE
    gevent.sleep(1.5)
    real.control.api(f"uuid_kill {uuid} NORMAL_CLEARING")
    hangup = real.next_hangup()
    cdr = real.cdr(uuid)
    assert cdr["Destination"] == DE
    cost = per_second_cost(hangup["variable_billmsec"])
    assert cdr["Cost"] == cost == START - real.balance("1001")


def test_refused_call_never_reaches_the_routing(embedded, answer_number):
    """``respond`` does nothing on a loopback channel: the handler's hangup is what keeps
    a refused call from the answering extension (on SIP the response already ended it)."""
    real = embedded
    originate(real, answer_number, cgr_account="2001", cgr_reqtype="*prepaid",
              cgr_destination=DE)  # fmt: skip
    hangup = real.next_hangup()
    assert hangup["variable_cgr_notify"] == notify.INSUFFICIENT_FUNDS
    assert hangup["Hangup-Cause"] == "CALL_REJECTED"
    ran = [app for app, _ in real.executed[hangup["Unique-ID"]]]
    assert ran == ["python", "respond"] and hangup.get("variable_billsec", "0") == "0"
