"""normalize: the event's own order kept, ExtraFields flattened after it, texts trimmed."""

from datetime import datetime
from types import SimpleNamespace

from fs_cgr.cdrs.event import cgrid, normalize
from fs_cgr.times import UTC

GENERAL = SimpleNamespace(
    default_tenant="cgrates.org", default_category="call", default_request_type="*rated"
)


def test_fields_keep_their_order_extra_fields_follow_and_texts_are_trimmed():
    event = {
        "Account": 1001,  # not text: printed
        "ExtraFields": {"Supplier": "c1", "Account": "ignored"},
        "Destination": " 4912345 ",
        "Subject": None,
        "OriginID": "u1",
        "AnswerTime": "2026-12-06T10:00:00Z",
        "Usage": "90s",
        "cgr_x": "y",
    }
    out = normalize(event, GENERAL)
    assert list(out) == [
        "Account", "Destination", "Subject", "OriginID", "AnswerTime", "Usage", "cgr_x",
        "Supplier", "Tenant", "Category", "RequestType", "ToR", "OriginHost", "Source",
        "SetupTime", "CGRID",
    ]  # fmt: skip
    assert out == {
        "Account": "1001",
        "Destination": "4912345",
        "Subject": "1001",
        "OriginID": "u1",
        "AnswerTime": datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
        "Usage": 90 * 10**9,
        "cgr_x": "y",
        "Supplier": "c1",
        "Tenant": "cgrates.org",
        "Category": "call",
        "RequestType": "*rated",
        "ToR": "*voice",
        "OriginHost": "",
        "Source": "",
        "SetupTime": None,
        "CGRID": cgrid("u1", ""),
    }
    assert "ExtraFields" in event  # the caller's event is not changed
