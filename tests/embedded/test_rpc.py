"""The embedded handler's node client (fs_cgr.embedded.rpc) against scripted HTTP peers:
kept-alive connections, a connection the node closed, bursts over the pool, odd replies."""

import json
import socket
import threading
import time

import pytest

from fs_cgr.embedded.rpc import NodeClient, NodeRefused, NodeUnavailable
from tests.http_wire import read_message


class Peer:
    """A listening socket; each accepted connection is served by ``serve(conn)`` in a thread."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/jsonrpc"
        self.accepted = 0
        self.serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


def read_request(conn) -> dict | None:
    """One POST's JSON body, None when the client closed the connection."""
    message = read_message(conn)
    return None if message is None else json.loads(message[1])


def reply(request: dict, result) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.fixture
def peers():
    made = []

    def make(serve):
        made.append(Peer(serve))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


def test_one_connection_serves_many_requests(peers):
    def serve(conn):
        while (request := read_request(conn)) is not None:
            conn.sendall(reply(request, {"echo": request["params"][0]["n"]}))

    peer = peers(serve)
    client = NodeClient(peer.url, 1.0)
    assert [client.call("X.Y", {"n": n})["echo"] for n in range(5)] == [0, 1, 2, 3, 4]
    assert peer.accepted == 1


def test_a_kept_alive_connection_the_node_closed_is_asked_again_on_a_new_one(peers):
    def serve(conn):  # answers one request, then closes without saying so (an idle timeout)
        request = read_request(conn)
        conn.sendall(reply(request, "ok"))
        conn.close()

    peer = peers(serve)
    client = NodeClient(peer.url, 1.0)
    assert client.call("X.Y", {}) == "ok"
    time.sleep(0.05)
    assert client.call("X.Y", {}) == "ok"
    assert peer.accepted == 2


def test_a_node_that_closes_before_answering_is_unavailable_not_retried_forever(peers):
    peer = peers(lambda conn: (read_request(conn), conn.close()))
    with pytest.raises(NodeUnavailable, match="closed"):
        NodeClient(peer.url, 1.0).call("X.Y", {})
    assert peer.accepted == 1


def burst(client, count: int) -> list:
    """``count`` calls at once from as many threads: each one's (seconds, result or error)."""
    outcomes = []

    def ask():
        began = time.monotonic()
        try:
            outcome = client.call("X.Y", {})
        except NodeUnavailable as exc:
            outcome = exc
        outcomes.append((time.monotonic() - began, outcome))

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    return outcomes


def test_a_burst_beyond_the_pool_waits_for_its_connections(peers):
    def serve(conn):  # a slow node: 0.2 s a request
        while (request := read_request(conn)) is not None:
            time.sleep(0.2)
            conn.sendall(reply(request, "ok"))

    peer = peers(serve)
    outcomes = burst(NodeClient(peer.url, 2.0, pool_size=2), 6)
    assert [outcome for _, outcome in outcomes] == ["ok"] * 6
    assert peer.accepted == 2  # never more connections than the pool: they were passed on
    assert max(took for took, _ in outcomes) >= 0.55  # the last two waited for two turns


def test_a_silent_node_fails_every_call_of_a_burst_within_the_timeout(peers):
    silent = []
    peer = peers(silent.append)  # accepts, never answers
    outcomes = burst(NodeClient(peer.url, 0.3, pool_size=2), 5)
    assert len(outcomes) == 5
    assert all(isinstance(outcome, NodeUnavailable) for _, outcome in outcomes)
    assert all(took < 1.0 for took, _ in outcomes)  # one 0.3 s deadline, waiting included


def test_a_reply_delimited_by_close_is_read_and_the_connection_not_kept(peers):
    def serve(conn):
        request = read_request(conn)
        body = json.dumps({"id": request["id"], "result": 7}).encode()
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + body)
        conn.close()

    peer = peers(serve)
    client = NodeClient(peer.url, 1.0)
    assert client.call("X.Y", {}) == 7 and client.call("X.Y", {}) == 7
    assert peer.accepted == 2


@pytest.mark.parametrize(
    "answer, error",
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP reply"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "chunked"),
        (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad", "no JSON"),
    ],
)
def test_what_is_no_json_rpc_reply_is_unavailable(peers, answer, error):
    peer = peers(lambda conn: (read_request(conn), conn.sendall(answer), conn.close()))
    with pytest.raises(NodeUnavailable, match=error):
        NodeClient(peer.url, 1.0).call("X.Y", {})


def test_an_error_reply_is_refused_with_its_message(peers):
    def serve(conn):
        request = read_request(conn)
        body = json.dumps({"id": request["id"], "error": {"message": "NOT_FOUND"}}).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    peer = peers(serve)
    with pytest.raises(NodeRefused) as refused:
        NodeClient(peer.url, 1.0).call("X.Y", {})
    assert refused.value.message == "NOT_FOUND"
