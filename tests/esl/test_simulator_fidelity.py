"""The simulator's bytes against capture 01/02: same headers, same order, same encoding.

The simulated call replays capture 01's commands with the capture's times on
the fake clock (created ...809.747636, answered +20.004 ms, killed +5.020002 s),
so even billsec/billmsec/billusec must come out as FreeSWITCH printed them.
Variables that only the lab dialplan set (cgr_route_0, playback_* ...) are not
simulated, so variable names are compared as an ordered subsequence.
"""

from pathlib import Path

import pytest
from gevent import socket

from fs_cgr.esl.frames import Parser
from tests.fssim.captures import capture_files, read_blocks
from tests.fssim.channel import SimChannel

CAPTURE_UUID = b"865175b4-d220-40ef-b500-7f7061a0b970"
RECORDED = Path(__file__).resolve().parent.parent / "fssim" / "recorded" / "13-api-replies.txt"
CGR_VARS = {
    "cgr_reqtype": "*prepaid",
    "cgr_flags": "*resources;*attributes;*sessions;*routes;*accounts",
    "cgr_account": "1001",
    "cgr_destination": "61411111",
}
# Values that are fresh per call or per process; everything else must be equal.
IDENTIFIERS = {
    "Core-UUID",
    "Event-Sequence",
    "Channel-Unique-ID",
    "Unique-ID",
    "Channel-Call-UUID",
    "Caller-Unique-ID",
    "variable_uuid",
    "variable_session_id",
    "variable_other_loopback_leg_uuid",
    "variable_call_uuid",
    "Controlled-Session-UUID",
}


def capture_socket(captures_dir, prefix: str, section: str = "outbound-01.txt"):
    path = next(p for p in capture_files(captures_dir) if p.name.startswith(prefix))
    return [b for b in read_blocks(path) if b.section == section]


def raw_names(data: bytes) -> list[str]:
    """Header names of a header block, in order, duplicates included."""
    block = data.split(b"\n\n", 1)[0]
    return [line.split(b": ", 1)[0].decode() for line in block.split(b"\n")]


def raw_lines(data: bytes) -> dict[str, bytes]:
    return {line.split(b": ", 1)[0].decode(): line for line in data.split(b"\n") if b": " in line}


def event_block(message_bytes: bytes) -> bytes:
    """The event's own header block inside a text/event-plain message."""
    return message_bytes.split(b"\n\n", 1)[1]


def is_subsequence(small, big) -> bool:
    remaining = iter(big)
    return all(any(item == candidate for candidate in remaining) for item in small)


class RawClient:
    """Plays fs_cgr's side with raw bytes and keeps every message's raw bytes."""

    def __init__(self, sock):
        self.sock = sock
        self.parser = Parser()
        self.buffer = b""
        self.log = []  # (Message, raw bytes) of everything received, in order
        self.cursor = 0  # messages before it were returned or skipped by read_until

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until(self, predicate):
        while True:
            while self.cursor < len(self.log):
                message, raw = self.log[self.cursor]
                self.cursor += 1
                if predicate(message):
                    return message, raw
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("EOF before the expected message")
            self._split(data)

    def _split(self, data: bytes) -> None:
        """Cut raw bytes at message boundaries, parsing as we go."""
        self.buffer += data
        while True:
            consumed = self._one_message_length()
            if consumed is None:
                return
            raw, self.buffer = self.buffer[:consumed], self.buffer[consumed:]
            (message,) = Parser().feed(raw)
            self.log.append((message, raw))

    def _one_message_length(self):
        end = self.buffer.find(b"\n\n")
        if end < 0:
            return None
        headers = raw_lines(self.buffer[:end])
        length = (
            int(headers["Content-Length"].split(b": ")[1]) if "Content-Length" in headers else 0
        )
        total = end + 2 + length
        return total if len(self.buffer) >= total else None


