"""The StorDB contract, run against SQLite and MariaDB alike."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import gevent
import pymysql
import pytest

from fs_cgr.durations import SECOND
from fs_cgr.storage import open_stordb
from fs_cgr.storage.base import DESTINATIONS, RATES
from fs_cgr.storage.cdr_query import parse_query, select
from fs_cgr.times import UTC

T0 = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def make_cdr(cgrid: str, run_id: str = "*default", **fields) -> dict:
    cdr = {
        "CGRID": cgrid,
        "RunID": run_id,
        "OriginHost": "10.0.0.1",
        "Source": "FS_EVENT",
        "OriginID": f"origin-{cgrid}",
        "ToR": "*voice",
        "RequestType": "*prepaid",
        "Tenant": "cgrates.org",
        "Category": "call",
        "Account": "1001",
        "Subject": "1001",
        "Destination": "1002",
        "SetupTime": T0,
        "AnswerTime": T0 + timedelta(seconds=1),
        "Usage": 60 * SECOND,
        "ExtraFields": {},
        "CostSource": "*sessions",
        "Cost": Decimal("0.6"),
        "CostDetails": None,
        "ExtraInfo": "",
        "PreRated": False,
        "Partial": False,
    }
    cdr.update(fields)
    return cdr


# -- stored tariff plans -------------------------------------------------------------
def test_tp_objects_roundtrip_and_upsert(stordb):
    stordb.set_tp("TP1", DESTINATIONS, "DST_2", {"ID": "DST_2", "Prefixes": ["2"]})
    stordb.set_tp("TP1", DESTINATIONS, "DST_1", {"ID": "DST_1", "Prefixes": ["1"]})
    stordb.set_tp("TP1", RATES, "RT_1", {"ID": "RT_1", "Rate": Decimal("0.0123456789")})
    stordb.set_tp("TP2", RATES, "RT_1", {"ID": "RT_1"})
    stordb.set_tp("TP1", DESTINATIONS, "DST_1", {"ID": "DST_1", "Prefixes": ["1", "11"]})
    assert stordb.get_tp("TP1", DESTINATIONS, "DST_1") == {"ID": "DST_1", "Prefixes": ["1", "11"]}
    assert stordb.get_tp("TP1", RATES, "RT_1")["Rate"] == Decimal("0.0123456789")
    assert stordb.get_tp("TP1", RATES, "nope") is None
    assert stordb.get_tp_ids("TP1", DESTINATIONS) == ["DST_1", "DST_2"]
    assert list(stordb.get_tp_all("TP1", DESTINATIONS)) == ["DST_1", "DST_2"]
    assert stordb.get_tp_all("TP3", RATES) == {}
    assert stordb.tpids() == ["TP1", "TP2"]


def test_remove_tp_by_object_kind_and_plan(stordb):
    for obj_id in ("A", "B"):
        stordb.set_tp("TP1", DESTINATIONS, obj_id, {})
        stordb.set_tp("TP1", RATES, obj_id, {})
        stordb.set_tp("TP2", RATES, obj_id, {})
    assert stordb.remove_tp("TP1", DESTINATIONS, "A") == 1
    assert stordb.remove_tp("TP1", DESTINATIONS, "A") == 0
    assert stordb.remove_tp("TP1", RATES) == 2
    assert stordb.get_tp_ids("TP1", DESTINATIONS) == ["B"]
    assert stordb.remove_tp("TP2") == 2
    assert stordb.tpids() == ["TP1"]
    with pytest.raises(ValueError):
        stordb.remove_tp("TP1", obj_id="B")


@pytest.mark.parametrize(
    "args",
    [("", RATES, "R", {}), ("TP", "", "R", {}), ("TP", RATES, "", {}), ("TP", RATES, "R", [])],
)
def test_bad_tp_input(stordb, args):
    with pytest.raises(ValueError):
        stordb.set_tp(*args)
    assert stordb.tpids() == []


# -- CDRs: storing -------------------------------------------------------------------
def test_store_cdrs_roundtrip_every_field(stordb):
    cdr = make_cdr(
        "a" * 40,
        OriginID="3c4b1f36-1d3c-4a4b-9cde-8a1a6b0b1b11",
        SetupTime=datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC),
        AnswerTime=datetime(2024, 1, 1, 10, 0, 2, 500000, tzinfo=UTC),
        Usage=61_500_000_000,
        ExtraFields={"Hangup": "NORMAL_CLEARING", "note": 'quote " and é'},
        Cost=Decimal("0.70020000"),
        CostDetails={"Cost": Decimal("0.7002"), "Usage": 61_500_000_000, "Charges": [{"n": 1}]},
        ExtraInfo="fine",
    )
    assert stordb.store_cdrs([cdr]) == 1
    [stored] = stordb.get_cdrs({})
    assert isinstance(stored.pop("OrderID"), int)
    assert stored == cdr
    assert stored["Cost"] == Decimal("0.7002")
    assert isinstance(stored["Cost"], Decimal)
    assert stored["CostDetails"]["Cost"] == Decimal("0.7002")
    assert stored["SetupTime"].tzinfo is not None


@pytest.mark.parametrize(
    "text",
    ["plain ascii", "it's", "back\\slash", "nul \x00 in it", 'quote " é', "-- '); DROP", "?%s%%"],
)
def test_any_text_comes_back_as_it_was_stored(stordb, text):
    """MySQL rows go as literal text: plain ASCII between quotes, anything else as hex."""
    cdr = make_cdr(
        "t" * 40,
        Subject=text,
        ExtraFields={"note": text},
        CostDetails={"Note": text},
        ExtraInfo=text,
    )
    assert stordb.store_cdrs([cdr, make_cdr("u" * 40, Subject=text)]) == 2
    stored = stordb.get_cdrs({})[0]
    assert (stored["Subject"], stored["ExtraFields"], stored["CostDetails"]) == (
        text,
        {"note": text},
        {"Note": text},
    )
    assert stored["ExtraInfo"] == text


def test_duplicate_cgrid_runid_is_stored_once(stordb):
    first = make_cdr("c1", Cost=Decimal("1"))
    assert stordb.store_cdrs([first, make_cdr("c1", "*raw")]) == 2
    again = [make_cdr("c1", Cost=Decimal("2")), make_cdr("c2"), make_cdr("c2")]
    assert stordb.store_cdrs(again) == 1
    assert stordb.count_cdrs({}) == 3
    [kept] = stordb.get_cdrs({"CGRIDs": ["c1"], "RunIDs": ["*default"]})
    assert kept["Cost"] == Decimal("1")  # the stored CDR is left untouched
    assert stordb.store_cdrs([]) == 0


def test_the_cdr_insert_is_written_once_for_every_store(stordb):
    stordb.store_cdrs([make_cdr("w1")])
    (insert,) = stordb._cdr_inserts.values()
    assert stordb.store_cdrs([make_cdr("w2"), make_cdr("w3")]) == 2
    assert list(stordb._cdr_inserts.values()) == [insert]
    fields, head, one_row = insert
    assert head.startswith("INSERT ") and head.endswith(" VALUES ")
    assert one_row.startswith(head) and one_row.count(", ") == 2 * (len(fields) - 1)
    assert sorted(cdr["CGRID"] for cdr in stordb.get_cdrs({})) == ["w1", "w2", "w3"]


def test_update_cdrs_changes_only_the_pricing(stordb):
    stordb.store_cdrs([make_cdr("u1"), make_cdr("u1", "*raw")])
    repriced = make_cdr(
        "u1", Cost=Decimal("0.75"), CostDetails={"Cost": "0.75"}, ExtraInfo="", Account="other"
    )
    assert stordb.update_cdrs([repriced]) == 1
    [cdr] = stordb.get_cdrs({"CGRIDs": ["u1"], "RunIDs": ["*default"]})
    assert (cdr["Cost"], cdr["CostDetails"], cdr["Account"]) == (
        Decimal("0.75"),
        {"Cost": "0.75"},
        "1001",  # not a pricing field: unchanged
    )
    [raw] = stordb.get_cdrs({"RunIDs": ["*raw"]})
    assert raw["Cost"] == Decimal("0.6")
    assert stordb.update_cdrs([make_cdr("absent")]) == 0


def test_stored_runs_names_exactly_the_stored_pairs(stordb):
    stordb.store_cdrs([make_cdr("c1"), make_cdr("c1", "*raw"), make_cdr("c2"), make_cdr("c3")])
    found = stordb.stored_runs(["c1", "c2", "c1", "absent"])
    assert found == {("c1", "*default"), ("c1", "*raw"), ("c2", "*default")}
    assert stordb.stored_runs([]) == set()
    many = [f"bulk{number}" for number in range(700)]
    stordb.store_cdrs([make_cdr(cgrid) for cgrid in many[::2]])
    assert stordb.stored_runs(many) == {(cgrid, "*default") for cgrid in many[::2]}


def test_store_cdrs_in_many_chunks(stordb):
    cdrs = [make_cdr(f"bulk{number}") for number in range(1234)]
    assert stordb.store_cdrs(cdrs) == 1234
    assert stordb.store_cdrs(cdrs[1000:] + [make_cdr("new")]) == 1
    assert stordb.count_cdrs({}) == 1235


@pytest.mark.parametrize(
    "cost, stored",
    [
        (Decimal("0.70020000"), Decimal("0.7002")),
        (Decimal("9999999999.99999999"), Decimal("9999999999.99999999")),
        (Decimal("-3.5"), Decimal("-3.5")),
        ("0.1", Decimal("0.1")),
        (Decimal("0.123456785"), Decimal("0.12345679")),  # the column's 8 decimals, half up
        (None, Decimal("-1")),  # not priced, as CGrateS' -1
    ],
)
def test_cost_is_exact(stordb, cost, stored):
    stordb.store_cdrs([make_cdr("c", Cost=cost)])
    [cdr] = stordb.get_cdrs({})
    assert cdr["Cost"] == stored
    assert stordb.count_cdrs({"Costs": [stored]}) == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"CGRID": ""},
        {"RunID": None},
        {"Usage": 1.5},
        {"Usage": "60s"},
        {"Account": 1001},
        {"Tenant": "t" * 65},
        {"SetupTime": "yesterday-ish"},
        {"Cost": Decimal("1E10")},
        {"Cost": "abc"},
        {"ExtraFields": ["a"]},
        {"CostDetails": {"when": object()}},
    ],
)
def test_a_bad_cdr_stores_nothing(stordb, bad):
    with pytest.raises(ValueError):
        stordb.store_cdrs([make_cdr("good"), make_cdr("bad", **bad)])
    assert stordb.count_cdrs({}) == 0


# -- CDRs: queries ----------------------------------------------------------------------
@pytest.fixture
def cdrs(stordb):
    """Six CDRs, each named by its OriginID, with the fields the filters look at."""
    hour = timedelta(hours=1)
    stored = [
        make_cdr("c1", OriginID="o1"),
        make_cdr("c1", "*raw", OriginID="o1raw", Cost=Decimal("0")),
        make_cdr(
            "c2",
            OriginID="o2",
            Account="1002",
            Subject="1002",
            Destination="+4986517174963",
            RequestType="*postpaid",
            SetupTime=T0 + hour,
            AnswerTime=T0 + hour + timedelta(seconds=2),
            Usage=120 * SECOND,
            Cost=Decimal("1.2345"),
            ExtraFields={"Hangup": "NORMAL_CLEARING"},
        ),
        make_cdr(
            "c3",
            OriginID="o3",
            OriginHost="10.0.0.2",
            Source="CSV",
            Tenant="itsyscom.com",
            Category="premium",
            Account="1003",
            Subject="s3",
            Destination="+4915",
            SetupTime=T0 + 2 * hour,
            AnswerTime=None,
            Usage=0,
            Cost=None,
            ExtraFields={"Hangup": "NO_ANSWER", "Note": "x"},
        ),
        make_cdr(
            "c5",
            OriginID="o5",
            ToR="*sms",
            Destination="1003",
            SetupTime=T0 + 3 * hour,
            AnswerTime=T0 + 3 * hour,
            Usage=1,
            Cost=Decimal("0.05"),
        ),
        make_cdr(
            "c6",
            OriginID="o6",
            Destination="10025",
            SetupTime=T0 + timedelta(days=1),
            AnswerTime=T0 + timedelta(days=1, seconds=3),
            Usage=30 * SECOND,
            Cost=Decimal("0.70020000"),
        ),
    ]
    assert stordb.store_cdrs(stored) == 6
    return stordb


ALL = {"o1", "o1raw", "o2", "o3", "o5", "o6"}


def origins(stordb, query) -> set[str]:
    found = {cdr["OriginID"] for cdr in stordb.get_cdrs(query)}
    assert stordb.count_cdrs(query) == len(found)
    return found


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, ALL),
        ({"CGRIDs": ["c1"]}, {"o1", "o1raw"}),
        ({"NotCGRIDs": ["c1", "c2"]}, {"o3", "o5", "o6"}),
        ({"RunIDs": ["*raw"]}, {"o1raw"}),
        ({"NotRunIDs": ["*raw"]}, ALL - {"o1raw"}),
        ({"OriginIDs": ["o2", "o5", "zz"]}, {"o2", "o5"}),
        ({"NotOriginIDs": ["o2"]}, ALL - {"o2"}),
        ({"OriginHosts": ["10.0.0.2"]}, {"o3"}),
        ({"NotOriginHosts": ["10.0.0.2"]}, ALL - {"o3"}),
        ({"Sources": ["CSV"]}, {"o3"}),
        ({"NotSources": ["CSV"]}, ALL - {"o3"}),
        ({"ToRs": ["*sms"]}, {"o5"}),
        ({"NotToRs": ["*sms"]}, ALL - {"o5"}),
        ({"RequestTypes": ["*postpaid"]}, {"o2"}),
        ({"NotRequestTypes": ["*prepaid"]}, {"o2"}),
        ({"Tenants": ["itsyscom.com"]}, {"o3"}),
        ({"NotTenants": ["itsyscom.com"]}, ALL - {"o3"}),
        ({"Tenants": ["CGRATES.ORG"]}, set()),  # exact, not case-folded
        ({"Categories": ["premium"]}, {"o3"}),
        ({"NotCategories": ["call"]}, {"o3"}),
        ({"Accounts": ["1001"]}, {"o1", "o1raw", "o5", "o6"}),
        ({"NotAccounts": ["1001"]}, {"o2", "o3"}),
        ({"Subjects": ["s3", "1002"]}, {"o2", "o3"}),
        ({"NotSubjects": ["1001"]}, {"o2", "o3"}),
        ({"CGRIDs": []}, set()),
        ({"DestinationPrefixes": ["1002"]}, {"o1", "o1raw", "o6"}),
        ({"DestinationPrefixes": ["+49", "1003"]}, {"o2", "o3", "o5"}),
        ({"DestinationPrefixes": ["+4986"]}, {"o2"}),
        ({"NotDestinationPrefixes": ["+49", "10025"]}, {"o1", "o1raw", "o5"}),
        ({"DestinationPrefixes": ["10%"]}, set()),  # no wildcards
        ({"Costs": [Decimal("0.7002"), Decimal("0")]}, {"o6", "o1raw"}),
        ({"NotCosts": [Decimal("0.6")]}, {"o1raw", "o2", "o3", "o5", "o6"}),
        ({"ExtraFields": {"Hangup": "NORMAL_CLEARING"}}, {"o2"}),
        ({"ExtraFields": {"Hangup": "*exists"}}, {"o2", "o3"}),
        ({"ExtraFields": {"Hangup": "NORMAL_CLEARING", "Note": "x"}}, {"o2", "o3"}),
        ({"ExtraFields": {"Hangup": "normal_clearing"}}, set()),
        ({"NotExtraFields": {"Hangup": "*exists"}}, {"o1", "o1raw", "o5", "o6"}),
        ({"NotExtraFields": {"Hangup": "NO_ANSWER"}}, ALL - {"o3"}),
        ({"SetupTimeStart": T0 + timedelta(hours=1)}, {"o2", "o3", "o5", "o6"}),
        ({"SetupTimeEnd": T0 + timedelta(hours=1)}, {"o1", "o1raw"}),
        (
            {"SetupTimeStart": T0 + timedelta(hours=1), "SetupTimeEnd": T0 + timedelta(hours=3)},
            {"o2", "o3"},
        ),
        ({"AnswerTimeStart": T0 + timedelta(seconds=1)}, ALL - {"o3"}),  # no answer: no match
        ({"AnswerTimeStart": T0 + timedelta(seconds=1, microseconds=1)}, {"o2", "o5", "o6"}),
        ({"AnswerTimeEnd": T0 + timedelta(hours=3)}, {"o1", "o1raw", "o2"}),
        ({"AnswerTimeStart": "2024-01-01T11:00:00Z", "AnswerTimeEnd": "2024-01-02"}, {"o2", "o5"}),
        ({"MinUsage": 60 * SECOND}, {"o1", "o1raw", "o2"}),
        ({"MaxUsage": 60 * SECOND}, {"o3", "o5", "o6"}),
        ({"MinUsage": "30s", "MaxUsage": "1m"}, {"o6"}),
        ({"MinCost": Decimal("0.6")}, {"o1", "o2", "o6"}),
        ({"MaxCost": Decimal("0.7002")}, {"o1", "o1raw", "o3", "o5"}),
        ({"MinCost": Decimal("0.6"), "MaxCost": Decimal("0.7002")}, {"o1"}),
        ({"MinCost": Decimal("0.70019999"), "MaxCost": "0.70020001"}, {"o6"}),
        ({"MinCost": Decimal("0.700200001")}, {"o2"}),  # finer than the column, still exact
        ({"Unrated": True}, {"o3"}),
        ({"Unrated": False}, ALL - {"o3"}),
        ({"Accounts": ["1001"], "ToRs": ["*voice"], "MinCost": 0.5}, {"o1", "o6"}),
    ],
)
def test_get_cdrs_filters(cdrs, query, expected):
    assert origins(cdrs, query) == expected


def test_order_id_range(cdrs):
    ids = {cdr["OriginID"]: cdr["OrderID"] for cdr in cdrs.get_cdrs({})}
    query = {"OrderIDStart": ids["o1raw"], "OrderIDEnd": ids["o5"]}
    assert origins(cdrs, query) == {"o1raw", "o2", "o3"}


@pytest.mark.parametrize(
    "order, expected",
    [
        (None, ["o1", "o1raw", "o2", "o3", "o5", "o6"]),
        (("OrderID", True), ["o6", "o5", "o3", "o2", "o1raw", "o1"]),
        (("Cost", True), ["o2", "o6", "o1", "o5", "o1raw", "o3"]),
        (("Cost", False), ["o3", "o1raw", "o5", "o1", "o6", "o2"]),
        (("Usage", False), ["o3", "o5", "o6", "o1", "o1raw", "o2"]),
        (("AnswerTime", False), ["o3", "o1", "o1raw", "o2", "o5", "o6"]),
        (("AnswerTime", True), ["o6", "o5", "o2", "o1", "o1raw", "o3"]),
        (("SetupTime", True), ["o6", "o5", "o3", "o2", "o1", "o1raw"]),
    ],
)
def test_get_cdrs_order(cdrs, order, expected):
    query = {} if order is None else {"OrderBy": order}
    assert [cdr["OriginID"] for cdr in cdrs.get_cdrs(query)] == expected


def test_limit_and_offset(cdrs):
    page = {"OrderBy": ("Cost", True), "Limit": 2}
    assert [c["OriginID"] for c in cdrs.get_cdrs(page)] == ["o2", "o6"]
    assert [c["OriginID"] for c in cdrs.get_cdrs({**page, "Offset": 2})] == ["o1", "o5"]
    assert [c["OriginID"] for c in cdrs.get_cdrs({"Offset": 4})] == ["o5", "o6"]
    assert cdrs.get_cdrs({"Limit": 0}) == []
    assert cdrs.count_cdrs({**page, "Offset": 5}) == 6  # counting ignores paging


@pytest.mark.parametrize(
    "query",
    [
        {"MediationRunIds": ["*raw"]},  # raw API names: parse_query first
        {"Accounts": "1001"},
        {"OrderBy": ("Price", False)},
        {"SetupTimeStart": "not a time"},
        {"MinUsage": "ten seconds"},
        {"Limit": -1},
        {"Offset": "2"},
        {"Unrated": "yes"},
    ],
)
def test_bad_query_is_a_value_error(cdrs, query):
    with pytest.raises(ValueError):
        cdrs.get_cdrs(query)
    with pytest.raises(ValueError):
        cdrs.count_cdrs(query)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"MediationRunIds": ["*raw"]}, ["o1raw"]),  # APIerSv1.GetCDRs names, as the tutorial
        (
            {"TimeStart": "2024-01-01T10:00:01Z", "TimeEnd": "2024-01-01T13:00:00Z"},
            ["o1", "o1raw", "o2"],
        ),
        ({"CgrIds": ["c1", "c2"], "OrderBy": "Cost;desc"}, ["o2", "o1", "o1raw"]),
        ({"Accounts": ["1001"], "ExtraArgs": {"MinCost": 0.05, "MaxCost": 0.7}}, ["o1", "o5"]),
        ({"SkipRated": True}, ["o3"]),
        ({"SkipErrors": True, "OrderBy": "AnswerTime;desc", "Limit": 2}, ["o6", "o5"]),
        ({"DestinationPrefixes": ["+49"], "Limit": 1, "Offset": 1, "OrderBy": "SetupTime"}, ["o3"]),
        ({"ExtraFields": {"Hangup": "*exists"}, "NotExtraFields": {"Note": "x"}}, ["o2"]),
        ({"MinUsage": "30s", "MaxUsage": "2m", "OrderBy": "Usage;desc"}, ["o1", "o1raw", "o6"]),
        ({"NotTenants": ["cgrates.org"], "Paginator": {"Limit": 5}}, ["o3"]),
    ],
)
def test_api_queries_agree_with_the_reference_selection(cdrs, params, expected):
    """fs_cgr.storage.cdr_query turns API parameters into the query; SQL must pick what it picks."""
    query = parse_query(params)
    reference = [cdr["OriginID"] for cdr in select(cdrs.get_cdrs({}), query)]
    found = [cdr["OriginID"] for cdr in cdrs.get_cdrs(query)]
    assert found == reference == expected


# -- session costs ---------------------------------------------------------------------
def test_session_cost_upsert(stordb):
    doc = {
        "CGRID": "c1",
        "RunID": "*default",
        "OriginHost": "10.0.0.1",
        "OriginID": "o1",
        "CostSource": "*sessions",
        "Usage": 60 * SECOND,
        "CostDetails": {"Cost": Decimal("0.6")},
    }
    stordb.set_session_cost(doc)
    assert stordb.get_session_cost("c1", "*default") == doc
    updated = {**doc, "Usage": 90 * SECOND, "CostDetails": {"Cost": Decimal("0.9")}}
    stordb.set_session_cost(updated)
    assert stordb.get_session_cost("c1", "*default") == updated
    assert stordb.get_session_cost("c1", "*raw") is None
    with pytest.raises(ValueError):
        stordb.set_session_cost({"CGRID": "", "RunID": "*default"})


def test_flush_empties_every_table(cdrs):
    cdrs.set_tp("TP1", RATES, "R", {})
    cdrs.set_session_cost({"CGRID": "c", "RunID": "r"})
    cdrs.flush()
    assert (cdrs.count_cdrs({}), cdrs.tpids(), cdrs.get_session_cost("c", "r")) == (0, [], None)


# -- several calls as one unit (the CDR group commit) ------------------------------------
def _commit_like_a_call(stordb, cgrid: str) -> tuple:
    stordb.set_session_cost({"CGRID": cgrid, "RunID": "*default", "Usage": 60 * SECOND})
    stored_before = stordb.stored_runs([cgrid])
    return stored_before, stordb.store_cdrs([make_cdr(cgrid)])


def test_run_makes_the_calls_of_its_function(stordb):
    assert stordb.run(_commit_like_a_call, stordb, "c1") == (set(), 1)
    assert stordb.run(_commit_like_a_call, stordb, "c1") == ({("c1", "*default")}, 0)
    assert stordb.get_session_cost("c1", "*default")["Usage"] == 60 * SECOND
    assert stordb.count_cdrs({}) == 1


def test_run_on_mysql_checks_one_connection_out(mysql_stordb, monkeypatch):
    """Each check-out of a pooled connection pings the server: a run pings once for
    its three calls, where each call alone pings once."""
    _commit_like_a_call(mysql_stordb, "warm")  # a connection in the pool, checked out next
    pings = []
    real_ping = pymysql.connections.Connection.ping
    monkeypatch.setattr(
        pymysql.connections.Connection,
        "ping",
        lambda conn, *args: pings.append(1) or real_ping(conn, *args),
    )
    _commit_like_a_call(mysql_stordb, "alone")
    assert len(pings) == 3
    mysql_stordb.run(_commit_like_a_call, mysql_stordb, "together")
    assert len(pings) == 4
    assert mysql_stordb.count_cdrs({}) == 3


def test_run_keeps_its_outcome_when_the_connection_cannot_be_given_back(
    mysql_stordb, monkeypatch, caplog
):
    def refuse(pool, conn):
        raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server")

    def commit_then_lose_the_connection():
        outcome = _commit_like_a_call(mysql_stordb, "kept")
        monkeypatch.setattr(type(mysql_stordb._db), "_can_reuse", refuse)
        return outcome

    assert mysql_stordb.run(commit_then_lose_the_connection) == (set(), 1)
    assert "could not be given back" in caplog.text
    monkeypatch.undo()
    assert mysql_stordb.count_cdrs({}) == 1  # stored, and the StorDB works on


# -- many writers at once: every CDR stored once, every new row counted once --------
def test_threads_store_overlapping_batches(stordb):
    batches = [
        [make_cdr(f"c{(start + n) % 300}") for n in range(100)] for start in range(0, 800, 50)
    ]
    new_rows = []
    barrier = threading.Barrier(len(batches))

    def store(batch):
        barrier.wait()
        new_rows.append(stordb.store_cdrs(batch))

    threads = [threading.Thread(target=store, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(new_rows) == 300 == stordb.count_cdrs({})


def test_greenlets_store_and_read(stordb):
    def store(worker):
        for n in range(20):
            stordb.store_cdrs([make_cdr(f"w{worker}-{n}"), make_cdr("shared")])
            gevent.sleep(0)
        return len(stordb.get_cdrs({"CGRIDs": ["shared"]}))

    workers = [gevent.spawn(store, worker) for worker in range(10)]
    gevent.joinall(workers, raise_error=True)
    assert [worker.value for worker in workers] == [1] * 10
    assert stordb.count_cdrs({}) == 10 * 20 + 1


# -- SQLite specifics ------------------------------------------------------------------
def test_sqlite_file_persists_across_opens(tmp_path):
    url = f"sqlite:///{tmp_path}/stordb.sqlite"
    first = open_stordb(url)
    first.store_cdrs([make_cdr("c1", Cost=Decimal("0.7002"))])
    first.close()
    second = open_stordb(url)
    assert [cdr["Cost"] for cdr in second.get_cdrs({})] == [Decimal("0.7002")]
    second.close()


def test_two_stordbs_coexist_in_one_process(stordb):
    other = open_stordb("internal://")
    other.store_cdrs([make_cdr("only-here")])
    assert stordb.count_cdrs({}) == 0
    assert other.count_cdrs({}) == 1
    other.close()
