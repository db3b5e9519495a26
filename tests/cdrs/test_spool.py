"""StorDB down mid-stream: CDRs go to the spool and arrive exactly once after recovery.

Against the real MariaDB, reached through a loopback TCP proxy that the test cuts.
"""

import os
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fs_cgr.cdrs import service as cdr_service
from fs_cgr.cdrs.spool import Spool
from fs_cgr.errors import StorageUnavailable
from tests.cdrs.helpers import call, make_node, monetary, top_up, write_plan
from tests.cdrs.tcp_proxy import TcpProxy

pytestmark = pytest.mark.mysql


@pytest.fixture
def proxy(mysql_url):
    parts = urlsplit(mysql_url)
    proxy = TcpProxy((parts.hostname, parts.port or 3306))
    yield proxy
    proxy.close()


@pytest.fixture
def proxied(request, tmp_path, mysql_url, proxy):
    parts = urlsplit(mysql_url)
    url = (
        f"mysql://{parts.username or 'root'}@127.0.0.1:{proxy.port}{parts.path}"
        "?table_prefix=spool_test_&connect_timeout=1&read_timeout=2&write_timeout=2"
    )
    node = make_node("redis+mariadb", request, tmp_path / "data", **{"stordb.url": url})
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    top_up(node, "1001", 100)
    yield node
    node.stop()


def _events(first, count):
    return [
        call(f"sp-{n}", RequestType="*postpaid", Usage="60s") for n in range(first, first + count)
    ]


def test_cdrs_survive_a_stordb_outage_exactly_once(proxied, proxy, monkeypatch):
    spool = proxied.cdrs.spool
    before = [o.stored for o in proxied.cdrs.process_events(_events(0, 20))]
    proxy.cut()
    during = proxied.cdrs.process_events(_events(20, 30))
    assert [o.spooled for o in during] == [1] * 30
    assert len(Path(spool.path).read_text().splitlines()) == 30
    with pytest.raises(StorageUnavailable):
        proxied.stordb.count_cdrs({})
    assert proxied.cdrs.replay_spool() == 0  # still down: kept for later
    assert spool.pending()
    resent = proxied.cdrs.process_events(_events(15, 10))  # the agent retries some
    proxy.restore()
    monkeypatch.setattr(cdr_service, "SPOOL_REPLAY_INTERVAL", 0.1)
    proxied.start()  # the background replayer
    deadline = time.monotonic() + 10
    while spool.pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not spool.pending()
    assert before == [1] * 20
    assert [o.duplicates + o.spooled for o in resent] == [1] * 10
    cdrs = proxied.cdrs.get_cdrs({"OriginIDs": [f"sp-{n}" for n in range(60)]})
    assert sorted(cdr["OriginID"] for cdr in cdrs) == sorted(f"sp-{n}" for n in range(50))
    assert all(cdr["Cost"] == Decimal("0.6") for cdr in cdrs)
    assert monetary(proxied, "1001") == Decimal(100) - 50 * Decimal("0.6")  # charged once each


def test_replay_failing_midway_keeps_the_rest(proxied, proxy):
    spool = proxied.cdrs.spool
    proxy.cut()
    proxied.cdrs.process_events(_events(100, 5))
    assert spool.pending()
    calls = []

    def store_then_fail(cdrs):
        calls.append(len(cdrs))
        if len(calls) > 1:
            raise StorageUnavailable("cut")
        return len(cdrs)

    small = Spool(spool.directory, batch=2)
    with pytest.raises(StorageUnavailable):
        small.replay(store_then_fail)
    assert os.path.exists(small.replay_path)  # the whole file stays for the next attempt
    proxy.restore()
    assert proxied.cdrs.replay_spool() == 5
    assert proxied.cdrs.replay_spool() == 0
    assert proxied.stordb.count_cdrs({"OriginIDs": [f"sp-{n}" for n in range(100, 105)]}) == 5
