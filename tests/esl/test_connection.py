"""Connection: replies matched in order, events queued in order, timeouts, drops, bad frames.

The replay tests play every captured socket back byte for byte: a fake peer
writes FreeSWITCH's RECV blocks and checks that what the Connection sends is
exactly the captured SEND block, so events interleave with replies just as
they did on the real socket (capture 01: CHANNEL_PARK before a getvar reply).
"""

import itertools
import logging
import time

import gevent
import pytest
from gevent import socket

from fs_cgr.esl import frames
from fs_cgr.esl.connection import Connection, ConnectionClosed, ESLTimeout
from fs_cgr.esl.frames import Parser
from tests.fssim.captures import capture_files, read_blocks

REPLY_TYPES = (frames.COMMAND_REPLY, frames.API_RESPONSE)


def connected_pair(name: str):
    """``(Connection under test, raw peer socket)`` on loopback."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname(), timeout=5)
    client.settimeout(None)
    peer, _ = listener.accept()
    listener.close()
    return Connection(client, name=name).start(), peer


@pytest.fixture
def pair():
    conn, peer = connected_pair("test")
    yield conn, peer
    conn.close()
    peer.close()


def recv_exactly(sock, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def captured_sockets(captures_dir):
    for path in capture_files(captures_dir):
        for section, blocks in itertools.groupby(read_blocks(path), key=lambda b: b.section):
            yield path.name, section, list(blocks)


def replay_peer(peer, blocks, mismatches):
    """Play FreeSWITCH: write RECV blocks, expect SEND blocks byte for byte, then close."""
    for block in blocks:
        if block.direction == "RECV":
            peer.sendall(block.data)
        else:
            got = recv_exactly(peer, len(block.data))
            if got != block.data:
                mismatches.append((block.data, got))
                break
    peer.close()


def expected_outcomes(blocks):
    """For each SEND: the reply that followed it, or None when the socket closed first."""
    outcomes, events = [], []
    for block in blocks:
        if block.direction == "SEND":
            outcomes.append(None)
            continue
        message = Parser().feed(block.data)[0]
        if message.content_type in REPLY_TYPES:
            outcomes[-1] = message
        elif message.event is not None:
            events.append(message.event)
    return outcomes, events


def test_every_captured_socket_replays_with_replies_and_events_in_order(captures_dir):
    replayed = 0
    for name, section, blocks in captured_sockets(captures_dir):
        conn, peer = connected_pair(f"{name}/{section}")
        mismatches = []
        peer_greenlet = gevent.spawn(replay_peer, peer, blocks, mismatches)
        expected_replies, expected_events = expected_outcomes(blocks)
        sends = [block for block in blocks if block.direction == "SEND"]
        for block, expected in zip(sends, expected_replies, strict=True):
            if expected is None:
                with pytest.raises(ConnectionClosed):
                    conn.send(block.data, timeout=5)
            else:
                assert conn.send(block.data, timeout=5) == expected, (name, section, block.data)
        assert conn.wait_closed(5), (name, section)
        events = []
        while (event := conn.next_event(timeout=1)) is not None:
            events.append(event)
        assert events == expected_events, (name, section)
        peer_greenlet.join(5)
        assert not mismatches, (name, section, mismatches[:1])
        replayed += 1
    files = sum(p.read_text().count("\n##### FILE ") for p in capture_files(captures_dir))
    assert replayed == files - 1 == 43  # 11's appended SIP log is the one file without ESL


def test_event_between_command_and_reply_goes_to_the_queue(pair):
    conn, peer = pair
    result = gevent.spawn(conn.api, "uuid_getvar u cgr_routes", 5)
    command = b"api uuid_getvar u cgr_routes\n\n"
    assert recv_exactly(peer, len(command)) == command
    event = b"Event-Name: CHANNEL_PARK\nUnique-ID: u\n\n"
    peer.sendall(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(event) + event)
    peer.sendall(b"Content-Type: api/response\nContent-Length: 27\n\nARRAY::supplier1|:supplier2")
    assert result.get(timeout=5).text == "ARRAY::supplier1|:supplier2"
    assert conn.next_event(timeout=1).name == "CHANNEL_PARK"


def test_reply_that_never_comes_times_out_and_a_late_one_is_discarded(pair, caplog):
    conn, peer = pair
    started = time.monotonic()
    with pytest.raises(ESLTimeout):
        conn.api("uuid_getvar u x", timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 0.6
    second = gevent.spawn(conn.api, "uuid_getvar u y", 5)
    gevent.sleep(0.05)
    peer.sendall(b"Content-Type: api/response\nContent-Length: 4\n\nlate")
    peer.sendall(b"Content-Type: api/response\nContent-Length: 5\n\nright")
    assert second.get(timeout=5).text == "right"
    assert "late reply to 'api uuid_getvar u x' discarded" in caplog.text
    assert not conn.closed.is_set()


def test_commands_sent_together_get_their_replies_in_order(pair):
    conn, peer = pair
    commands = [frames.command("myevents"), frames.linger(5), frames.api("uuid_exists u")]
    result = gevent.spawn(conn.send_all, commands, 5)
    sent = b"".join(commands)
    assert recv_exactly(peer, len(sent)) == sent  # all of them before any reply
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    event = b"Event-Name: CHANNEL_PARK\nUnique-ID: u\n\n"
    peer.sendall(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(event) + event)
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK will linger 5 seconds\n\n")
    peer.sendall(b"Content-Type: api/response\nContent-Length: 4\n\ntrue")
    replies = result.get(timeout=5)
    assert [reply.text for reply in replies] == [
        "+OK Events Enabled",
        "+OK will linger 5 seconds",
        "true",
    ]
    assert conn.next_event(timeout=1).name == "CHANNEL_PARK"


def test_commands_sent_together_time_out_together_and_late_replies_are_discarded(pair):
    conn, peer = pair
    with pytest.raises(ESLTimeout, match="no reply to '2 commands'"):
        conn.send_all([frames.api("uuid_exists a"), frames.api("uuid_exists b")], timeout=0.2)
    after = gevent.spawn(conn.api, "uuid_exists c", 5)
    gevent.sleep(0.05)
    for text in (b"late", b"lat2", b"mine"):
        peer.sendall(b"Content-Type: api/response\nContent-Length: 4\n\n" + text)
    assert after.get(timeout=5).text == "mine"


def test_socket_drop_releases_every_waiting_command(pair):
    conn, peer = pair
    waiting = [gevent.spawn(conn.api, f"uuid_exists u{i}", 30) for i in range(3)]
    gevent.sleep(0.05)
    event = b"Event-Name: CHANNEL_HANGUP\n\n"
    peer.sendall(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(event) + event)
    peer.close()
    started = time.monotonic()
    gevent.joinall(waiting, timeout=5)
    assert time.monotonic() - started < 1
    assert all(isinstance(g.exception, ConnectionClosed) for g in waiting)
    assert conn.next_event(timeout=1).name == "CHANNEL_HANGUP"  # events before the drop survive
    assert conn.next_event(timeout=1) is None
    assert conn.next_event(timeout=1) is None
    with pytest.raises(ConnectionClosed):
        conn.api("version", timeout=1)


def test_malformed_frame_closes_the_connection_with_one_log_line(pair, caplog):
    conn, peer = pair
    caplog.set_level(logging.DEBUG, logger="fs_cgr.esl")
    waiting = gevent.spawn(conn.api, "version", 30)
    gevent.sleep(0.05)
    peer.sendall(b"Content-Type: api/response\nContent-Length: 12x\n\n")
    assert conn.wait_closed(5)
    waiting.join(5)
    assert isinstance(waiting.exception, ConnectionClosed)
    assert "protocol error" in conn.close_reason
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "Content-Length" in errors[0].getMessage()
    assert peer.recv(100) == b"api version\n\n" and peer.recv(100) == b""  # closed


def test_reply_without_a_command_is_a_protocol_error(pair):
    conn, peer = pair
    peer.sendall(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    assert conn.wait_closed(5)
    assert "reply without a command" in conn.close_reason


def test_rude_rejection_closes_with_its_text(pair):
    conn, peer = pair
    body = b"Access Denied, go away.\n"
    peer.sendall(b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n" % len(body) + body)
    assert conn.wait_closed(5)
    assert "Access Denied, go away." in conn.close_reason


def test_auth_password_never_appears_in_errors(pair):
    conn, _ = pair
    with pytest.raises(ESLTimeout) as error:
        conn.send(frames.auth("s3cret"), timeout=0.1)
    assert "s3cret" not in str(error.value) and "auth <password>" in str(error.value)


def test_failing_event_handler_closes_only_its_connection():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    conns, peers = [], []
    for handler in (lambda event: 1 / 0, None):
        client = socket.create_connection(listener.getsockname(), timeout=5)
        conns.append(Connection(client, on_event=handler).start())
        peers.append(listener.accept()[0])
    event = b"Event-Name: CHANNEL_ANSWER\n\n"
    for peer in peers:
        peer.sendall(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(event) + event)
    assert conns[0].wait_closed(5) and "ZeroDivisionError" in conns[0].close_reason
    assert conns[1].next_event(timeout=5).name == "CHANNEL_ANSWER"
    assert not conns[1].closed.is_set()
    for conn in conns:
        conn.close()
    listener.close()
