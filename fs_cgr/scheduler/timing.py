"""When a scheduled action timing runs next (CGrateS' ActionTiming.GetNextStartTime).

A timing restricts years, months, month days and week days (Sunday = 0) and
starts at a time of day, or every minute / every hour. As CGrateS normalises
it: an empty start time is 00:00:00, years without months mean January, months
without month days mean the 1st.

The predefined ``*daily``, ``*weekly``, ``*monthly``, ``*monthly_estimated``
(the anchor's day, or the month's last day when shorter), ``*month_end`` (last
day, 23:59:59) and ``*yearly`` repeat from an anchor: the moment the scheduler
first saw the timing, kept in the DataDB so every node and restart agrees.
"""

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from fs_cgr.rating.timing import parse_clock, parse_int_list

ASAP = "*asap"
EVERY_MINUTE = "*every_minute"
HOURLY = "*hourly"
ANCHORED = ("*daily", "*weekly", "*monthly", "*monthly_estimated", "*month_end", "*yearly")
PREDEFINED = (ASAP, EVERY_MINUTE, HOURLY, *ANCHORED)
_SEARCH_DAYS = 366 * 8  # a Feb 29 restricted to a year or two is still found


class UnsupportedFormat(ValueError):
    """A start time other than "", *asap, *every_minute, *hourly or hh:mm:ss."""


def check_start_time(text: str) -> None:
    """CGrateS' verifyFormat for SetActionPlan's Time."""
    if text in ("", ASAP, EVERY_MINUTE, HOURLY):
        return
    parts = text.split(":")
    if len(text) > 8 or len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise UnsupportedFormat(text)


@dataclass(frozen=True, slots=True)
class Schedule:
    years: tuple = ()
    months: tuple = ()
    month_days: tuple = ()  # -1 = the month's last day
    week_days: tuple = ()
    start: str = "00:00:00"  # or EVERY_MINUTE / HOURLY / ASAP
    estimated_day: int = 0  # *monthly_estimated: this day, or the month's last

    @property
    def is_asap(self) -> bool:
        return self.start == ASAP

    def next_after(self, moment: datetime) -> datetime | None:
        """The first run strictly after ``moment`` (None: never again, or *asap)."""
        if self.start == ASAP:
            return None
        if self.start == EVERY_MINUTE:
            return self._next_matching(moment, timedelta(minutes=1))
        if self.start == HOURLY:
            return self._next_matching(moment, timedelta(hours=1))
        seconds = parse_clock(self.start)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(_SEARCH_DAYS):
            candidate = day + timedelta(days=offset, seconds=seconds)
            if candidate > moment and self._day_matches(candidate):
                return candidate
        return None

    def _next_matching(self, moment: datetime, step: timedelta) -> datetime | None:
        unit = int(step.total_seconds())
        floor = moment.replace(microsecond=0) - timedelta(
            seconds=(moment.minute * 60 + moment.second) % unit
        )
        candidate = floor + step
        for _ in range(_SEARCH_DAYS * 24 * (3600 // unit)):
            if self._day_matches(candidate):
                return candidate
            candidate += step
        return None

    def _day_matches(self, moment: datetime) -> bool:
        last_day = calendar.monthrange(moment.year, moment.month)[1]
        if self.years and moment.year not in self.years:
            return False
        if self.months and moment.month not in self.months:
            return False
        if self.estimated_day and moment.day != min(self.estimated_day, last_day):
            return False
        if self.month_days and not (
            moment.day in self.month_days or (-1 in self.month_days and moment.day == last_day)
        ):
            return False
        return not self.week_days or (moment.weekday() + 1) % 7 in self.week_days


def schedule_of(fields: dict) -> Schedule:
    """A Schedule from Timings.csv / SetActionPlan fields (Years, Months, MonthDays,
    WeekDays: "1;2" or lists, "*any"/"" = any; Time). Raises ValueError."""
    start = str(fields.get("Time") or "").split(";")[0].strip() or "00:00:00"
    check_start_time(start)
    years = parse_int_list(fields.get("Years"), "Years")
    months = parse_int_list(fields.get("Months"), "Months") or ((1,) if years else ())
    month_days = parse_int_list(fields.get("MonthDays"), "MonthDays") or ((1,) if months else ())
    week_days = tuple(d % 7 for d in parse_int_list(fields.get("WeekDays"), "WeekDays"))
    return Schedule(years, months, month_days, week_days, start)


def anchored(timing_id: str, anchor: datetime) -> Schedule:
    """The predefined timing ``timing_id`` repeating from ``anchor``."""
    clock = anchor.strftime("%H:%M:%S")
    if timing_id == "*daily":
        return Schedule(start=clock)
    if timing_id == "*weekly":
        return Schedule(week_days=((anchor.weekday() + 1) % 7,), start=clock)
    if timing_id == "*monthly":
        return Schedule(month_days=(anchor.day,), start=clock)
    if timing_id == "*monthly_estimated":
        return Schedule(start=clock, estimated_day=anchor.day)
    if timing_id == "*month_end":
        return Schedule(month_days=(-1,), start="23:59:59")
    if timing_id == "*yearly":
        return Schedule(months=(anchor.month,), month_days=(anchor.day,), start=clock)
    raise ValueError(f"unknown timing {timing_id!r}")
