"""``fs-cgr serve --workers 2`` as real processes: both workers answer on the one API
port, a killed worker is started again, the node duty (hupall at shutdown, the link
events) is done by exactly one worker, and the sessions of a worker that lost a call's
socket or died are adopted by it and charged exactly.

The FreeSWITCH simulator runs in this process; each worker connects its own inbound
link to it. Which worker answered a request is read from the kernel: the process that
holds the accepted socket of the connection (/proc).
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import gevent
import pytest

from fs_cgr.app import Node
from fs_cgr.config import load_config
from tests.agents.lab import DE, TENANT, WallClock, write_plan
from tests.fssim import FreeSwitchSim
from tests.fssim.sim import SIM_PASSWORD
from tests.storage.conftest import wipe_redis_prefix

ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = "fs_cgr_workers_test"
START = Decimal("10")
CALLS = 64  # at most (the kernel may hand a burst to one worker), in bursts of
BURST = 4
SESSIONS = {"debit_interval": "1s", "channel_sync_interval": "300s"}  # no sync in the tests

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A ``fs-cgr serve --workers N`` process tree (a node) and its log."""

    def __init__(self, tmp_path: Path, datadb: str, inbound, sessions=None, **options):
        """``options``: ``workers`` (2), ``stordb`` (a SQLite file in ``tmp_path``)."""
        self.api_port, self.esl_port = _free_port(), _free_port()
        self.log_path = tmp_path / "serve.log"
        config = {
            "freeswitch_agent": {
                "event_socket_conns": [
                    {"address": f"{inbound[0]}:{inbound[1]}", "password": SIM_PASSWORD}
                ]
            },
            "sessions": sessions or {},
        }
        (tmp_path / "config.json").write_text(json.dumps(config))
        command = [
            sys.executable, "-m", "fs_cgr.api.cli", "serve",
            "--workers", str(options.get("workers", 2)),
            "--config", str(tmp_path / "config.json"),
            "--api", f"127.0.0.1:{self.api_port}", "--esl", f"127.0.0.1:{self.esl_port}",
            "--datadb", datadb,
            "--stordb", options.get("stordb", f"sqlite:///{tmp_path}/stordb.sqlite"),
        ]  # fmt: skip
        env = {**os.environ, "FS_CGR_DATA_DIR": str(tmp_path)}
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)

    def log(self) -> str:
        return self.log_path.read_text()

    def workers(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def duty_holders(self) -> list[int]:
        """Worker pids that logged holding the node duty."""
        return [
            int(pid) for pid in re.findall(r" (\d+) INFO fs_cgr: worker 0 of 2 holds", self.log())
        ]

    def ping_on_new_connection(self) -> int:
        """One JSON-RPC call on a new connection; the pid of the worker that answered."""
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=5)
        try:
            body = json.dumps({"method": "APIerSv1.Ping", "params": [{}], "id": 1})
            conn.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            reply = json.loads(conn.getresponse().read())
            assert reply["result"] == "Pong", reply
            return _owner_of_peer(conn.sock.getsockname()[1], self.api_port, self.workers())
        finally:
            conn.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while self.process.poll() is None and time.monotonic() < deadline:
                gevent.sleep(0.1)  # the simulator answers the hupalls meanwhile
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(10)


def _owner_of_peer(client_port: int, server_port: int, pids: list[int]) -> int:
    """The pid among ``pids`` holding the server side of the connection from ``client_port``."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = next(
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if fields[1] == local and fields[2] == remote
    )
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _until(condition, what: str, timeout: float = 60.0):
    """Wait, letting the simulator (gevent, this thread) serve meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.1)


@pytest.fixture
def served(tmp_path, redis_url):
    sim = FreeSwitchSim(WallClock())
    inbound = sim.listen_inbound()
    wipe_redis_prefix(redis_url, PREFIX)
    node = Served(tmp_path, f"{redis_url}?prefix={PREFIX}", inbound)
    yield node, sim
    node.stop()
    sim.close()
    wipe_redis_prefix(redis_url, PREFIX)


def _answering(node) -> set[int]:
    try:
        return {node.ping_on_new_connection() for _ in range(40)}
    except OSError:
        return set()


