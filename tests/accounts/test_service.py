"""AccountService on both DataDB backends (memory and a real Redis)."""

from decimal import Decimal

import pytest

from fs_cgr.accounts.actions import ActionError
from fs_cgr.accounts.model import MONETARY, VOICE
from fs_cgr.accounts.service import AccountService
from fs_cgr.accounts.views import account_view, legacy_account_view
from fs_cgr.durations import SECOND
from fs_cgr.errors import (
    AccountDisabled,
    AccountNotFound,
    InsufficientCredit,
    InvalidArgument,
    MandatoryMissing,
    NotFound,
)
from tests.accounts.conftest import call

D = Decimal
TENANT = "cgrates.org"


def balances(service, account="1001") -> dict:
    acc = service.get_account(TENANT, account)
    return {(b.type, b.id): b.value for b in acc.iter_balances()}


def funded(service, value="10", account="1001"):
    service.add_balance(TENANT, account, MONETARY, D(value), {"ID": "main", "Weight": 10})


def test_set_get_count_remove_accounts(service):
    with pytest.raises(NotFound):
        service.get_account(TENANT, "1001")
    service.set_account(TENANT, "1001", allow_negative=True)
    service.set_account(TENANT, "1002")
    service.set_account(TENANT, "1002", disabled=True)
    assert service.account_ids(TENANT) == ["cgrates.org:1001", "cgrates.org:1002"]
    assert service.count(TENANT) == 2
    first, second = service.get_accounts(TENANT)
    assert (first.allow_negative, first.disabled) == (True, False)
    assert (second.allow_negative, second.disabled) == (False, True)
    assert [a.id for a in service.get_accounts(TENANT, offset=1, limit=5)] == ["1002"]
    assert service.remove_account(TENANT, "1001")
    assert not service.remove_account(TENANT, "1001")
    assert service.account_ids(TENANT) == ["cgrates.org:1002"]
    with pytest.raises(MandatoryMissing, match=r"\[Account\]"):
        service.set_account(TENANT, "")


def test_add_balance_tops_up_the_matching_balance_or_creates_one(service):
    funded(service, "10")
    funded(service, "2.5")
    service.add_balance(TENANT, "1001", VOICE, "90s", {"ID": "free", "DestinationIDs": "DST_1002"})
    assert balances(service) == {(MONETARY, "main"): D("12.5"), (VOICE, "free"): D(90 * SECOND)}
    service.add_balance(TENANT, "1001", MONETARY, D("1"), {"ID": "main"}, overwrite=True)
    service.add_balance(TENANT, "1001", MONETARY, D("0.25"), {"ID": "main"}, debit=True)
    assert balances(service)[(MONETARY, "main")] == D("0.75")
    free = service.get_account(TENANT, "1001").balances[VOICE][0]
    assert free.destination_ids == {"DST_1002": True}
    with pytest.raises(MandatoryMissing):
        service.add_balance(TENANT, "1001", MONETARY, 0, {"ID": "main"})


def test_set_balance_changes_fields_and_remove_balances_deletes(service):
    funded(service, "10")
    service.set_balance(TENANT, "1001", MONETARY, D("3"), {"ID": "main", "Weight": 30})
    acc = service.get_account(TENANT, "1001")
    assert (acc.balances[MONETARY][0].value, acc.balances[MONETARY][0].weight) == (3, 30)
    service.set_balance(
        TENANT, "1001", MONETARY, None, {"ID": "bonus", "Value": 1, "ExpiryTime": "*monthly"}
    )
    bonus = service.get_account(TENANT, "1001").balances[MONETARY][1]
    assert bonus.value == 1 and bonus.expiry is not None
    with pytest.raises(MandatoryMissing):
        service.set_balance(TENANT, "1001", MONETARY, D("1"), {"Weight": 1})
    with pytest.raises(InvalidArgument):
        service.set_balance(TENANT, "1001", MONETARY, D("1"), {"ID": "x", "ExpiryTime": "soon"})
    service.remove_balances(TENANT, "1001", MONETARY, {"ID": "bonus"})
    assert balances(service) == {(MONETARY, "main"): D("3")}
    with pytest.raises(ActionError, match="NOT_FOUND"):
        service.remove_balances(TENANT, "1001", MONETARY, {"ID": "bonus"})
    with pytest.raises(NotFound):
        service.remove_balances(TENANT, "nobody", MONETARY, {"ID": "bonus"})


