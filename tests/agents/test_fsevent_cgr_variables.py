"""The cgr_* channel variables fs_cgr does not read itself go into the event, in order."""

from fs_cgr.fschannel import Defaults, FSEvent, _cgr_variables

BASE = {
    "Event-Name": "CHANNEL_ANSWER",
    "Unique-ID": "u1",
    "Caller-Username": "1001",
    "Caller-Destination-Number": "1002",
    "variable_cgr_reqtype": "*prepaid",
}


def extra(headers: dict) -> dict:
    event = FSEvent(headers).cgr_event(Defaults(origin_host="fs1"))
    return {key: value for key, value in event.items() if key.startswith("cgr_")}


def by_each_name(headers: dict) -> list[str]:
    return [key[len("variable_") :] for key in headers if key.startswith("variable_cgr_")]


def test_unread_cgr_variables_are_copied_in_header_order_lists_as_freeswitch_prints_them():
    headers = {
        "variable_cgr_first": "1",  # the very first header
        **BASE,
        "variable_cgr_account": "1001",  # read by fs_cgr: not an extra field
        "variable_cgrx": "no",  # not a cgr_ variable
        "variable_cgr_routes_seen": ["a", "b"],
        "variable_x_cgr_y": "no",
        "variable_cgr_": "empty name",
        "variable_cgr_last": "2",
    }
    assert extra(headers) == {
        "cgr_first": "1",
        "cgr_routes_seen": "ARRAY::a|:b",
        "cgr_": "empty name",
        "cgr_last": "2",
    }
    assert list(extra(headers)) == ["cgr_first", "cgr_routes_seen", "cgr_", "cgr_last"]
    assert _cgr_variables(headers) == by_each_name(headers)


def test_no_cgr_variable_and_names_holding_the_break_character():
    assert _cgr_variables({"Event-Name": "X", "variable_a": "1"}) == []
    assert extra({**BASE, "variable_cgr_reqtype": ""}) == {}
    # a JSON event may name a header with \u0000: each name is then tested on its own
    odd = {
        **BASE,
        "variable_cgr_a\0b": "1",
        "x\0variable_cgr_c": "2",
        "variable_cgr_d": "3",
    }
    assert _cgr_variables(odd) == ["cgr_reqtype", "cgr_a\0b", "cgr_d"] == by_each_name(odd)
    assert extra(odd) == {"cgr_a\0b": "1", "cgr_d": "3"}
    # cut or faked into the name of another header: that one is found twice
    for odd in [
        {**BASE, "variable_cgr_a\0b": "1", "variable_cgr_a": "2"},
        {**BASE, "variable_cgr_a": "2", "variable_cgr_a\0b": "1"},
        {**BASE, "x\0variable_cgr_a": "1", "variable_cgr_a": "2"},
        {**BASE, "variable_cgr_a": "2", "x\0variable_cgr_a\0y": "1"},
        {"variable_cgr_a\0variable_cgr_b": "1", "variable_cgr_b": "2", "variable_cgr_a": "3"},
    ]:
        assert _cgr_variables(odd) == by_each_name(odd), odd


def test_channel_times_read_as_fromtimestamp_reads_them():
    """FreeSWITCH's µs epochs: whole seconds for the event, exact for the paid time; past
    year 9999 the same errors as before."""
    from datetime import datetime

    import pytest

    from fs_cgr.fschannel import _epoch_us, _exact_epoch_us
    from fs_cgr.times import UTC

    def by_fromtimestamp(value: str, exact: bool):
        micros = int(value)
        moment = datetime.fromtimestamp(micros // 1_000_000, UTC)
        return moment.replace(microsecond=micros % 1_000_000 if exact else 0)

    for value in ["1", "999999", "1000000", "1764979200123456", "253402300799999999"]:
        assert _exact_epoch_us(value) == by_fromtimestamp(value, exact=True)
        assert _epoch_us(value) == by_fromtimestamp(value, exact=False)
        assert _epoch_us(value).tzinfo is UTC and _epoch_us(value).microsecond == 0
    for value in ["", "0"]:
        assert _epoch_us(value) is None and _exact_epoch_us(value) is None
    for value, error in [
        ("253402300800000000", ValueError),  # year 10000
        ("9" * 30, OverflowError),
        ("12a", ValueError),
    ]:
        for read in (_epoch_us, _exact_epoch_us):
            with pytest.raises(error):
                read(value)


def test_generated_names_holding_the_break_read_as_each_name_tested():
    import random

    rng = random.Random(7)
    parts = ["variable_cgr_", "variable_", "cgr_", "a", "b", "\0", "\0variable_cgr_"]
    for _ in range(3000):
        names = ["".join(rng.choices(parts, k=rng.randint(1, 4))) for _ in range(rng.randint(0, 6))]
        headers = dict.fromkeys(names, "v")
        assert _cgr_variables(headers) == by_each_name(headers), headers
