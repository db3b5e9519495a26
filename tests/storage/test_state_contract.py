"""The DataDB's state documents (stat queues, thresholds): compare-and-set, on memory and Redis."""

from decimal import Decimal

from fs_cgr.storage.base import STAT_QUEUES, THRESHOLDS
from fs_cgr.storage.state import UNCHANGED, update_state


def test_cas_state_creates_updates_and_removes(datadb):
    assert datadb.get_state(STAT_QUEUES, "t:q") is None
    created = datadb.cas_state(STAT_QUEUES, "t:q", 0, {"Sum": Decimal("1.5")})
    assert created.applied and created.version == 1
    assert datadb.get_state(STAT_QUEUES, "t:q") == ({"Sum": Decimal("1.5")}, 1)
    stale = datadb.cas_state(STAT_QUEUES, "t:q", 0, {"Sum": 9})
    assert stale.conflict and stale.version == 1 and stale.doc == {"Sum": Decimal("1.5")}
    assert datadb.cas_state(STAT_QUEUES, "t:q", 1, {"Sum": 2}).version == 2
    assert datadb.state_ids(STAT_QUEUES) == ["t:q"]
    assert datadb.state_ids(THRESHOLDS) == []
    assert datadb.cas_state(STAT_QUEUES, "t:q", 2, None).applied
    assert datadb.get_state(STAT_QUEUES, "t:q") is None
    assert datadb.state_ids(STAT_QUEUES) == []
    again = datadb.cas_state(STAT_QUEUES, "t:q", 0, {"Sum": 0})
    assert again.version == 4  # the counter outlives the removal: no version comes back


def test_update_state_recomputes_on_a_concurrent_change(datadb):
    datadb.cas_state(THRESHOLDS, "t:th", 0, {"Hits": 0})
    calls = []

    def add_hit(doc):
        calls.append(doc["Hits"])
        if len(calls) == 1:  # another writer gets in between read and write
            datadb.cas_state(THRESHOLDS, "t:th", 1, {"Hits": 10})
        return {"Hits": doc["Hits"] + 1}, doc["Hits"] + 1

    assert update_state(datadb, THRESHOLDS, "t:th", add_hit) == 11
    assert calls == [0, 10]
    assert datadb.get_state(THRESHOLDS, "t:th")[0] == {"Hits": 11}
    assert update_state(datadb, THRESHOLDS, "t:th", lambda doc: (UNCHANGED, "kept")) == "kept"
    assert datadb.get_state(THRESHOLDS, "t:th")[1] == 3  # UNCHANGED wrote nothing
