"""The embedded DataDB's idempotency records: they expire, and expiring frees them."""

import time

import pytest

from fs_cgr.storage import open_datadb
from fs_cgr.storage.memory import MemoryDataDB


def test_expired_records_are_freed_and_their_keys_apply_again():
    db = open_datadb("internal://?idempotency_ttl=0.2")
    assert isinstance(db, MemoryDataDB) and db.idempotency_ttl == 0.2
    for n in range(1, 101):
        assert db.cas_account("cgrates.org", "1001", n - 1, {"n": n}, f"debit:{n}", n).applied
    assert db.idempotency_count() == 100
    retried = db.cas_account("cgrates.org", "1001", 100, {"n": 0}, "debit:7", None)
    assert retried.duplicate and retried.stored == 7  # within the TTL: the stored answer
    time.sleep(0.25)
    # one keyed write later only its own record is left: the expired ones are gone
    assert db.cas_account("cgrates.org", "1001", 100, {"n": 101}, "debit:101", 101).applied
    assert db.idempotency_count() == 1
    again = db.cas_account("cgrates.org", "1001", 101, {"n": 102}, "debit:7", 7)
    assert again.applied and again.version == 102
    assert db.get_account("cgrates.org", "1001") == ({"n": 102}, 102)


def test_records_stay_in_expiry_order_when_a_key_comes_back():
    db = MemoryDataDB(idempotency_ttl=1.0)
    db.cas_account("cgrates.org", "1001", 0, {}, "a", 1)
    time.sleep(1.05)
    db.cas_account("cgrates.org", "1001", 1, {}, "b", 2)  # sweeps the expired "a"
    time.sleep(0.5)
    db.cas_account("cgrates.org", "1001", 2, {}, "a", 3)  # "a" again: now the newest
    time.sleep(0.6)  # "b" expired, the new "a" not yet
    db.cas_account("cgrates.org", "1001", 3, {}, "d", 4)
    assert db.idempotency_count() == 2  # "a" and "d"
    assert db.cas_account("cgrates.org", "1001", 4, {}, "a", None).stored == 3


@pytest.mark.parametrize("ttl", [0, -1])
def test_a_ttl_must_be_positive(ttl):
    with pytest.raises(ValueError, match="idempotency_ttl"):
        MemoryDataDB(idempotency_ttl=ttl)
