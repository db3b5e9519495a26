"""ChargerS: matching profiles by filters, weight and activation; runs with attributes."""

import pytest

from fs_cgr.cdrs.event import normalize
from fs_cgr.errors import InvalidArgument, MandatoryMissing, NotFound
from tests.cdrs.helpers import TENANT, call


@pytest.fixture
def chargers(embedded):
    return embedded.cdrs.chargers


def _event(node, **fields):
    return normalize(call("c1", **fields), node.config.general)


def test_default_plan_has_one_default_run(embedded, chargers):
    runs = chargers.runs(_event(embedded, RequestType="*postpaid"))
    assert [(run["RunID"], run["RequestType"]) for run in runs] == [("*default", "*postpaid")]


def test_runs_in_weight_order_with_attributes(embedded, chargers):
    chargers.set_profile(
        {
            "Tenant": TENANT,
            "ID": "RAW",
            "RunID": "*raw",
            "AttributeIDs": ["*constant:*req.RequestType:*none"],
            "Weight": 20,
        }
    )
    chargers.set_profile(
        {
            "Tenant": TENANT,
            "ID": "RESELLER",
            "FilterIDs": ["*string:~*req.Account:1001"],
            "RunID": "reseller",
            "AttributeIDs": [
                "*constant:*req.Subject:RESELLER",
                "*constant:*req.Origin:~*req.Account",
            ],
            "Weight": 10,
        }
    )
    runs = chargers.runs(_event(embedded, RequestType="*rated"))
    assert [run["RunID"] for run in runs] == ["*raw", "reseller", "*default"]
    raw, reseller, default = runs
    assert raw["RequestType"] == "*none" and default["RequestType"] == "*rated"
    assert reseller["Subject"] == "RESELLER" and reseller["Origin"] == "1001"
    assert default["Subject"] == "1001"
    other = chargers.runs(_event(embedded, Account="2000", Subject="2000"))
    assert [run["RunID"] for run in other] == ["*raw", "*default"]


def test_marked_runs_tell_the_runs_their_profile_only_named(embedded, chargers):
    """A run whose profile sets only its RunID is the normalized event with it, so it is
    as ``normalize`` makes it; a run with attributes may hold raw text (not marked)."""
    chargers.set_profile(
        {"Tenant": TENANT, "ID": "ALT", "RunID": "alt", "Weight": 10,
         "AttributeIDs": ["*constant:*req.Usage:10s"]}
    )  # fmt: skip
    event = _event(embedded)
    marked = chargers.marked_runs(event)
    assert [(run["RunID"], plain) for run, plain in marked] == [("alt", False), ("*default", True)]
    (altered, _), (default, _) = marked
    assert altered["Usage"] == "10s"  # raw: normalize would make it 10 s in ns
    assert normalize(default, embedded.config.general) == default


def test_referenced_attribute_profiles_are_skipped(embedded, chargers):
    chargers.set_profile(
        {"Tenant": TENANT, "ID": "ATTR", "RunID": "attr", "AttributeIDs": ["ATTR_1001"]}
    )
    runs = {run["RunID"]: run for run in chargers.runs(_event(embedded))}
    assert runs["attr"]["Subject"] == "1001"


def test_activation_interval(embedded, chargers):
    chargers.set_profile(
        {
            "Tenant": TENANT,
            "ID": "FUTURE",
            "RunID": "future",
            "ActivationInterval": {"ActivationTime": "2099-01-01T00:00:00Z"},
        }
    )
    assert [run["RunID"] for run in chargers.runs(_event(embedded))] == ["*default"]


def test_profiles_api(embedded, chargers):
    chargers.set_profile({"Tenant": TENANT, "ID": "X", "RunID": "x", "Weight": "2.5"})
    assert chargers.get_profile(TENANT, "X") == {
        "Tenant": TENANT,
        "ID": "X",
        "FilterIDs": [],
        "ActivationInterval": None,
        "RunID": "x",
        "AttributeIDs": [],
        "Weight": pytest.approx(2.5),
    }
    assert chargers.profile_ids(TENANT) == ["DEFAULT", "X"]
    chargers.remove_profile(TENANT, "X")
    chargers.remove_profile(TENANT, "DEFAULT")
    with pytest.raises(NotFound):
        chargers.get_profile(TENANT, "X")
    with pytest.raises(NotFound):
        chargers.remove_profile(TENANT, "X")
    with pytest.raises(NotFound):
        chargers.runs(_event(embedded))
    with pytest.raises(MandatoryMissing):
        chargers.set_profile({"Tenant": TENANT})


@pytest.mark.parametrize(
    "profile, error",
    [
        ({"RunID": "r" * 65}, "RunID is 65 characters long, at most 64"),
        (
            {"RunID": "long", "AttributeIDs": ["*constant:*req.Subject:" + "s" * 129]},
            "Subject is 129 characters long, at most 128",
        ),
    ],
)
def test_a_run_the_stordb_would_refuse_is_refused(embedded, chargers, profile, error):
    """Only RunID can change without attributes, so only it is checked again then; a run an
    attribute altered is checked whole."""
    chargers.set_profile({"Tenant": TENANT, "ID": "LONG", **profile})
    with pytest.raises(InvalidArgument, match=error):
        chargers.runs(_event(embedded))
