"""Durations as CGrateS writes them, held as integer nanoseconds.

CGrateS (Go) accepts "90s", "2m10s", "1h", "1.5s" and a bare number meaning
nanoseconds (or plain units for SMS/data); it prints Go's ``time.Duration``
form ("2m0s"). Integers keep rating exact: no float ever touches a duration.
"""

import re
from decimal import Decimal

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,
    "μs": MICROSECOND,
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def parse_duration(value) -> int:
    """Return nanoseconds for a CGrateS duration: "60s", "1m30s", "1024", 5, or ""."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid duration: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        return int(Decimal(str(value)))
    text = str(value).strip()
    if _NUMBER.fullmatch(text):
        return int(Decimal(text))
    sign = 1
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    pos, total = 0, Decimal(0)
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += Decimal(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration: {value!r}")
    return sign * int(total)


def format_duration(ns: int) -> str:
    """Go's time.Duration.String(): 0s, 500ms, 1.5s, 2m0s, 1h0m0s."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < SECOND:
        for unit, size in (("ms", MILLISECOND), ("µs", MICROSECOND), ("ns", NANOSECOND)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    text = _fraction(rest, SECOND) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _fraction(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def seconds(ns: int) -> Decimal:
    """Nanoseconds as exact decimal seconds."""
    return Decimal(ns) / SECOND
