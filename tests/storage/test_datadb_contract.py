"""The DataDB contract, run against MemoryDataDB and RedisDataDB alike."""

from datetime import datetime
from decimal import Decimal

import pytest

from fs_cgr.storage.base import DESTINATIONS, JOURNAL_APPENDED, LIVE_KINDS, RATES, RATING_PLANS

RATE_DOC = {"ID": "RT_1", "RateSlots": [{"ConnectFee": Decimal("0.4"), "Rate": "0.2"}]}


# -- live tariff objects ---------------------------------------------------------
def test_write_live_applies_all_changes_and_bumps_version_once(datadb):
    start = datadb.live_version()
    version = datadb.write_live(
        [
            (DESTINATIONS, "DST_1002", {"ID": "DST_1002", "Prefixes": ["1002"]}),
            (DESTINATIONS, "DST_1003", {"ID": "DST_1003", "Prefixes": ["1003"]}),
            (RATES, "RT_1", RATE_DOC),
        ]
    )
    assert version == start + 1 == datadb.live_version()
    live = datadb.read_live()
    assert live[DESTINATIONS] == {
        "DST_1002": {"ID": "DST_1002", "Prefixes": ["1002"]},
        "DST_1003": {"ID": "DST_1003", "Prefixes": ["1003"]},
    }
    assert live[RATES]["RT_1"]["RateSlots"][0]["ConnectFee"] == Decimal("0.4")
    assert list(live) == list(LIVE_KINDS)  # every kind, empty or not
    assert live[RATING_PLANS] == {}


def test_write_live_upserts_and_deletes(datadb):
    datadb.write_live([(DESTINATIONS, "D1", {"Prefixes": ["1"]}), (RATES, "R1", RATE_DOC)])
    version = datadb.write_live(
        [(DESTINATIONS, "D1", {"Prefixes": ["11"]}), (RATES, "R1", None), (RATES, "R2", None)]
    )
    assert datadb.live_version() == version
    live = datadb.read_live()
    assert live[DESTINATIONS] == {"D1": {"Prefixes": ["11"]}}
    assert live[RATES] == {}


def test_write_live_last_change_of_an_object_wins(datadb):
    datadb.write_live(
        [(RATES, "R1", {"v": 1}), (RATES, "R1", None), (RATES, "R1", {"v": 3}), (RATES, "R2", {})]
    )
    assert datadb.read_live()[RATES] == {"R1": {"v": 3}, "R2": {}}


@pytest.mark.parametrize(
    "bad",
    [
        ("no_such_kind", "X", {}),
        (RATES, "", {}),
        (RATES, "R9", ["not", "a", "dict"]),
        (RATES, "R9", {"when": datetime(2024, 1, 1)}),  # not JSON
        (RATES, "R9", {"amount": Decimal("NaN")}),
        ("too", "short"),
    ],
)
def test_failed_write_live_applies_nothing(datadb, bad):
    datadb.write_live([(RATES, "R1", RATE_DOC)])
    before_live, before_version = datadb.read_live(), datadb.live_version()
    with pytest.raises(ValueError):
        datadb.write_live([(RATES, "R1", None), (RATING_PLANS, "RP1", {"ID": "RP1"}), bad])
    assert datadb.read_live() == before_live
    assert datadb.live_version() == before_version


def test_live_version_counts_every_write(datadb):
    start = datadb.live_version()
    for number in range(5):
        datadb.write_live([(RATES, f"R{number}", {})])
    assert datadb.live_version() == start + 5
    assert datadb.write_live([]) == start + 6  # an empty write still marks a reload point


def test_flush_removes_everything_and_moves_live_version_on(datadb):
    datadb.write_live([(RATES, "R1", RATE_DOC)])
    datadb.cas_account("cgrates.org", "1001", 0, {"BalanceMap": {}})
    datadb.journal_put("s1", {"ID": "s1"})
    version = datadb.live_version()
    datadb.flush()
    assert datadb.read_live() == {kind: {} for kind in LIVE_KINDS}
    assert datadb.get_account("cgrates.org", "1001") is None
    assert datadb.account_ids() == []
    assert datadb.journal_all() == []
    assert datadb.live_version() > version  # never back: a node must not keep stale rates


