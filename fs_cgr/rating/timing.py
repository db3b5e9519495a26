"""When a rate interval applies: CGrateS' RITiming on integer-nanosecond UTC times.

A timing restricts years, months, month days and week days and starts at a time of
day; it ends at midnight unless an end time was given ("08:00:00;18:00:00").
"""

from datetime import datetime, timedelta

from fs_cgr.times import UTC

SECOND = 1_000_000_000
DAY = 86_400 * SECOND
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# the values a timing field may hold (WeekDays: Sunday is 0 or 7)
FIELD_RANGES = {"Years": (1, 9999), "Months": (1, 12), "MonthDays": (1, 31), "WeekDays": (0, 7)}


def parse_clock(text: str) -> int:
    """Seconds of the day for "HH:MM:SS" (00:00:00 to 24:00:00)."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError("invalid time of day (expected HH:MM:SS)")
    hours, minutes, secs = (int(p) for p in parts)
    seconds = hours * 3600 + minutes * 60 + secs
    if minutes > 59 or secs > 59 or seconds > 86_400:
        raise ValueError("invalid time of day (hours 0-24, minutes and seconds 0-59)")
    return seconds


def parse_int_list(value, what: str) -> tuple[int, ...]:
    """``"1;2;3"``, ``[1, 2]``, ``"*any"`` or empty (= any) as a tuple of ints, each in
    FIELD_RANGES[what] when ``what`` is a timing field."""
    if value is None or value == "" or value == "*any":
        return ()
    items = value.split(";") if isinstance(value, str) else list(value)
    try:
        numbers = tuple(int(str(item).strip()) for item in items if str(item).strip() != "")
    except ValueError:
        raise ValueError(f"invalid {what}: not a list of integers") from None
    low, high = FIELD_RANGES.get(what, (-(2**63), 2**63))
    if any(not low <= number <= high for number in numbers):
        raise ValueError(f"invalid {what}: each must be from {low} to {high}")
    return numbers


class Timing:
    """An immutable timing; ``start``/``end`` are seconds of the day (``end`` None = midnight)."""

    __slots__ = ("id", "years", "months", "month_days", "week_days", "start", "end", "always")

    def __init__(
        self, timing_id, years=(), months=(), month_days=(), week_days=(), start=0, end=None
    ):
        self.id = timing_id
        self.years = frozenset(years)
        self.months = frozenset(months)
        self.month_days = frozenset(month_days)
        self.week_days = frozenset(day % 7 for day in week_days)  # Go: Sunday = 0 (7 too)
        self.start = start
        self.end = end
        self.always = (
            not (years or months or month_days or week_days) and start == 0 and end is None
        )

    @classmethod
    def from_document(cls, doc: dict) -> "Timing":
        """Build from a Timings document; raises ValueError naming the bad field."""
        clock = str(doc.get("Time") or "").strip()
        start_text, _, end_text = clock.partition(";")
        return cls(
            doc.get("ID", ""),
            parse_int_list(doc.get("Years"), "Years"),
            parse_int_list(doc.get("Months"), "Months"),
            parse_int_list(doc.get("MonthDays"), "MonthDays"),
            parse_int_list(doc.get("WeekDays"), "WeekDays"),
            parse_clock(start_text) if start_text else 0,
            parse_clock(end_text) if end_text else None,
        )

    @property
    def start_time(self) -> str:
        hours, rest = divmod(self.start, 3600)
        return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"

    def left_margin(self, t: int) -> int:
        """The start of this timing on the day of ``t``."""
        return t - t % DAY + self.start * SECOND

    def right_margin(self, t: int) -> int:
        """The end of this timing on the day of ``t`` (next midnight without an end time)."""
        day = t - t % DAY
        return day + (self.end * SECOND if self.end is not None else DAY)

    def is_active_at(self, t: int) -> bool:
        if self.always:
            return True
        if self.years or self.months or self.month_days or self.week_days:
            moment = _EPOCH + timedelta(microseconds=t // 1000)
            if self.years and moment.year not in self.years:
                return False
            if self.months and moment.month not in self.months:
                return False
            if self.month_days and moment.day not in self.month_days:
                return False
            if self.week_days and (moment.weekday() + 1) % 7 not in self.week_days:
                return False
        return self.left_margin(t) <= t <= self.right_margin(t)

    def contains(self, t: int, is_end: bool = False) -> bool:
        """RateInterval.Contains: an end time at 00:00:00 counts as 23:59:59 the day before."""
        if is_end and t % DAY < SECOND:
            t -= SECOND
        return self.is_active_at(t)

    def charged(self) -> dict:
        """The EventCost ``Timings`` entry."""
        return {
            "Years": sorted(self.years),
            "Months": sorted(self.months),
            "MonthDays": sorted(self.month_days),
            "WeekDays": sorted(self.week_days),
            "StartTime": self.start_time,
        }


ANY_TIMING = Timing("*any")
