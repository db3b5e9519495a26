"""The parser against every byte FreeSWITCH sent in the captures, and against broken frames."""

import itertools
import json
import re
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fs_cgr.esl import frames
from fs_cgr.esl.frames import Parser, ProtocolError
from tests.fssim.captures import capture_files, read_blocks

_CONTENT_TYPE = re.compile(rb"^Content-Type: (\S+)$", re.MULTILINE)


def recv_blocks(captures_dir):
    return [
        block
        for path in capture_files(captures_dir)
        for block in read_blocks(path)
        if block.direction == "RECV"
    ]


def parse_one(data: bytes) -> frames.Message:
    parser = Parser()
    messages = parser.feed(data)
    assert len(messages) == 1 and parser.pending == 0
    return messages[0]


def capture_message(captures_dir, file_prefix, predicate):
    for path in capture_files(captures_dir):
        if path.name.startswith(file_prefix):
            for block in read_blocks(path):
                if block.direction == "RECV" and predicate(block.data):
                    return parse_one(block.data)
    raise AssertionError("no such block")


# --- every RECV block of the 12 captures ---------------------------------------


def test_every_captured_message_parses_into_exactly_one_message(captures_dir):
    blocks = recv_blocks(captures_dir)
    announced = sum(
        len(re.findall(rb"^=== \S+ RECV \d+ bytes ===$", path.read_bytes(), re.MULTILINE))
        for path in capture_files(captures_dir)
    )
    assert len(capture_files(captures_dir)) == 12
    assert len(blocks) == announced == 1226
    for block in blocks:
        message = parse_one(block.data)
        # The first Content-Type line of the outer header block, found independently.
        outer = block.data.split(b"\n\n", 1)[0]
        expected = _CONTENT_TYPE.findall(outer)[0].decode()
        assert message.content_type == expected, (block.file, block.data[:120])
        if expected in (frames.EVENT_PLAIN, frames.EVENT_JSON):
            assert message.event.name.startswith(("CHANNEL_", "BACKGROUND_JOB")), block.file
        else:
            assert message.event is None


def test_captured_stream_parses_the_same_when_fed_byte_by_byte(captures_dir):
    path = next(p for p in capture_files(captures_dir) if p.name.startswith("01-"))
    blocks = [b for b in read_blocks(path) if b.direction == "RECV"]
    whole = b"".join(block.data for block in blocks)
    parser = Parser()
    messages = []
    for i in range(len(whole)):
        messages += parser.feed(whole[i : i + 1])
    assert parser.pending == 0
    assert messages == [parse_one(block.data) for block in blocks]


def test_values_are_percent_decoded_one_by_one(captures_dir):
    connect = capture_message(
        captures_dir, "01-", lambda d: d.startswith(b"Event-Name: CHANNEL_DATA")
    )
    assert connect.content_type == "command/reply"
    assert connect.text == "+OK\n" and connect.ok
    assert connect.body == ""
    assert (
        connect.headers["variable_cgr_flags"]
        == "*resources;*attributes;*sessions;*routes;*accounts"
    )
    assert connect.headers["Event-Date-GMT"] == "Sun, 22 Nov 2026 02:33:29 GMT"
    assert connect.headers["Socket-Mode"] == "async" and connect.headers["Control"] == "full"
    assert len(connect.headers) == 110


def test_plain_event_keeps_arrays_as_freeswitch_text(captures_dir):
    message = capture_message(
        captures_dir, "01-", lambda d: b"Event-Name: CHANNEL_HANGUP_COMPLETE" in d
    )
    event = message.event
    assert event.uuid == "865175b4-d220-40ef-b500-7f7061a0b970"
    assert event.get("variable_cgr_routes") == "ARRAY::supplier1|:supplier2"
    assert event.get("variable_current_application_data") == "tone_stream://%(1000,0,440);loops=-1"
    assert (event.get("variable_billsec"), event.get("variable_billmsec")) == ("5", "5020")
    assert event.body == ""


def test_json_event_values_are_not_decoded_and_arrays_are_lists(captures_dir):
    message = capture_message(captures_dir, "02-", lambda d: b'"CHANNEL_HANGUP_COMPLETE"' in d)
    event = message.event
    assert event.get("variable_cgr_routes") == ["supplier1", "supplier2"]
    assert event.get("variable_DP_MATCH") == ["61411111", "61411111"]
    assert event.get("variable_cgr_flags") == "*resources;*attributes;*sessions;*routes;*accounts"
    assert event.get("Hangup-Cause") == "MANAGER_REQUEST"


