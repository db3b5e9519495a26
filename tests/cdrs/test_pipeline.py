"""The CDR pipeline on both backends: one rated CDR per charger run, each request type's
money outcome, duplicates charged once, queries."""

import hashlib
from decimal import Decimal

import pytest

from fs_cgr.cdrs.event import cgrid
from fs_cgr.cdrs.record import as_external
from fs_cgr.errors import PartiallyExecuted, ServerError
from fs_cgr.storage.cdr_query import parse_query
from tests.cdrs.helpers import BACKENDS, TENANT, call, make_node, monetary, top_up, write_plan


def _cdr(outcome, run_id="*default"):
    return next(cdr for cdr in outcome.cdrs if cdr["RunID"] == run_id)


def _stored(node, origin_id, run_id="*default"):
    found = node.cdrs.get_cdrs({"OriginIDs": [origin_id], "RunIDs": [run_id]})
    assert len(found) == 1
    return found[0]


def test_rated_cdr_costs_what_cgrates_charges(node):
    outcome = node.cdrs.process_event(call("r1", RequestType="*rated", Usage="120s"))
    assert outcome.error is None and outcome.stored == 1
    cdr = _stored(node, "r1")
    assert cdr["Cost"] == Decimal("0.7002")
    assert cdr["CostSource"] == "*cdrs"
    assert cdr["Usage"] == 120 * 10**9
    assert Decimal(str(cdr["CostDetails"]["Cost"])) == Decimal("0.7002")
    external = as_external(cdr)
    assert (external["Usage"], external["AnswerTime"]) == ("2m0s", "2014-08-04T13:00:00Z")


def test_rated_cost_is_rounded_with_the_destination_rate(node):
    node.cdrs.process_event(call("r2", destination="1009", RequestType="*rated", Usage="90s"))
    assert _stored(node, "r2")["Cost"] == Decimal("0.66")  # 0.6501 *up to 2 decimals


def test_postpaid_debits_the_account_with_rounding(node):
    top_up(node, "1001", 10)
    node.cdrs.process_event(call("p1", destination="1009", RequestType="*postpaid", Usage="90s"))
    assert _stored(node, "p1")["Cost"] == Decimal("0.66")
    assert monetary(node, "1001") == Decimal("9.34")


def test_pseudoprepaid_debits_like_postpaid(node):
    top_up(node, "1001", 10)
    node.cdrs.process_event(call("pp1", RequestType="*pseudoprepaid", Usage="120s"))
    assert _stored(node, "pp1")["Cost"] == Decimal("0.7002")
    assert monetary(node, "1001") == Decimal("9.2998")


def test_postpaid_goes_negative_only_when_allowed(node):
    top_up(node, "poor", "0.5")
    node.cdrs.process_event(call("n1", account="poor", RequestType="*postpaid", Usage="120s"))
    refused = _stored(node, "n1")
    assert refused["Cost"] == Decimal(-1) and refused["ExtraInfo"] == "INSUFFICIENT_CREDIT"
    assert monetary(node, "poor") == Decimal("0.5")
    top_up(node, "rich_in_debt", "0.5", allow_negative=True)
    node.cdrs.process_event(
        call("n2", account="rich_in_debt", RequestType="*postpaid", Usage="120s")
    )
    assert _stored(node, "n2")["Cost"] == Decimal("0.7002")
    assert monetary(node, "rich_in_debt") == Decimal("-0.2002")


def test_prepaid_uses_the_session_cost(node):
    top_up(node, "1001", 10)
    node.stordb.set_session_cost(
        {
            "CGRID": cgrid("pre1", "tests"),
            "RunID": "*default",
            "OriginHost": "tests",
            "OriginID": "pre1",
            "CostSource": "*sessions",
            "Usage": 120 * 10**9,
            "CostDetails": {"Cost": Decimal("0.5"), "Usage": 120 * 10**9},
        }
    )
    node.cdrs.process_event(call("pre1", RequestType="*prepaid", Usage="120s"))
    cdr = _stored(node, "pre1")
    assert (cdr["Cost"], cdr["CostSource"], cdr["ExtraInfo"]) == (Decimal("0.5"), "*sessions", "")
    node.cdrs.process_event(call("pre2", RequestType="*prepaid", Usage="120s"))
    cdr = _stored(node, "pre2")
    assert cdr["Cost"] == Decimal("0.7002") and "no session cost" in cdr["ExtraInfo"]
    assert monetary(node, "1001") == Decimal(10)  # the CDR path never debits *prepaid


def test_none_is_stored_unpriced(node):
    top_up(node, "1001", 10)
    node.cdrs.process_event(call("none1", RequestType="*none", Usage="120s"))
    cdr = _stored(node, "none1")
    assert (cdr["Cost"], cdr["CostDetails"], cdr["ExtraInfo"]) == (Decimal(-1), None, "")
    assert monetary(node, "1001") == Decimal(10)


