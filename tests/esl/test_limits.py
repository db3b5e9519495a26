"""Issue 8 on the event socket: who may connect to the outbound server, and one cap on the
bytes all connections hold unparsed (each may announce a 16 MiB body)."""

import gevent
import pytest
from gevent import socket

from fs_cgr import peers
from fs_cgr.esl import Connection
from fs_cgr.esl import budget as esl_budget
from fs_cgr.esl.budget import BufferBudget
from fs_cgr.peers import AllowList
from tests.fssim import wait_until

BIG_FRAME_HEAD = b"Content-Type: text/event-plain\nContent-Length: 10000000\n\n"


def _first_bytes(address, source: str) -> bytes:
    sock = socket.create_connection(address, 2, (source, 0))
    sock.settimeout(2)
    try:
        return sock.recv(100)
    finally:
        sock.close()


def test_outbound_server_hangs_up_on_peers_not_allowed(outbound):
    handled = []
    server = outbound(handled.append, allow=AllowList(["127.0.0.2"]))
    assert _first_bytes(server.address, "127.0.0.1") == b""  # closed before anything is said
    assert _first_bytes(server.address, "127.0.0.2") == b"connect\n\n"
    assert handled == []


def test_allow_list_entries():
    allow = AllowList(["127.0.0.0/8", "::1", "10.1.2.3"])
    assert allow.allows("127.9.9.9") and allow.allows("::1") and allow.allows("10.1.2.3")
    assert allow.allows("::ffff:127.0.0.1")  # a dual-stack socket's view of IPv4 loopback
    assert not allow.allows("10.1.2.4") and not allow.allows("") and not allow.allows("x")
    assert not AllowList([]).allows("127.0.0.1")
    with pytest.raises(ValueError, match="not an address"):
        AllowList(["localhost"])


def test_allow_list_answers_are_kept_per_host_and_bounded():
    allow = AllowList(["10.0.0.0/8"])
    assert [allow.allows("10.0.0.1") for _ in range(3)] == [True] * 3
    assert [allow.allows("10.0.0.1%eth0"), allow.allows("11.0.0.1")] == [True, False]
    for index in range(peers.KNOWN_HOSTS + 10):
        assert allow.allows(f"10.1.{index // 256}.{index % 256}")
    assert len(allow._known) <= peers.KNOWN_HOSTS


@pytest.fixture
def small_budget(monkeypatch):
    shared = BufferBudget(limit=1024 * 1024)
    monkeypatch.setattr(esl_budget, "BUFFERS", shared)
    return shared


def _peer():
    ours, theirs = socket.socketpair()
    return Connection(ours, name="peer").start(), theirs


def test_total_unparsed_bytes_are_capped(small_budget):
    peers = [_peer() for _ in range(3)]
    chunk = b"x" * 400 * 1024
    for _, theirs in peers:
        theirs.sendall(BIG_FRAME_HEAD + chunk)
        gevent.sleep(0.05)
    wait_until(lambda: peers[2][0].closed.is_set(), 2, "the third peer closed")
    first, second, third = (conn for conn, _ in peers)
    assert "over the cap" in third.close_reason
    assert not first.closed.is_set() and not second.closed.is_set()
    assert small_budget.total <= small_budget.limit
    first.close()
    assert small_budget.total == second._parser.pending  # what a closed connection held is free
    second.close()
    assert small_budget.total == 0
    for _, theirs in peers:
        theirs.close()


def test_complete_messages_release_their_bytes(small_budget):
    conn, theirs = _peer()
    body = b"Event-Name: HEARTBEAT\n\n"
    frame = b"Content-Type: text/event-plain\nContent-Length: %d\n\n" % len(body) + body
    for _ in range(200):  # 200 frames, far more than the cap in total, none held
        theirs.sendall(frame * 50)
    wait_until(lambda: conn.events.qsize() >= 10000, 5, "every event parsed")
    assert not conn.closed.is_set() and small_budget.total == 0
    conn.close()
    theirs.close()
