"""ESL wire format: parse what FreeSWITCH sends, serialize what we send.

A message is a header block ("Name: value" lines ended by a blank line),
followed by exactly ``Content-Length`` body bytes when that header is present.
Header values are percent-decoded one by one (FreeSWITCH percent-encodes event
values; reply texts are sent raw and decode to themselves). When a name repeats
(``Hangup-Cause`` does, twice, in CHANNEL_HANGUP_COMPLETE) the **first** value
is kept, as FreeSWITCH's own ``switch_event_get_header`` does.

Bodies of ``text/event-plain`` are a second header block (plus a nested body
when it carries its own Content-Length, e.g. BACKGROUND_JOB); bodies of
``text/event-json`` are one JSON object whose values are not percent-encoded
and where array variables are lists; a lone UTF-16 surrogate escape there
(no store could hold it) becomes U+FFFD, so the call's event is still read.

Anything that does not follow these rules raises ProtocolError: the stream
cannot be resynchronised, so the connection that sent it must be closed.
"""

import json
import re
from binascii import a2b_qp
from dataclasses import dataclass, field
from itertools import repeat
from urllib.parse import unquote

import msgspec

from fs_cgr.textcheck import has_surrogate_escape, replace_lone_surrogates

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024

COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
DISCONNECT_NOTICE = "text/disconnect-notice"
AUTH_REQUEST = "auth/request"
RUDE_REJECTION = "text/rude-rejection"

_CONTENT_LENGTH = re.compile(r"[0-9]{1,10}")


class ProtocolError(Exception):
    """The peer broke the ESL framing rules; its connection must be closed."""


@dataclass(frozen=True)
class Event:
    """One FreeSWITCH event, from a plain or a JSON body.

    ``headers`` values are ``str``, except array variables of JSON events
    (``list[str]``); plain events keep them as FreeSWITCH's ``ARRAY::a|:b`` text.
    """

    headers: dict
    body: str = ""

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def uuid(self) -> str:
        return self.headers.get("Unique-ID", "")

    def get(self, name: str, default=None):
        return self.headers.get(name, default)


