"""fsevent: real FreeSWITCH 1.10.12 channel data (../shared/esl-captures) as CGrateS events.

The capture blocks go through fs_cgr.esl.frames, exactly as the agent receives them.
"""

from datetime import datetime

import pytest

from fs_cgr.config import Config
from fs_cgr.errors import MandatoryMissing
from fs_cgr.esl.frames import Parser
from fs_cgr.fschannel import DEFAULTS, Defaults, FSEvent, validate
from fs_cgr.times import UTC
from tests.fssim.captures import read_blocks

pytestmark = pytest.mark.shared

LOOPBACK_UUID = "865175b4-d220-40ef-b500-7f7061a0b970"
SIPP_UUID = "40ff8a22-52b4-44e5-ada6-148a9b4a8842"
FLAGS = ("*resources", "*attributes", "*sessions", "*routes", "*accounts")


@pytest.fixture(scope="module")
def channel(shared_dir):
    """channel(capture, event_name) -> the headers FreeSWITCH sent on the outbound socket."""
    cache = {}

    def headers(capture: str, name: str) -> dict:
        if capture not in cache:
            cache[capture] = {}
            for block in read_blocks(shared_dir / "esl-captures" / capture):
                if block.direction == "RECV" and block.section == "outbound-01.txt":
                    for message in Parser().feed(block.data):
                        found = message.event.headers if message.event else message.headers
                        cache[capture].setdefault(found.get("Event-Name"), found)
        return dict(cache[capture][name])

    return headers


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_connect_reply_of_a_loopback_call(channel):
    fsev = FSEvent(channel("01-main-async-full-linger.txt", "CHANNEL_DATA"))
    assert fsev.name == "CHANNEL_DATA" and fsev.uuid == LOOPBACK_UUID
    assert fsev.has_request_type and not fsev.answered
    assert fsev.flags == FLAGS  # sent URL-encoded (%3B), decoded by the frame parser
    assert fsev.call_destination == "61411111"
    assert fsev.cgr_event() == {
        "Tenant": "cgrates.org",
        "Category": "call",
        "RequestType": "*prepaid",
        "Account": "1001",
        "Subject": "1001",
        "Destination": "61411111",
        "OriginID": LOOPBACK_UUID,
        "OriginHost": "192.0.2.2",
        "Source": "FreeSWITCHAgent",
        "ToR": "*voice",
        "SetupTime": at(1795314809),  # Caller-Channel-Created-Time 1795314809747636 µs
        "cgr_lab_call": "1",
    }


def test_answer_adds_the_answer_time_but_no_usage(channel):
    fsev = FSEvent(channel("01-main-async-full-linger.txt", "CHANNEL_ANSWER"))
    event = fsev.cgr_event()
    assert fsev.answered
    assert event["AnswerTime"] == at(1795314809)
    assert "Usage" not in event and "DisconnectCause" not in event
    answered_us = int(fsev.headers["Caller-Channel-Answered-Time"])
    assert answered_us % 1_000_000  # the capture's answer has a fraction of a second...
    exact = fsev.answered_at  # ...which paid time counts from
    assert (exact - at(1795314809)).total_seconds() * 1_000_000 == answered_us % 1_000_000


def test_hangup_complete_of_a_killed_loopback_call(channel):
    event = FSEvent(channel("01-main-async-full-linger.txt", "CHANNEL_HANGUP_COMPLETE")).cgr_event()
    assert event["Usage"] == 5_020_000_000  # billmsec 5020, not billsec 5
    assert event["DisconnectCause"] == "MANAGER_REQUEST"
    assert event["AnswerTime"] == at(1795314809)
    assert event["OriginID"] == LOOPBACK_UUID


def test_hangup_complete_of_a_sip_call(channel):
    event = FSEvent(channel("11-sipp-sofia-call.txt", "CHANNEL_HANGUP_COMPLETE")).cgr_event()
    assert event["Account"] == "1001"  # cgr_account wins over Caller-Username "sipp"
    assert event["Destination"] == "61411111"
    assert event["SetupTime"] == at(1795315033)
    assert event["AnswerTime"] == at(1795315033)
    assert event["Usage"] == 8_020_000_000
    assert event["DisconnectCause"] == "NORMAL_CLEARING"
    assert event["OriginID"] == SIPP_UUID


def test_json_events_map_like_plain_ones(channel):
    fsev = FSEvent(channel("02-event-json.txt", "CHANNEL_HANGUP_COMPLETE"))
    assert isinstance(fsev.headers["variable_cgr_routes"], list)  # JSON arrays stay lists
    event = fsev.cgr_event()
    assert event["Usage"] == 5_020_000_000
    assert event["RequestType"] == "*prepaid" and fsev.flags == FLAGS
    # an array variable reads as FreeSWITCH's own text form, as in plain events
    extra = fsev.cgr_event(Defaults(extra_fields=("DP_MATCH",)))["DP_MATCH"]
    plain = FSEvent(channel("01-main-async-full-linger.txt", "CHANNEL_HANGUP_COMPLETE"))
    assert extra == plain.variable("DP_MATCH") == "ARRAY::61411111|:61411111"


