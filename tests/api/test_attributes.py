"""AttributeS over JSON-RPC, and the tutorial's AttributeS post (nickvsnetworking's
CGrates_Tutorial, branch AttributeS) reproduced with the project's own data and the
settings of that branch's cgrates.json."""

from decimal import Decimal

import pytest

from fs_cgr.api.client import RpcError

TENANT = "cgrates.org"
BRANCH_SETTINGS = {"attributes": {"process_runs": 2, "profile_runs": 1},
                   "cdrs": {"attributes": True}, "chargers": {"attributes": True}}  # fmt: skip


@pytest.fixture
def tutorial_settings(api, monkeypatch):
    for section, values in BRANCH_SETTINGS.items():
        for key, value in values.items():
            monkeypatch.setattr(getattr(api.node.config, section), key, value)
    return api


def set_v2(api, profile_id, filters, attributes, weight=10):
    return api.call(
        "APIerSv2.SetAttributeProfile",
        {
            "Tenant": TENANT,
            "ID": profile_id,
            "Contexts": ["*any"],
            "FilterIDs": filters,
            "Attributes": [
                {"FilterIDs": [], "Path": path, "Type": kind, "Value": value}
                for path, kind, value in attributes
            ],
            "Blocker": False,
            "Weight": weight,
        },
    )


def test_tutorial_attributes_post(tutorial_settings, tariffplans_dir):
    api = tutorial_settings
    api.call("APIerSv1.LoadTariffPlanFromFolder",
             {"FolderPath": str(tariffplans_dir / "cgrates_tutorial")})  # fmt: skip
    account_1234 = ["*string:~*req.Account:1234"]
    assert set_v2(api, "ATTR_KEY_VALUE", account_1234,
                  [("*req.ExampleKey", "*constant", "ExampleValue")]) == "OK"  # fmt: skip
    reply = api.call("AttributeSv1.ProcessEvent", {"Tenant": TENANT, "Event": {"Account": "1234"}})
    assert reply["MatchedProfiles"] == ["ATTR_KEY_VALUE"]
    assert reply["CGREvent"]["Event"] == {"Account": "1234", "ExampleKey": "ExampleValue"}

    # a second profile for the same account: with process_runs 2 / profile_runs 1 both apply
    set_v2(api, "ATTR_PASSWORD", account_1234, [("*req.SIP_password", "*constant", "s3cret")])
    reply = api.call("AttributeSv1.ProcessEvent", {"Tenant": TENANT, "Event": {"Account": "1234"}})
    assert sorted(reply["MatchedProfiles"]) == ["ATTR_KEY_VALUE", "ATTR_PASSWORD"]
    assert reply["AlteredFields"] == ["*req.ExampleKey", "*req.SIP_password"]
    assert reply["CGREvent"]["Event"] == {
        "Account": "1234", "ExampleKey": "ExampleValue", "SIP_password": "s3cret"}  # fmt: skip

    # DIDs rewritten to the account they belong to, also on the CDR path (cdrs.attributes)
    for did in ("12340001", "12340002", "12340003"):
        set_v2(api, f"ATTR_DID_{did}", [f"*string:~*req.Account:{did}"],
               [("*req.Account", "*constant", "Nick_Test_123")], weight=0)  # fmt: skip
    api.call("APIerSv1.SetBalance", {"Tenant": TENANT, "Account": "Nick_Test_123",
             "BalanceType": "*sms", "Categories": "*any",
             "Balance": {"ID": "SMS_Balance_1", "Value": "100", "Weight": 25}})  # fmt: skip
    cdr = {"OriginID": "tutorial-sms-1", "ToR": "*sms", "RequestType": "*pseudoprepaid",
           "Category": "sms", "Tenant": TENANT, "Account": "12340003", "Destination": "1002",
           "SetupTime": "2026-01-01T10:00:00Z", "AnswerTime": "2026-01-01T10:00:00Z",
           "Usage": "1"}  # fmt: skip
    assert api.call("CDRsV1.ProcessExternalCDR", cdr) == "OK"
    (stored,) = api.call("APIerSv1.GetCDRs", {"OriginIDs": ["tutorial-sms-1"],
                                              "RunIDs": ["*default"]})  # fmt: skip
    assert stored["Account"] == "Nick_Test_123"
    account = api.call("APIerSv2.GetAccount", {"Tenant": TENANT, "Account": "Nick_Test_123"})
    (sms,) = account["BalanceMap"]["*sms"]
    assert Decimal(str(sms["Value"])) == 99

    # national numbers to E.164, then the ported number's destination (v0.11 APIOpts)
    set_v2(api, "ATTR_0NSN_to_E164", ["*string:~*req.Account:NickTest7"], [
        ("*req.Subject", "*variable", "~*req.Subject:s/^0(\\d{1})(\\d{8})$/61${1}${2}/"),
        ("*req.Subject", "*variable", "~*req.Subject:s/^(\\d{8})$/612${1}/")])  # fmt: skip
    opts = {"*processRuns": 5, "*profileRuns": 5, "*subsys": "*sessions"}
    for subject, e164 in (("0312341234", "61312341234"), ("12341234", "61212341234")):
        reply = api.call("AttributeSv1.ProcessEvent", {"Tenant": TENANT, "APIOpts": opts,
                         "Event": {"Account": "NickTest7", "Subject": subject}})  # fmt: skip
        assert reply["CGREvent"]["Event"]["Subject"] == e164
    set_v2(api, "ATTR_Ported_61212341234", ["*string:~*req.Subject:61212341234"],
           [("*req.Destination", "*constant", "DST_Operator2")], weight=5)  # fmt: skip
    reply = api.call("AttributeSv1.ProcessEvent", {"Tenant": TENANT, "APIOpts": opts,
                     "Event": {"Account": "NickTest7", "Subject": "12341234"}})  # fmt: skip
    assert reply["MatchedProfiles"] == ["ATTR_0NSN_to_E164", "ATTR_Ported_61212341234"]
    ported = {"Account": "NickTest7", "Subject": "61212341234", "Destination": "DST_Operator2"}
    assert reply["CGREvent"]["Event"] == ported


