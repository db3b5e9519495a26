"""Next run times of action plan timings (CGrateS' GetNextStartTime rules)."""

from datetime import datetime, timezone

import pytest

from fs_cgr.scheduler.timing import UnsupportedFormat, anchored, check_start_time, schedule_of


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "fields, now, expected",
    [
        ({"Time": "*every_minute"}, at(2025, 3, 1, 10, 0, 30), at(2025, 3, 1, 10, 1)),
        ({"Time": "*hourly"}, at(2025, 3, 1, 10, 59, 59), at(2025, 3, 1, 11)),
        ({"Time": ""}, at(2025, 3, 1, 10), at(2025, 3, 2)),  # "" = 00:00:00 daily
        ({"Time": "14:30:00"}, at(2025, 3, 1, 14, 30), at(2025, 3, 2, 14, 30)),
        ({"MonthDays": "1", "Time": "00:00:00"}, at(2025, 3, 1), at(2025, 4, 1)),
        ({"WeekDays": "1;5", "Time": "09:00:00"}, at(2025, 3, 3, 9), at(2025, 3, 7, 9)),
        ({"Months": "6", "Time": "00:00:00"}, at(2025, 3, 1), at(2025, 6, 1)),  # day 1
        ({"Years": "2027", "Time": "00:00:00"}, at(2025, 3, 1), at(2027, 1, 1)),  # Jan 1
        (
            {"Years": "*any", "Months": "*any", "MonthDays": "31", "Time": "12:00:00"},
            at(2025, 4, 1),
            at(2025, 5, 31, 12),
        ),
    ],
)
def test_next_run(fields, now, expected):
    assert schedule_of(fields).next_after(now) == expected


def test_predefined_timings_repeat_from_their_anchor():
    anchor = at(2025, 1, 31, 8, 15)
    assert anchored("*monthly", anchor).next_after(anchor) == at(2025, 3, 31, 8, 15)
    assert anchored("*monthly_estimated", anchor).next_after(anchor) == at(2025, 2, 28, 8, 15)
    assert anchored("*month_end", anchor).next_after(anchor) == at(2025, 1, 31, 23, 59, 59)
    assert anchored("*daily", anchor).next_after(anchor) == at(2025, 2, 1, 8, 15)
    assert anchored("*weekly", anchor).next_after(anchor) == at(2025, 2, 7, 8, 15)
    assert anchored("*yearly", anchor).next_after(anchor) == at(2026, 1, 31, 8, 15)


@pytest.mark.parametrize("text", ["", "*asap", "*every_minute", "*hourly", "08:00:00"])
def test_start_times_cgrates_accepts(text):
    check_start_time(text)


@pytest.mark.parametrize("text", ["*monthly", "8am", "08:00", "008:00:00:0"])
def test_other_start_times_are_unsupported(text):
    with pytest.raises(UnsupportedFormat):
        check_start_time(text)
