"""AttributeS on a real embedded node: matching, substitution types, runs, and the CSV."""

import logging

import pytest

from fs_cgr.app import Node
from fs_cgr.attributes.profiles import normalize_profile
from fs_cgr.attributes.service import AttributeRequest, altered_values
from fs_cgr.cdrs.event import normalize
from fs_cgr.config import load_config
from fs_cgr.errors import InvalidArgument, MandatoryMissing, NotFound, ServerError
from fs_cgr.storage.base import ATTRIBUTES
from fs_cgr.times import parse_time

TENANT = "cgrates.org"


@pytest.fixture
def node(tmp_path):
    config = load_config(
        overrides={"general.data_dir": str(tmp_path), "stordb.url": "sqlite://:memory:"}, env={}
    )
    node = Node(config)
    yield node
    node.stop()


def profile(profile_id, attributes, filters=(), contexts=("*any",), weight=10, **more):
    return {
        "Tenant": TENANT,
        "ID": profile_id,
        "Contexts": list(contexts),
        "FilterIDs": list(filters),
        "Attributes": [
            {"Path": path, "Type": kind, "Value": value} for path, kind, value in attributes
        ],
        "Weight": weight,
        **more,
    }


def process(node, event, **request):
    return node.attributes.process_event(AttributeRequest(TENANT, event, **request))


def test_highest_weight_profile_of_the_context_applies_once_per_run(node):
    node.attributes.set_profile(
        profile("LOW", [("*req.Tag", "*constant", "low")], ["*string:~*req.Account:1001"], weight=5)
    )
    node.attributes.set_profile(
        profile("HIGH", [("*req.Tag", "*constant", "high")], ["*string:~*req.Account:1001"])
    )
    node.attributes.set_profile(
        profile("OTHER_CTX", [("*req.Tag", "*constant", "ctx")], contexts=["*cdrs"], weight=99)
    )
    reply = process(node, {"Account": "1001"}, event_id="ev1")
    assert reply == {
        "MatchedProfiles": ["HIGH"],
        "AlteredFields": ["*req.Tag"],
        "CGREvent": {"Tenant": TENANT, "ID": "ev1", "Time": None,
                     "Event": {"Account": "1001", "Tag": "high"}},
    }  # fmt: skip
    assert process(node, {"Account": "1001"}, context="*cdrs")["MatchedProfiles"] == ["OTHER_CTX"]
    with pytest.raises(NotFound):
        process(node, {"Account": "1002"})


def test_equal_weights_go_to_the_lower_id_whatever_the_storage_order(node):
    for profile_id in ("ATTR_Z", "ATTR_M", "ATTR_A"):  # stored highest ID first
        node.attributes.set_profile(profile(profile_id, [("*req.Tag", "*constant", profile_id)]))
    reply = process(node, {"Account": "1001"}, process_runs=3, profile_runs=1)
    assert reply["MatchedProfiles"] == ["ATTR_A", "ATTR_M", "ATTR_Z"]
    assert reply["CGREvent"]["Event"]["Tag"] == "ATTR_Z"


def test_substitution_types(node):
    node.attributes.set_profile(
        profile(
            "ALL",
            [
                ("*req.Subject", "*variable", "~*req.Subject:s/^0(\\d)(\\d{8})$/61${1}${2}/"),
                ("*req.Copy", "*variable", "pre-;~*req.Account"),
                ("*req.Account", "*composed", "-x"),
                ("*req.Talk", "*usage_difference", "~*req.End;~*req.Start"),
                ("*req.Total", "*sum", "~*req.A;~*req.B;3"),
                ("*req.Scaled", "*value_exponent", "~*req.A;2"),
                ("*req.Drop", "*constant", "*remove"),
                ("*tenant", "*constant", "other.org"),
            ],
        )
    )
    event = {
        "Account": "1001",
        "Subject": "0312341234",
        "Start": "2026-01-01T10:00:00Z",
        "End": "2026-01-01T10:01:30Z",
        "A": "1.5",
        "B": 2,
        "Drop": "me",
    }
    reply = process(node, event)
    assert reply["CGREvent"]["Tenant"] == "other.org"
    got = reply["CGREvent"]["Event"]
    assert (got["Subject"], got["Copy"], got["Account"]) == ("61312341234", "pre-1001", "1001-x")
    assert (got["Talk"], got["Total"], got["Scaled"]) == ("1m30s", "6.5", "150")
    assert "Drop" not in got
    assert event["Account"] == "1001"  # the caller's event is not changed