def test_debit_and_refund_change_the_stored_account(service):
    funded(service, "10")
    result = service.debit(call("1002", 90 * SECOND), "s1:1")
    assert result.cost == D("0.65010") and result.key == "s1:1"
    assert balances(service) == {(MONETARY, "main"): D("9.34990")}
    refund = service.refund(result, 70 * SECOND, "s1:refund")
    assert refund.cost == D("0.03340")
    assert balances(service) == {(MONETARY, "main"): D("9.38330")}


def test_retried_debit_and_refund_apply_once(service):
    funded(service, "10")
    first = service.debit(call("1002", 90 * SECOND), "s1:1")
    again = service.debit(call("1002", 90 * SECOND), "s1:1")
    assert again == first
    assert balances(service) == {(MONETARY, "main"): D("9.34990")}
    refund = service.refund(first, 0, "s1:r")
    assert service.refund(first, 0, "s1:r") == refund
    assert balances(service) == {(MONETARY, "main"): D("10")}
    service.debit(call("1002", 90 * SECOND), "s1:2")
    assert balances(service) == {(MONETARY, "main"): D("9.34990")}


def test_debit_refusals(service):
    with pytest.raises(AccountNotFound):
        service.debit(call("1002", 60 * SECOND))
    funded(service, "1")
    with pytest.raises(InsufficientCredit):
        service.debit(call("1002", 600 * SECOND), allow_partial=False)
    assert balances(service) == {(MONETARY, "main"): D("1")}
    partial = service.debit(call("1002", 600 * SECOND))
    assert partial.usage == 299 * SECOND
    service.set_account(TENANT, "1001", disabled=True)
    with pytest.raises(AccountDisabled):
        service.debit(call("1002", 60 * SECOND))


def test_debit_can_go_negative_when_asked(service):
    funded(service, "0.5")
    service.debit(call("1002", 90 * SECOND), allow_negative=True)
    assert balances(service) == {
        (MONETARY, "main"): D("0.1"),
        (MONETARY, "*default"): D("-0.25010"),
    }


def test_adjust_charges_and_credits(service):
    funded(service, "1")
    service.adjust(TENANT, "1001", D("0.0098"), "s1:round")
    service.adjust(TENANT, "1001", D("0.0098"), "s1:round")
    assert balances(service) == {(MONETARY, "main"): D("0.9902")}
    with pytest.raises(InsufficientCredit):
        service.adjust(TENANT, "1001", D("2"))
    service.adjust(TENANT, "1001", D("-0.0002"))
    assert balances(service) == {
        (MONETARY, "main"): D("0.9902"),
        (MONETARY, "*default"): D("0.0002"),
    }


def test_max_usage(service):
    funded(service, "1")
    assert service.max_usage(call("1002", 3600 * SECOND)) == 299 * SECOND
    assert service.max_usage(call("1002", 3600 * SECOND), cap_ns=100 * SECOND) == 100 * SECOND
    service.set_account(TENANT, "1001", allow_negative=True)
    assert service.max_usage(call("1002", 3600 * SECOND)) == -1
    assert service.max_usage(call("1002", 3600 * SECOND), cap_ns=600 * SECOND) == 600 * SECOND
    with pytest.raises(AccountNotFound):
        service.max_usage(call("1002", 60 * SECOND, account="nobody"))