# -- accounts ----------------------------------------------------------------------
def test_cas_account_creates_then_updates_with_versions(datadb):
    assert datadb.get_account("cgrates.org", "1001") is None
    created = datadb.cas_account("cgrates.org", "1001", 0, {"Value": "10"})
    assert (created.status, created.version) == ("applied", 1)
    assert datadb.get_account("cgrates.org", "1001") == ({"Value": "10"}, 1)
    updated = datadb.cas_account("cgrates.org", "1001", 1, {"Value": "9.5"})
    assert (updated.applied, updated.version) == (True, 2)
    assert datadb.get_account("cgrates.org", "1001") == ({"Value": "9.5"}, 2)


def test_get_account_unless_skips_the_document_while_the_version_is_the_one_held(datadb):
    assert datadb.get_account_unless("cgrates.org", "1001", 1) is None
    datadb.cas_account("cgrates.org", "1001", 0, {"Value": "10"})
    assert datadb.get_account_unless("cgrates.org", "1001", 1) == (None, 1)
    datadb.cas_account("cgrates.org", "1001", 1, {"Value": "9.5"})  # another writer
    assert datadb.get_account_unless("cgrates.org", "1001", 1) == ({"Value": "9.5"}, 2)
    assert datadb.get_account_unless("cgrates.org", "1001", None) == ({"Value": "9.5"}, 2)


def test_cas_account_conflict_writes_nothing(datadb):
    datadb.cas_account("cgrates.org", "1001", 0, {"Value": "10"})
    stale = datadb.cas_account("cgrates.org", "1001", 0, {"Value": "99"})
    assert (stale.conflict, stale.version) == (True, 1)
    ahead = datadb.cas_account("cgrates.org", "1001", 5, {"Value": "99"})
    assert (ahead.conflict, ahead.version) == (True, 1)
    missing = datadb.cas_account("cgrates.org", "nobody", 3, {"Value": "1"})
    assert (missing.conflict, missing.version, missing.doc) == (True, 0, None)
    assert datadb.get_account("cgrates.org", "1001") == ({"Value": "10"}, 1)
    assert datadb.get_account("cgrates.org", "nobody") is None


def test_conflict_carries_the_current_document(datadb):
    datadb.cas_account("cgrates.org", "1001", 0, {"Value": Decimal("10.5")})
    stale = datadb.cas_account("cgrates.org", "1001", 0, {"Value": "99"}, "k", "r")
    assert (stale.conflict, stale.version, stale.doc) == (True, 1, {"Value": Decimal("10.5")})
    assert isinstance(stale.doc["Value"], Decimal)
    retried = datadb.cas_account("cgrates.org", "1001", stale.version, {"Value": "9"}, "k", "r")
    assert retried.applied and retried.doc is None


def test_cas_account_duplicate_returns_stored_result_and_writes_nothing(datadb):
    first_result = {"Cost": Decimal("0.6"), "Usage": 60_000_000_000}
    first = datadb.cas_account("cgrates.org", "1001", 0, {"Value": "9.4"}, "debit-1", first_result)
    assert first.applied and first.stored is None
    retried = datadb.cas_account(
        "cgrates.org", "1001", 0, {"Value": "8.8"}, "debit-1", {"Cost": Decimal("99")}
    )
    assert retried.duplicate
    assert retried.stored == first_result
    assert isinstance(retried.stored["Cost"], Decimal)
    assert retried.version == 1
    assert datadb.get_account("cgrates.org", "1001") == ({"Value": "9.4"}, 1)
    # even with the right version the key still wins: a retried debit never applies twice
    again = datadb.cas_account("cgrates.org", "1001", 1, {"Value": "8.8"}, "debit-1", None)
    assert again.duplicate and again.stored == first_result
    assert datadb.get_account("cgrates.org", "1001") == ({"Value": "9.4"}, 1)


