"""Fuzzing the ESL frame parser: whatever a peer sends, the parser answers messages or
ProtocolError (the connection is closed), never another exception; and how the bytes are
split into reads never changes the messages."""

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fs_cgr.esl.frames import Parser, ProtocolError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,20}", fullmatch=True)
header_values = st.text(max_size=40)


@st.composite
def plain_event(draw) -> bytes:
    headers = draw(st.dictionaries(header_names, header_values, max_size=8))
    headers["Event-Name"] = draw(st.sampled_from(["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]))
    inner = "".join(f"{name}: {quote(value)}\n" for name, value in headers.items())
    return inner.encode() + b"\n"


@st.composite
def json_event(draw) -> bytes:
    values = st.one_of(header_values, st.lists(header_values, max_size=3))
    headers = draw(st.dictionaries(header_names, values, max_size=8))
    return json.dumps(headers).encode()


@st.composite
def message(draw) -> bytes:
    kind = draw(st.sampled_from(["reply", "api", "plain", "json", "notice"]))
    if kind == "reply":
        reply = draw(st.text(max_size=30).map(lambda text: text.replace("\n", " ")))
        return f"Content-Type: command/reply\nReply-Text: {quote(reply)}\n\n".encode()
    body = {
        "api": lambda: draw(st.text(max_size=60)).encode(),
        "plain": lambda: draw(plain_event()),
        "json": lambda: draw(json_event()),
        "notice": lambda: b"Disconnected, goodbye.\n",
    }[kind]()
    content_type = {
        "api": "api/response",
        "plain": "text/event-plain",
        "json": "text/event-json",
        "notice": "text/disconnect-notice",
    }[kind]
    return f"Content-Type: {content_type}\nContent-Length: {len(body)}\n\n".encode() + body


def feed(stream: bytes, cuts: list[int]) -> tuple[list, str | None]:
    """The messages parsed from ``stream`` read in pieces ending at ``cuts``, and the
    ProtocolError that ended it, if any."""
    parser, messages = Parser(), []
    start = 0
    try:
        for cut in sorted({min(cut, len(stream)) for cut in cuts} | {len(stream)}):
            messages += parser.feed(stream[start:cut])
            start = cut
    except ProtocolError as exc:
        return messages, str(exc)
    return messages, None


@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_any_bytes_give_messages_or_a_protocol_error(stream, cuts):
    feed(stream, cuts)  # any other exception fails the test


@FUZZ
@given(st.lists(message(), min_size=1, max_size=5), st.lists(st.integers(0, 2000), max_size=8))
def test_valid_streams_parse_the_same_whatever_the_reads(messages, cuts):
    stream = b"".join(messages)
    whole, error = feed(stream, [])
    pieces, error_in_pieces = feed(stream, cuts)
    assert error is None and error_in_pieces is None
    assert pieces == whole and len(whole) == len(messages)


@FUZZ
@given(
    st.lists(message(), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 3000), st.binary(max_size=4)), min_size=1, max_size=4),
    st.lists(st.integers(0, 3000), max_size=6),
)
def test_mutated_streams_give_messages_or_a_protocol_error(messages, mutations, cuts):
    stream = bytearray(b"".join(messages))
    for position, replacement in mutations:
        at = min(position, len(stream))
        stream[at : at + len(replacement)] = replacement
    feed(bytes(stream), cuts)


def test_deeply_nested_json_event_is_a_protocol_error():
    body = b"[" * 100_000
    stream = b"Content-Type: text/event-json\nContent-Length: %d\n\n" % len(body) + body
    messages, error = feed(stream, [])
    assert messages == [] and error.startswith("bad JSON event")


def test_a_lone_surrogate_in_a_json_event_is_replaced_and_the_event_kept():
    body = json.dumps({"Event-Name": "CHANNEL_ANSWER", "Caller-Caller-ID-Name": "a\ud800b"})
    data = f"Content-Type: text/event-json\nContent-Length: {len(body)}\n\n{body}".encode()
    (message,), error = feed(data, [])
    assert error is None
    assert message.event.get("Caller-Caller-ID-Name") == "a\ufffdb"