def test_two_workers_share_the_port_one_restarts_one_holds_the_duty(served):
    node, sim = served
    _until(lambda: len(node.duty_holders()) == 1 and len(node.workers()) == 2, "two workers")
    workers = node.workers()
    assert _until(lambda: _answering(node) == set(workers), "both workers answering")
    _until(lambda: len(sim.inbound_sessions) == 2, "an inbound link per worker")
    assert node.duty_holders() == [workers[0]]  # slot 0, started first
    assert _subscribed(sim) == 1  # FreeSWITCH sends each event once, to the duty worker

    os.kill(workers[0], signal.SIGKILL)
    _until(lambda: not Path(f"/proc/{workers[0]}").exists(), "the supervisor reaping worker 0")
    # the port keeps answering meanwhile: the other worker, and the restarted one as soon as
    # it listens (a connection the dying worker had accepted dies with it: that is what a
    # crash costs)
    answered = {node.ping_on_new_connection() for _ in range(10)}
    assert workers[0] not in answered and answered <= {workers[1], *node.workers()}
    restarted = _until(
        lambda: [pid for pid in node.workers() if pid not in workers], "worker 0 restarted"
    )
    assert len(restarted) == 1 and len(node.workers()) == 2
    _until(lambda: len(node.duty_holders()) == 2, "the new worker 0 taking the duty")
    assert node.duty_holders()[-1] == restarted[0]  # the duty moved; the old holder is dead
    assert _until(lambda: _answering(node) == {workers[1], restarted[0]}, "both answering")
    _until(lambda: len(sim.inbound_sessions) == 2, "the new worker's inbound link")
    _until(lambda: _subscribed(sim) == 1, "the new worker 0 subscribing to events")

    assert node.stop() == 0
    hupalls = [command for command in sim.inbound_log if "hupall" in command]
    assert len(hupalls) == 2, hupalls  # *prepaid and *postpaid, from one worker only
    assert node.workers() == []


def test_a_burst_of_connections_is_spread_over_both_workers(served):
    """Each worker listens on the API port with a socket of its own (SO_REUSEPORT): the
    kernel hashes 32 connections opened at once over both, whichever worker runs first
    (with one shared socket, one worker under load took them all). A worker gets fewer
    than 4 of 32 by chance once in 10^5 runs."""
    node, _ = served
    _until(lambda: len(node.duty_holders()) == 1 and len(node.workers()) == 2, "two workers")
    workers = node.workers()
    assert _until(lambda: _answering(node) == set(workers), "both workers answering")
    conns = [socket.create_connection(("127.0.0.1", node.api_port), 5) for _ in range(32)]
    try:
        body = json.dumps({"method": "APIerSv1.Ping", "params": [{}], "id": 1}).encode()
        request = b"POST /jsonrpc HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        for conn in conns:
            conn.sendall(request)
        for conn in conns:
            reply = b""
            while b'"result":"Pong"' not in reply:
                reply += conn.recv(65536) or pytest.fail(f"closed after {reply!r}")
        owners = [_owner_of_peer(c.getsockname()[1], node.api_port, workers) for c in conns]
    finally:
        for conn in conns:
            conn.close()
    assert min(owners.count(pid) for pid in workers) >= 4, owners


def test_workers_stop_when_the_supervisor_is_killed(served):
    node, _ = served
    _until(lambda: len(node.duty_holders()) == 1 and len(node.workers()) == 2, "two workers")
    workers = node.workers()
    node.process.kill()  # SIGKILL: no chance to stop its workers
    node.process.wait(10)
    try:
        _until(lambda: not any(_running(pid) for pid in workers), "orphans stopping", 30)
    except AssertionError:
        states = {
            pid: Path(f"/proc/{pid}/stat").read_text()[:80] for pid in workers if _running(pid)
        }
        raise AssertionError(f"{states}\n{node.log()[-1500:]}") from None