def test_a_missing_field_is_not_found_and_a_bad_value_refused(node):
    node.attributes.set_profile(profile("VAR", [("*req.X", "*variable", "~*req.Missing")]))
    with pytest.raises(NotFound):
        process(node, {"Account": "1"})
    with pytest.raises(InvalidArgument):
        node.attributes.set_profile(profile("BAD", [("*req.X", "*variable", "~*req.A:s/(/x/")]))
    with pytest.raises(MandatoryMissing, match="Attributes"):
        node.attributes.set_profile(profile("EMPTY", []))
    node.attributes.set_profile(profile("SUM", [("*req.X", "*sum", "~*req.A;x")], weight=20))
    with pytest.raises(ServerError):
        process(node, {"A": "1"})


def test_altered_fields_keep_cgrates_order(node):
    """CGrateS sorts the list before each append: all but the last path come sorted."""
    node.attributes.set_profile(
        profile("ORDER", [(f"*req.{name}", "*constant", "v") for name in ("Z", "B", "Y", "A")])
    )
    assert process(node, {})["AlteredFields"] == ["*req.B", "*req.Y", "*req.Z", "*req.A"]


def test_attribute_filters_blocker_and_mandatory_mark(node):
    node.attributes.set_profile(
        {
            **profile("F", [], weight=20, Blocker=True),
            "Attributes": [
                {"FilterIDs": ["*string:~*req.Kind:vip"], "Path": "*req.Level", "Type": "*constant",
                 "Value": "gold"},
                {"Path": "*req.Seen", "Type": "*constant", "Value": "yes"},
            ],
        }
    )  # fmt: skip
    node.attributes.set_profile(profile("NEXT", [("*req.Next", "*constant", "1")], weight=5))
    reply = process(node, {"Kind": "basic"}, process_runs=3)
    assert reply["MatchedProfiles"] == ["F"]  # Blocker: no second run
    assert reply["CGREvent"]["Event"] == {"Kind": "basic", "Seen": "yes"}
    with pytest.raises(MandatoryMissing, match="Wanted"):
        process(node, {"Kind": "basic", "Wanted": "*attributes"})


def test_process_runs_v010_stop_when_the_best_profile_repeats(node):
    node.attributes.set_profile(profile("FIRST", [("*req.Step", "*constant", "1")], weight=10))
    node.attributes.set_profile(profile("SECOND", [("*req.Other", "*constant", "2")], weight=5))
    reply = process(node, {}, process_runs=3)
    assert reply["MatchedProfiles"] == ["FIRST"]


def test_profile_runs_one_lets_the_next_profile_apply(node):
    """The tutorial's number normalisation then porting (CGrateS v0.11 runs)."""
    node.attributes.set_profile(
        profile(
            "E164",
            [
                ("*req.Subject", "*variable", "~*req.Subject:s/^0(\\d{1})(\\d{8})$/61${1}${2}/"),
                ("*req.Subject", "*variable", "~*req.Subject:s/^(\\d{8})$/612${1}/"),
            ],
            ["*string:~*req.Account:NickTest7"],
        )
    )
    node.attributes.set_profile(
        profile("PORTED", [("*req.Destination", "*constant", "DST_Operator2")],
                ["*string:~*req.Subject:61212341234"], weight=5)
    )  # fmt: skip
    reply = process(node, {"Account": "NickTest7", "Subject": "12341234"}, process_runs=5,
                    profile_runs=5)  # fmt: skip
    assert reply["MatchedProfiles"] == ["E164", "PORTED"]
    assert reply["AlteredFields"] == ["*req.Destination", "*req.Subject"]  # sorted by merging
    assert reply["CGREvent"]["Event"]["Destination"] == "DST_Operator2"
    national = process(node, {"Account": "NickTest7", "Subject": "0312341234"}, process_runs=5,
                       profile_runs=5)  # fmt: skip
    assert national["CGREvent"]["Event"]["Subject"] == "61312341234"


def test_activation_interval_is_checked_when_the_event_has_a_time(node):
    node.attributes.set_profile(
        profile("LATER", [("*req.X", "*constant", "1")],
                ActivationInterval={"ActivationTime": "2030-01-01T00:00:00Z"})
    )  # fmt: skip
    assert process(node, {})["MatchedProfiles"] == ["LATER"]  # no Time: not checked (CGrateS)
    with pytest.raises(NotFound):
        process(node, {}, time=parse_time("2026-01-01T00:00:00Z"))