def test_errors_are_kept_in_extra_info(node):
    top_up(node, "1001", 10)
    outcome = node.cdrs.process_event(
        call("e1", destination="999", RequestType="*postpaid", Usage="60s")
    )
    assert outcome.stored == 1
    cdr = _stored(node, "e1")
    assert cdr["Cost"] == Decimal(-1)
    assert "UNAUTHORIZED_DESTINATION" in cdr["ExtraInfo"]
    assert monetary(node, "1001") == Decimal(10)


def test_same_cdr_twice_is_stored_and_charged_once(node):
    top_up(node, "1001", 10)
    event = call("d1", RequestType="*postpaid", Usage="120s")
    first = node.cdrs.process_event(event)
    second = node.cdrs.process_event(dict(event))
    batch = node.cdrs.process_events([dict(event, OriginID="d2"), dict(event, OriginID="d2")])
    assert (first.stored, second.stored, second.duplicates) == (1, 0, 1)
    assert [(o.stored, o.duplicates) for o in batch] == [(1, 0), (0, 1)]
    assert node.cdrs.count_cdrs({"OriginIDs": ["d1", "d2"]}) == 2
    assert monetary(node, "1001") == Decimal(10) - 2 * Decimal("0.7002")


def test_one_cdr_per_charger_run(node):
    node.cdrs.chargers.set_profile(
        {
            "Tenant": TENANT,
            "ID": "RAW",
            "RunID": "*raw",
            "AttributeIDs": ["*constant:*req.RequestType:*none"],
            "Weight": 10,
        }
    )
    outcome = node.cdrs.process_event(call("m1", RequestType="*rated", Usage="60s"))
    assert sorted((c["RunID"], c["Cost"]) for c in outcome.cdrs) == [
        ("*default", Decimal("0.6")),
        ("*raw", Decimal(-1)),
    ]
    assert node.cdrs.count_cdrs({"OriginIDs": ["m1"]}) == 2


def test_no_charger_is_partially_executed_and_stores_nothing(node):
    node.cdrs.chargers.remove_profile(TENANT, "DEFAULT")
    outcome = node.cdrs.process_event(call("x1", RequestType="*rated", Usage="60s"))
    assert isinstance(outcome.error, PartiallyExecuted)
    assert outcome.error.message == "PARTIALLY_EXECUTED"
    assert node.cdrs.count_cdrs({"OriginIDs": ["x1"]}) == 0


def test_queries(node):
    for number, (account, usage) in enumerate([("1001", "60s"), ("1001", "120s"), ("1002", "30s")]):
        node.cdrs.process_event(
            call(f"q{number}", account=account, RequestType="*rated", Usage=usage, Extra="x")
        )
    count = node.cdrs.count_cdrs
    assert count({"Accounts": ["1001"]}) == 2
    assert count({"MediationRunIds": ["*default"], "NotAccounts": ["1001"]}) == 1
    assert count({"MinUsage": "60s"}) == 2
    assert count({"MaxUsage": "60s"}) == 1
    assert count({"TimeStart": "2014-08-04T13:00:00Z", "TimeEnd": "2014-08-04T13:00:01Z"}) == 3
    assert count({"TimeStart": "2014-08-04T13:00:01Z"}) == 0
    assert count({"ExtraFields": {"Extra": "x"}}) == 3
    assert count({"DestinationPrefixes": ["100"], "MinCost": "0.7"}) == 1
    cdrs = node.cdrs.get_cdrs({"OrderBy": "Usage;desc", "Limit": 2})
    assert [cdr["OriginID"] for cdr in cdrs] == ["q1", "q0"]
    with pytest.raises(ServerError):
        parse_query({"OrderBy": "Nope"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_events_in_small_store_batches(backend, request, tmp_path):
    node = make_node(backend, request, tmp_path / "data", **{"cdrs.store_batch": 3})
    node.tariffplans.load_folder(write_plan(tmp_path / "plan"))
    top_up(node, "1001", 10)
    events = [call(f"b{n}", RequestType="*postpaid", Usage="60s") for n in range(10)]
    events.insert(5, dict(events[1]))  # a repeat in a later batch than the first
    outcomes = node.cdrs.process_events(events)
    assert [o.stored for o in outcomes] == [1] * 5 + [0] + [1] * 5
    assert outcomes[5].duplicates == 1
    assert node.cdrs.count_cdrs({}) == 10
    assert monetary(node, "1001") == Decimal(10) - 10 * Decimal("0.6")
    node.stop()


def test_cgrid_is_the_sha1_of_origin_id_and_host():
    """CGrateS' CGRID (sha1 hex of OriginID + OriginHost), whichever SHA-1 computes it."""
    assert cgrid("pre1", "tests") == hashlib.sha1(b"pre1tests").hexdigest()
    assert cgrid("", "") == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert cgrid("e\u00e9", "h") == hashlib.sha1("e\u00e9h".encode()).hexdigest()
