"""What only a real Redis Cluster shows: accounts spread over every master, each atomic
step in one slot, and scripts a restarted master no longer knows.

The whole DataDB contract also runs on this Cluster (the ``cluster`` parameter of the
``datadb`` fixture); these tests look at the servers behind it.
"""

import pytest

from fs_cgr.storage import open_datadb
from tests.storage.conftest import wipe_redis_prefix

PREFIX = "fscgrcluster"


@pytest.fixture
def cluster_datadb(redis_cluster):
    wipe_redis_prefix(redis_cluster.url, PREFIX)
    db = open_datadb(redis_cluster.url, prefix=PREFIX)
    yield db
    db.close()
    wipe_redis_prefix(redis_cluster.url, PREFIX)


def _keys_by_master(cluster) -> dict[int, list[str]]:
    found = {}
    for server in cluster.servers:
        with server.client() as client:
            found[server.port] = list(client.scan_iter(match=f"{PREFIX}:*"))
    return found


def test_accounts_spread_over_every_master_and_each_step_stays_on_one(
    cluster_datadb, redis_cluster
):
    for number in range(30):
        result = cluster_datadb.cas_account(
            "cgrates.org", f"acc{number}", 0, {"n": 1}, f"k{number}"
        )
        assert result.applied
    by_master = _keys_by_master(redis_cluster)
    assert all(by_master.values()), by_master  # every master holds accounts
    for number in range(30):
        account_key = f"{PREFIX}:{{acc:cgrates.org:acc{number}}}"
        holders = [port for port, keys in by_master.items() if account_key in keys]
        assert len(holders) == 1
        assert f"{account_key}:idem:k{number}" in by_master[holders[0]]  # same slot, same master
    assert cluster_datadb.account_ids("cgrates.org") == sorted(
        f"cgrates.org:acc{n}" for n in range(30)
    )


def test_script_flushed_on_every_master_is_loaded_again_and_runs_once(
    cluster_datadb, redis_cluster
):
    for number in range(10):
        cluster_datadb.cas_account("t", f"a{number}", 0, {"n": 1})
    for server in redis_cluster.servers:  # as after the masters restarted
        with server.client() as client:
            client.script_flush()
    for number in range(10):
        assert cluster_datadb.cas_account("t", f"a{number}", 1, {"n": 2}).version == 2
        assert cluster_datadb.get_account("t", f"a{number}") == ({"n": 2}, 2)
