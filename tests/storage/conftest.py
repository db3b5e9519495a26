"""Every storage test runs against each backend: memory + Redis + a real 3-master Redis
Cluster (DataDB), SQLite + MariaDB (StorDB).

Redis tests use the server of ``redis_url`` (db 15) under their own key
prefix, wiped before and after each test (account version counters too, which
``flush`` keeps); MySQL tests use their own table prefix, flushed before and
after. So runs are isolated and repeatable.
"""

import socket
import threading

import pytest

from fs_cgr.storage import open_datadb, open_stordb
from fs_cgr.storage.redis_datadb import connect
from fs_cgr.storage.sqlite_thread import ThreadedStorDB

TEST_PREFIX = "fscgrtest"
TEST_TABLE_PREFIX = "fscgrtest_"


@pytest.fixture(params=["memory", "redis", "cluster"])
def datadb_url(request) -> str:
    """A URL that opens the backend under test (child processes open it too)."""
    if request.param == "memory":
        return "internal://"
    if request.param == "cluster":
        return request.getfixturevalue("redis_cluster").url
    return request.getfixturevalue("redis_url")


@pytest.fixture
def redis_prefix() -> str:
    return TEST_PREFIX


def wipe_redis_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``: a DataDB as new, which ``flush`` never gives
    (it keeps the account version counters so that versions never go back)."""
    client = connect(url, timeout=2, connect_timeout=2, health_check_interval=0)
    try:
        for key in list(client.scan_iter(match=f"{prefix}:*", count=500)):
            client.unlink(key)  # one by one: on a Cluster the keys live in many slots
    finally:
        client.close()


@pytest.fixture
def datadb(datadb_url):
    options = {} if datadb_url == "internal://" else {"prefix": TEST_PREFIX}
    if options:
        wipe_redis_prefix(datadb_url, TEST_PREFIX)
    db = open_datadb(datadb_url, **options)
    yield db
    db.close()
    if options:
        wipe_redis_prefix(datadb_url, TEST_PREFIX)


@pytest.fixture
def wiped_redis(redis_url, redis_prefix):
    """The ``redis_prefix`` keys of ``redis_url`` wiped before and after the test."""
    wipe_redis_prefix(redis_url, redis_prefix)
    yield
    wipe_redis_prefix(redis_url, redis_prefix)


@pytest.fixture
def table_prefix() -> str:
    return TEST_TABLE_PREFIX


@pytest.fixture(params=["sqlite", "sqlite_thread", "mysql"])
def stordb(request):
    """``sqlite_thread``: SQLite in a thread of its own, as a gevent-patched node has it."""
    if request.param == "sqlite":
        db = open_stordb("sqlite://:memory:")
    elif request.param == "sqlite_thread":
        db = ThreadedStorDB(open_stordb("sqlite://:memory:"))
    else:
        db = open_stordb(request.getfixturevalue("mysql_url"), table_prefix=TEST_TABLE_PREFIX)
    db.flush()
    yield db
    db.flush()
    db.close()


@pytest.fixture
def mysql_stordb(mysql_url):
    """The MariaDB StorDB alone: for what only its pool of server connections shows."""
    db = open_stordb(mysql_url, table_prefix=TEST_TABLE_PREFIX)
    db.flush()
    yield db
    db.flush()
    db.close()


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept_forever():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.fixture
def closed_port() -> int:
    """A TCP port nobody listens on."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port
