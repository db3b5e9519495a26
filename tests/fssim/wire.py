"""The bytes FreeSWITCH 1.10.12 puts on an event socket (see ../shared/esl-captures).

Event header values are percent-encoded with FreeSWITCH's unsafe set; reply
texts and disconnect-notice headers are sent raw. The connect reply is the
CHANNEL_DATA event serialized as a header block, hence its ``Reply-Text: %2BOK%0A``.
"""

import json
import re
from json.encoder import encode_basestring

URL_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_NEEDS_ENCODING = re.compile(r'[^\x20-\x7e]|[\r\n #%&+:;<=>?@\[\\\]^`{|}"]')
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
AUTH_REQUEST = b"Content-Type: auth/request\n\n"


def url_encode(value: str) -> str:
    if not _NEEDS_ENCODING.search(value):  # most values: a fast path, same result
        return value
    return "".join(
        f"%{byte:02X}" if byte < 0x20 or byte > 0x7E or byte in URL_UNSAFE else chr(byte)
        for byte in value.encode()
    )


def header_block(pairs, encode: bool) -> str:
    return "".join(f"{name}: {url_encode(value) if encode else value}\n" for name, value in pairs)


def command_reply(text: str, *extra) -> bytes:
    pairs = [("Content-Type", "command/reply"), ("Reply-Text", text), *extra]
    return (header_block(pairs, encode=False) + "\n").encode()


def api_response(body: str) -> bytes:
    data = body.encode()
    return f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data


def connect_reply(channel_data_pairs, mode: str = "async") -> bytes:
    """``mode``: ``async`` for ``socket ... async``, ``static`` without it."""
    pairs = [
        *channel_data_pairs,
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", mode),
        ("Control", "full"),
    ]
    return (header_block(pairs, encode=True) + "\n").encode()


def plain_event(pairs, body: str = "") -> bytes:
    data = body.encode()
    if data:
        pairs = [*pairs, ("Content-Length", str(len(data)))]
    inner = (header_block(pairs, encode=True) + "\n").encode() + data
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


def json_event(pairs, body: str = "") -> bytes:
    """One JSON object on one line, no trailing newline; ``ARRAY::`` values become lists."""
    if body:
        pairs = [*pairs, ("_body", body)]
    members = ",".join(f"{encode_basestring(name)}:{_json(value)}" for name, value in pairs)
    data = ("{" + members + "}").encode()
    return f"Content-Length: {len(data)}\nContent-Type: text/event-json\n\n".encode() + data


def _json(value: str) -> str:
    """A header value as JSON: a string (json.dumps' result without its overhead), or the
    list an ``ARRAY::`` value is."""
    if value.startswith("ARRAY::"):
        items = value[len("ARRAY::") :].split("|:")
        return json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return encode_basestring(value)


def linger_notice(uuid: str, channel_name: str, linger_time: int) -> bytes:
    pairs = [
        ("Content-Type", "text/disconnect-notice"),
        ("Controlled-Session-UUID", uuid),
        ("Content-Disposition", "linger"),
        ("Channel-Name", channel_name),
        ("Linger-Time", str(linger_time)),
        ("Content-Length", "0"),
    ]
    return (header_block(pairs, encode=False) + "\n").encode()


def disconnect_notice(uuid: str = "") -> bytes:
    """The final notice; outbound sockets name their session, inbound ones do not."""
    pairs = [("Content-Type", "text/disconnect-notice")]
    if uuid:
        pairs += [("Controlled-Session-UUID", uuid), ("Content-Disposition", "disconnect")]
    pairs.append(("Content-Length", str(len(GOODBYE))))
    return (header_block(pairs, encode=False) + "\n" + GOODBYE).encode()