def test_max_usage_from_the_known_account_follows_other_writers(service):
    """max_usage starts from the account this service last wrote while the store holds that
    version, and from the stored document once another node wrote it since."""
    funded(service, "10")
    service.debit(call("1002", 90 * SECOND), "s1:1")  # now known to this service
    other = AccountService(service.node)  # a second node on the same DataDB
    asked = call("1002", 3 * 3600 * SECOND)
    first = service.max_usage(asked)
    assert first == other.max_usage(asked) == 5299 * SECOND  # 9.3499 - 0.6, then 0.00167/s
    assert service.max_usage(asked) == first  # the dry run left the known account alone
    other.debit(call("1002", 600 * SECOND), "s2:1")  # 1.5018: 7.8481 left
    assert service.max_usage(asked) == other.max_usage(asked) == 4400 * SECOND
    assert balances(service) == {(MONETARY, "main"): D("7.84810")}


def test_account_actions_run_asap_timings_in_weight_order(service):
    [acc] = service.execute_account_actions(
        [{"Tenant": TENANT, "Account": "1001", "ActionPlanId": "AP_PACKAGE", "AllowNegative": True}]
    )
    assert acc.allow_negative and acc.action_plan_ids == ["AP_PACKAGE"]  # *monthly waits
    assert balances(service) == {
        (MONETARY, "main"): D("10"),
        (VOICE, "free_minutes"): D(90 * SECOND),
    }
    free = service.get_account(TENANT, "1001").balances[VOICE][0]
    assert free.rating_subject == "*zero1m" and free.weight == 20
    service.execute_account_actions(
        [{"Tenant": TENANT, "Account": "1001", "ActionPlanId": "AP_PACKAGE"}]
    )
    # *topup_reset resets main to 10, *topup adds 90 s more
    assert balances(service) == {
        (MONETARY, "main"): D("10"),
        (VOICE, "free_minutes"): D(180 * SECOND),
    }
    with pytest.raises(NotFound):
        service.execute_account_actions([{"Tenant": TENANT, "Account": "1", "ActionPlanId": "NO"}])


def test_execute_actions(service):
    funded(service)
    service.execute_actions(TENANT, "1001", "DISABLE")
    assert service.get_account(TENANT, "1001").disabled
    with pytest.raises(NotFound):
        service.execute_actions(TENANT, "1001", "MISSING")


def test_views_print_cgrates_shapes(service):
    funded(service, "10")
    service.add_balance(TENANT, "1001", VOICE, "90s", {"ID": "free", "DestinationIDs": "DST_1002"})
    acc = service.get_account(TENANT, "1001")
    current = account_view(acc)
    assert current["ID"] == "cgrates.org:1001"
    assert current["BalanceMap"]["*monetary"][0]["ID"] == "main"
    assert current["BalanceMap"]["*monetary"][0]["Value"] == D("10")
    assert current["BalanceMap"]["*voice"][0]["Value"] == 90_000_000_000
    assert current["BalanceMap"]["*voice"][0]["DestinationIDs"] == {"DST_1002": True}
    assert current["BalanceMap"]["*voice"][0]["ExpirationDate"] == "0001-01-01T00:00:00Z"
    legacy = legacy_account_view(acc)
    assert legacy["Id"] == "*out:cgrates.org:1001"
    assert legacy["BalanceMap"]["*monetary*out"][0]["Id"] == "main"
    assert legacy["BalanceMap"]["*voice*out"][0]["DestinationIds"] == "DST_1002"


def test_retry_returns_the_stored_result_even_when_the_request_would_now_fail(service):
    funded(service, "1")
    first = service.adjust(TENANT, "1001", D("0.75"), "s9:round")
    debit = service.debit(call("1002", 60 * SECOND), "s9:1")  # 0.25 < 0.4 + 0.2: nothing
    assert balances(service) == {(MONETARY, "main"): D("0.25")} and debit.cost == 0
    assert service.adjust(TENANT, "1001", D("0.75"), "s9:round") == first  # now unaffordable
    service.set_account(TENANT, "1001", disabled=True)
    assert service.debit(call("1002", 60 * SECOND), "s9:1") == debit
    with pytest.raises(AccountDisabled):
        service.debit(call("1002", 60 * SECOND), "s9:2")
    assert balances(service) == {(MONETARY, "main"): D("0.25")}
