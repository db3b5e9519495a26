"""Opening databases from URLs, and what a database that does not answer looks like."""

import time
from urllib.parse import urlsplit

import pymysql
import pytest

from fs_cgr.errors import StorageUnavailable
from fs_cgr.storage import open_datadb, open_stordb
from fs_cgr.storage.memory import MemoryDataDB
from fs_cgr.storage.redis_datadb import RedisDataDB
from fs_cgr.storage.sql import SQLStorDB


@pytest.mark.parametrize("url", ["", "internal://", "internal"])
def test_internal_datadb_is_memory(url):
    assert isinstance(open_datadb(url), MemoryDataDB)


def test_redis_url_opens_redis(redis_url):
    db = open_datadb(redis_url, prefix="fscgrtest")
    assert isinstance(db, RedisDataDB)
    db.close()


@pytest.mark.parametrize("url", ["mongodb://127.0.0.1/x", "redis-ish://h:1", "/tmp/data"])
def test_unknown_datadb_url(url):
    with pytest.raises(ValueError, match="unknown DataDB URL"):
        open_datadb(url)


@pytest.mark.parametrize(
    "url", ["mongodb://127.0.0.1/x", "postgres://u@h/db", "sqlite:/x.db", "sqlite://rel.db"]
)
def test_unknown_or_malformed_stordb_url(url):
    with pytest.raises(ValueError, match="URL"):
        open_stordb(url)


def test_internal_stordb_is_private_sqlite_memory():
    first, second = open_stordb("internal://"), open_stordb("internal://")
    assert isinstance(first, SQLStorDB)
    first.set_tp("TP", "rates", "R", {})
    assert second.tpids() == []
    assert first.tpids() == ["TP"]


def test_sqlite_url_options(tmp_path):
    db = open_stordb(f"sqlite:///{tmp_path}/x.sqlite?table_prefix=p_&busy_timeout=1")
    db.set_tp("TP", "rates", "R", {"ok": True})
    assert db.get_tp("TP", "rates", "R") == {"ok": True}
    db.close()
    with pytest.raises(ValueError, match="busy_timeout"):
        open_stordb(f"sqlite:///{tmp_path}/x.sqlite?busy_timeout=never")


def test_mysql_url_rejects_unknown_options(mysql_url):
    with pytest.raises(ValueError):
        open_stordb(mysql_url + "?autocommit=0")


def test_mysql_silent_server_is_storage_unavailable(silent_port):
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        open_stordb(
            f"mysql://root@127.0.0.1:{silent_port}/test?connect_timeout=0.5&read_timeout=0.5"
        )
    assert time.monotonic() - started < 2.0


def test_mysql_refused_connection_is_storage_unavailable(closed_port):
    with pytest.raises(StorageUnavailable):
        open_stordb(f"mysql://root@127.0.0.1:{closed_port}/test", connect_timeout=0.5)


def test_mysql_read_timeout_then_recovery(mysql_url, table_prefix):
    """A query blocked past read_timeout fails fast; the next one gets a fresh connection."""
    db = open_stordb(mysql_url, table_prefix=table_prefix, read_timeout=0.5)
    url = urlsplit(mysql_url)
    locker = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.path.strip("/"),
        read_timeout=5,
    )
    try:
        with locker.cursor() as cursor:
            cursor.execute(f"LOCK TABLES {table_prefix}cdrs WRITE")
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            db.count_cdrs({})
        assert time.monotonic() - started < 1.5
        with locker.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
        assert db.count_cdrs({}) >= 0
    finally:
        locker.close()
        db.close()
