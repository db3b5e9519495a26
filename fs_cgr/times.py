"""Timestamps as CGrateS accepts them, always returned as aware UTC datetimes."""

import re
from datetime import datetime, timedelta, timezone

from fs_cgr.durations import parse_duration

UTC = timezone.utc
_LAYOUTS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y%m%d%H%M%S",
    "%Y-%m-%d",
)


# The usual texts among _LAYOUTS, with the field ranges strptime checks: RFC 3339 (fraction
# and offset optional) and "2006-01-02 15:04:05" with a fraction or an offset.
_DAY = r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
_FRACTION, _OFFSET = r"\.\d{1,6}", r"[+-]\d{2}:[0-5]\d"
_ISO_LAYOUT = re.compile(
    rf"{_DAY}T{_CLOCK}(?:{_FRACTION})?(?:{_OFFSET})?|{_DAY} {_CLOCK}(?:{_FRACTION}|{_OFFSET})?"
)


def now() -> datetime:
    return datetime.now(UTC)


# A call's times are read and printed many times over (its event at answer and hangup, the
# journal, the CDR, the filters' events): the texts and datetimes met lately are kept, a
# dict look-up instead of a parse or a format. Only what is a function of the key alone:
# parsed texts (not "*now" or "+1h"), and UTC times (an equal datetime in another zone
# may stand for another instant, around a change of its offset).
_RECENT = 4096  # entries each keeps (~0.5 MB); a full one starts again: the calls of now
_parsed: dict[str, datetime] = {}
_formatted: dict[datetime, str] = {}


def _remember(recent: dict, key, value):
    if len(recent) >= _RECENT:
        recent.clear()
    recent[key] = value
    return value


def parse_time(value, default=None) -> datetime | None:
    """Parse RFC 3339, "2006-01-02 15:04:05" (UTC), unix epoch (s, ms, µs), "*now", "+1h".

    Empty input returns ``default``; anything else unparsable raises ValueError.
    """
    if value is None or value == "" or value == "0001-01-01T00:00:00Z":
        return default
    parsed = _parsed.get(value) if value.__class__ is str else None
    if parsed is not None:
        return parsed
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return _from_epoch(int(value))
    text = str(value).strip()
    if text == "*now":
        return now()
    if text.startswith("+"):
        return now() + timedelta(microseconds=parse_duration(text[1:]) // 1000)
    if text.isdigit():
        return _from_epoch(int(text)) if int(text) else default
    candidate = text[:-1] + "+00:00" if text.endswith("Z") else text
    candidate = _trim_fraction(candidate)
    parsed = _parse_iso(candidate) or _parse_layouts(candidate)
    if parsed is None:
        raise ValueError(f"invalid time: {value!r}")
    parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _remember(_parsed, value, parsed) if value.__class__ is str else parsed


def _parse_iso(text: str) -> datetime | None:
    """The usual texts at C speed: strptime reads them the same, 50 times slower."""
    if _ISO_LAYOUT.fullmatch(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:  # e.g. February 30th: the layouts refuse it too
            pass
    return None


def _parse_layouts(text: str) -> datetime | None:
    for layout in _LAYOUTS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    return None


def _trim_fraction(text: str) -> str:
    """Cut nanosecond fractions to microseconds, which is all datetime holds."""
    dot = text.find(".")
    if dot < 0:
        return text
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    return text[: min(end, dot + 7)] + text[end:]


def _from_epoch(number: int) -> datetime:
    if number > 10**17:
        number //= 1000  # nanoseconds
    if number > 10**14:
        return datetime.fromtimestamp(number / 1_000_000, UTC)
    if number > 10**11:
        return datetime.fromtimestamp(number / 1000, UTC)
    return datetime.fromtimestamp(number, UTC)


def format_time(value: datetime | None) -> str:
    """RFC 3339 in UTC, as CGrateS replies (Go's zero time for None)."""
    if value is None:
        return "0001-01-01T00:00:00Z"
    if value.tzinfo is not UTC:
        return _format(value)
    text = _formatted.get(value)
    return _remember(_formatted, value, _format(value)) if text is None else text


def _format(value: datetime) -> str:
    """The text of the naive date and clock: an aware datetime's isoformat (twice as fast as
    strftime) costs twice theirs together, most of it printing the "+00:00" cut off again."""
    value = value.astimezone(UTC)
    clock = value.time().isoformat()  # HH:MM:SS, and .ffffff when there are microseconds
    return f"{value.date().isoformat()}T{clock.rstrip('0') if value.microsecond else clock}Z"


def add_ns(value: datetime, ns: int) -> datetime:
    return value + timedelta(microseconds=ns // 1000)


def diff_ns(later: datetime, earlier: datetime) -> int:
    """Whole microseconds between the two, in ns: a timedelta divided by one microsecond
    is its exact count of them (C integer arithmetic, no attribute reads)."""
    return (later - earlier) // _MICROSECOND * 1000


_MICROSECOND = timedelta(microseconds=1)
