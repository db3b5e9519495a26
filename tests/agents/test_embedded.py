"""Embedded mode against the simulator: the mod_python3 handler authorizes over the node's
JSON-RPC, the node follows the call over the inbound link (answer, debit, cut, hangup,
restart), with the money checks of socket calls.

Tariff (conftest): 0.01 per second billed per second to 49..., debit interval 1 s.
"""

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from urllib.parse import urlsplit

import gevent
import pymysql
import pytest

from fs_cgr.agents import notify
from fs_cgr.api.server import ApiServer
from fs_cgr.embedded import handler, state
from tests.agents.lab import DE, SEED_FLAGS, UNPRICED, one_call_limit, settled
from tests.fssim import wait_until
from tests.fssim.embedded import EmbeddedChannel

START = Decimal("1")


class EmbeddedLab:
    """The agent lab plus the node's JSON-RPC server the handler asks."""

    def __init__(self, lab):
        self.lab = lab
        self.api = None
        self.serve()

    def serve(self) -> None:
        if self.api is not None:
            self.api.stop(timeout=1)
        self.api = ApiServer(self.lab.node, "127.0.0.1:0")
        self.api.start()

    def call(self, account="1001", destination=DE, reqtype="*prepaid", url=None, **variables):
        if account is not None:
            variables.setdefault("cgr_account", account)
        if reqtype is not None:
            variables.setdefault("cgr_reqtype", reqtype)
        channel = EmbeddedChannel(self.lab.sim, variables, destination)
        settings = {"fs_cgr_rpc_url": url or self.api.url, "fs_cgr_rpc_timeout": "0.5"}
        return channel.run(handler.handler, settings)

    def answer(self, call) -> None:
        call.answer()
        wait_until(lambda: self.lab.session(call) is not None, 5, "the session")

    def cdr_of(self, call) -> dict:
        return self.lab.cdr_of(call)


@pytest.fixture
def make_elab(make_lab):
    made = []

    def make(backend="embedded", **config):
        elab = EmbeddedLab(make_lab(backend, **config))
        made.append(elab)
        return elab

    yield make
    for elab in made:
        elab.api.stop(timeout=1)


@pytest.fixture
def elab(make_elab):
    return make_elab()


def billed(call) -> int:
    wait_until(lambda: "billmsec" in call.vars, 5, "billmsec")
    return int(call.vars["billmsec"])