@pytest.fixture
def simulated_call(sim):
    """A sim call connected to a raw socket: ``(call, RawClient)``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    call = sim.place_call(listener.getsockname(), CGR_VARS, destination="61411111")
    sock, _ = listener.accept()
    sock.settimeout(5)
    listener.close()
    yield call, RawClient(sock)
    sock.close()


def replay_capture_01(sim, call, client, captures_dir, event_format="plain"):
    """Send capture 01's commands (uuid swapped) with its timing on the fake clock."""
    capture = capture_socket(captures_dir, "01-" if event_format == "plain" else "02-")
    captured_uuid = raw_lines(capture[1].data)["Unique-ID"].split(b": ")[1]
    sends = [
        b.data.replace(captured_uuid, call.uuid.encode()) for b in capture if b.direction == "SEND"
    ]
    replies = {}

    def ask(data: bytes):
        client.send(data)
        message, raw = client.read_until(
            lambda m: m.content_type in ("command/reply", "api/response")
        )
        replies[data] = raw
        return raw

    connect_raw = ask(sends[0])
    for data in sends[1:8]:  # myevents ... uuid_transfer
        ask(data)
    sim.clock.advance(0.020004)
    call.answer()
    sim.clock.advance(5.020002)
    ask(next(d for d in sends if b"uuid_kill" in d and b"MANAGER_REQUEST" in d))
    return connect_raw, sends, replies


def test_connect_reply_matches_the_capture(sim, simulated_call, captures_dir):
    call, client = simulated_call
    captured = capture_socket(captures_dir, "01-")[1].data
    client.send(b"connect\n\n")
    _, mine = client.read_until(lambda m: m.content_type == "command/reply")
    port = client.sock.getsockname()[1]
    mine = mine.replace(b"127.0.0.1%%3A%d%%20async" % port, b"127.0.0.1%3A8084%20async")
    assert b"Content-Length" not in mine and mine.endswith(b"Control: full\n\n")
    expected_names = [n for n in raw_names(captured) if n != "variable_cgr_lab_call"]
    assert raw_names(mine) == expected_names
    mine_lines, captured_lines = raw_lines(mine), raw_lines(captured)
    for name in expected_names:
        if name not in IDENTIFIERS:
            assert mine_lines[name] == captured_lines[name], name  # same value, same encoding
    assert mine_lines["Reply-Text"] == b"Reply-Text: %2BOK%0A"
    assert mine_lines["variable_cgr_flags"] == (
        b"variable_cgr_flags: *resources%3B*attributes%3B*sessions%3B*routes%3B*accounts"
    )


def test_replies_notices_and_hangup_complete_match_the_capture(sim, simulated_call, captures_dir):
    call, client = simulated_call
    capture = capture_socket(captures_dir, "01-")
    connect_raw, sends, replies = replay_capture_01(sim, call, client, captures_dir)

    # Every reply the sim gave is byte-identical to FreeSWITCH's for the same command.
    for i, block in enumerate(capture):
        if block.direction != "SEND":
            continue
        data = block.data.replace(CAPTURE_UUID, call.uuid.encode())
        if data in replies and not data.startswith(b"connect"):
            reply = next(
                b.data
                for b in capture[i + 1 :]
                if b.direction == "RECV" and raw_names(b.data)[0] == "Content-Type"
            )
            assert replies[data] == reply, data

    uuid = call.uuid.encode()
    _, linger = client.read_until(lambda m: m.content_type == "text/disconnect-notice")
    assert linger == next(
        b.data for b in capture if b"Content-Disposition: linger" in b.data
    ).replace(CAPTURE_UUID, uuid)
    _, mine = client.read_until(lambda m: m.event and m.event.name == "CHANNEL_HANGUP_COMPLETE")
    captured = next(b.data for b in capture if b"Event-Name: CHANNEL_HANGUP_COMPLETE" in b.data)
    mine_names, captured_names = raw_names(event_block(mine)), raw_names(event_block(captured))
    assert mine_names.count("Hangup-Cause") == 2
    assert is_subsequence(mine_names, captured_names)
    assert [n for n in mine_names if not n.startswith("variable_")] == [
        n for n in captured_names if not n.startswith("variable_")
    ]
    mine_lines, captured_lines = raw_lines(event_block(mine)), raw_lines(event_block(captured))
    billing = captured_names[captured_names.index("variable_hangup_cause") :]
    billing = [n for n in billing if n not in ("variable_last_app", "variable_last_arg")]
    for name in billing + ["Caller-Channel-Answered-Time", "Caller-Channel-Hangup-Time"]:
        if name in mine_lines and name not in IDENTIFIERS:
            assert mine_lines[name] == captured_lines[name], name
    for name in [
        "variable_billsec",
        "variable_billmsec",
        "variable_answer_epoch",
        "variable_end_epoch",
    ]:
        assert name in mine_lines

    # The gone uuid, then exit: the same answers and the same 67-byte goodbye.
    for data in sends[-4:-1]:
        client.send(data)
        message, raw = client.read_until(lambda m: m.content_type == "api/response")
        assert raw == b"Content-Type: api/response\nContent-Length: 22\n\n-ERR No such channel!\n"
    client.send(b"exit\n\n")
    _, bye = client.read_until(lambda m: m.content_type == "command/reply")
    _, goodbye = client.read_until(lambda m: m.content_type == "text/disconnect-notice")
    assert bye == capture[-2].data
    assert goodbye == capture[-1].data.replace(CAPTURE_UUID, uuid)
    assert client.sock.recv(10) == b""


