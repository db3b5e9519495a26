"""A lab for the agent tests: the FreeSWITCH simulator (outbound + inbound mode), a real
Node with a per-second tariff plan, and the agent between them, all on loopback.

The simulator runs on the wall clock (``WallClock``): the session service debits by
real time, and FreeSWITCH's billsec must measure the same seconds.
"""

from decimal import Decimal
from pathlib import Path

import gevent
import pytest

from fs_cgr.agents.freeswitch import FreeSwitchAgent
from fs_cgr.app import Node
from fs_cgr.config import load_config
from fs_cgr.money import ZERO
from tests.agents.lab import DE, TENANT, RecordingAccounts, WallClock, write_plan
from tests.fssim import FreeSwitchSim, wait_until
from tests.fssim.sim import SIM_PASSWORD

BACKENDS = ("embedded", "redis+mariadb")


def node_overrides(backend: str, request, data_dir: Path, inbound, **extra) -> dict:
    overrides = {
        "general.data_dir": str(data_dir),
        "listen.http": "127.0.0.1:0",
        "stordb.url": f"sqlite:///{data_dir}/stordb.sqlite",
        "sessions.debit_interval": "1s",
        "sessions.channel_sync_interval": "0s",  # tests call sync() themselves
        "freeswitch_agent.listen": "127.0.0.1:0",
        "freeswitch_agent.linger": "5s",
        "freeswitch_agent.event_socket_conns": [
            {"address": f"{inbound[0]}:{inbound[1]}", "password": SIM_PASSWORD, "alias": "fs1"}
        ],
    }
    if backend != "embedded":
        overrides["datadb.url"] = f"{request.getfixturevalue('redis_url')}?prefix=fs_cgr_agent_test"
        overrides["stordb.url"] = f"{request.getfixturevalue('mysql_url')}?table_prefix=agent_test_"
    overrides.update(extra)
    return overrides


def start_agent(overrides: dict, plan_dir: Path, fresh: bool):
    """A started Node (its accounts recorded) and agent; ``fresh`` empties the databases and
    loads the plan, else they are kept as a restart finds them."""
    node = Node(load_config(overrides=overrides, env={}))
    node.accounts = RecordingAccounts(node)
    if fresh:
        node.datadb.flush()
        node.stordb.flush()
        node.tariffplans.load_folder(plan_dir)
        node.rating.refresh()
    node.start()
    return node, FreeSwitchAgent(node).start()


class Lab:
    """One FreeSWITCH (the simulator) and one fs_cgr node with its agent."""

    def __init__(self, request, tmp_path: Path, plan_dir: Path, backend="embedded", **config):
        self.request, self.tmp_path, self.plan_dir = request, tmp_path, plan_dir
        self.backend = backend
        self.sim = FreeSwitchSim(WallClock())
        self.inbound = self.sim.listen_inbound()
        self.config = config
        self.node = self.agent = None
        self.start_node(fresh=True)

    def start_node(self, fresh: bool = False, **config) -> None:
        """A new Node and agent on the same databases (a restart when not ``fresh``)."""
        overrides = node_overrides(
            self.backend, self.request, self.tmp_path, self.inbound, **{**self.config, **config}
        )
        self.node, self.agent = start_agent(overrides, self.plan_dir, fresh)

    def stop_node(self, hangup: bool = False) -> None:
        self.agent.stop(hangup=hangup)
        self.node.stop()

    def close(self) -> None:
        self.stop_node()
        self.sim.close()

    # -- money -------------------------------------------------------------------
    def topup(self, account: str, amount: str) -> None:
        self.node.accounts.add_balance(TENANT, account, "*monetary", amount)

    def balance(self, account: str) -> Decimal:
        found = self.node.accounts.get_account(TENANT, account)
        return sum((b.value for b in found.balances.get("*monetary", ())), ZERO)

    def cdrs(self, **query) -> list[dict]:
        return self.node.cdrs.get_cdrs(query)

    def cdr_of(self, call, timeout: float = 5) -> dict:
        found = wait_until(
            lambda: self.cdrs(OriginIDs=[call.uuid]), timeout, f"the CDR of {call.uuid}"
        )
        assert len(found) == 1, found
        return found[0]

    # -- calls -------------------------------------------------------------------
    def call(self, account="1001", destination=DE, reqtype="*prepaid", **variables):
        """A call whose dialplan set cgr_* variables and ran the socket app; waits for the
        verdict (uuid_transfer)."""
        if account is not None:
            variables.setdefault("cgr_account", account)
        if reqtype is not None:
            variables.setdefault("cgr_reqtype", reqtype)
        call = self.sim.place_call(self.agent.address, variables, destination=destination)
        call.wait_transfer()
        return call

    def answer(self, call) -> None:
        call.answer()
        wait_until(lambda: self.session(call) is not None, 5, "the session")

    def money_check(self, place, answer, accounts, dry: str, talk: float) -> None:
        """Many calls at once: ``place(account, reqtype)`` one per account (even ones *prepaid
        with ``dry`` money, odd ones *postpaid with 1), ``answer(call)`` each; half are hung up
        one by one, the rest after ``talk`` s (prepaid ones ran dry meanwhile). Then debits -
        refunds = sum of CDR costs = start - end balances, and no session is left."""
        for n, account in enumerate(accounts):
            self.topup(account, (dry, "1")[n % 2])
        calls = [
            place(account, ("*prepaid", "*postpaid")[n % 2]) for n, account in enumerate(accounts)
        ]
        for call in calls:
            answer(call)
        gevent.sleep(0.5)
        for n, call in enumerate(calls[: len(calls) // 2]):
            gevent.sleep(0.1 * n)
            call.hangup()
        gevent.sleep(talk)
        for call in calls:
            if call.channel.alive:
                call.hangup()
        cdrs = [self.cdr_of(call) for call in calls]
        start = (Decimal(dry) + Decimal("1")) * len(accounts) / 2
        end = sum((self.balance(account) for account in accounts), Decimal(0))
        assert sum(cdr["Cost"] for cdr in cdrs) == self.node.accounts.net == start - end
        wait_until(lambda: self.node.sessions.active() == [], 5, "every session to end")

    def session(self, call):
        return next((s for s in self.node.sessions.active() if s.origin_id == call.uuid), None)


@pytest.fixture(scope="session")
def plan_dir(tmp_path_factory) -> Path:
    return write_plan(tmp_path_factory.mktemp("agent-plan"))


@pytest.fixture
def make_lab(request, tmp_path, plan_dir):
    """``make_lab(backend="embedded", **config_overrides)``; closed after the test."""
    labs = []

    def make(backend: str = "embedded", **config) -> Lab:
        lab = Lab(request, tmp_path / f"lab{len(labs)}", plan_dir, backend, **config)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.close()


@pytest.fixture
def lab(make_lab) -> Lab:
    return make_lab()
