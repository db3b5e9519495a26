"""fs_cgr.times: the texts and UTC times it keeps from earlier calls give what parsing and
formatting them again would; diff_ns counts whole microseconds."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from fs_cgr import times
from fs_cgr.times import diff_ns, format_time, parse_time


def test_a_text_parsed_again_is_the_same_time():
    first = parse_time("2026-12-06T11:00:13.5Z")
    assert first == datetime(2026, 12, 6, 11, 0, 13, 500000, tzinfo=UTC)
    assert parse_time("2026-12-06T11:00:13.5Z") is first
    assert parse_time("2026-12-06T12:00:13.5+01:00") == first


def test_relative_texts_are_read_at_every_call():
    first, now = parse_time("+1h"), parse_time("*now")
    assert parse_time("+1h") is not first and parse_time("*now") is not now
    assert "+1h" not in times._parsed and "*now" not in times._parsed


def test_only_utc_times_are_kept():
    """Two equal datetimes of one zone may be different instants (a clock going back):
    their texts are not taken from each other."""
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=0)
    after = datetime(2026, 10, 25, 2, 30, tzinfo=berlin, fold=1)
    assert before == after
    assert format_time(before) == "2026-10-25T00:30:00Z"
    assert format_time(after) == "2026-10-25T01:30:00Z"
    assert format_time(before.astimezone(UTC)) == "2026-10-25T00:30:00Z"
    assert format_time(datetime(2026, 12, 6, 11, 0, 13, 120000, tzinfo=UTC)) == (
        "2026-12-06T11:00:13.12Z"
    )


def test_a_full_memory_starts_again_and_keeps_answering():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(seconds=n) for n in range(times._RECENT + 10)]
    texts = [format_time(moment) for moment in moments]
    assert len(times._formatted) <= times._RECENT
    assert [parse_time(text) for text in texts] == moments
    assert len(times._parsed) <= times._RECENT
    assert texts[0] == "2026-01-01T00:00:00Z" and format_time(moments[0]) == texts[0]


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
    datetime(2026, 1, 2, 3, 4, 5, 10, tzinfo=UTC),
    datetime(2026, 1, 2, 0, 0, 0, 500_000, tzinfo=UTC),
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


def test_diff_ns_counts_whole_microseconds_either_way():
    earlier = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)
    later = datetime(2026, 3, 30, 1, 0, 0, 1, tzinfo=UTC)
    span = 86_400 * 1_000_000_000 + 2_000  # a day and two microseconds
    assert diff_ns(later, earlier) == span
    assert diff_ns(earlier, later) == -span
    assert diff_ns(later, later) == 0