def test_background_job_nested_body(captures_dir):
    message = capture_message(captures_dir, "01-", lambda d: b"BACKGROUND_JOB" in d)
    assert message.event.name == "BACKGROUND_JOB"
    assert message.event.body == "+OK 3177f1df-a25a-49ea-81c7-2475cff9a76c\n"
    assert "Content-Length" not in message.event.headers
    assert message.event.get("Job-Command-Arg") == (
        "{origination_caller_id_number=1001,cgr_lab_call=1}loopback/61411111/cgr &park"
    )


def test_disconnect_notices(captures_dir):
    linger = capture_message(captures_dir, "04-", lambda d: b"Content-Disposition: linger" in d)
    assert linger.disposition == "linger" and linger.headers["Linger-Time"] == "10"
    final = capture_message(captures_dir, "04-", lambda d: b"Content-Disposition: disconnect" in d)
    assert final.disposition == "disconnect"
    assert len(final.body.encode()) == 67 and final.body.startswith("Disconnected, goodbye.")


def test_api_response_without_trailing_newline(captures_dir):
    message = capture_message(captures_dir, "12-", lambda d: d.endswith(b"\n\nfalse"))
    assert message.content_type == "api/response"
    assert message.text == "false" and not message.ok


def test_repeated_header_keeps_the_first_value():
    body = b"Event-Name: CHANNEL_HANGUP_COMPLETE\nHangup-Cause: FIRST\nHangup-Cause: SECOND\n\n"
    data = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body
    assert parse_one(data).event.get("Hangup-Cause") == "FIRST"
    doc = b'{"Event-Name":"X","Hangup-Cause":"FIRST","Hangup-Cause":"SECOND"}'
    data = b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(doc) + doc
    assert parse_one(data).event.get("Hangup-Cause") == "FIRST"


def test_two_messages_in_one_read_and_a_split_body():
    reply = b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    parser = Parser()
    assert [m.text for m in parser.feed(reply + reply[:30])] == ["+OK\n"]
    assert [m.text for m in parser.feed(reply[30:])] == ["+OK\n"]


# --- malformed frames ----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: command/reply\nReply-Text +OK\n\n",  # no colon
        b": value\nContent-Type: command/reply\n\n",  # empty name
        b"Content-Type: api/response\nContent-Length: -4\n\n+OK\n",
        b"Content-Type: api/response\nContent-Length: four\n\n+OK\n",
        b"Content-Type: api/response\nContent-Length: 4.0\n\n+OK\n",
        b"Content-Type: api/response\nContent-Length: 99999999999\n\n",
        b"Content-Type: api/response\nContent-Length: %d\n\n" % (frames.MAX_BODY_BYTES + 1),
        b"Reply-Text: +OK\n\n",  # no Content-Type
        b"\n\n",  # empty header block
        b"Content-Type: command/reply\nReply-Text: \xff\xfe\n\n",  # not UTF-8
        b"Content-Type: api/response\nContent-Length: 2\n\n\xc3\x28",
        b"Content-Type: text/event-json\nContent-Length: 2\n\n[]",
        b'Content-Type: text/event-json\nContent-Length: 13\n\n{"Event-Name"',
        b'Content-Type: text/event-json\nContent-Length: 17\n\n{"Event-Name": 1}',
        b"Content-Type: text/event-plain\nContent-Length: 14\n\nEvent-Name: X\n",  # no blank line
        # nested Content-Length says 5, 3 bytes follow
        b"Content-Type: text/event-plain\nContent-Length: 36\n\n"
        b"Event-Name: X\nContent-Length: 5\n\nabc",
    ],
)
def test_malformed_frame_raises(data):
    with pytest.raises(ProtocolError):
        Parser().feed(data)


