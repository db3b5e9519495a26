"""What a cost request asks (CallDescriptor) and what it gets back (CallCost).

Times inside the rating code are integer nanoseconds since the Unix epoch (UTC):
usages such as one SMS unit (1 ns) are finer than ``datetime`` can hold, and
integers keep timespan arithmetic exact and cheap. The public attributes
``start``/``end`` convert back to aware datetimes.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from fs_cgr.money import ZERO, round_global, round_money
from fs_cgr.times import UTC, diff_ns

VOICE = "*voice"
MAX_COST_FREE = "*free"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(moment: datetime) -> int:
    """An aware datetime as nanoseconds since the epoch."""
    return diff_ns(moment, _EPOCH)


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


class CallDescriptor:
    """One cost request. ``duration_index`` is the usage already rated earlier in the same
    call: tiers (GroupIntervalStart) continue from it and the connect fee is charged only
    when it is 0. ``usage`` (ns) may replace ``time_end`` for usages finer than 1 µs."""

    __slots__ = (
        "tenant",
        "category",
        "subject",
        "destination",
        "time_start",
        "start_ns",
        "usage",
        "account",
        "tor",
        "duration_index",
    )

    def __init__(
        self,
        tenant: str,
        category: str,
        subject: str,
        destination: str,
        time_start: datetime,
        time_end: datetime | None = None,
        account: str = "",
        tor: str = VOICE,
        duration_index: int = 0,
        usage: int | None = None,
    ):
        if time_start.tzinfo is None:
            time_start = time_start.replace(tzinfo=UTC)  # the project's times are UTC
        if usage is None:
            if time_end is None:
                raise ValueError("CallDescriptor needs time_end or usage")
            if time_end.tzinfo is None:
                time_end = time_end.replace(tzinfo=UTC)
            usage = diff_ns(time_end, time_start)
        if usage < 0:
            raise ValueError("usage must not be negative")
        if duration_index < 0:
            raise ValueError("duration_index must not be negative")
        self.tenant = tenant
        self.category = category
        self.subject = subject or account
        self.destination = destination
        self.time_start = time_start
        self.start_ns = to_ns(time_start)
        self.usage = usage
        self.account = account
        self.tor = tor or VOICE
        self.duration_index = duration_index

    @property
    def time_end(self) -> datetime:
        return self.time_start + timedelta(microseconds=self.usage // 1000)

    def __repr__(self):
        return (
            f"CallDescriptor({self.tenant}:{self.category}:{self.subject} -> {self.destination}"
            f" at {self.time_start.isoformat()} for {self.usage}ns, index {self.duration_index})"
        )


class Increment(NamedTuple):
    """``compress`` equal increments of ``duration`` ns costing ``cost`` each."""

    duration: int
    cost: Decimal
    compress: int = 1


class TimeSpan:
    """A stretch of the call rated by one rate interval (one rating, one timing)."""

    __slots__ = (
        "start_ns",
        "end_ns",
        "duration_index",
        "rating_info",
        "interval",
        "increments",
        "cost",
    )

    def __init__(self, start_ns: int, end_ns: int, duration_index: int, rating_info=None):
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.duration_index = duration_index  # call usage so far, up to end_ns (CGrateS' meaning)
        self.rating_info = rating_info
        self.interval = None
        self.increments: list[Increment] = []
        self.cost = ZERO

    @property
    def start(self) -> datetime:
        return from_ns(self.start_ns)

    @property
    def end(self) -> datetime:
        return from_ns(self.end_ns)

    @property
    def duration(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def group_start(self) -> int:
        """Usage of the call before this timespan: picks the tier (GroupIntervalStart)."""
        return max(self.duration_index - (self.end_ns - self.start_ns), 0)

    @property
    def rating(self):
        """The Rating (connect fee, rates, rounding, max cost) or None when not rated."""
        return self.interval.rating if self.interval is not None else None

    @property
    def timing(self):
        return self.interval.timing if self.interval is not None else None

    subject = property(lambda self: self.rating_info.subject if self.rating_info else "")
    prefix = property(lambda self: self.rating_info.prefix if self.rating_info else "")
    destination_id = property(
        lambda self: self.rating_info.destination_id if self.rating_info else ""
    )
    rating_plan_id = property(
        lambda self: self.rating_info.rating_plan_id if self.rating_info else ""
    )

    def __repr__(self):
        return (
            f"TimeSpan({self.start.isoformat()}..{self.end.isoformat()}, cost={self.cost},"
            f" plan={self.rating_plan_id}, dest={self.destination_id})"
        )


class CallCost:
    """The priced call: ``cost`` = connect fee + increments, rounded to 5 decimals.

    DestinationRate rounding and MaxCost are NOT applied here (CGrateS' GetCost does not
    apply them either); callers rating CDRs or debiting use ``longest_rounding`` and the
    timespans' ``rating.max_cost``.
    """

    __slots__ = (
        "tenant",
        "category",
        "subject",
        "account",
        "destination",
        "tor",
        "cost",
        "connect_fee",
        "usage",
        "timespans",
    )

    def __init__(self, cd: CallDescriptor, timespans: list[TimeSpan], cost: Decimal, connect_fee):
        self.tenant = cd.tenant
        self.category = cd.category
        self.subject = cd.subject
        self.account = cd.account
        self.destination = cd.destination
        self.tor = cd.tor
        self.timespans = timespans
        self.cost = cost
        self.connect_fee = connect_fee
        self.usage = sum(ts.end_ns - ts.start_ns for ts in timespans)

    @property
    def start(self) -> datetime | None:
        return self.timespans[0].start if self.timespans else None

    def iter_increments(self):
        """Every increment one by one (compress 1), in call order; the connect fee comes
        first as a zero-duration increment when it was charged."""
        for ts in self.timespans:
            for inc in ts.increments:
                single = Increment(inc.duration, inc.cost, 1)
                for _ in range(inc.compress):
                    yield single

    def longest_rounding(self) -> tuple[int, str]:
        """(decimals, method) of the rating with the most RoundingDecimals, as CGrateS'
        GetLongestRounding; (0, "") when nothing was rated."""
        decimals, method = 0, ""
        for ts in self.timespans:
            rating = ts.rating
            if rating is not None and rating.rounding_decimals > decimals:
                decimals, method = rating.rounding_decimals, rating.rounding_method
        return decimals, method

    def rounded_cost(self) -> Decimal:
        """The cost CGrateS' CallDescriptor.GetCost returns, which a *rated CDR gets: a
        ``*free`` MaxCost caps it (CGrateS adds each timespan's running total to the cost
        so far), then the longest DestinationRate rounding applies."""
        total = so_far = ZERO
        for ts in self.timespans:
            total += round_global(ts.cost)
            so_far += total
            rating = ts.rating
            if (
                rating is not None
                and rating.max_cost_strategy == MAX_COST_FREE
                and rating.max_cost > 0
                and so_far >= rating.max_cost
            ):
                total = so_far = rating.max_cost
        decimals, method = self.longest_rounding()
        return round_money(total, decimals, method)

    def to_event_cost(self, cgrid: str = "", run_id: str = "") -> dict:
        from fs_cgr.rating.eventcost import event_cost

        return event_cost(self, cgrid, run_id)

    def __repr__(self):
        return f"CallCost(cost={self.cost}, usage={self.usage}, timespans={len(self.timespans)})"