def test_fallbacks_when_cgr_variables_are_missing(channel):
    headers = channel("11-sipp-sofia-call.txt", "CHANNEL_HANGUP_COMPLETE")
    del headers["variable_cgr_account"], headers["variable_cgr_destination"]
    event = FSEvent(headers).cgr_event()
    assert event["Account"] == event["Subject"] == "sipp"  # Caller-Username
    assert event["Destination"] == "61411111"  # Caller-Destination-Number
    del headers["Caller-Destination-Number"]
    assert FSEvent(headers).cgr_event()["Destination"] == "61411111"  # sip_req_user


def test_explicit_cgr_variables_win(channel):
    headers = channel("11-sipp-sofia-call.txt", "CHANNEL_DATA")
    headers.update(
        variable_cgr_tenant="t1.example",
        variable_cgr_category="premium",
        variable_cgr_subject="RP_SUBJ",
        variable_cgr_originhost="fs-a",
        variable_cgr_acd="30",
    )
    event = FSEvent(headers).cgr_event(Defaults(origin_host="alias1"))
    assert (event["Tenant"], event["Category"], event["Subject"]) == (
        "t1.example",
        "premium",
        "RP_SUBJ",
    )
    assert event["Account"] == "1001" and event["OriginHost"] == "fs-a"
    assert event["ACD"] == 30_000_000_000


def test_origin_host_prefers_the_connection_alias_over_the_switch_address(channel):
    headers = channel("01-main-async-full-linger.txt", "CHANNEL_DATA")
    assert FSEvent(headers).cgr_event(Defaults(origin_host="fs1"))["OriginHost"] == "fs1"


def test_missing_account_fails_validation(channel):
    headers = channel("01-main-async-full-linger.txt", "CHANNEL_DATA")
    del headers["variable_cgr_account"]  # a loopback leg has no Caller-Username either
    event = FSEvent(headers).cgr_event()
    assert event["Account"] == event["Subject"] == ""
    with pytest.raises(MandatoryMissing) as error:
        validate(event)
    assert error.value.message == "MANDATORY_IE_MISSING: [Account Subject]"


def test_complete_event_validates(channel):
    validate(FSEvent(channel("11-sipp-sofia-call.txt", "CHANNEL_DATA")).cgr_event())


def test_request_type_defaults_and_not_billed_channels(channel):
    headers = channel("01-main-async-full-linger.txt", "CHANNEL_DATA")
    del headers["variable_cgr_reqtype"]
    fsev = FSEvent(headers)
    assert not fsev.has_request_type
    assert fsev.cgr_event(Defaults(request_type="*postpaid"))["RequestType"] == "*postpaid"
    assert FSEvent({**headers, "variable_process_cdr": "false"}).request_type(DEFAULTS) == "*none"
    assert FSEvent({**headers, "Caller-Dialplan": "inline"}).request_type(DEFAULTS) == "*none"


def test_defaults_from_config():
    config = Config()
    config.general.default_tenant = "t2.example"
    config.general.default_request_type = "*pseudoprepaid"
    defaults = Defaults.from_config(config, origin_host="fs2")
    assert defaults == Defaults("t2.example", "call", "*pseudoprepaid", "fs2", ())
    assert FSEvent({}).cgr_event(defaults)["Tenant"] == "t2.example"


def test_unbilled_hangup_has_zero_usage(channel):
    headers = channel("11-sipp-sofia-call.txt", "CHANNEL_HANGUP_COMPLETE")
    headers.update(variable_billmsec="0", variable_billsec="0")
    headers["Caller-Channel-Answered-Time"] = "0"
    event = FSEvent(headers).cgr_event()
    assert event["Usage"] == 0 and "AnswerTime" not in event


def test_usage_from_billsec_when_billmsec_is_absent(channel):
    headers = channel("11-sipp-sofia-call.txt", "CHANNEL_HANGUP_COMPLETE")
    del headers["variable_billmsec"]
    assert FSEvent(headers).cgr_event()["Usage"] == 8_000_000_000


def test_garbled_number_is_refused(channel):
    headers = channel("11-sipp-sofia-call.txt", "CHANNEL_HANGUP_COMPLETE")
    headers["variable_billmsec"] = "8s"
    with pytest.raises(ValueError, match="billmsec"):
        FSEvent(headers).cgr_event()


def test_mod_json_cdr_document_maps_like_the_hangup_event(channel):
    headers = channel("11-sipp-sofia-call.txt", "CHANNEL_HANGUP_COMPLETE")
    document = {
        "variables": {
            name[len("variable_") :]: value
            for name, value in headers.items()
            if name.startswith("variable_")
        },
        "callflow": [
            {
                "caller_profile": {
                    "username": "sipp",
                    "destination_number": "61411111",
                    "uuid": SIPP_UUID,
                }
            }
        ],
    }
    defaults = Defaults(origin_host="fs1")
    from_cdr = FSEvent.from_json_cdr(document)
    assert from_cdr.cgr_event(defaults) == FSEvent(headers).cgr_event(defaults)
    assert from_cdr.uuid == SIPP_UUID and from_cdr.flags == FLAGS
    document["variables"].pop("cgr_account")
    assert FSEvent.from_json_cdr(document).cgr_event(defaults)["Account"] == "sipp"
