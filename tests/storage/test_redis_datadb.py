"""What only the Redis DataDB has: key layout, Cluster slots, TTLs, timeouts, URLs, and
compare-and-sets that share round trips."""

import json
import multiprocessing
import threading
import time

import pytest
import redis
from redis.crc import key_slot

from fs_cgr.errors import StorageUnavailable
from fs_cgr.storage import open_datadb
from fs_cgr.storage.base import IDEMPOTENCY_TTL, RATES
from fs_cgr.storage.redis_datadb import RedisDataDB
from tests.storage import stopped_waiter


@pytest.fixture
def redis_datadb(redis_url, redis_prefix, wiped_redis):
    db = RedisDataDB(redis_url, prefix=redis_prefix)
    yield db
    db.close()


@pytest.fixture
def raw(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=2)
    yield client
    client.close()


def test_key_layout(redis_datadb, raw, redis_prefix):
    redis_datadb.write_live([(RATES, "RT_1", {"ID": "RT_1"})])
    redis_datadb.cas_account("cgrates.org", "1001", 0, {"n": 1}, "debit-1", {"ok": True})
    redis_datadb.journal_put("s1", {"ID": "s1"})
    p = redis_prefix
    assert sorted(raw.scan_iter(match=f"{p}:*")) == sorted(
        [
            f"{p}:{{live}}:rates",
            f"{p}:{{live}}:version",
            f"{p}:{{acc:cgrates.org:1001}}",
            f"{p}:{{acc:cgrates.org:1001}}:idem:debit-1",
            f"{p}:accounts:cgrates.org",
            f"{p}:tenants",
            f"{p}:{{journal}}",
        ]
    )
    assert raw.hgetall(f"{p}:{{live}}:rates") == {"RT_1": '{"ID":"RT_1"}'}
    assert raw.hgetall(f"{p}:{{acc:cgrates.org:1001}}") == {"doc": '{"n":1}', "v": "1"}
    assert raw.get(f"{p}:{{acc:cgrates.org:1001}}:idem:debit-1") == '{"ok":true}'


@pytest.mark.parametrize("account", ["1001", "10}01", "{1001}"])
def test_atomic_steps_stay_in_one_cluster_slot(redis_datadb, raw, redis_prefix, account):
    redis_datadb.write_live([(RATES, "RT_1", {}), ("destinations", "D", {})])
    redis_datadb.cas_account("cgrates.org", account, 0, {}, "debit-1", None)
    keys = list(raw.scan_iter(match=f"{redis_prefix}:*"))
    live = {key_slot(k.encode()) for k in keys if ":{live}:" in k}
    account_keys = [k for k in keys if ":{acc:" in k]
    assert len(live) == 1 and len(account_keys) == 2
    assert len({key_slot(k.encode()) for k in account_keys}) == 1


def test_idempotency_record_expires(redis_url, redis_prefix, raw, wiped_redis):
    db = RedisDataDB(redis_url, prefix=redis_prefix, idempotency_ttl=60)
    db.cas_account("cgrates.org", "1001", 0, {}, "debit-1", 1)
    ttl = raw.ttl(f"{redis_prefix}:{{acc:cgrates.org:1001}}:idem:debit-1")
    assert 55 <= ttl <= 60
    raw.delete(f"{redis_prefix}:{{acc:cgrates.org:1001}}:idem:debit-1")  # as if it expired
    assert db.cas_account("cgrates.org", "1001", 1, {"again": 1}, "debit-1", 2).applied
    db.flush()
    db.close()
    assert IDEMPOTENCY_TTL == 24 * 3600
    default = RedisDataDB(redis_url, prefix=redis_prefix)
    assert default.idempotency_ttl == IDEMPOTENCY_TTL
    default.close()


def test_removal_and_flush_keep_only_the_version_counter(redis_datadb, raw, redis_prefix):
    key = f"{redis_prefix}:{{acc:cgrates.org:1001}}"
    redis_datadb.cas_account("cgrates.org", "1001", 0, {"n": 1}, "debit-1", {"ok": True})
    redis_datadb.remove_account("cgrates.org", "1001")
    assert raw.hgetall(key) == {"v": "1"}
    redis_datadb.cas_account("cgrates.org", "1001", 0, {"n": 2})
    redis_datadb.flush()
    assert raw.hgetall(key) == {"v": "2"}
    assert sorted(raw.scan_iter(match=f"{redis_prefix}:*")) == sorted(
        [key, f"{redis_prefix}:{{live}}:version"]
    )


def test_concurrent_compare_and_sets_share_round_trips(redis_datadb):
    sent = []
    pipeline = redis_datadb._cas._pipeline

    def counting(calls):
        sent.append(len(calls))
        return pipeline(calls)

    redis_datadb._cas._pipeline = counting
    barrier = threading.Barrier(8)
    outcomes = []

    def work(worker: int):
        barrier.wait()
        for n in range(25):
            doc = {"worker": worker, "n": n}
            outcomes.append(redis_datadb.cas_account("t", f"a{worker}", n, doc, f"k{n}", n))

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == sum(sent) == 200
    assert all(outcome.applied for outcome in outcomes)
    assert len(sent) < 200  # some calls went together
    for worker in range(8):
        assert redis_datadb.get_account("t", f"a{worker}") == ({"worker": worker, "n": 24}, 25)
        assert redis_datadb.cas_account("t", f"a{worker}", 25, {}, "k7").stored == 7


