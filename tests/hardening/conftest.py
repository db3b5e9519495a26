"""A Redis server of the test's own (free loopback port, append-only file fsynced on every
write, so a SIGKILL loses nothing), killed and restarted by the test; and the agent lab."""

import shutil
import signal
import socket
import subprocess
import time

import pytest
import redis

from tests.agents.conftest import lab, make_lab, plan_dir  # noqa: F401 - the agent lab
from tests.api.conftest import api, api_server  # noqa: F401 - a node behind its HTTP API
from tests.cdrs.conftest import embedded  # noqa: F401 - a node on the embedded backend


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    def __init__(self, directory):
        self.port = free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0?timeout=0.5"

    def start(self) -> "OwnRedis":
        command = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.directory), "--save", "", "--appendonly", "yes"]
        command += ["--appendfsync", "always"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies as in a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    server = OwnRedis(tmp_path).start()
    yield server
    if server.process.poll() is None:
        server.kill()
