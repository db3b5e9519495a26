"""A refused request changes nothing: no debit, no CDR (issue 8, point 3)."""

import json
from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError
from tests.cdrs.helpers import write_plan

TENANT = "cgrates.org"
CDR = {
    "OriginHost": "tests",
    "RequestType": "*postpaid",
    "Tenant": TENANT,
    "Category": "call",
    "Account": "1001",
    "Destination": "1002",
    "SetupTime": "2014-08-04T13:00:00Z",
    "AnswerTime": "2014-08-04T13:00:00Z",
    "Usage": "120s",
}
ENTRY_PATHS = {
    "CDRsV1.ProcessExternalCDR": lambda cdr: cdr,
    "CDRsV1.ProcessCDR": lambda cdr: cdr,
    "CDRsV1.ProcessEvent": lambda cdr: {"Event": cdr},
    "SessionSv1.ProcessCDR": lambda cdr: {"Event": cdr},
    "SessionSv1.TerminateSession": lambda cdr: {"TerminateSession": True, "Event": cdr},
}


@pytest.fixture
def funded(api, tmp_path):
    api.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(write_plan(tmp_path))})
    api.call("APIerSv2.SetAccount", {"Tenant": TENANT, "Account": "1001"})
    api.call(
        "APIerSv1.AddBalance",
        {"Tenant": TENANT, "Account": "1001", "BalanceType": "*monetary", "Value": 10},
    )
    return api


def balance(api) -> Decimal:
    account = api.call("APIerSv2.GetAccount", {"Tenant": TENANT, "Account": "1001"})
    return sum(Decimal(str(b["Value"])) for b in account["BalanceMap"]["*monetary"])


def assert_unchanged(api) -> None:
    assert balance(api) == 10
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("APIerSv1.GetCDRs", {})


@pytest.mark.parametrize("method", ENTRY_PATHS)
@pytest.mark.parametrize(
    "field, value, error",
    [
        ("OriginID", "x" * 129, "OriginID is 129 characters long, at most 128"),
        ("Destination", "1002" + "0" * 125, "Destination is 129 characters long, at most 128"),
        ("OriginHost", "h" * 65, "OriginHost is 65 characters long, at most 64"),
        ("CGRID", "c" * 41, "CGRID is 41 characters long, at most 40"),
        ("Note", "n" * 70_000, "ExtraFields take more than 65535 bytes"),
    ],
)
def test_a_field_the_stordb_refuses_is_refused_before_any_charge(
    funded, method, field, value, error
):
    cdr = {**CDR, "OriginID": "refused", field: value}
    with pytest.raises(RpcError, match=f"INVALID_ARGUMENT: {error}"):
        funded.call(method, ENTRY_PATHS[method](cdr))
    assert_unchanged(funded)


def test_the_same_cdr_within_limits_is_charged(funded):
    assert funded.call("CDRsV1.ProcessExternalCDR", dict(CDR, OriginID="o" * 128)) == "OK"
    (cdr,) = funded.call("APIerSv1.GetCDRs", {})
    assert balance(funded) == 10 - Decimal(str(cdr["Cost"])) < 10


@pytest.mark.parametrize(
    "method, params, path",
    [
        (
            "APIerSv1.AddBalance",
            {"Tenant": TENANT, "Account": "1001", "BalanceType": "\ud800", "Value": 5},
            "params[0].BalanceType",
        ),
        (
            "APIerSv1.AddBalance",
            {"Tenant": TENANT, "Account": "1001\udfff", "BalanceType": "*monetary", "Value": 5},
            "params[0].Account",
        ),
        (
            "CDRsV1.ProcessExternalCDR",
            dict(CDR, OriginID="s", ExtraFields={"Note": ["ok", "\udc00"]}),
            "params[0].ExtraFields.Note[1]",
        ),
    ],
)
def test_lone_surrogates_are_refused_at_the_boundary_naming_the_field(funded, method, params, path):
    body = json.dumps({"method": method, "params": [params], "id": 7}).encode()
    assert b"\\ud" in body.lower()  # sent as the escape JSON allows
    status, reply = funded.post(body)
    assert status == 200 and reply["id"] == 7 and reply["result"] is None
    assert reply["error"] == (
        f"INVALID_REQUEST: {path}: not valid Unicode text (a lone UTF-16 surrogate)"
    )
    assert_unchanged(funded)
    assert funded.call("APIerSv2.GetAccounts", {"Tenant": TENANT})  # the tenant still reads


def test_paired_surrogates_are_text(funded):
    cdr = dict(CDR, OriginID="emoji", ExtraFields={"Note": "\U0001f600"})
    body = json.dumps({"method": "CDRsV1.ProcessExternalCDR", "params": [cdr], "id": 1})
    assert "\\ud83d\\ude00" in body
    status, reply = funded.post(body.encode())
    assert reply == {"id": 1, "result": "OK", "error": None}
    (stored,) = funded.call("APIerSv1.GetCDRs", {})
    assert stored["ExtraFields"]["Note"] == "\U0001f600"


def freeswitch_cdr(uuid: str, **variables) -> dict:
    return {
        "variables": {
            "uuid": uuid,
            "cgr_reqtype": "*postpaid",
            "cgr_account": "1001",
            "start_uepoch": "1407157200000000",
            "answer_uepoch": "1407157200000000",
            "billsec": "120",
            **variables,
        },
        "callflow": {"caller_profile": {"destination_number": "1002", "username": "1001"}},
    }


@pytest.mark.parametrize(
    "uuid, variables, status, error",
    [
        ("u" * 129, {}, 422, "INVALID_ARGUMENT: OriginID is 129 characters long, at most 128"),
        ("fs-1", {"sip_user_agent": "x\ud800"}, 400, "sip_user_agent: not valid Unicode"),
    ],
)
def test_freeswitch_json_cdr_refused_before_any_charge(funded, uuid, variables, status, error):
    """Not 200: mod_json_cdr keeps the CDR, and nothing was charged."""
    body = json.dumps(freeswitch_cdr(uuid, **variables)).encode()
    got, reply = funded.post(body, "/freeswitch_json")
    assert got == status and error in (reply.decode() if isinstance(reply, bytes) else reply)
    assert_unchanged(funded)
