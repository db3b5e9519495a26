"""Two ``fs-cgr serve`` nodes on a real 3-master Redis Cluster and one MariaDB StorDB, each
with a FreeSWITCH of its own (the simulator), charging prepaid calls of the same accounts
at the same time: every call's CDR costs exactly the seconds its FreeSWITCH billed, and
each account lost exactly the sum of its calls' costs (no debit lost to a concurrent one
from the other node, none applied twice).
"""

import socket
from decimal import Decimal

import gevent
import pytest

from fs_cgr.app import Node
from fs_cgr.config import load_config
from tests.agents.lab import DE, TENANT, WallClock, write_plan
from tests.fssim import FreeSwitchSim
from tests.storage.conftest import wipe_redis_prefix
from tests.workers.test_serve_workers import Served, _until

PREFIX = "fs_cgr_cluster_nodes"
START = Decimal("10")
ACCOUNTS = ("1001", "1002")
CALLS_PER_ACCOUNT = 3  # on each node


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def two_nodes(tmp_path, redis_cluster, mysql_url):
    datadb = f"{redis_cluster.url}?prefix={PREFIX}"
    stordb = f"{mysql_url}?table_prefix=cluster_nodes_"
    wipe_redis_prefix(redis_cluster.url, PREFIX)
    books = Node(load_config(overrides={"datadb.url": datadb, "stordb.url": stordb}, env={}))
    books.stordb.flush()
    (tmp_path / "plan").mkdir()
    books.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    for account in ACCOUNTS:
        books.accounts.add_balance(TENANT, account, "*monetary", START)
    nodes = []
    for name in ("a", "b"):
        sim = FreeSwitchSim(WallClock())
        (tmp_path / name).mkdir()
        node = Served(
            tmp_path / name, datadb, sim.listen_inbound(), {"debit_interval": "1s"},
            workers=1, stordb=stordb,
        )  # fmt: skip
        nodes.append((node, sim))
    yield nodes, books
    for node, sim in nodes:
        node.stop()
        sim.close()
    books.stordb.flush()
    books.stop()
    wipe_redis_prefix(redis_cluster.url, PREFIX)


def _talk(sim, node, account: str, seconds: float):
    call = sim.place_call(
        ("127.0.0.1", node.esl_port),
        {"cgr_account": account, "cgr_reqtype": "*prepaid"},
        destination=DE,
    )
    call.wait_transfer()
    assert call.vars["cgr_notify"] == "+AUTH_OK", call.vars
    call.answer()
    gevent.sleep(seconds)
    call.hangup()
    return call


def test_two_nodes_on_a_cluster_charging_the_same_accounts_end_exact(two_nodes):
    nodes, books = two_nodes
    for node, _ in nodes:
        _until(lambda n=node: _listening(n.esl_port), "the node taking calls")
    jobs = [
        gevent.spawn(_talk, sim, node, account, 1.5 + 0.4 * n)
        for node, sim in nodes
        for account in ACCOUNTS
        for n in range(CALLS_PER_ACCOUNT)
    ]
    gevent.joinall(jobs, raise_error=True)

    spent = dict.fromkeys(ACCOUNTS, Decimal(0))
    for job in jobs:
        call = job.value
        billmsec = int(_until(lambda c=call: c.vars.get("billmsec"), "billmsec"))
        cdrs = _until(lambda c=call: books.cdrs.get_cdrs({"OriginIDs": [c.uuid]}), "its CDR")
        assert len(cdrs) == 1
        assert cdrs[0]["Cost"] == Decimal(-(-billmsec // 1000)) * Decimal("0.01")
        spent[cdrs[0]["Account"]] += cdrs[0]["Cost"]
    for account in ACCOUNTS:
        balance = books.accounts.get_account(TENANT, account).balances["*monetary"][0].value
        assert balance == START - spent[account]
    _until(lambda: not books.datadb.journal_all(), "every session settled")