def per_second_cost(billmsec: int) -> Decimal:
    return Decimal(-(-billmsec // 1000)) * Decimal("0.01")


def test_the_handler_imports_only_the_standard_library():
    """It runs on FreeSWITCH's native threads, where no gevent hub may run, and in the
    Python FreeSWITCH embeds, where fs_cgr's dependencies (C extensions built for another
    Python, msgspec, peewee, redis) need not be installed."""
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import fs_cgr.embedded.handler, fs_cgr.embedded.price\n"
        "top = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(top - set(sys.stdlib_module_names) - {'fs_cgr'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_prepaid_call_authorized_followed_over_the_link_and_charged_once(elab):
    lab = elab.lab
    lab.topup("1001", "1")
    call = elab.call()
    assert call.vars["cgr_notify"] == notify.AUTH_OK and call.vars["cgr_max_usage"] == "100"
    assert call.vars["fs_cgr_embedded"] == "true"
    assert call.session.executed == [] and call.channel.alive  # the dialplan just goes on
    elab.answer(call)
    assert lab.balance("1001") == Decimal("0.99")  # the first interval, paid ahead
    gevent.sleep(1.5)
    call.hangup()
    billmsec = billed(call)
    cdr = elab.cdr_of(call)
    assert cdr["RequestType"] == "*prepaid" and cdr["Usage"] == billmsec * 1_000_000
    assert cdr["Cost"] == per_second_cost(billmsec) == START - lab.balance("1001")
    assert lab.node.accounts.net == cdr["Cost"]
    wait_until(lambda: lab.node.sessions.active() == [], 5, "the session to end")
    assert not any("uuid_" in line for line in lab.sim.inbound_log)  # nothing sent to the call


@pytest.mark.parametrize("reqtype", ["*postpaid", "*pseudoprepaid", "*rated"])
def test_other_request_types_are_charged_at_hangup(elab, reqtype):
    lab = elab.lab
    lab.topup("1001", "1")
    call = elab.call(reqtype=reqtype)
    assert call.vars["cgr_notify"] == notify.AUTH_OK
    elab.answer(call)
    assert lab.balance("1001") == START
    gevent.sleep(1.2)
    call.hangup()
    cdr = elab.cdr_of(call)
    assert cdr["RequestType"] == reqtype and cdr["Cost"] == per_second_cost(billed(call))
    charged = cdr["Cost"] if reqtype != "*rated" else 0
    assert START - lab.balance("1001") == charged == lab.node.accounts.net


def test_none_request_type_is_let_through_and_not_followed(elab):
    lab = elab.lab
    call = elab.call(reqtype="*none")
    assert call.vars["cgr_notify"] == notify.AUTH_OK
    call.answer()
    gevent.sleep(0.2)
    call.hangup()
    gevent.sleep(0.3)
    assert lab.cdrs() == [] and lab.node.sessions.active() == []


def test_routes_flag_sets_cgr_routes_best_first(elab):
    elab.lab.topup("1001", "1")
    call = elab.call(cgr_flags="*accounts;*routes")
    assert call.vars["cgr_routes"] == "ARRAY::2|:supplier2|:supplier1"
    assert call.vars["cgr_notify"] == notify.AUTH_OK and call.vars["cgr_max_usage"] == "100"


@pytest.mark.parametrize(
    ("variables", "destination", "verdict"),
    [
        ({"cgr_account": "1001"}, UNPRICED, notify.UNAUTHORIZED_DESTINATION),
        ({"cgr_account": "1001"}, DE, notify.INSUFFICIENT_FUNDS),  # no money
        ({"cgr_account": "nobody"}, DE, notify.INSUFFICIENT_FUNDS),  # no such account
        ({"cgr_account": ""}, DE, notify.MISSING_PARAMETER),
    ],
)
def test_refusals_answer_the_call_and_move_no_money(elab, variables, destination, verdict):
    lab = elab.lab
    if verdict != notify.INSUFFICIENT_FUNDS:
        lab.topup("1001", "1")
    call = elab.call(account=None, destination=destination, **variables)
    assert call.vars["cgr_notify"] == verdict
    assert call.session.executed == [("respond", "403 Forbidden")]
    assert not call.channel.alive
    gevent.sleep(0.3)
    assert lab.node.sessions.active() == [] and lab.node.accounts.net == 0


def test_unanswered_call_gets_its_cdr_and_costs_nothing(elab):
    lab = elab.lab
    lab.topup("1001", "1")
    call = elab.call()
    call.hangup("NO_ANSWER")
    cdr = elab.cdr_of(call)
    assert cdr["Usage"] == 0 and cdr["Cost"] == 0
    assert lab.balance("1001") == START and lab.node.sessions.active() == []


def test_money_running_out_kills_the_call_over_the_link(elab):
    lab = elab.lab
    lab.topup("1001", "0.02")
    call = elab.call()
    assert call.vars["cgr_max_usage"] == "2"
    elab.answer(call)
    wait_until(lambda: not call.channel.alive, 5, "the cut")
    assert f"api uuid_kill {call.uuid} MANAGER_REQUEST" in lab.sim.inbound_log
    assert call.vars["cgr_notify"] == notify.INSUFFICIENT_FUNDS
    cdr = elab.cdr_of(call)
    assert cdr["Cost"] == Decimal("0.02") and lab.balance("1001") == 0


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def test_node_unreachable_or_silent_fails_closed_within_the_timeout(elab, silent_port):
    written = []
    state.burst = state.BurstLog(written.append)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/jsonrpc"  # bound, not listening
    for url in (dead_url, f"http://127.0.0.1:{silent_port}/jsonrpc"):
        for _ in range(3):
            began = time.monotonic()
            call = elab.call(url=url)
            assert time.monotonic() - began < 1.0  # the 0.5 s timeout, never a hung thread
            assert call.vars["cgr_notify"] == notify.SYSTEM_ERROR
            assert call.session.executed == [("respond", "503 Service Unavailable")]
    closed.close()
    assert len(written) == 1 and "-SYSTEM_ERROR" in written[0]  # one burst, one line
    assert elab.lab.node.accounts.net == 0


def test_an_unusable_node_url_refuses_the_call(elab):
    call = elab.call(url="https://elsewhere/jsonrpc")
    assert call.vars["cgr_notify"] == notify.SYSTEM_ERROR
    assert call.session.executed == [("respond", "503 Service Unavailable")]


def test_burst_log_counts_what_it_kept_quiet():
    now = [0.0]
    written = []
    burst = state.BurstLog(written.append, quiet=10, clock=lambda: now[0])
    for moment in (0, 1, 5, 14):
        now[0] = moment
        burst.failure(f"failed at {moment}")
    now[0] = 30
    burst.failure("again")
    assert written == [
        "failed at 0",
        "fs_cgr: 3 more calls failed the same way before this",
        "again",
    ]


def test_node_restart_mid_call_resumes_the_session_and_charges_once(make_elab):
    elab = make_elab("redis+mariadb")
    lab = elab.lab
    lab.topup("1001", "1")
    call = elab.call()
    elab.answer(call)
    gevent.sleep(1.2)
    lab.stop_node(hangup=False)
    lab.start_node()
    assert lab.session(call) is not None  # resumed: the channel is live
    gevent.sleep(1.2)
    call.hangup()  # seen over the new link
    cdr = elab.cdr_of(call)
    assert cdr["Cost"] == per_second_cost(billed(call)) == START - lab.balance("1001")
    wait_until(lambda: lab.node.datadb.journal_all() == [], 5, "the journal to empty")
    assert lab.node.sessions.active() == []


def test_channel_sync_ends_an_embedded_call_whose_hangup_was_lost(elab):
    lab = elab.lab
    lab.topup("1001", "1")
    call = elab.call()
    elab.answer(call)
    session_id = lab.session(call).cgrid
    lab.sim.drop_inbound()  # the hangup goes unseen
    gevent.sleep(0.1)
    lab.sim.channels.pop(call.uuid)
    call.channel.mark_hungup("NORMAL_CLEARING")
    wait_until(lambda: lab.agent.links.links[0].connected, 5, "the link back")
    assert lab.agent.sync.sync() == []  # missing once: FreeSWITCH may list a channel late
    assert lab.agent.sync.sync() == [session_id]
    assert lab.node.sessions.active() == []
    assert lab.balance("1001") == START  # never seen alive by a sync: charged nothing


def test_money_check_over_many_concurrent_embedded_calls(elab):
    accounts = [f"30{n:02d}" for n in range(16)]

    def place(account, reqtype):
        return elab.call(account=account, reqtype=reqtype)

    elab.lab.money_check(place, elab.answer, accounts, dry="0.03", talk=4)


@contextmanager
def cdr_inserts_held(mysql_url: str, table: str):
    """A StorDB slow to take CDRs: another connection holds the lock every insert into
    ``table`` waits for (reads go on), until the block ends."""
    url = urlsplit(mysql_url)
    locker = pymysql.connect(
        host=url.hostname, port=url.port or 3306, user=url.username or "root",
        password=url.password or "", database=url.path.strip("/"), read_timeout=5,
    )  # fmt: skip
    try:
        locker.begin()
        with locker.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table} FOR UPDATE")  # the gap up to the end
        yield
    finally:
        locker.rollback()
        locker.close()


def test_money_settles_after_the_last_session_leaves(make_elab, mysql_url):
    """A session leaves the active list when its settling starts; its CDR is stored last.
    With the StorDB slow, no session is left while money has moved and no CDR shows it:
    a money check (bench/calls.py money) must wait for ``settled``, the CDRs."""
    elab = make_elab("redis+mariadb")
    lab = elab.lab
    accounts = ("1001", "1002")
    for account in accounts:
        lab.topup(account, "1")
    calls = [elab.call("1001", reqtype="*prepaid"), elab.call("1002", reqtype="*postpaid")]
    for call in calls:
        elab.answer(call)
    gevent.sleep(1.2)
    with cdr_inserts_held(mysql_url, "agent_test_cdrs"):
        for call in calls:
            call.hangup()
        wait_until(lambda: lab.node.sessions.active() == [], 5, "the sessions to leave")
        money_settled = lab.node.sessions._finished  # results of calls whose money settled
        wait_until(lambda: len(money_settled) == len(calls), 5, "the refund and the debit")
        end = sum(lab.balance(account) for account in accounts)
        assert lab.node.accounts.net == 2 * START - end > 0  # the money has moved
        assert lab.node.stordb.count_cdrs({}) == 0  # the CDRs saying so are still queued
        assert not settled(lab.node, len(calls))
        # the prepaid session stays journaled until its CDR is stored: a node dying now
        # would settle it again at its restart (a no-op for the money) and store the CDR
        assert len(lab.node.datadb.journal_all()) == 1
    wait_until(lambda: settled(lab.node, len(calls)), 10, "the CDRs")
    wait_until(lambda: lab.node.datadb.journal_all() == [], 5, "the journal entry to go")
    assert sum(cdr["Cost"] for cdr in lab.cdrs()) == lab.node.accounts.net == 2 * START - end


def test_call_over_its_resource_limit_is_refused_busy(elab):
    """AuthorizeEvent's RESOURCES_ERROR:RESOURCE_UNAUTHORIZED is the socket agent's
    -RESOURCE_UNAVAILABLE (486), not a system error."""
    lab = elab.lab
    lab.topup("1001", "1")
    lab.node.resources.set_profile(one_call_limit(0))
    call = elab.call(cgr_flags=SEED_FLAGS)
    assert call.vars["cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    assert call.session.executed == [("respond", "486 Busy Here")]
    assert call.channel.hangup_cause == "USER_BUSY"  # loopback: the handler's hangup
    assert not call.channel.alive and lab.node.accounts.net == 0


def test_answered_call_holds_its_resource_unit_until_hangup(elab):
    lab = elab.lab
    lab.topup("1001", "1")
    lab.node.resources.set_profile(one_call_limit(1))
    first = elab.call(cgr_flags=SEED_FLAGS)
    assert first.vars["cgr_notify"] == notify.AUTH_OK
    elab.answer(first)
    assert elab.call(cgr_flags=SEED_FLAGS).vars["cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    first.hangup()
    elab.cdr_of(first)
    wait_until(lambda: elab.call(cgr_flags=SEED_FLAGS).vars["cgr_notify"] == notify.AUTH_OK,
               5, "the unit given back")  # fmt: skip


def test_no_resource_profile_means_no_limit(elab):
    """No profile matches (RESOURCES_ERROR:NOT_FOUND): let through, as the socket agent."""
    elab.lab.topup("1001", "1")
    assert elab.call(cgr_flags=SEED_FLAGS).vars["cgr_notify"] == notify.AUTH_OK


def test_attribute_altered_destination_is_set_and_rated(elab):
    """The handler sets the altered Destination; the link's answer and hangup alter the
    call's events the same way, so the session and CDR are the altered number's."""
    lab = elab.lab
    lab.topup("1001", "1")
    lab.node.attributes.set_profile(
        {"Tenant": "cgrates.org", "ID": "ATTR_E164", "Contexts": ["*sessions"],
         "FilterIDs": ["*prefix:~*req.Destination:00"],
         "Attributes": [{"Path": "*req.Destination", "Type": "*variable",
                         "Value": "~*req.Destination:s/^00(\\d+)$/${1}/"}], "Weight": 10}
    )  # fmt: skip
    call = elab.call(cgr_destination="00" + DE, cgr_flags=SEED_FLAGS)
    assert call.vars["cgr_notify"] == notify.AUTH_OK
    assert call.vars["Destination"] == DE
    elab.answer(call)
    gevent.sleep(1.2)
    call.hangup()
    cdr = elab.cdr_of(call)
    assert cdr["Destination"] == DE
    assert cdr["Cost"] == per_second_cost(billed(call)) == START - lab.balance("1001")


class StatsRecorder:
    """Stands in for node.stats: keeps the events the calls are reported with."""

    def __init__(self):
        self.events = []

    def process_event(self, cgr_event, ids=None):
        self.events.append(cgr_event["Event"])
        return []


def test_hangup_keeps_the_answers_alterations(elab):
    """The answer's AttributeS result is laid over the hangup's event (as a socket call
    keeps its connect's; AttributeS is not asked again): a profile removed mid-call still
    shapes what StatS gets at hangup, and nothing is kept once the call is over."""
    lab = elab.lab
    lab.topup("1001", "1")
    lab.node.stats = StatsRecorder()
    lab.node.attributes.set_profile(
        {"Tenant": "cgrates.org", "ID": "ATTR_TEAM", "Contexts": ["*sessions"],
         "FilterIDs": ["*string:~*req.Account:1001"],
         "Attributes": [{"Path": "*req.Team", "Type": "*constant", "Value": "sales"}],
         "Weight": 10}
    )  # fmt: skip
    call = elab.call(cgr_flags=SEED_FLAGS)
    elab.answer(call)
    lab.node.attributes.remove_profile("cgrates.org", "ATTR_TEAM")
    gevent.sleep(1.2)
    call.hangup()
    cdr = elab.cdr_of(call)
    assert cdr["Cost"] == per_second_cost(billed(call)) == START - lab.balance("1001")
    wait_until(lambda: lab.node.stats.events, 5, "the call reported")
    assert [event.get("Team") for event in lab.node.stats.events] == ["sales"]
    assert lab.agent.embedded.alterations == {}