def test_header_block_larger_than_the_limit_raises_before_it_ends():
    parser = Parser()
    line = b"variable_x: " + b"a" * 1000 + b"\n"
    with pytest.raises(ProtocolError, match="header block"):
        for _ in range(frames.MAX_HEADER_BYTES // len(line) + 2):
            parser.feed(line)


def test_percent_decoding_of_invalid_utf8_is_lenient_but_raw_bytes_are_not():
    message = parse_one(b"Content-Type: command/reply\nReply-Text: caller %E9t%C3%A9\n\n")
    assert message.text == "caller \ufffdt\u00e9"


# --- commands we send: byte-exact with the SEND blocks of the captures ----------------


def sent(captures_dir, file_prefix, start: bytes) -> bytes:
    for path in capture_files(captures_dir):
        if path.name.startswith(file_prefix):
            for block in read_blocks(path):
                if block.direction == "SEND" and block.data.startswith(start):
                    return block.data
    raise AssertionError(f"{start!r} not sent in {file_prefix}")


def test_commands_match_the_captured_bytes(captures_dir):
    uuid01 = "865175b4-d220-40ef-b500-7f7061a0b970"
    uuid03 = "8f2bd948-080c-449d-938b-75c8be2deab5"
    names = ["CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_PARK"]
    names += ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE"]
    cases = [
        ("01-", frames.command("connect")),
        ("01-", frames.command("myevents")),
        ("01-", frames.linger()),
        ("09-", frames.linger(5)),
        ("01-", frames.event(names)),
        ("02-", frames.event(names, "json")),
        ("01-", frames.api(f"uuid_setvar {uuid01} cgr_notify AUTH_OK")),
        ("01-", frames.api(f"uuid_setvar {uuid01} cgr_routes ARRAY::supplier1|:supplier2")),
        ("01-", frames.api(f"uuid_transfer {uuid01} 61411111 XML cgr")),
        ("01-", frames.api(f"uuid_kill {uuid01} MANAGER_REQUEST")),
        ("06-", frames.api("hupall MANAGER_REQUEST cgr_reqtype *prepaid")),
        ("03-", frames.execute(uuid03, "transfer", "61411111 XML cgr")),
        ("03-", frames.hangup(uuid03, "MANAGER_REQUEST")),
        ("01-", frames.bgapi("originate {origination_caller_id_number=1001,cgr_lab_call=1}"
                             "loopback/61411111/cgr &park")),
        ("01-", frames.command("exit")),
    ]  # fmt: skip
    for file_prefix, data in cases:
        assert sent(captures_dir, file_prefix, data) == data


def test_auth_command():
    assert frames.auth("ClueCon") == b"auth ClueCon\n\n"


@pytest.mark.parametrize(
    "build",
    [
        lambda: frames.api("uuid_setvar u cgr_notify x\n\nexit"),
        lambda: frames.command("api x\r"),
        lambda: frames.execute("u", "set", "a=b\nhangup"),
        lambda: frames.linger(0),
        lambda: frames.event([], "plain"),
        lambda: frames.event(["ALL"], "xml"),
    ],
)
def test_commands_refuse_line_breaks_and_bad_arguments(build):
    with pytest.raises(ValueError):
        build()


def test_json_event_built_from_a_plain_capture_round_trips():
    doc = {"Event-Name": "CHANNEL_ANSWER", "variable_cgr_routes": ["a", "b"], "_body": "x"}
    data = json.dumps(doc).encode()
    message = parse_one(b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(data) + data)
    assert message.event.headers == {
        "Event-Name": "CHANNEL_ANSWER",
        "variable_cgr_routes": ["a", "b"],
    }
    assert message.event.body == "x"


def test_the_fast_percent_decoding_equals_unquote():
    """Every string of these pieces decodes as unquote does: stray '%', '=' (the
    quoted-printable escape), line ends and characters beyond ASCII included."""
    pieces = ["%", "4", "1", "a", "F", "G", "7", "8", "%2", "%7", "%e9", "%C3%A9", " ", "%0A",
              "%7f", "%80", "é", "%ZZ", "=", "=4", "\r", "\n", "%3D", "_"]  # fmt: skip
    for size in range(1, 5):
        for parts in itertools.product(pieces, repeat=size):
            value = "".join(parts)
            assert frames.percent_decoded(value) == unquote(value, errors="replace"), value


# valid escapes of every byte in either case, stray '%', quoted-printable's specials, any text
_PERCENT_TEXT = st.lists(
    st.integers(0, 255).flatmap(lambda code: st.sampled_from([f"%{code:02X}", f"%{code:02x}"]))
    | st.sampled_from(["%", "=", "=3D", "_", "\r\n"])
    | st.text(max_size=3)
).map("".join)


@given(_PERCENT_TEXT)
def test_any_text_percent_decodes_as_unquote_does(value):
    """Longer mixes than the exhaustive test above."""
    assert frames.percent_decoded(value) == unquote(value, errors="replace")


def test_a_header_block_with_one_odd_line_is_read_line_by_line_to_the_same_dict():
    block = b"A: 1\nB:2\nA: 3\nC: x%3Ay\nTab\tName: v"
    assert frames.parse_headers(block) == {"A": "1", "B": "2", "C": "x:y", "Tab\tName": "v"}
    assert list(frames.parse_headers(b"B: 1\nA: 2\nB: 3")) == ["B", "A"]
    assert frames.parse_headers(b"B: 1\nA: 2\nB: 3")["B"] == "1"


def test_blocks_off_the_split_reading_are_read_by_the_regex_to_the_same_dict():
    """A line the one-split reading cannot vouch for sends the block to the regex."""
    cases = {
        b"A:  two spaces\nB: 1": {"A": "two spaces", "B": "1"},  # every space stripped
        b"A:b: c\nB: 1": {"A": "b: c", "B": "1"},  # the name ends at the first ':'
        b"A:1\nB: 2": {"A": "1", "B": "2"},  # no space after the colon
        b"A: x: y%3A\nB: 2": {"A": "x: y:", "B": "2"},  # ': ' in a value: the split's too
        b"N\xc3\xa9: 1": {"N\u00e9": "1"},  # not ASCII: the line-by-line reading's
    }
    for block, expected in cases.items():
        assert frames.parse_headers(block) == expected, block
    for block in (b": no name\nB: 1", b"A: 1\n: no name", b"A B: 1"):
        with pytest.raises(ProtocolError, match="malformed header line"):
            frames.parse_headers(block)


def test_a_json_event_read_again_is_an_equal_event_of_its_own():
    text = '{"Event-Name":"CHANNEL_HANGUP_COMPLETE","Unique-ID":"u1","_body":"b"}'
    first = frames.parse_json_event(text, text.encode())
    again = frames.parse_json_event(text, text.encode())
    assert again == first and again.body == "b" and again.headers is not first.headers
    again.headers["Unique-ID"] = "changed"  # no reader shares the kept copy
    assert frames.parse_json_event(text, text.encode()).uuid == "u1"
    for index in range(frames.RECENT_JSON_EVENTS + 5):
        frames.parse_json_event(f'{{"Event-Name":"E{index}"}}')
    assert len(frames._recent_json) == frames.RECENT_JSON_EVENTS


# --- JSON events: the quick reading (msgspec) gives what the careful one gives -------------


def careful_json(text: str) -> tuple:
    """What the member-by-member reading makes of a JSON event (or the error it names)."""
    try:
        headers = frames._checked_json_headers(text)
    except ProtocolError as exc:
        return ("error", str(exc))
    body = headers.pop("_body", "")
    if not isinstance(body, str):
        return ("error", "JSON event _body is not a string")
    return ("event", list(headers.items()), body)


def read_json(text: str) -> tuple:
    try:
        event = frames.parse_json_event(text)
    except ProtocolError as exc:
        return ("error", str(exc))
    return ("event", list(event.headers.items()), event.body)


def test_every_captured_json_event_is_read_quickly_to_the_careful_reading(captures_dir):
    """FreeSWITCH's cJSON text is msgspec's: every event of capture 02 takes the quick
    path, the hangup with its repeated Hangup-Cause too, and reads as before."""
    texts = [
        block.data.split(b"\n\n", 1)[1].decode()
        for block in recv_blocks(captures_dir)
        if b"Content-Type: text/event-json" in block.data
    ]
    assert len(texts) >= 20
    assert any(text.count('"Hangup-Cause":') == 2 for text in texts)
    for text in texts:
        assert frames._quick_headers(text, None) is not None
        assert read_json(text) == careful_json(text)


@pytest.mark.parametrize(
    "text, quick",
    [
        ('{"A":"1","H":"x","B":"2","H":"x"}', True),  # a repeat with its value
        ('{"A":"1","H":"x","B":"2","H":"x","H":"x"}', True),
        ('{"A":"1","H":"x","H":"x"}', True),  # the repeat last
        ('{"H":"x","H-X":"y","H":"x"}', True),  # a name that starts like the repeated one
        ('{"H":["a","b"],"A":"1","H":["a","b"]}', True),
        ('{"A":"1","H":"x","B":"2","H":"y"}', False),  # another value: the first counts
        ('{"A":"1","H":"y","B":"2","H":"x","H":"y"}', False),
        ('{"A":"1","H":"x","B":"2","H":"x","H":"x","H":"x","H":"x","H":"x"}', False),
        ('{"A":"\\",\\"H\\":\\"x","H":"x"}', True),  # a member's text inside a value
        ('{"A": "1", "H": "x"}', False),  # spaced: not what FreeSWITCH writes
        ('{"A":"\\u00e9"}', False),  # escaped where cJSON writes UTF-8
        ('{"A":"é😀"}', True),
        ('{"A":"\\ud83d\\ude00"}', False),
        ('{"A":"a\\ud800b"}', False),  # a lone surrogate: replaced, by the careful path
        ('{"A":"a\\udc00\\ud800"}', False),
        ('{"A":1}', False),
        ('{"A":["a",1]}', False),
        ('{"A":{"B":"c"}}', False),
        ('{"_body":["x"]}', True),
        ('{"A":"1","_body":"text"}', True),
        ('["A"]', False),
        ('{"A":"1"', False),
        ('{"A":"1"} x', False),
        ("{}", True),
    ],
)
def test_json_events_read_as_the_careful_reading(text, quick):
    assert (frames._quick_headers(text, None) is not None) is quick
    assert read_json(text) == careful_json(text)


def test_generated_json_events_read_as_the_careful_reading():
    """Repeats (same value, other value, other spelling), names that share a prefix, text
    that looks like members, escaped quotes and backslashes, escapes where UTF-8 would do
    (surrogate pairs among them), spaces, lists, odd characters: the result is always the
    careful reading's, and the quick reading takes repeats with the same value."""
    import random

    rng = random.Random(12)
    names = ["H", "Hangup-Cause", "Hangup-Cause-X", "A", "_body", "é", 'q"x', 'x"H']
    values = ["x", "y", "", "a b", "é", "😀", '","H":"x', ',"H":"x', "\\", '\\"', '"']
    values += ["\\\\", "\u2028", "\x01", "%41", "a/b"]

    def spelled(item) -> str:
        if isinstance(item, list):
            return "[" + ",".join(spelled(element) for element in item) + "]"
        text = json.dumps(item, ensure_ascii=rng.random() < 0.05)
        return text.replace("/", "\\/") if rng.random() < 0.05 else text

    def separator(mark: str) -> str:
        return rng.choice([" ", "\n"]) + mark if rng.random() < 0.02 else mark

    quick = quick_repeats = 0
    for _ in range(4000):
        members = []
        for _ in range(rng.randint(0, 7)):
            value = rng.choice(values)
            if rng.random() < 0.15:
                value = [rng.choice(values) for _ in range(rng.randint(0, 2))]
            members.append((rng.choice(names), value))
        text = (
            "{"
            + separator(",").join(
                spelled(name) + separator(":") + spelled(value) for name, value in members
            )
            + "}"
        )
        read_quickly = frames._quick_headers(text, None) is not None
        quick += read_quickly
        quick_repeats += read_quickly and len(members) > len(dict(members))
        assert read_json(text) == careful_json(text), text
    assert quick > 1000 and quick_repeats > 20, (quick, quick_repeats)


def test_parting_is_where_two_texts_first_differ():
    """Pieces from the start, then halving: the first differing index at any distance."""
    import random

    def first_difference(longer: bytes, shorter: bytes) -> int:
        pairs = enumerate(zip(longer[: len(shorter)], shorter, strict=True))
        return next((index for index, (a, b) in pairs if a != b), len(shorter))

    rng = random.Random(5)
    for _ in range(3000):
        shorter = bytes(rng.choice(b"ab") for _ in range(rng.randint(0, 3000)))
        at = rng.choice([0, len(shorter), rng.randint(0, len(shorter)), rng.randint(0, 200)])
        at = min(at, len(shorter))
        longer = shorter[:at] + bytes(rng.choice(b"abc") for _ in range(rng.randint(1, 40)))
        longer += shorter[at:]
        assert frames._parting(longer, shorter) == first_difference(longer, shorter)