@dataclass(frozen=True)
class Message:
    """One ESL message: decoded headers, body text, and the parsed event if it is one."""

    headers: dict[str, str]
    body: str = ""
    event: Event | None = field(default=None, compare=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        """What a reply says: Reply-Text of a command/reply, the body of anything else."""
        if self.content_type == COMMAND_REPLY:
            return self.headers.get("Reply-Text", "")
        return self.body

    @property
    def ok(self) -> bool:
        return self.text.startswith("+OK")

    @property
    def disposition(self) -> str:
        """``linger`` or ``disconnect`` for a disconnect notice."""
        return self.headers.get("Content-Disposition", "")


class Parser:
    """Incremental parser: feed it bytes as they arrive, get complete messages back."""

    def __init__(self):
        self._buffer = bytearray()
        self._headers: dict[str, str] | None = None  # header block waiting for its body
        self._body_length = 0

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while (message := self._next()) is not None:
            messages.append(message)
        return messages

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buffer)

    def _next(self) -> Message | None:
        if self._headers is None:
            end = self._buffer.find(b"\n\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    raise ProtocolError(f"header block longer than {MAX_HEADER_BYTES} bytes")
                return None
            if end > MAX_HEADER_BYTES:
                raise ProtocolError(f"header block longer than {MAX_HEADER_BYTES} bytes")
            self._headers = parse_headers(bytes(self._buffer[:end]))
            self._body_length = content_length(self._headers)
            del self._buffer[: end + 2]
        if len(self._buffer) < self._body_length:
            return None
        body = bytes(self._buffer[: self._body_length])
        del self._buffer[: self._body_length]
        headers, self._headers = self._headers, None
        return build_message(headers, body)


# a header line as FreeSWITCH writes it: a name of printable ASCII without ':' or space
_PLAIN_HEADER_LINE = re.compile(r"^([!-9;-~]+): *(.*)$", re.MULTILINE)


def parse_headers(block: bytes) -> dict[str, str]:
    """``Name: value`` lines to a dict; values percent-decoded, first of a repeated name kept.

    Events carry a hundred lines or more: as FreeSWITCH writes them (``Name: value``, one
    space) they are split in C, with no Python step a line; else one regex pass reads
    them when every line is a plain one; otherwise each line is checked (and a bad one
    named)."""
    if not block:
        raise ProtocolError("empty header block")
    text = _utf8(block, "header block")
    headers = _split_headers(text)
    if headers is None:
        pairs = _PLAIN_HEADER_LINE.findall(text)
        if len(pairs) != text.count("\n") + 1:
            return _checked_headers(text)
        headers = _first_values(pairs)
    if "%" in text:  # most reply lines have nothing to decode: skip the calls
        for name, value in headers.items():
            if "%" in value:
                headers[name] = percent_decoded(value)
    return headers


def _split_headers(text: str) -> dict[str, str] | None:
    """``_PLAIN_HEADER_LINE``'s reading when every line is ``Name: value`` with one space
    after the first ':' (FreeSWITCH's way), else None. Each line is split at its first
    ': ' (``map``: no bytecode a line). A name is then the regex's when none is empty
    and all of them, joined, hold only its characters ([!-9;-~]); a value is when
    no ':' is followed by a second space (the regex strips every space after the
    name's colon)."""
    if ":  " in text or text.startswith(": ") or "\n: " in text:
        return None
    pairs = list(map(str.split, text.split("\n"), repeat(": "), repeat(1)))
    try:
        headers = _first_values(pairs)
    except ValueError:  # a line without ': '
        return None
    names = "".join(headers)
    if not names.isascii() or names.encode().translate(None, _NAME_BYTES):
        return None  # a byte left after deleting the allowed ones is not
    return headers


_NAME_BYTES = bytes(range(ord("!"), ord(":"))) + bytes(range(ord(";"), ord("~") + 1))


def _first_values(pairs: list) -> dict[str, str]:
    """The pairs as a dict; a repeated name at its first place, with its first value."""
    headers = dict(pairs)  # a repeated name: at its first place, with its last value
    if len(headers) != len(pairs):
        headers.update(dict(reversed(pairs)))  # ... its first value
    return headers


# a '%' that does not start an escape: unquote keeps it as it is
_NOT_AN_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def percent_decoded(value: str) -> str:
    """``unquote(value, errors="replace")``, 4 to 17 times faster: the escapes become
    quoted-printable ones (``=XX``, any ``=`` of the value escaped first) for binascii's
    decoder in C, instead of a Python step per escape. A value with a stray ``%`` (none
    that FreeSWITCH writes) goes to unquote."""
    if _NOT_AN_ESCAPE.search(value):
        return unquote(value, errors="replace")
    quoted = value.replace("=", "=3D").replace("%", "=").encode()
    return a2b_qp(quoted).decode("utf-8", "replace")


def _checked_headers(text: str) -> dict[str, str]:
    """``parse_headers`` line by line: names any line that is not ``Name: value``."""
    headers: dict[str, str] = {}
    for line in text.split("\n"):
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or " " in name:
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        value = value.lstrip(" ")
        if "%" in value:  # most values have nothing to decode: skip the call
            value = percent_decoded(value)
        headers.setdefault(name, value)
    return headers


def content_length(headers: dict[str, str]) -> int:
    value = headers.get("Content-Length")
    if value is None:
        return 0
    if not _CONTENT_LENGTH.fullmatch(value):
        raise ProtocolError(f"bad Content-Length {value[:20]!r}")
    length = int(value)
    if length > MAX_BODY_BYTES:
        raise ProtocolError(f"body of {length} bytes exceeds {MAX_BODY_BYTES}")
    return length


def build_message(headers: dict[str, str], body: bytes) -> Message:
    content_type = headers.get("Content-Type")
    if not content_type:
        raise ProtocolError("message without Content-Type")
    text = _utf8(body, content_type + " body")
    event = None
    if content_type == EVENT_PLAIN:
        event = parse_plain_event(body)
    elif content_type == EVENT_JSON:
        event = parse_json_event(text, body)
    return Message(headers, text, event)


def parse_plain_event(body: bytes) -> Event:
    """A plain event body: its own header block, then an optional nested body."""
    end = body.find(b"\n\n")
    if end < 0:
        raise ProtocolError("plain event body without a blank line")
    headers = parse_headers(body[:end])
    rest = body[end + 2 :]
    length = content_length(headers)
    if len(rest) != length:
        raise ProtocolError(
            f"plain event body has {len(rest)} bytes after its headers, not {length}"
        )
    headers.pop("Content-Length", None)
    return Event(headers, _utf8(rest, "event body"))


def parse_json_event(text: str, raw: bytes | None = None) -> Event:
    """A JSON event body (``raw``: its bytes, when the caller has them).

    The same event often comes twice, byte for byte: a call followed on its outbound
    socket has its CHANNEL_HANGUP_COMPLETE there and on the inbound link too. The last
    ``RECENT_JSON_EVENTS`` bodies read are kept, so the second copy costs a look-up
    and a copy of the headers instead of a second reading."""
    key = raw if raw is not None else text
    known = _recent_json.get(key)
    if known is not None:
        return Event(dict(known.headers), known.body)
    headers = _quick_headers(text, raw)
    if headers is None:
        headers = _checked_json_headers(text)
    body = headers.pop("_body", "")
    if not isinstance(body, str):
        raise ProtocolError("JSON event _body is not a string")
    event = Event(headers, body)
    if len(_recent_json) >= RECENT_JSON_EVENTS:
        del _recent_json[next(iter(_recent_json))]  # the oldest
    _recent_json[key] = Event(dict(headers), body)  # a copy no reader holds
    return event


RECENT_JSON_EVENTS = 64
_recent_json: dict = {}  # event body (bytes, else text) -> its Event


def _checked_json_headers(text: str) -> dict:
    """The headers of a JSON event read member by member: a name given twice keeps its first
    value, a lone surrogate becomes U+FFFD, and what is not an event is named."""
    try:
        pairs = _PAIRS_DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad JSON event: {exc}") from None
    if not isinstance(pairs, _Members):
        raise ProtocolError("JSON event is not an object")
    for name, value in [pair for pair in pairs if pair[1].__class__ is not str]:
        if not _is_str_list(value):
            raise ProtocolError(f"JSON event header {name!r} is neither a string nor a list")
    headers = dict(pairs)  # built in C: a SIP leg's hangup has ~250 headers
    if len(headers) != len(pairs):  # a name given twice: the first counts, as in plain events
        headers = {}
        for name, value in pairs:
            headers.setdefault(name, value)
    if has_surrogate_escape(text):  # a caller's text FreeSWITCH escaped: keep the call
        headers = {name: replace_lone_surrogates(value) for name, value in headers.items()}
    return headers


# What FreeSWITCH writes (cJSON, compact, UTF-8 unescaped) is what msgspec writes: an event
# msgspec decodes and encodes back to the same bytes has no name twice, so its headers are
# those of the careful reading, at a third of the cost. Nor has it a surrogate escape, which
# msgspec never writes (a lone one it refuses to read): the careful reading would have had
# none to replace. Anything else is read carefully.
_QUICK_DECODER = msgspec.json.Decoder(dict[str, str | list[str]])
_ENCODE = msgspec.json.Encoder().encode
_REPEATS_SKIPPED = 4  # names given again (with the same value) a quick reading accepts


def _quick_headers(text: str, raw: bytes | None) -> dict | None:
    """The headers when the cheap reading is provably the careful one's, else None."""
    if raw is None:
        raw = text.encode("utf-8", "surrogatepass")
    try:
        headers = _QUICK_DECODER.decode(raw)
    except (msgspec.MsgspecError, RecursionError):
        return None
    canonical = _ENCODE(headers)
    if canonical == raw or _only_repeats(raw, canonical, headers):
        return headers
    return None


def _only_repeats(raw: bytes, canonical: bytes, headers: dict) -> bool:
    """Whether ``raw`` is ``canonical`` plus members that repeat a name with its value (as
    CHANNEL_HANGUP_COMPLETE repeats Hangup-Cause): then the first value of each name is
    the one ``headers`` holds. Each such member is found where the two texts part, checked
    byte for byte and cut out, until they are equal."""
    for _ in range(_REPEATS_SKIPPED):
        if len(raw) <= len(canonical):
            return False
        start = raw.rfind(b',"', 0, _parting(raw, canonical) + 2)  # its comma: a later member
        colon = raw.find(b'":', start + 2)
        if start < 0 or colon < 0:
            return False
        quoted = raw[start + 1 : colon + 1]
        try:
            value = headers.get(_QUICK_NAME(quoted))
        except msgspec.MsgspecError:
            return False
        if value is None:
            return False
        member = quoted + b":" + _ENCODE(value)
        end = start + 1 + len(member)
        if raw[start + 1 : end] != member or raw[end : end + 1] not in (b",", b"}"):
            return False
        raw = raw[:start] + raw[end:]
        if raw == canonical:
            return True
    return False


_QUICK_NAME = msgspec.json.Decoder(str).decode


def _parting(longer: bytes, shorter: bytes) -> int:
    """The first index where the two differ (``len(shorter)`` when it is a prefix): pieces
    twice as long each time are compared from the start (FreeSWITCH repeats Hangup-Cause
    in its first kilobyte), then the one they part in is halved. (Slices are copies:
    halving the whole text copied several times more.)"""
    low, step, end = 0, 64, len(shorter)
    while low < end and longer[low : low + step] == shorter[low : low + step]:
        low, step = low + step, step * 2
    high = min(low + step, end)  # longer[:low] == shorter[:low]; they part in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if longer[low:middle] == shorter[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class _Members(list):
    """A JSON object's (name, value) pairs in order, duplicates included."""


_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_Members)  # json.loads builds one per call


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"{what} is not UTF-8") from None