def test_script_unknown_to_the_server_is_loaded_and_runs_once(redis_datadb, raw):
    redis_datadb.cas_account("t", "a", 0, {"n": 1})
    raw.script_flush()  # as after a server restart
    assert redis_datadb.cas_account("t", "a", 1, {"n": 2}).version == 2
    assert redis_datadb.get_account("t", "a") == ({"n": 2}, 2)


def test_a_stopped_waiting_caller_stalls_no_one(silent_port, tmp_path):
    report = tmp_path / "report.json"
    child = multiprocessing.get_context("spawn").Process(
        target=stopped_waiter.run, args=(silent_port, str(report)), daemon=True
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    found = json.loads(report.read_text())
    assert found["outcomes"] == {"a": "unavailable", "c": "unavailable"}
    assert found["elapsed"] < 5


def test_account_index_ignores_ghosts(redis_datadb, raw, redis_prefix):
    """An index entry whose account was never written (crash between steps) is not listed."""
    raw.sadd(f"{redis_prefix}:tenants", "t1")
    raw.sadd(f"{redis_prefix}:accounts:t1", "ghost")
    redis_datadb.cas_account("t1", "real", 0, {})
    assert redis_datadb.account_ids() == ["t1:real"]


def test_prefixes_isolate_nodes(redis_url, redis_datadb):
    other = RedisDataDB(redis_url, prefix="fscgrtest2")
    try:
        redis_datadb.cas_account("t", "a", 0, {"mine": True})
        assert other.get_account("t", "a") is None
        other.flush()
        assert redis_datadb.get_account("t", "a") == ({"mine": True}, 1)
    finally:
        other.close()


def test_silent_server_times_out_as_storage_unavailable(silent_port):
    db = RedisDataDB(f"redis://127.0.0.1:{silent_port}/0", timeout=0.5)
    for call in (db.live_version, lambda: db.get_account("t", "a"), db.read_live):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            call()
        assert time.monotonic() - started < 1.5
    db.close()


def test_cas_on_silent_server_times_out(silent_port):
    db = open_datadb(f"redis://127.0.0.1:{silent_port}/0?timeout=0.3")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        db.cas_account("t", "a", 0, {}, "k", None)
    assert time.monotonic() - started < 1.0
    assert raised.value.message.startswith("STORAGE_UNAVAILABLE: redis:")
    db.close()


def test_refused_connection_is_storage_unavailable(closed_port):
    db = RedisDataDB(f"redis://127.0.0.1:{closed_port}/0", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        db.write_live([(RATES, "R", {})])
    assert time.monotonic() - started < 1.0
    db.close()


def test_unreachable_sentinel_and_cluster(closed_port):
    sentinel = open_datadb(f"redis+sentinel://127.0.0.1:{closed_port}/mymaster/2?timeout=0.3")
    with pytest.raises(StorageUnavailable):
        sentinel.live_version()
    with pytest.raises(StorageUnavailable):
        open_datadb(f"redis+cluster://127.0.0.1:{closed_port}?timeout=0.3")


def test_url_options(redis_url):
    db = open_datadb(redis_url + "?prefix=fscgrtest3&idempotency_ttl=120&timeout=1.5")
    try:
        assert (db.prefix, db.idempotency_ttl) == ("fscgrtest3", 120)
        pool_options = db._client.connection_pool.connection_kwargs
        assert pool_options["socket_timeout"] == 1.5
        assert pool_options["socket_connect_timeout"] == 1.5
        assert db.live_version() >= 0
    finally:
        db.flush()
        db.close()


@pytest.mark.parametrize(
    "url, options",
    [
        ("redis://127.0.0.1:6379/15", {"prefix": "bad{prefix}"}),
        ("redis://127.0.0.1:6379/15", {"prefix": ""}),
        ("redis://127.0.0.1:6379/15?timeout=soon", {}),
        ("redis://127.0.0.1:6379/15", {"idempotency_ttl": 0}),
        ("redis+sentinel://127.0.0.1:26379", {}),
        ("redis+sentinel://127.0.0.1/mymaster", {}),
        ("redis://127.0.0.1:6379/15?wait_replicas=-1", {}),
        ("redis://127.0.0.1:6379/15?wait_replicas=1&wait_timeout=0", {}),
        ("redis://127.0.0.1:6379/15?wait_replicas=1&wait_timeout=2&timeout=2", {}),
        ("redis+cluster://127.0.0.1:7000?wait_replicas=1", {}),
    ],
)
def test_bad_configuration_is_a_clear_value_error(url, options):
    with pytest.raises(ValueError):
        open_datadb(url, **options)
