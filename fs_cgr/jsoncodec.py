"""JSON text exact for money: stored documents and events.

Every backend stores documents as this text, so memory, Redis and SQL give
back the same values: a Decimal is written as an exact JSON number and every
non-integer number is read back as a Decimal (never a binary float).

Standard library only: FreeSWITCH's embedded Python imports this module through the
mod_python3 handler. The API's requests and replies have a faster codec of their own
(``fs_cgr.api.wirejson``).
"""

import json
import json.encoder
import secrets
from decimal import Decimal

# The C encoder cannot print a Decimal as a number, so each one is written as a
# string between two markers, which are then cut out with their quotes. The
# markers hold a secret of this process, so no stored string can pass for one.
_SECRET = secrets.token_hex(8)
_OPEN, _CLOSE = f"\x00{_SECRET}<", f">{_SECRET}\x00"
_OPEN_JSON, _CLOSE_JSON = f'"\\u0000{_SECRET}<', f'>{_SECRET}\\u0000"'


def encode(value) -> str:
    """Compact JSON; raises ValueError for anything JSON cannot hold exactly."""
    try:
        text = "".join(_encode_once(value, 0))
    except TypeError as exc:  # e.g. a key that is not a string or number
        raise ValueError(f"cannot store as JSON: {exc}") from None
    except RecursionError:  # circular or nested too deeply: the standard encoder tells which
        return _ENCODER.encode(value)  # raises as it always did
    return text.replace(_OPEN_JSON, "").replace(_CLOSE_JSON, "")


def encode_stepwise(value) -> str:
    """``encode``, a list item at a time: a thread encoding a document of a million rows
    lets the others run in between, where one call of the C encoder holds the interpreter
    lock for the whole document (most of a second)."""
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        items = (f"{encode(key)}:{encode_stepwise(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(encode, value)) + "]"
    return encode(value)


def _mark(item) -> str:
    if isinstance(item, Decimal) and item.is_finite():
        return _OPEN + str(item) + _CLOSE
    return refuse(item)


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_mark
)


def _make_encode_once():
    """The C encoder ``_ENCODER.encode`` builds on every call (about 1.4 us), built once.

    The same text: the same hook, string encoder and separators. Without the standard
    encoder's table of the containers being written (``markers``), it keeps no state
    between calls, so threads share it safely; a circular value, which that table would
    name, exhausts the recursion limit instead and ``encode`` then lets the standard
    encoder raise as before (never for a stored document, which is a tree)."""
    make = json.encoder.c_make_encoder
    if make is None:  # an interpreter without the C accelerator
        return lambda value, _level: [_ENCODER.encode(value)]
    enc = _ENCODER
    return make(
        None,
        enc.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        enc.key_separator,
        enc.item_separator,
        enc.sort_keys,
        enc.skipkeys,
        enc.allow_nan,
    )


_encode_once = _make_encode_once()


def decode(text: str | bytes):
    return json.loads(text, parse_float=Decimal)


def refuse(item):
    """The encoders' hook for anything JSON cannot hold exactly: ValueError naming it."""
    raise ValueError(f"cannot store {type(item).__name__} {item!r} as JSON")