def test_altered_values_are_the_req_fields_still_in_the_event():
    reply = {
        "AlteredFields": ["*req.A", "*req.Gone", "ResourceAllocation", "*tenant"],
        "CGREvent": {"Tenant": "t", "Event": {"A": 1.0, "B": "x"}},
    }
    assert altered_values(reply) == {"A": "1"}


def test_attributes_csv_of_the_shared_plans_load(node, tariffplans_dir, caplog):
    caplog.set_level(logging.WARNING)
    node.tariffplans.load_folder(tariffplans_dir / "cgrates_tutorial")
    assert len(node.attributes.profiles.ids(TENANT)) == 7
    got = node.attributes.get_profile(TENANT, "ATTR_1002_SESSIONAUTH")
    assert got["Attributes"][-1] == {
        "FilterIDs": [],
        "Path": "ResourceAllocation",
        "Type": "*constant",
        "Value": [{"Rules": "ResGroup1", "AllFiltersMatch": True}],
    }
    alias = process(node, {"SubscriberId": "1006", "Account": "1005"}, context="*sessions")
    assert alias["MatchedProfiles"] == ["ATTR_ACC_ALIAS"]  # no *sessions profile matched: *any
    assert alias["CGREvent"]["Event"]["Account"] == "1001"
    node.tariffplans.remove_folder(tariffplans_dir / "cgrates_tutorial")
    with pytest.raises(NotFound):
        node.attributes.profiles.ids(TENANT)


def test_charger_runs_through_attributes_when_configured(node):
    node.attributes.set_profile(
        profile("ATTR_RUN", [("*req.RequestType", "*constant", "*postpaid")],
                contexts=["*chargers"])
    )  # fmt: skip
    node.cdrs.chargers.set_profile(
        {"Tenant": TENANT, "ID": "CRG", "RunID": "*default",
         "AttributeIDs": ["ATTR_RUN", "*constant:*req.Category:premium"]}
    )  # fmt: skip
    event = normalize(
        {"Tenant": TENANT, "Account": "1001", "Destination": "1002", "RequestType": "*rated",
         "OriginID": "o1", "SetupTime": "2026-01-01T10:00:00Z"}, node.config.general,
    )  # fmt: skip
    (plain_run,) = node.cdrs.chargers.runs(event)
    assert (plain_run["RequestType"], plain_run["Category"]) == ("*rated", "premium")
    node.config.chargers.attributes = True
    (run,) = node.cdrs.chargers.runs(event)
    assert (run["RequestType"], run["Category"], run["RunID"]) == (
        "*postpaid",
        "premium",
        "*default",
    )
    assert run["SetupTime"] == event["SetupTime"]  # parsed again: a datetime, as runs carry


def test_profiles_kept_per_context_follow_sets_removals_and_plan_writes(node):
    """The lists of a tenant's profiles per context are kept between events: each set,
    remove and write of the live objects (another node's load) shows in the next event."""

    def matched(context="*sessions", tenant=TENANT):
        request = AttributeRequest(tenant, {"Account": "1001"}, context=context)
        try:
            return node.attributes.process_event(request)["MatchedProfiles"]
        except NotFound:
            return []

    assert matched() == []
    node.attributes.set_profile(
        profile("A", [("*req.Tag", "*constant", "a")], contexts=["*sessions"])
    )
    assert matched() == ["A"]
    assert matched("*cdrs") == []
    node.attributes.set_profile(
        profile("B", [("*req.Tag", "*constant", "b")], contexts=["*sessions", "*cdrs"], weight=20)
    )
    assert matched() == ["B"]
    assert matched("*cdrs") == ["B"]
    other = {**profile("O", [("*req.Tag", "*constant", "o")]), "Tenant": "other.org"}
    node.attributes.set_profile(other)
    assert matched(tenant="other.org") == ["O"]
    assert matched() == ["B"]
    # a write to the DataDB alone (as another node's plan load): seen at the next look
    written = normalize_profile(profile("C", [("*req.Tag", "*constant", "c")], weight=30))
    node.datadb.write_live([(ATTRIBUTES, f"{TENANT}:C", written)])
    node.attributes.live.refresh()
    assert matched() == ["B"]  # C is of context *any: only when none of *sessions matches
    node.attributes.remove_profile(TENANT, "B")
    assert matched() == ["A"]
    node.attributes.remove_profile(TENANT, "A")
    assert matched() == ["C"]
    assert matched("*cdrs") == ["C"]
