"""format_time remembers the texts of UTC times: the same text as printing them anew."""

from datetime import datetime, timedelta, timezone

from fs_cgr import times
from fs_cgr.times import UTC, format_time


def _printed(value: datetime) -> str:
    """RFC 3339 in UTC, Z, the fraction without trailing zeros (none for whole seconds)."""
    value = value.astimezone(UTC)
    fraction = f".{value.microsecond:06d}".rstrip("0") if value.microsecond else ""
    return value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


MOMENTS = [
    datetime(2014, 8, 4, 13, 0, tzinfo=UTC),
    datetime(2026, 12, 6, 10, 56, 3, 120_000, tzinfo=UTC),
    datetime(2026, 12, 6, 10, 56, 3, 5, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]


def test_utc_times_print_the_same_text_first_and_remembered():
    for moment in MOMENTS:
        assert format_time(moment) == format_time(moment) == _printed(moment)


def test_other_offsets_print_as_the_same_instant_in_utc():
    for moment in MOMENTS:
        elsewhere = moment.astimezone(timezone(timedelta(hours=-5, minutes=-30)))
        assert format_time(elsewhere) == format_time(moment) == _printed(moment)


def test_no_time_is_gos_zero_time():
    assert format_time(None) == "0001-01-01T00:00:00Z"


def test_the_remembered_texts_are_forgotten_when_full(monkeypatch):
    monkeypatch.setattr(times, "_FORMATTED_KEPT", 3)
    monkeypatch.setattr(times, "_formatted", {})
    texts = [format_time(moment) for moment in MOMENTS]
    assert texts == [_printed(moment) for moment in MOMENTS]
    assert len(times._formatted) == 1  # emptied at the fourth
    assert [format_time(moment) for moment in MOMENTS] == texts