def test_idempotency_keys_are_per_account(datadb):
    datadb.cas_account("cgrates.org", "1001", 0, {}, "debit-1", {"n": 1})
    other = datadb.cas_account("cgrates.org", "1002", 0, {}, "debit-1", {"n": 2})
    assert other.applied
    fresh = datadb.cas_account("cgrates.org", "1001", 1, {"x": 1}, "debit-2", None)
    assert fresh.applied and fresh.version == 2
    assert datadb.cas_account("cgrates.org", "1001", 2, {}, "debit-2", 5).stored is None


def test_conflict_does_not_consume_the_idempotency_key(datadb):
    datadb.cas_account("cgrates.org", "1001", 0, {"v": 1})
    assert datadb.cas_account("cgrates.org", "1001", 0, {"v": 2}, "k", "r").conflict
    applied = datadb.cas_account("cgrates.org", "1001", 1, {"v": 2}, "k", "r")
    assert applied.applied and applied.version == 2


def test_forgotten_idempotency_keys_apply_again_and_others_stay(datadb):
    datadb.cas_account("cgrates.org", "1001", 0, {"n": 1}, "s1:*default:debit:1", {"n": 1})
    datadb.cas_account("cgrates.org", "1001", 1, {"n": 2}, "s1:*default:debit:2", {"n": 2})
    datadb.cas_account("cgrates.org", "1002", 0, {"n": 1}, "s1:*default:debit:1", {"n": 3})
    datadb.forget_idempotency(
        "cgrates.org", "1001", ["s1:*default:debit:1", "s1:*default:debit:2", "never:seen"]
    )
    datadb.forget_idempotency("cgrates.org", "1001", [])
    again = datadb.cas_account("cgrates.org", "1001", 2, {"n": 3}, "s1:*default:debit:1", 9)
    assert again.applied and again.version == 3
    # another account's record under the same key is untouched
    kept = datadb.cas_account("cgrates.org", "1002", 1, {"n": 9}, "s1:*default:debit:1", None)
    assert kept.duplicate and kept.stored == {"n": 3}


def test_documents_come_back_as_copies(datadb):
    doc = {"Balances": [{"Value": "1"}]}
    datadb.cas_account("cgrates.org", "1001", 0, doc)
    doc["Balances"].append({"Value": "2"})
    read, _ = datadb.get_account("cgrates.org", "1001")
    read["Balances"].clear()
    assert datadb.get_account("cgrates.org", "1001")[0] == {"Balances": [{"Value": "1"}]}


@pytest.mark.parametrize(
    "args",
    [
        ("", "1001", 0, {}),
        ("cgrates.org", "", 0, {}),
        ("cgrates:org", "1001", 0, {}),  # a colon would make "tenant:account" ambiguous
        ("cgrates.org", "1001", -1, {}),
        ("cgrates.org", "1001", "0", {}),
        ("cgrates.org", "1001", 0, "not a dict"),
        ("cgrates.org", "1001", 0, {"t": datetime(2024, 1, 1)}),
        ("cgrates.org", "1001", 0, {}, ""),
        ("cgrates.org", "1001", 0, {}, "k", object()),
    ],
)
def test_bad_cas_input_raises_and_changes_nothing(datadb, args):
    with pytest.raises(ValueError):
        datadb.cas_account(*args)
    assert datadb.get_account("cgrates.org", "1001") is None
    assert datadb.account_ids() == []


def test_remove_account_and_account_ids(datadb):
    for tenant, account in [("t2", "b"), ("t1", "z"), ("t1", "a"), ("t1", "with:colon")]:
        assert datadb.cas_account(tenant, account, 0, {}).applied
    assert datadb.account_ids() == ["t1:a", "t1:with:colon", "t1:z", "t2:b"]
    assert datadb.account_ids("t1") == ["t1:a", "t1:with:colon", "t1:z"]
    assert datadb.account_ids("nobody") == []
    assert datadb.remove_account("t1", "z") is True
    assert datadb.remove_account("t1", "z") is False
    assert datadb.get_account("t1", "z") is None
    assert datadb.account_ids("t1") == ["t1:a", "t1:with:colon"]
    recreated = datadb.cas_account("t1", "z", 0, {"new": True})
    assert recreated.applied and recreated.version == 2  # versions go on, never back
    assert "t1:z" in datadb.account_ids()