def test_profile_methods_v1_and_v2(api):
    v1 = {"Tenant": TENANT, "ID": "ATTR_V1", "Contexts": ["*sessions"], "FilterIDs": [],
          "Attributes": [{"FilterIDs": [], "Path": "*req.X", "Type": "*constant",
                          "Value": [{"Rules": "1"}]}], "Weight": 20}  # fmt: skip
    assert api.call("APIerSv1.SetAttributeProfile", v1) == "OK"
    got = api.call("APIerSv1.GetAttributeProfile", {"Tenant": TENANT, "ID": "ATTR_V1"})
    assert got["Attributes"][0]["Value"] == [{"Rules": "1", "AllFiltersMatch": True}]
    assert got["Weight"] == 20 and got["ActivationInterval"] is None
    assert api.call("APIerSv1.GetAttributeProfileIDs", {"Tenant": TENANT}) == ["ATTR_V1"]
    query = {"Tenant": TENANT, "Context": "*sessions", "Event": {"A": "1"}}
    for_event = api.call("AttributeSv1.GetAttributeForEvent", query)
    assert for_event["ID"] == "ATTR_V1"
    with pytest.raises(RpcError, match=r"MANDATORY_IE_MISSING: \[Attributes\]"):
        api.call("APIerSv1.SetAttributeProfile", {"Tenant": TENANT, "ID": "NONE"})
    with pytest.raises(RpcError, match=r"MANDATORY_IE_MISSING: \[Value\]"):
        api.call("APIerSv2.SetAttributeProfile", {"Tenant": TENANT, "ID": "E",
                 "Attributes": [{"Path": "*req.X", "Type": "*constant", "Value": ""}]})  # fmt: skip
    assert api.call("APIerSv1.RemoveAttributeProfile", {"Tenant": TENANT, "ID": "ATTR_V1"}) == "OK"
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("APIerSv1.GetAttributeProfile", {"Tenant": TENANT, "ID": "ATTR_V1"})
    with pytest.raises(RpcError, match="NOT_FOUND"):
        api.call("AttributeSv1.ProcessEvent", {"Tenant": TENANT, "Event": {"A": "1"}})
