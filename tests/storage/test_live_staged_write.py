"""Big live writes (more than LIVE_CHUNK changes) go in steps but stay all-or-nothing:
another reader, on this node or another, sees the old plan or the new one, never a mix;
a failure or a concurrent write leaves nothing half-done."""

import threading

import pytest

from fs_cgr.storage import checks, memory, open_datadb, redis_datadb
from fs_cgr.storage.base import DESTINATIONS, RATES
from fs_cgr.storage.checks import LIVE_CHUNK

SIZE = 3 * LIVE_CHUNK + 7  # four chunks


def _plan(generation: int, size: int = SIZE) -> list:
    return [(DESTINATIONS, f"D{n}", {"Gen": generation, "N": n}) for n in range(size)]


def _other_node(datadb_url, datadb):
    """A second view of the same DataDB, as another node has it."""
    if datadb_url == "internal://":
        return datadb
    return open_datadb(datadb_url, prefix=datadb.prefix)


def test_a_big_write_applies_everything_at_once_and_keeps_other_objects(datadb):
    datadb.write_live([(RATES, "R1", {"ID": "R1"}), (DESTINATIONS, "KEEP", {"Gen": 0})])
    start = datadb.live_version()
    changes = _plan(1) + [(DESTINATIONS, "D5", None), (RATES, "R1", None)]
    assert datadb.write_live(changes) == start + 1 == datadb.live_version()
    live = datadb.read_live([DESTINATIONS, RATES])
    assert len(live[DESTINATIONS]) == SIZE  # SIZE new, D5 deleted again, KEEP kept
    assert live[DESTINATIONS]["KEEP"] == {"Gen": 0} and "D5" not in live[DESTINATIONS]
    assert live[DESTINATIONS]["D7"] == {"Gen": 1, "N": 7}
    assert live[RATES] == {}


def test_a_reader_never_sees_half_a_big_write(datadb_url, datadb):
    datadb.write_live(_plan(1))
    reader = _other_node(datadb_url, datadb)
    seen: list[set] = []
    writing = threading.Event()
    writing.set()

    def read():
        while writing.is_set():
            docs = reader.read_live([DESTINATIONS])[DESTINATIONS]
            seen.append({(doc["Gen"], len(docs)) for doc in docs.values()})

    thread = threading.Thread(target=read)
    thread.start()
    generation = 1
    try:
        while len(seen) < 4 and generation < 30:  # until the reader ran during the writes
            generation += 1
            datadb.write_live(_plan(generation))
    finally:
        writing.clear()
        thread.join()
        if reader is not datadb:
            reader.close()
    assert len(seen) >= 4
    assert all(state <= {(gen, SIZE) for gen in range(1, generation + 1)} for state in seen)
    assert all(len(state) == 1 for state in seen), [s for s in seen if len(s) != 1][:1]
    assert datadb.read_live([DESTINATIONS])[DESTINATIONS]["D1"]["Gen"] == generation


def test_a_big_write_failing_in_its_last_chunk_leaves_the_old_plan(datadb_url, datadb):
    datadb.write_live(_plan(1))
    before = datadb.live_version()
    with pytest.raises(ValueError):
        datadb.write_live(_plan(2) + [("no_such_kind", "X", {})])
    assert datadb.live_version() == before
    docs = datadb.read_live([DESTINATIONS])[DESTINATIONS]
    assert {doc["Gen"] for doc in docs.values()} == {1} and len(docs) == SIZE
    if datadb_url != "internal://":
        assert not list(datadb._client.scan_iter(match=f"{datadb.prefix}:*staging*"))


def test_a_write_of_another_node_during_a_big_write_is_kept(datadb_url, datadb, monkeypatch):
    """The big write is built again on top of it (the live version moved meanwhile)."""
    other = _other_node(datadb_url, datadb)
    module = memory if datadb_url == "internal://" else redis_datadb
    interfered = []

    def chunks_with_a_write_between(changes, size=LIVE_CHUNK):
        for number, chunk in enumerate(checks.encoded_chunks(changes, size)):
            if number == 1 and not interfered:
                interfered.append(other.write_live([(RATES, "R_OTHER", {"ID": "R_OTHER"})]))
            yield chunk

    monkeypatch.setattr(module, "encoded_chunks", chunks_with_a_write_between)
    version = datadb.write_live(_plan(1))
    assert interfered and version == interfered[0] + 1
    live = datadb.read_live([DESTINATIONS, RATES])
    assert live[RATES] == {"R_OTHER": {"ID": "R_OTHER"}} and len(live[DESTINATIONS]) == SIZE
    if other is not datadb:
        other.close()