def _subscribed(sim) -> int:
    """Inbound links subscribed to events."""
    return sum(1 for session in sim.inbound_sessions if session.event_names)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init once it exits)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def charging(tmp_path, redis_url):
    """Two workers charging prepaid calls (1 s debits) from accounts with START money; the
    test reads the money and the CDRs through a Node of its own on the same databases."""
    sim = FreeSwitchSim(WallClock())
    inbound = sim.listen_inbound()
    wipe_redis_prefix(redis_url, PREFIX)
    overrides = {
        "datadb.url": f"{redis_url}?prefix={PREFIX}",
        "stordb.url": f"sqlite:///{tmp_path}/stordb.sqlite",
        "general.data_dir": str(tmp_path),
    }
    books = Node(load_config(overrides=overrides, env={}))
    (tmp_path / "plan").mkdir()
    books.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    for n in range(CALLS):
        books.accounts.add_balance(TENANT, f"10{n:02d}", "*monetary", START)
    node = Served(tmp_path, overrides["datadb.url"], inbound, sessions=SESSIONS)
    yield node, sim, books
    node.stop()
    sim.close()
    books.stop()
    wipe_redis_prefix(redis_url, PREFIX)


def _followers(node, books, calls) -> dict[str, int]:
    """uuid -> pid of the worker whose session service journals the call's session."""
    owners = {doc["OriginID"]: doc.get("Owner", "") for doc in books.datadb.journal_all()}
    return {
        call.uuid: int(owners[call.uuid].rsplit("|", 1)[1].split(":")[0])
        for call in calls
        if call.uuid in owners and "released" not in owners[call.uuid]
    }


def _call(sim, node, n: int):
    """Call n of account 10<n>: *prepaid when n is even, else *postpaid; answered."""
    call = sim.place_call(
        ("127.0.0.1", node.esl_port),
        {"cgr_account": f"10{n:02d}", "cgr_reqtype": ("*prepaid", "*postpaid")[n % 2]},
        destination=DE,
    )
    call.answering = gevent.spawn(_answer_when_authorized, call, node)
    return call


def _answer_when_authorized(call, node) -> None:
    call.wait_transfer()
    assert call.vars["cgr_notify"] == "+AUTH_OK"
    call.worker = _owner_of_peer(call.sock.getsockname()[1], node.esl_port, node.workers())
    call.answer()


def test_sessions_of_a_lost_socket_and_of_a_dead_worker_are_adopted_and_charged_once(charging):
    node, sim, books = charging
    _until(lambda: len(node.duty_holders()) == 1 and len(node.workers()) == 2, "two workers")
    duty, other = node.workers()
    _until(lambda: _answering(node) == {duty, other}, "both workers serving")
    calls = []
    while True:  # bursts of connections, which the kernel spreads over both workers
        assert len(calls) < CALLS, "worker 1 never got 2 *prepaid calls and a *postpaid one"
        calls += [_call(sim, node, n) for n in range(len(calls), len(calls) + BURST)]
        gevent.joinall([call.answering for call in calls], raise_error=True)
        prepaid = [c for c in calls[::2] if c.worker == other]
        postpaid = [c for c in calls[1::2] if c.worker == other]
        if len(prepaid) >= 2 and postpaid:
            break
    _until(lambda: len(_followers(node, books, calls[::2])) == len(calls[::2]), "sessions")
    gevent.sleep(0.5)  # the *postpaid sessions start too
    for call in postpaid[1:]:  # a dead worker's *postpaid calls are not journaled: not here
        call.hangup()

    for dropped in (prepaid[0], postpaid[0]):
        dropped.drop()  # worker 1 loses the socket: it hands the session over to worker 0
    _until(lambda: _followers(node, books, prepaid[:1]).get(prepaid[0].uuid) == duty, "handover")
    os.kill(other, signal.SIGKILL)  # and then dies: worker 0 adopts its other sessions
    _until(lambda: set(_followers(node, books, prepaid).values()) == {duty}, "adoption of all")
    gevent.sleep(2)  # the adopted sessions are debited on
    for call in calls:
        call.hangup()

    for n, call in enumerate(calls):
        billmsec = int(_until(lambda c=call: c.vars.get("billmsec"), "billmsec"))
        cdrs = _until(lambda c=call: books.cdrs.get_cdrs({"OriginIDs": [c.uuid]}), "its CDR")
        assert len(cdrs) == 1
        cost = Decimal(-(-billmsec // 1000)) * Decimal("0.01")
        balance = books.accounts.get_account(TENANT, f"10{n:02d}").balances["*monetary"][0].value
        assert cdrs[0]["Cost"] == cost == START - balance  # each second paid once, none lost
    _until(lambda: not books.datadb.journal_all(), "every session settled")
