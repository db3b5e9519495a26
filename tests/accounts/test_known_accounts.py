"""What an AccountService remembers of the accounts it changed: stale at worst, never wrong.

Two services on one DataDB play two nodes. Each starts a change from the account
as it last knew it; the compare-and-set catches a stale copy (versions are never
reused) and the conflict hands back the current account.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from fs_cgr.accounts.model import MONETARY, Account
from fs_cgr.accounts.service import AccountService
from fs_cgr.app import LiveRating
from fs_cgr.durations import SECOND
from fs_cgr.errors import AccountDisabled, AccountNotFound
from tests.accounts.conftest import LIVE, call

D = Decimal
TENANT = "cgrates.org"


def other_node(service) -> AccountService:
    """A second service on the same DataDB, with nothing remembered."""
    return AccountService(SimpleNamespace(datadb=service.datadb, rating=LiveRating(service.datadb)))


def money(service, account="1001") -> Decimal:
    return service.get_account(TENANT, account).balances[MONETARY][0].value


def fund(service, value: str, account="1001"):
    service.add_balance(TENANT, account, MONETARY, D(value), {"ID": "main"})


def count_reads(service) -> list:
    """Record the account reads of ``service`` (the DataDB still answers them)."""
    reads = []
    read = service.datadb.get_account

    def counting(tenant, account):
        reads.append(account)
        return read(tenant, account)

    service.datadb.get_account = counting
    return reads


def test_a_known_account_is_charged_without_a_read(service):
    fund(service, "10")
    reads = count_reads(service)
    costs = [service.debit(call("1003", 5 * SECOND), f"s1:{n}").cost for n in range(5)]
    adjusted = service.adjust(TENANT, "1001", D("0.01"), "s1:adj")
    assert reads == []
    assert costs == [D("0.05")] * 5 and adjusted.value == D("9.74")
    assert money(service) == D("9.74")


def test_changes_made_elsewhere_come_back_with_the_conflict(service):
    fund(service, "10")
    node_b = other_node(service)
    service.debit(call("1003", 5 * SECOND), "a:1")
    node_b.debit(call("1003", 7 * SECOND), "b:1")
    node_b.adjust(TENANT, "1001", D("0.5"), "b:2")
    reads = count_reads(service)
    service.debit(call("1003", 3 * SECOND), "a:2")
    assert reads == []  # the conflict carried the current account
    assert money(service) == D("10") - D("0.05") - D("0.07") - D("0.5") - D("0.03")


@pytest.mark.parametrize("wipe", ["remove", "flush"])
def test_a_copy_of_an_account_gone_since_is_never_written(service, wipe):
    """Node A remembers the account at some version; B wipes it and builds a new one up to
    the same number of writes. Were versions reused, A's copy would pass the check."""
    fund(service, "10")
    service.debit(call("1003", 5 * SECOND), "a:1")
    node_b = other_node(service)
    if wipe == "remove":
        node_b.remove_account(TENANT, "1001")
    else:
        service.datadb.flush()
        service.datadb.write_live(
            (kind, obj_id, doc) for kind, objs in LIVE.items() for obj_id, doc in objs.items()
        )
    fund(node_b, "1")
    node_b.adjust(TENANT, "1001", D("0.25"), "b:1")
    service.debit(call("1003", 5 * SECOND), "a:2")
    assert money(service) == D("1") - D("0.25") - D("0.05")


def test_a_stale_copy_never_decides_a_refusal(service):
    fund(service, "0.05")
    node_b = other_node(service)
    assert service.debit(call("1003", 5 * SECOND), "a:1").cost == D("0.05")  # now empty
    node_b.add_balance(TENANT, "1001", MONETARY, D("1"), {"ID": "main"})
    paid = service.debit(call("1003", 10 * SECOND), "a:2", allow_partial=False)
    assert paid.cost == D("0.10")
    node_b.set_account(TENANT, "1001", disabled=True)
    with pytest.raises(AccountDisabled):
        service.debit(call("1003", SECOND), "a:3")
    node_b.remove_account(TENANT, "1001")
    with pytest.raises(AccountNotFound):
        service.adjust(TENANT, "1001", D("0.01"), "a:4")


def test_what_is_remembered_is_what_is_stored(service):
    fund(service, "10")
    service.add_balance(
        TENANT, "1001", "*voice", "90s", {"ID": "free", "DestinationIDs": "DST_1002"}
    )
    service.set_balance(
        TENANT, "1001", MONETARY, None, {"ID": "bonus", "Value": 1, "ExpiryTime": "*monthly"}
    )
    first = service.debit(call("1002", 150 * SECOND), "s:1")
    service.refund(first, 100 * SECOND, "s:2")
    service.set_account(TENANT, "1001", allow_negative=True)
    service.adjust(TENANT, "1001", D("25"), "s:3")
    remembered, version = service._known.get(f"{TENANT}:1001")
    doc, stored_version = service.datadb.get_account(TENANT, "1001")
    assert (remembered, version) == (Account.from_doc(doc), stored_version)
    assert remembered.to_doc() == doc


# --- the per-account locks -------------------------------------------------------------


def test_account_locks_take_turns_and_an_idle_lock_serves_the_next_account():
    import threading
    import time

    from fs_cgr.accounts.service import _KeyedLocks

    locks = _KeyedLocks()
    order = []

    def second():
        with locks.hold("t:1001"):
            order.append("second")

    with locks.hold("t:1001"):
        worker = threading.Thread(target=second)
        worker.start()
        deadline = time.monotonic() + 5
        while locks._locks["t:1001"][1] < 2 and time.monotonic() < deadline:
            time.sleep(0.001)  # until the second holder waits
        order.append("first")
    worker.join(5)
    assert order == ["first", "second"]
    assert locks._locks == {} and len(locks._spare) == 1
    idle = locks._spare[0]
    with locks.hold("t:1002"):  # another account: the idle lock, taken
        assert locks._locks["t:1002"][0] is idle and idle.locked()
    assert not idle.locked() and locks._spare == [idle]


def test_an_account_lock_that_could_not_be_taken_leaves_no_user_behind():
    from fs_cgr.accounts.service import _KeyedLocks

    class Interrupted(Exception):
        pass

    class Failing:
        def acquire(self):
            raise Interrupted()

    locks = _KeyedLocks()
    locks._spare.append(Failing())
    with pytest.raises(Interrupted), locks.hold("t:1001"):
        raise AssertionError("not reached")
    assert locks._locks == {}
