"""Every storage test runs against each backend: memory + Redis (DataDB), SQLite + MariaDB (StorDB).

Redis tests use the server of ``redis_url`` (db 15) under their own key
prefix; MySQL tests use their own table prefix. Both are flushed before and
after each test, so runs are isolated and repeatable.
"""

import socket
import threading

import pytest

from fs_cgr.storage import open_datadb, open_stordb

TEST_PREFIX = "fscgrtest"
TEST_TABLE_PREFIX = "fscgrtest_"


@pytest.fixture(params=["memory", "redis"])
def datadb_url(request) -> str:
    """A URL that opens the backend under test (child processes open it too)."""
    if request.param == "memory":
        return "internal://"
    return request.getfixturevalue("redis_url")


@pytest.fixture
def redis_prefix() -> str:
    return TEST_PREFIX


@pytest.fixture
def datadb(datadb_url):
    options = {} if datadb_url == "internal://" else {"prefix": TEST_PREFIX}
    db = open_datadb(datadb_url, **options)
    db.flush()
    yield db
    db.flush()
    db.close()


@pytest.fixture
def table_prefix() -> str:
    return TEST_TABLE_PREFIX


@pytest.fixture(params=["sqlite", "mysql"])
def stordb(request):
    if request.param == "sqlite":
        db = open_stordb("sqlite://:memory:")
    else:
        db = open_stordb(request.getfixturevalue("mysql_url"), table_prefix=TEST_TABLE_PREFIX)
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
