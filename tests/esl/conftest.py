"""Fixtures for the ESL tests: the captures, an outbound server, the simulator."""

import pytest

from fs_cgr.esl import OutboundServer
from tests.fssim import FreeSwitchSim
from tests.fssim.captures import capture_files


@pytest.fixture(scope="session")
def captures_dir(shared_dir):
    path = shared_dir / "esl-captures"
    if not capture_files(path):
        pytest.skip(f"no ESL captures in {path}")
    return path


@pytest.fixture
def sim():
    sim = FreeSwitchSim()
    yield sim
    sim.close()


@pytest.fixture
def outbound():
    """``outbound(handler, **kwargs)`` starts an OutboundServer on a free loopback port."""
    servers = []

    def start(handler, **kwargs):
        server = OutboundServer("127.0.0.1:0", handler, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(timeout=0.1)
