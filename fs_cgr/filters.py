"""The part of CGrateS' FilterS that chargers and routes use.

A filter ID is either inline (``*string:~*req.Account:1001;1002``) or the ID of
a live ``filters`` object whose rules must all match. Supported rule types:
``*string *prefix *suffix *exists *empty *destinations *gt *gte *lt *lte *eq``
and their ``*not`` forms. Elements and values may name event fields as
``~*req.Field``; any other value is a constant.
"""

import functools
import logging
import threading
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation

from fs_cgr.durations import format_duration, parse_duration
from fs_cgr.errors import ServerError, StorageUnavailable
from fs_cgr.storage.base import FILTERS
from fs_cgr.times import format_time, parse_time
from fs_cgr.times import now as utc_now

log = logging.getLogger(__name__)

REQ_PREFIX = "~*req."
LIVE_CHECK_INTERVAL = 0.5  # seconds between looks at the DataDB's live version
_DURATION_FIELDS = ("Usage", "CGRDebitInterval")
_COMPARISONS = ("*gt", "*gte", "*lt", "*lte", "*eq")


class LiveObjects:
    """The DataDB's live documents, re-read when ``live_version()`` moves.

    Looks at the version at most every LIVE_CHECK_INTERVAL seconds, so the
    per-call cost is a dict lookup. Given the node's LiveRating it also follows
    that one's version, which this node's own tariff changes refresh at once;
    ``refresh()`` forces a look.

    Only the kinds asked for are read (and decoded): a tariff plan of a million
    destinations moves the version, but the chargers, routes and filters a service
    asks for are a few documents, read in milliseconds after the load.
    """

    def __init__(self, datadb, check_interval: float = LIVE_CHECK_INTERVAL, rating=None):
        self.datadb = datadb
        self.check_interval = check_interval
        self.rating = rating
        self._docs: dict[str, dict[str, dict]] = {}
        self._asked: set[str] = set()  # kinds callers want; _docs holds those loaded
        self._version: int | None = None
        self._rating_version = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def kind(self, kind: str) -> dict[str, dict]:
        docs = self._docs.get(kind)
        if (
            docs is not None
            and not self._due()
            and (self.rating is None or self.rating.version == self._rating_version)
        ):  # loaded, looked at lately, not older than the rating data this node has (its
            return docs  # own changes move that at once; others' show at the next look)
        self._asked.add(kind)
        stale = self._stale()
        if stale or self._due():
            self._load(wait=stale)
        return self._docs.get(kind, {})

    def _stale(self) -> bool:
        """Never loaded, a kind asked for not loaded, or older than this node's rating data."""
        return self._version is None or not self._asked <= self._docs.keys() or self._rating_moved()

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= self.check_interval

    def _rating_moved(self) -> bool:
        if self.rating is None:
            return False
        self.rating.engine  # noqa: B018 - the LiveRating reloads itself when due
        return self.rating.version != self._rating_version

    def refresh(self) -> None:
        self._load(wait=True, force=True)

    def _load(self, wait: bool, force: bool = False) -> None:
        """Re-read the documents when the live version moved. The DataDB reads yield to
        other greenlets: until they are done the documents held stay in place and the
        check stays due, so a caller whose documents are stale (never loaded, or older
        than this node's own tariff change) waits for them, and one that only came for
        the periodic look answers from the loaded ones. A DataDB error propagates, except
        on a periodic look: then the loaded documents serve until the DataDB answers."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            stale = self._stale()
            if not (force or stale or self._due()):
                return  # loaded by the caller we waited for
            rating_version = self.rating.version if self.rating is not None else None
            try:
                self._read()
            except StorageUnavailable as exc:
                if force or stale:
                    raise
                log.warning("live objects v%s kept: %s", self._version, exc.message)
            self._rating_version = rating_version
            self._checked_at = time.monotonic()
        finally:
            self._lock.release()

    def _read(self) -> None:
        version = self.datadb.live_version()
        if version != self._version or not self._asked <= self._docs.keys():
            self._docs = self.datadb.read_live(sorted(self._asked))
            self._version = version


def is_active(interval, moment: datetime) -> bool:
    """CGrateS' ActivationInterval: active after ActivationTime and before ExpiryTime.

    Accepts None/"", the CSV form "start;end" and the API form
    ``{"ActivationTime": ..., "ExpiryTime": ...}``.
    """
    start, end = _bounds(interval)
    return (start is None or start < moment) and (end is None or end > moment)


def normalize_interval(value) -> dict | None:
    """An ActivationInterval (either form above) as CGrateS' JSON, None when empty."""
    start, end = _bounds(value)
    if start is None and end is None:
        return None
    return {"ActivationTime": format_time(start), "ExpiryTime": format_time(end)}


def _bounds(interval) -> tuple[datetime | None, datetime | None]:
    if not interval:
        return None, None
    if isinstance(interval, dict):
        start, end = interval.get("ActivationTime"), interval.get("ExpiryTime")
    else:
        start, _, end = str(interval).partition(";")
    return parse_time(start), parse_time(end)


