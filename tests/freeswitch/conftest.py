"""The agent against a real FreeSWITCH (docker/README.md), skipped unless FS_ESL_HOST is set.

FreeSWITCH must run freeswitch_conf/ (its dialplan sends charged calls to
``socket 127.0.0.1:8084 full``); these tests start their own Node and agent on
127.0.0.1:8084, so stop any other fs_cgr there first. Calls are originated over the inbound
ESL as in ../shared/esl-captures: ``originate {cgr_...}loopback/<number>/default &park``;
the loopback B leg runs the dialplan and reaches the agent.

Answered calls need a number that FreeSWITCH's routing answers after ``+AUTH_OK`` (vanilla
sends unknown numbers nowhere): FS_TEST_ANSWER_NUMBER, e.g. with this extension in
``dialplan/default/10_test.xml``::

    <extension name="fs_cgr_test_answer">
      <condition field="destination_number" expression="^77\\d+$">
        <action application="answer"/>
        <action application="echo"/>
      </condition>
    </extension>

Not ``park``: a parked channel is "controlled", and FreeSWITCH ends the park, hence the
call, when the controlling outbound socket closes (fs_cgr restarting); a bridged call, or
``echo``, goes on.

Environment: FS_ESL_HOST, FS_ESL_PORT (8021), FS_ESL_PASSWORD (required:
no default password),
FS_TEST_ANSWER_NUMBER (answered scenarios are skipped without it).
"""

import os
import time
from decimal import Decimal

import gevent
import pytest
from gevent.queue import Empty

from fs_cgr.esl import InboundClient
from fs_cgr.money import ZERO
from tests.agents.conftest import node_overrides, start_agent
from tests.agents.lab import DE, TENANT, write_plan

HOST = os.environ.get("FS_ESL_HOST", "")
PORT = int(os.environ.get("FS_ESL_PORT", "8021"))
PASSWORD = os.environ.get("FS_ESL_PASSWORD", "")
ANSWER_NUMBER = os.environ.get("FS_TEST_ANSWER_NUMBER", "")

NEEDS_FREESWITCH = pytest.mark.skipif(
    not (HOST and PASSWORD), reason="FS_ESL_HOST or FS_ESL_PASSWORD not set: no FreeSWITCH"
)


class RealLab:
    """A Node and agent on 127.0.0.1:8084 (Redis + MariaDB, so a restart keeps the journal),
    and a control connection to FreeSWITCH."""

    def __init__(self, request, tmp_path):
        self.request, self.tmp_path = request, tmp_path
        self.plan_dir = write_plan(tmp_path)
        self.start_node(fresh=True)
        self.control = InboundClient(
            (HOST, PORT),
            PASSWORD,
            events=("CHANNEL_EXECUTE", "CHANNEL_HANGUP_COMPLETE"),
            event_format="json",
        ).start()
        self.executed: dict[str, list[tuple[str, str]]] = {}  # uuid -> dialplan applications
        assert self.control.wait_connected(5), "no inbound ESL connection to FreeSWITCH"

    def start_node(self, fresh: bool = False) -> None:
        """A new Node and agent on the same databases (a restart when not ``fresh``)."""
        overrides = node_overrides(
            "redis+mariadb",
            self.request,
            self.tmp_path,
            (HOST, PORT),
            **{
                "freeswitch_agent.listen": "127.0.0.1:8084",
                "freeswitch_agent.event_socket_conns": [
                    {"address": f"{HOST}:{PORT}", "password": PASSWORD, "alias": "fs"}
                ],
            },
        )
        self.node, self.agent = start_agent(overrides, self.plan_dir, fresh)

    def stop_node(self, hangup: bool = False) -> None:
        self.agent.stop(hangup=hangup)
        self.node.stop()

    def close(self) -> None:
        self.control.api("hupall MANAGER_REQUEST cgr_test yes")
        self.control.stop()
        self.stop_node()

    def topup(self, account: str, amount: str) -> None:
        self.node.accounts.add_balance(TENANT, account, "*monetary", amount)

    def balance(self, account: str) -> Decimal:
        found = self.node.accounts.get_account(TENANT, account)
        return sum((b.value for b in found.balances.get("*monetary", ())), ZERO)

    def originate(self, number: str = DE, **variables) -> None:
        """A loopback call; its B leg runs the dialplan (and fs_cgr's socket). The dial
        string is quoted, so a number may hold blanks."""
        variables = {"origination_caller_id_number": "1001", "cgr_test": "yes", **variables}
        channel_vars = ",".join(f"{name}={value}" for name, value in variables.items())
        dial = f"{{{channel_vars}}}'loopback/{number}/default'"
        reply = self.control.bgapi(f"originate {dial} &park")
        assert reply.ok, reply.text

    def live_call(self, timeout: float = 10) -> str:
        """The uuid of the answered call fs_cgr holds a session for."""
        deadline = time.monotonic() + timeout
        while not self.node.sessions.active():
            assert time.monotonic() < deadline, "no session: the call was not answered"
            gevent.sleep(0.01)
        return self.node.sessions.active()[0].origin_id

    def next_hangup(self, timeout: float = 30) -> dict:
        """The next B leg's CHANNEL_HANGUP_COMPLETE (billsec, variable_cgr_notify, cause);
        the applications its dialplan ran are in ``executed`` by then."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.control.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except Empty:
                raise AssertionError("no call ended") from None
            if event.get("variable_loopback_leg") != "B":
                continue
            if event.get("Event-Name") == "CHANNEL_EXECUTE":
                ran = self.executed.setdefault(event.get("Unique-ID"), [])
                ran.append((event.get("Application"), event.get("Application-Data", "")))
            else:
                return event.headers

    def responses(self, uuid: str) -> list[str]:
        """What the call's dialplan answered with ``respond`` (on a loopback channel
        ``respond`` answers nothing, so the hangup cause cannot show it)."""
        return [data for app, data in self.executed.get(uuid, ()) if app == "respond"]

    def alive(self, uuid: str) -> bool:
        return self.control.api(f"uuid_exists {uuid}").text == "true"

    def cdr(self, uuid: str) -> dict:
        deadline = time.monotonic() + 10
        while not (found := self.node.cdrs.get_cdrs({"OriginIDs": [uuid]})):
            assert time.monotonic() < deadline, f"no CDR for {uuid}"
            gevent.sleep(0.05)
        return found[0]


@pytest.fixture
def real(request, tmp_path):
    lab = RealLab(request, tmp_path)
    yield lab
    lab.close()


@pytest.fixture
def answer_number() -> str:
    if not ANSWER_NUMBER:
        pytest.skip("FS_TEST_ANSWER_NUMBER not set: no routing that answers calls")
    return ANSWER_NUMBER