def test_events_have_the_captured_headers_in_order(sim, simulated_call, captures_dir):
    call, client = simulated_call
    replay_capture_01(sim, call, client, captures_dir)
    client.read_until(lambda m: m.event and m.event.name == "CHANNEL_HANGUP_COMPLETE")

    def first_of_each_event(raws):
        found = {}
        for raw in raws:
            if raw.startswith(b"Content-Length") and b"text/event-plain" in raw[:60]:
                names = raw_names(event_block(raw))
                found.setdefault(raw_lines(event_block(raw))["Event-Name"], names)
        return found

    capture = capture_socket(captures_dir, "01-")
    expected = first_of_each_event(b.data for b in capture if b.direction == "RECV")
    mine = first_of_each_event(raw for _, raw in client.log)
    assert set(mine) == set(expected)
    for event_name, names in mine.items():
        if event_name == b"Event-Name: CHANNEL_EXECUTE":
            continue  # the first app differs: the lab dialplan ran "log" first, the sim "answer"
        assert is_subsequence(names, expected[event_name]), event_name
        assert [n for n in names if not n.startswith("variable_")] == [
            n for n in expected[event_name] if not n.startswith("variable_")
        ], event_name


def test_json_hangup_complete_like_capture_02(sim, simulated_call, captures_dir):
    call, client = simulated_call
    replay_capture_01(sim, call, client, captures_dir, event_format="json")
    message, raw = client.read_until(
        lambda m: m.event and m.event.name == "CHANNEL_HANGUP_COMPLETE"
    )
    assert not raw.endswith(b"\n") and raw.count(b'"Hangup-Cause":"MANAGER_REQUEST"') == 2
    assert message.event.get("variable_cgr_routes") == ["supplier1", "supplier2"]
    assert message.event.get("variable_DP_MATCH") == ["61411111", "61411111"]
    assert message.event.get("variable_billmsec") == "5020"


@pytest.mark.parametrize("prefix", ["12-", "06-"])
def test_inbound_replies_are_byte_identical_to_captures(sim, captures_dir, prefix):
    """Capture 12 probes every api reply on an idle switch; 06 adds show channels and hupall."""
    assert replay_inbound(sim, capture_socket(captures_dir, prefix, "inbound.txt")) >= 6


def test_inbound_replies_are_byte_identical_to_our_recording(sim):
    """Our own recording (tests/freeswitch/record_replies.py) of the commands fs_cgr sends
    that the shared captures lack: broadcasts, uuid_setvar_multi, filters, usage texts."""
    blocks = [b for b in read_blocks(RECORDED) if b.section == "inbound.txt"]
    assert replay_inbound(sim, blocks) == 16  # auth, 14 commands, exit