class FilterEngine:
    """Decides whether an event passes a list of filter IDs for a tenant."""

    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.live = live or LiveObjects(node.datadb, rating=node.rating)

    def matches(self, tenant: str, filter_ids, event: dict, now: datetime | None = None) -> bool:
        """True when every filter passes (no filters: True). Unknown IDs raise ServerError.
        The time (``now``, else the clock's) is only read for a filter object's
        ActivationInterval; inline filters have none."""
        moment = now
        for filter_id in filter_ids or ():
            if filter_id.startswith("*"):
                if not _inline(filter_id)(event, self._destination_ids):
                    return False
                continue
            moment = moment or utc_now()
            if not self._passes(tenant, filter_id, event, moment):
                return False
        return True

    def _passes(self, tenant: str, filter_id: str, event: dict, moment: datetime) -> bool:
        """A stored filter object (inline ones are ``matches``' own)."""
        doc = self.live.kind(FILTERS).get(f"{tenant}:{filter_id}")
        if doc is None:
            raise ServerError(f"NOT_FOUND:{filter_id}")
        if not is_active(doc.get("ActivationInterval"), moment):
            return False
        return all(
            passes_rule(
                rule.get("Type", ""),
                rule.get("Element", ""),
                _values(rule.get("Values")),
                event,
                self._destination_ids,
            )
            for rule in doc.get("Rules") or ()
        )

    def _destination_ids(self, number: str) -> set[str]:
        return self.node.rating.engine.destination_ids(number)


def parse_inline(text: str) -> tuple[str, str, list[str]]:
    """``*type:element:v1;v2`` -> (type, element, values); values may contain ':'."""
    parts = text.split(":")
    if len(parts) < 3:
        raise ServerError(f"inline parse error for string: <{text}>")
    return parts[0], parts[1], ":".join(parts[2:]).split(";")


@functools.lru_cache(maxsize=4096)
def _inline(text: str):
    """``check(event, destination_ids) -> bool`` of an inline filter, parsed once per text
    (profiles repeat the same few on every event; a text ``parse_inline`` refuses raises
    each time: errors are not cached). ``*string`` / ``*notstring`` of a field against
    constants is a set lookup, with ``passes_rule``'s result: a missing field passes only
    the negative form, else the field's text must (not) be one of the values."""
    rule_type, element, values = parse_inline(text)
    if (
        rule_type in ("*string", "*notstring")
        and element.startswith(REQ_PREFIX)
        and not any(value.startswith(REQ_PREFIX) for value in values)
    ):
        name, wanted, negative = element[len(REQ_PREFIX) :], frozenset(values), rule_type[1] == "n"

        def check_string(event: dict, destination_ids) -> bool:
            field = event.get(name, _MISSING)
            if field is _MISSING:
                return negative
            return (_text(field, element) in wanted) != negative

        return check_string
    return functools.partial(_check_rule, rule_type, element, tuple(values))


def _check_rule(rule_type: str, element: str, values, event: dict, destination_ids) -> bool:
    return passes_rule(rule_type, element, values, event, destination_ids)


def _values(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return values.split(";") if values else []
    return [str(v) for v in values]


def passes_rule(rule_type: str, element: str, values: list, event: dict, destination_ids) -> bool:
    """One rule against one event; ``destination_ids(number)`` serves ``*destinations``."""
    negative = rule_type.startswith("*not")
    base = "*" + rule_type[4:] if negative else rule_type
    if base in ("*exists", "*empty"):
        found = _field(event, element)
        result = found is not _MISSING if base == "*exists" else found in (_MISSING, None, "")
        return result != negative
    if base not in _MATCHERS:
        raise ServerError(f"Unsupported filter Type: {rule_type}")
    field = _field(event, element)
    if field is _MISSING:
        return negative
    wanted = [_value(event, value) for value in values]
    wanted = [value for value in wanted if value is not _MISSING]
    if base == "*destinations":
        ids = destination_ids(_text(field, element))
        result = any(str(value) in ids for value in wanted)
    else:
        result = _MATCHERS[base](field, element, wanted)
    return result != negative


_MISSING = object()


def _field(event: dict, element: str):
    if not element.startswith(REQ_PREFIX):
        raise ServerError(f"filter path: <{element}> doesn't have a valid prefix")
    return event.get(element[len(REQ_PREFIX) :], _MISSING)


def _value(event: dict, value: str):
    return _field(event, value) if value.startswith(REQ_PREFIX) else value


def _text(value, name: str = "") -> str:
    """A field as CGrateS prints it for string comparisons."""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, int) and not isinstance(value, bool) and _is_duration(name):
        return format_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _is_duration(element: str) -> bool:
    return element.rpartition(".")[2] in _DURATION_FIELDS


def _string(field, element, wanted) -> bool:
    text = _text(field, element)
    return any(text == _text(value) for value in wanted)


def _prefix(field, element, wanted) -> bool:
    text = _text(field, element)
    return any(text.startswith(_text(value)) for value in wanted)


def _suffix(field, element, wanted) -> bool:
    text = _text(field, element)
    return any(text.endswith(_text(value)) for value in wanted)


def _comparable(value):
    """Numbers (and durations, as ns) as Decimal, times as datetime; else the string."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    text = str(value).strip()
    try:
        return Decimal(text)
    except InvalidOperation:
        pass
    for parse in (parse_time, parse_duration):
        try:
            parsed = parse(text)
        except ValueError:
            continue
        return parsed if isinstance(parsed, datetime) else Decimal(parsed)
    return text


def _compare(kind: str):
    def check(field, element, wanted) -> bool:
        left = _comparable(field)
        for value in wanted:
            right = _comparable(value)
            if type(left) is not type(right):
                raise ServerError(f"incomparable: <{field}> with <{value}>")
            if (
                (kind == "*gt" and left > right)
                or (kind == "*gte" and left >= right)
                or (kind == "*lt" and left < right)
                or (kind == "*lte" and left <= right)
                or (kind == "*eq" and left == right)
            ):
                return True
        return False

    return check


_MATCHERS = {
    "*string": _string,
    "*prefix": _prefix,
    "*suffix": _suffix,
    "*destinations": None,  # handled in passes_rule: needs the rating data
    **{kind: _compare(kind) for kind in _COMPARISONS},
}
