"""The MariaDB StorDB against a server of the test's own: restarted (crashed and started
again) and refusing connections (``max_connections`` reached). No CDR is lost: what
cannot be stored goes to the spool, and the StorDB reconnects on its own afterwards.
"""

import os
from decimal import Decimal

import pytest

from tests.cdrs.helpers import call, make_node, monetary, top_up, write_plan
from tests.mariadb_server import MAX_CONNECTIONS, MariaDBServer, mariadb_available

pytestmark = pytest.mark.mysql


@pytest.fixture(scope="module")
def own_mariadb(tmp_path_factory):
    if not mariadb_available():
        if os.environ.get("CI"):
            pytest.fail("mariadbd/mariadb-install-db missing: CI must run the restart tests")
        pytest.skip("mariadbd not installed")
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


@pytest.fixture
def node(request, tmp_path, own_mariadb):
    url = (
        f"{own_mariadb.url}?table_prefix=restart_&connect_timeout=1&read_timeout=2&write_timeout=2"
    )
    node = make_node("embedded", request, tmp_path / "data", **{"stordb.url": url})
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    top_up(node, "1001", 100)
    yield node
    node.stop()


def _cdrs(node, first, count):
    events = [
        call(f"rs-{n}", RequestType="*postpaid", Usage="60s") for n in range(first, first + count)
    ]
    return node.cdrs.process_events(events)


def _all_stored_once(node, count):
    cdrs = node.cdrs.get_cdrs({"OriginIDs": [f"rs-{n}" for n in range(count + 10)]})
    assert sorted(cdr["OriginID"] for cdr in cdrs) == sorted(f"rs-{n}" for n in range(count))
    assert monetary(node, "1001") == Decimal(100) - count * Decimal("0.6")  # charged once each


def test_a_restarted_server_loses_no_cdr(node, own_mariadb):
    assert [o.stored for o in _cdrs(node, 0, 10)] == [1] * 10
    own_mariadb.crash()
    assert [o.spooled for o in _cdrs(node, 10, 10)] == [1] * 10  # down: spooled
    own_mariadb.start()
    # the pooled connections died with the server: the StorDB opens new ones by itself
    assert [o.stored for o in _cdrs(node, 20, 10)] == [1] * 10
    assert node.cdrs.replay_spool() == 10
    assert not node.cdrs.spool.pending()
    _all_stored_once(node, 30)


def test_connections_refused_at_max_connections_lose_no_cdr(node, own_mariadb):
    assert [o.stored for o in _cdrs(node, 0, 5)] == [1] * 5
    node.stordb.close()  # give back the pooled connections, so the hogs can take every slot
    hogs = []
    try:
        while True:  # max_connections, plus the one MariaDB keeps for SUPER users
            hogs.append(own_mariadb.connect())
    except Exception as refused:
        assert "Too many connections" in str(refused)
    assert len(hogs) >= MAX_CONNECTIONS
    try:
        assert [o.spooled for o in _cdrs(node, 5, 10)] == [1] * 10
    finally:
        for hog in hogs:
            hog.close()
    assert [o.stored for o in _cdrs(node, 15, 5)] == [1] * 5
    assert node.cdrs.replay_spool() == 10
    _all_stored_once(node, 20)


def test_calls_ending_while_the_server_is_down_spool_their_cdrs(node, own_mariadb):
    """The call path's group commit makes its StorDB calls on one connection
    (StorDB.run); with none to be had they go on without one, and spool."""
    events = [call(f"rs-{n}", RequestType="*postpaid", Usage="60s") for n in range(4)]
    assert [o.stored for o in node.cdrs.process_call_events(events[:1])] == [1]
    own_mariadb.crash()
    try:
        assert [o.spooled for o in node.cdrs.process_call_events(events[1:])] == [1] * 3
    finally:
        own_mariadb.start()
    assert node.cdrs.replay_spool() == 3
    _all_stored_once(node, 4)