# --- commands we send -------------------------------------------------------


def command(line: str) -> bytes:
    """One command line, terminated by the blank line FreeSWITCH waits for."""
    _check_line(line)
    return line.encode() + b"\n\n"


def api(cmd: str) -> bytes:
    return command("api " + cmd)


def bgapi(cmd: str) -> bytes:
    return command("bgapi " + cmd)


def auth(password: str) -> bytes:
    return command("auth " + password)


def linger(seconds: int | None = None) -> bytes:
    """``linger N``; without seconds FreeSWITCH lingers forever (until we send ``exit``)."""
    if seconds is None:
        return command("linger")
    if not isinstance(seconds, int) or seconds <= 0:
        raise ValueError(f"linger seconds must be a positive int, got {seconds!r}")
    return command(f"linger {seconds}")


def event(names: list[str] | tuple[str, ...], fmt: str = "plain") -> bytes:
    if fmt not in ("plain", "json"):
        raise ValueError(f"event format must be plain or json, got {fmt!r}")
    if not names:
        raise ValueError("event needs at least one event name")
    return command(f"event {fmt} {' '.join(names)}")


def sendmsg(uuid: str, headers: dict[str, str]) -> bytes:
    """``sendmsg <uuid>`` with its header lines (call-command: execute/hangup ...)."""
    lines = [f"sendmsg {uuid}"] + [f"{name}: {value}" for name, value in headers.items()]
    for line in lines:
        _check_line(line)
    return "\n".join(lines).encode() + b"\n\n"


def execute(uuid: str, app: str, arg: str = "") -> bytes:
    return sendmsg(
        uuid, {"call-command": "execute", "execute-app-name": app, "execute-app-arg": arg}
    )


def hangup(uuid: str, cause: str = "NORMAL_CLEARING") -> bytes:
    return sendmsg(uuid, {"call-command": "hangup", "hangup-cause": cause})


def _check_line(line: str) -> None:
    """A newline inside an argument would end the command and start another one."""
    if "\n" in line or "\r" in line:
        raise ValueError(f"ESL command contains a line break: {line[:80]!r}")
