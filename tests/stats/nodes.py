"""Nodes for the StatS and ThresholdS tests: embedded (memory DataDB) or on the shared
Redis under a key prefix of their own, wiped before and after; several nodes may share
one Redis prefix (as several fs_cgr processes share one DataDB)."""

import pytest

from fs_cgr.app import Node
from fs_cgr.config import load_config
from tests.storage.conftest import wipe_redis_prefix

PREFIX = "fscgr_i11_stats"
BACKENDS = ("memory", "redis")


class Nodes:
    def __init__(self, backend: str, tmp_path, redis_url: str | None):
        self.backend = backend
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.started: list[Node] = []

    def new(self, **settings) -> Node:
        """A started node; ``settings``: more config overrides (``{"a.b": value}`` spelt
        ``a__b=value``)."""
        overrides = {
            "general.data_dir": str(self.tmp_path),
            "stordb.url": "sqlite://:memory:",
            **{key.replace("__", "."): value for key, value in settings.items()},
        }
        if self.redis_url:
            overrides["datadb.url"] = f"{self.redis_url}?prefix={PREFIX}"
        node = Node(load_config(overrides=overrides, env={})).start()
        self.started.append(node)
        return node

    def close(self) -> None:
        for node in self.started:
            node.stop()


@pytest.fixture(params=BACKENDS)
def nodes(request, tmp_path):
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    if redis_url:
        wipe_redis_prefix(redis_url, PREFIX)
    made = Nodes(request.param, tmp_path, redis_url)
    yield made
    made.close()
    if redis_url:
        wipe_redis_prefix(redis_url, PREFIX)


@pytest.fixture
def redis_nodes(request, tmp_path):
    """Nodes on Redis only (what several processes share)."""
    redis_url = request.getfixturevalue("redis_url")
    wipe_redis_prefix(redis_url, PREFIX)
    made = Nodes("redis", tmp_path, redis_url)
    yield made
    made.close()
    wipe_redis_prefix(redis_url, PREFIX)


@pytest.fixture
def node(nodes):
    return nodes.new()