def test_versions_are_never_reused_across_removal(datadb):
    """A version cached before a removal can never match the re-created account."""
    for version in range(3):
        datadb.cas_account("t1", "a", version, {"old": version + 1})
    datadb.remove_account("t1", "a")
    removed = datadb.cas_account("t1", "a", 3, {"stale": True})
    assert (removed.conflict, removed.version, removed.doc) == (True, 0, None)
    for version in (0, 4, 5):
        assert datadb.cas_account("t1", "a", version, {"new": version}).applied
    assert datadb.get_account("t1", "a") == ({"new": 5}, 6)
    for stale in (1, 2, 3):
        outcome = datadb.cas_account("t1", "a", stale, {"stale": True}, "k", "r")
        assert (outcome.conflict, outcome.version, outcome.doc) == (True, 6, {"new": 5})
    assert datadb.get_account("t1", "a") == ({"new": 5}, 6)


def test_versions_are_never_reused_across_flush(datadb):
    for version in range(3):
        datadb.cas_account("t1", "a", version, {"old": version + 1})
    datadb.flush()
    assert datadb.get_account("t1", "a") is None
    assert datadb.account_ids() == []
    for version in (0, 4):
        assert datadb.cas_account("t1", "a", version, {"new": version}).applied
    stale = datadb.cas_account("t1", "a", 2, {"stale": True})
    assert (stale.conflict, stale.version, stale.doc) == (True, 5, {"new": 4})
    assert datadb.get_account("t1", "a") == ({"new": 4}, 5)


def test_failed_creation_lists_no_account(datadb):
    datadb.cas_account("t1", "a", 0, {})
    assert datadb.cas_account("t1", "ghost", 7, {}).conflict
    assert datadb.account_ids() == ["t1:a"]


# -- session journal -------------------------------------------------------------------
def test_journal_put_replace_delete(datadb):
    datadb.journal_put("s1", {"ID": "s1", "Debited": Decimal("0.5")})
    datadb.journal_put("s2", {"ID": "s2"})
    datadb.journal_put("s1", {"ID": "s1", "Debited": Decimal("1.0")})
    records = sorted(datadb.journal_all(), key=lambda record: record["ID"])
    assert records == [{"ID": "s1", "Debited": Decimal("1.0")}, {"ID": "s2"}]
    datadb.journal_delete("s1")
    datadb.journal_delete("never-there")
    assert datadb.journal_all() == [{"ID": "s2"}]
    with pytest.raises(ValueError):
        datadb.journal_put("", {})


def test_journal_append_until_the_record_is_written_whole(datadb):
    datadb.journal_put("s1", {"ID": "s1"})
    datadb.journal_put("s2", {"ID": "s2"})
    datadb.journal_append("s1", [1, Decimal("0.5")])
    datadb.journal_append("s1", [2, Decimal("0.25")])
    records = sorted(datadb.journal_all(), key=lambda record: record["ID"])
    assert records == [
        {"ID": "s1", JOURNAL_APPENDED: [[1, Decimal("0.5")], [2, Decimal("0.25")]]},
        {"ID": "s2"},
    ]
    datadb.journal_put("s1", {"ID": "s1", "Debits": 2})  # holds what was appended
    datadb.journal_append("s2", [1])
    datadb.journal_delete("s2")
    datadb.journal_put("s2", {"ID": "s2"})  # a new record starts with nothing appended
    records = sorted(datadb.journal_all(), key=lambda record: record["ID"])
    assert records == [{"ID": "s1", "Debits": 2}, {"ID": "s2"}]
    with pytest.raises(ValueError):
        datadb.journal_append("", [])