def replay_inbound(sim, blocks) -> int:
    """Send the SEND blocks to the simulator's inbound socket; every reply must be the
    recorded one, byte for byte. Returns how many replies were compared."""
    sock = socket.create_connection(sim.listen_inbound(), timeout=5)
    client = RawClient(sock)
    _, greeting = client.read_until(lambda m: True)
    assert greeting == blocks[0].data
    compared = 0
    for i, block in enumerate(blocks):
        if block.direction != "SEND" or block.data.startswith((b"bgapi", b"event plain BACK")):
            continue  # no originate in the sim; its BACKGROUND_JOB is not replayed
        expected = next(
            b.data
            for b in blocks[i + 1 :]
            if b.direction == "RECV" and raw_names(b.data)[0] == "Content-Type"
        )
        if b"show channels" in block.data and b"total." in expected and b"0 total" not in expected:
            continue  # lists the capture's live calls
        client.send(block.data.replace(b"<REDACTED>", sim.password.encode()))
        _, reply = client.read_until(lambda m: m.content_type != "text/event-plain")
        assert reply == expected, block.data
        compared += 1
    _, goodbye = client.read_until(lambda m: m.content_type == "text/disconnect-notice")
    assert goodbye == blocks[-1].data
    assert sock.recv(10) == b""
    return compared


def test_show_channels_row_like_capture_06(sim, captures_dir):
    blocks = capture_socket(captures_dir, "06-", "inbound.txt")
    listing = next(b.data for b in blocks if b"\n2 total.\n" in b.data).decode().split("\n\n", 1)[1]
    captured_row = next(row for row in listing.split("\n") if "loopback/61411111-b" in row)
    channel = SimChannel(sim, "61411111", "1001", CGR_VARS, "127.0.0.1:8084")
    sim.channels[channel.uuid] = channel
    sim.transfer(channel, "61411111", "XML", "cgr")
    sim.answer(channel)
    header, row, blank, total, end = sim.api("show channels").split("\n")
    assert header == listing.split("\n")[0]
    assert (blank, total, end) == ("", "1 total.", "")
    mine, theirs = row.split(","), captured_row.split(",")
    assert len(mine) == len(theirs) == 40  # 38 columns; application_data adds 2 commas
    different = [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
    assert different == [0, 2, 3]  # uuid, created, created_epoch


def test_static_connect_reply_matches_capture_07(sim, captures_dir):
    """``socket 127.0.0.1:8084 full`` (no async), the shipped dialplan's: the same channel
    data in the same order, ``Socket-Mode: static``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sim.place_call(listener.getsockname(), CGR_VARS, destination="7161411111", static=True)
    sock, _ = listener.accept()
    sock.settimeout(5)
    listener.close()
    client = RawClient(sock)
    client.send(b"connect\n\n")
    _, mine = client.read_until(lambda m: m.content_type == "command/reply")
    port = sock.getsockname()[1]
    sock.close()
    mine = mine.replace(b"127.0.0.1%%3A%d%%20full" % port, b"127.0.0.1%3A8084%20full")
    captured = capture_socket(captures_dir, "07-")[1].data
    expected_names = [n for n in raw_names(captured) if n != "variable_cgr_lab_call"]
    assert raw_names(mine) == expected_names
    mine_lines, captured_lines = raw_lines(mine), raw_lines(captured)
    socket_app = [
        "Content-Type",
        "Reply-Text",
        "Socket-Mode",
        "Control",
        "variable_current_application",
        "variable_current_application_data",
        "variable_socket_host",
        "Caller-Destination-Number",
        "variable_cgr_flags",
    ]  # the times differ from capture 01's, which the simulator's clock starts at
    for name in socket_app:
        assert mine_lines[name] == captured_lines[name], name
    assert mine_lines["Socket-Mode"] == b"Socket-Mode: static"
