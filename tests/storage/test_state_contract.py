"""The DataDB's state documents (stat queues, thresholds): compare-and-set, on memory and Redis."""

from decimal import Decimal

from fs_cgr.storage.base import STAT_QUEUES, THRESHOLDS
from fs_cgr.storage.state import UNCHANGED, StateStore


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


def test_update_recomputes_on_a_concurrent_change(datadb):
    datadb.cas_state(THRESHOLDS, "t:th", 0, {"Hits": 0})
    store = StateStore(datadb)
    calls = []

    def add_hit(doc):
        calls.append(doc["Hits"])
        if len(calls) == 1:  # another writer gets in between read and write
            datadb.cas_state(THRESHOLDS, "t:th", 1, {"Hits": 10})
        return {"Hits": doc["Hits"] + 1}, doc["Hits"] + 1

    assert store.update(THRESHOLDS, "t:th", add_hit) == 11
    assert calls == [0, 10]
    assert datadb.get_state(THRESHOLDS, "t:th")[0] == {"Hits": 11}
    assert store.update(THRESHOLDS, "t:th", lambda doc: (UNCHANGED, "kept")) == "kept"
    assert datadb.get_state(THRESHOLDS, "t:th")[1] == 3  # UNCHANGED wrote nothing


def test_a_remembered_document_another_node_changed_costs_only_a_conflict(datadb):
    one, two = StateStore(datadb), StateStore(datadb)

    def add(doc):
        doc = doc or {"Hits": 0}
        doc["Hits"] += 1
        return doc, doc["Hits"]

    assert one.update(THRESHOLDS, "t:x", add) == 1  # one remembers version 1
    assert two.update(THRESHOLDS, "t:x", add) == 2
    hits = one.update(THRESHOLDS, "t:x", lambda doc: (UNCHANGED, doc["Hits"]))
    assert hits == 2  # a read never answers from the remembered (stale) copy
    assert two.update(THRESHOLDS, "t:x", add) == 3
    assert one.update(THRESHOLDS, "t:x", add) == 4  # stale copy: conflict, then right
    two.update(THRESHOLDS, "t:x", lambda doc: (None, None))  # removed elsewhere
    assert one.update(THRESHOLDS, "t:x", add) == 1
    assert datadb.get_state(THRESHOLDS, "t:x")[0] == {"Hits": 1}
