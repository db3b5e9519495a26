"""The ``api`` fixture: a real Node behind a real HTTP server on a loopback port.

Parametrized over the embedded default (memory DataDB + SQLite StorDB) and the
shared-server setup (Redis + MariaDB). The Redis keys and SQL tables carry a
prefix of their own, so these tests never touch what other suites store.
"""

import http.client
import json
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from fs_cgr.api.client import RpcClient
from fs_cgr.api.server import ServerThread
from fs_cgr.app import Node
from fs_cgr.config import load_config
from fs_cgr.scheduler.service import Scheduler
from tests.conftest import ROOT, SHARED

BACKENDS = ("embedded", "redis+mariadb")


class Api:
    """A running node and its URL; ``call`` returns the result or raises RpcError."""

    def __init__(self, node: Node, url: str, backend: str):
        self.node = node
        self.url = url
        self.backend = backend
        self.client = RpcClient(url, timeout=30)

    def call(self, method: str, params: dict | None = None):
        return self.client.call(method, params or {})

    def post(self, body: bytes, path: str = "/jsonrpc", verb: str = "POST", headers=None):
        """A raw HTTP request: (status, reply parsed as JSON, or the bytes when it is not)."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request(verb, path, body=body, headers=headers or {})
            response = connection.getresponse()
            text = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(text, parse_float=Decimal)
        except ValueError:
            return response.status, text

    def reset(self) -> None:
        """Forget everything stored, so each test starts from an empty node. The scheduler
        is replaced too: a pass of the old one running across the flush (with timings it
        read before it) would fix anchors of the next test's plans on the real clock."""
        self.node.scheduler.stop()
        self.node.datadb.flush()
        self.node.stordb.flush()
        self.node.rating.refresh()
        self.node.scheduler = Scheduler(self.node)
        self.node.scheduler.start()


def _config(backend: str, request, data_dir) -> dict:
    overrides = {
        "general.data_dir": str(data_dir),
        "listen.http": "127.0.0.1:0",
        "listen.max_request_bytes": 1024 * 1024,
        # the project (examples/), ../shared and the tests' temporary folders
        "tariffplans.base_dirs": [str(ROOT), str(SHARED), str(data_dir.parent.parent)],
    }
    if backend == "embedded":
        overrides["stordb.url"] = f"sqlite:///{data_dir}/stordb.sqlite"
    else:
        redis_url = request.getfixturevalue("redis_url")
        mysql_url = request.getfixturevalue("mysql_url")
        overrides["datadb.url"] = f"{redis_url}?prefix=fs_cgr_api_test"
        overrides["stordb.url"] = f"{mysql_url}?table_prefix=api_test_"
    return overrides


@pytest.fixture(scope="session", params=BACKENDS)
def api_server(request, tmp_path_factory):
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"api-{backend.replace('+', '-')}")
    node = Node(load_config(overrides=_config(backend, request, data_dir), env={}))
    node.start()
    server = ServerThread(node).start()
    try:
        yield Api(node, server.url, backend)
    finally:
        server.stop()
        node.stop()


@pytest.fixture
def api(api_server) -> Api:
    api_server.reset()
    return api_server
