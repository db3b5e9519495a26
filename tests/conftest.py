"""Fixtures shared by the whole suite.

Storage tests talk to real servers: Redis (FS_CGR_TEST_REDIS, default
redis://127.0.0.1:6379/15) and MariaDB/MySQL (FS_CGR_TEST_MYSQL, default
mysql://root@127.0.0.1:3306/test). When a server is missing the test is
skipped on a laptop but fails under CI (CI=true), so CI can never pass by
skipping them. ../shared (licensed test data) is optional everywhere.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FS_CGR_SHARED", ROOT.parent / "shared"))
REDIS_URL = os.environ.get("FS_CGR_TEST_REDIS", "redis://127.0.0.1:6379/15")
MYSQL_URL = os.environ.get("FS_CGR_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test")


def _reachable(url: str) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def _require_server(url: str, what: str) -> None:
    if _reachable(url):
        return
    message = f"{what} not reachable at {url}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run storage tests against real servers)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} absent (licensed test data lives outside the project)")
    return SHARED


@pytest.fixture(scope="session")
def tariffplans_dir(shared_dir) -> Path:
    return shared_dir / "tariffplans"


@pytest.fixture(scope="session")
def redis_url() -> str:
    _require_server(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture(scope="session")
def mysql_url() -> str:
    _require_server(MYSQL_URL, "MySQL/MariaDB")
    return MYSQL_URL


def _deployment(kind, tmp_path_factory):
    """Start a Redis deployment of the tests' own (tests/redis_deployments.py)."""
    from tests import redis_deployments

    if not redis_deployments.redis_available():
        if os.environ.get("CI"):
            pytest.fail("redis-server/redis-cli missing: CI must run the Cluster/Sentinel tests")
        pytest.skip("redis-server/redis-cli not installed")
    return kind(tmp_path_factory.mktemp(kind.__name__.lower()))


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master Redis Cluster on free loopback ports; ``.url`` is its redis+cluster:// URL."""
    from tests.redis_deployments import Cluster

    cluster = _deployment(Cluster, tmp_path_factory)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory):
    """A master, a replica and 3 sentinels on free loopback ports; ``.url`` is its
    redis+sentinel:// URL. Tests that kill a server ``heal()`` the group afterwards."""
    from tests.redis_deployments import SentinelGroup

    group = _deployment(SentinelGroup, tmp_path_factory)
    yield group
    group.stop()
