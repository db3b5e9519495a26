"""Text every store can hold: valid Unicode, so no lone UTF-16 surrogate.

JSON may spell one (``"\\ud800"``) and Python's decoder keeps it in the str, but
it has no UTF-8 form: MySQL, Redis documents and the JSON-RPC reply encoder all fail
on it later, after money may have moved. A JSON body can only carry one as a
``\\uD800``-``\\uDFFF`` escape (raw bytes would not be UTF-8), so bodies without
such an escape, i.e. almost all, are passed after one regex search.
"""

import re

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_ESCAPE_TEXT = re.compile(_SURROGATE_ESCAPE.pattern.decode())
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a decoded pair is one code point already


def has_surrogate_escape(raw: bytes | str) -> bool:
    """Whether a JSON text may hold a lone surrogate (one regex search)."""
    if isinstance(raw, str):
        return _SURROGATE_ESCAPE_TEXT.search(raw) is not None
    return _SURROGATE_ESCAPE.search(raw) is not None


def lone_surrogate_path(raw: bytes | str, decoded, root: str = "") -> str | None:
    """Where in ``decoded`` (the JSON value of the body ``raw``) a string or key holds a
    lone surrogate, as ``root.Field[0].Other``; None when there is none."""
    if not has_surrogate_escape(raw):
        return None
    return _find(decoded, root)


def replace_lone_surrogates(value):
    """A str (or list of str) with each lone surrogate replaced by U+FFFD."""
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    return _LONE_SURROGATE.sub("\ufffd", value)


def _find(value, path: str) -> str | None:
    if isinstance(value, str):
        return None if _valid(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if not _valid(key):
                return inner.encode("utf-8", "backslashreplace").decode()
            found = _find(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
