"""Debit planning, refunds and max usage on the pure planners, with hand-computed money.

Prices are those of conftest.py: 1002 = connect fee 0.4, first minute 0.2 (one 60 s
increment), then 0.00167 per second.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from fs_cgr.accounts.debit import Debit, plan_adjustment, plan_debit, plan_refund
from fs_cgr.accounts.maxusage import UNLIMITED, max_usage
from fs_cgr.accounts.model import MONETARY, VOICE, Account, Balance
from fs_cgr.durations import SECOND
from fs_cgr.errors import AccountDisabled, InsufficientCredit
from tests.accounts.conftest import T0, rater

D = Decimal


def account(*balances: Balance, **flags) -> Account:
    acc = Account("cgrates.org", "1001", **flags)
    for balance in balances:
        acc.add_balance(balance)
    return acc


def money(uuid: str, value: str, weight: int = 10, **fields) -> Balance:
    return Balance(uuid, MONETARY, uuid, D(value), D(weight), **fields)


def voice(uuid: str, seconds: int, weight: int = 20, **fields) -> Balance:
    return Balance(uuid, VOICE, uuid, D(seconds * SECOND), D(weight), **fields)


def debit(engine, acc, destination, seconds, **options) -> Debit:
    rate, destinations = rater(engine, destination, seconds * SECOND)
    return plan_debit(
        acc, seconds * SECOND, rate, at=T0, destinations=destinations, category="call", **options
    )


def values(acc: Account) -> dict:
    return {b.uuid: b.value for b in acc.iter_balances()}


def test_money_pays_connect_fee_then_increments_in_order(engine):
    acc = account(money("main", "10"))
    result = debit(engine, acc, "1002", 90)
    assert result.cost == D("0.65010")  # 0.4 + 0.2 + 30 * 0.00167
    assert result.usage == 90 * SECOND and result.complete
    assert values(acc) == {"main": D("9.34990")}
    assert [(c.start, c.duration, c.count, c.cost) for c in result.charges] == [
        (0, 0, 1, D("0.4")),
        (0, 60 * SECOND, 1, D("0.2")),
        (60 * SECOND, SECOND, 30, D("0.00167")),
    ]


def test_voice_balance_pays_first_rounded_to_its_step_then_money(engine):
    # *zero1m: 150 s needs 3 minutes, the balance holds 1.5: it pays one minute.
    free = voice("free", 90, rating_subject="*zero1m", destination_ids={"DST_1002": True})
    acc = account(money("main", "10"), free)
    result = debit(engine, acc, "1002", 150)
    # the remaining 90 s continue the call: no connect fee, second tier (0.00167/s)
    assert result.cost == D("0.15030")
    assert values(acc) == {"main": D("9.84970"), "free": D(30 * SECOND)}
    assert result.charges[0].units_uuid == "free" and result.charges[0].units == 60 * SECOND
    assert result.usage == 150 * SECOND


def test_free_voice_balance_rounds_usage_up_to_its_step(engine):
    acc = account(money("main", "10"), voice("free", 300, rating_subject="*zero1m"))
    result = debit(engine, acc, "1002", 90)
    assert result.cost == 0 and result.usage == 120 * SECOND
    assert values(acc) == {"main": D("10"), "free": D(180 * SECOND)}


def test_voice_balance_without_subject_counts_seconds(engine):
    acc = account(money("main", "10"), voice("free", 30))
    result = debit(engine, acc, "1002", 50)
    # 30 s from the voice balance (*zero1s), then the first 60 s increment of the plan
    assert values(acc) == {"main": D("9.8"), "free": D(0)}
    assert result.usage == 90 * SECOND and result.cost == D("0.2")


def test_higher_weight_voice_balance_is_used_first(engine):
    acc = account(voice("low", 600, weight=10), voice("high", 60, weight=30), money("m", "1"))
    debit(engine, acc, "1002", 90)
    assert values(acc) == {"low": D(570 * SECOND), "high": D(0), "m": D("1")}


def test_voice_balance_with_its_own_rating_subject_pays_units_and_money(engine):
    special = voice("special", 120, rating_subject="SPECIAL", destination_ids={"DST_1002": True})
    acc = account(money("main", "1"), special)
    result = debit(engine, acc, "1002", 90)
    # SPECIAL rates 1002 at 0.05 per minute in 60 s increments, no connect fee
    assert values(acc) == {"main": D("0.90"), "special": D(0)}
    assert result.cost == D("0.10") and result.usage == 120 * SECOND


def test_destination_restricted_balance_matches_longest_prefix_before_weight(engine):
    acc = account(
        money("general", "5", weight=10),
        money("de_only", "1", weight=5, destination_ids={"DST_DE": True}),
    )
    debit(engine, acc, "4917123", 120)  # 2 minutes at 0.06
    assert values(acc) == {"general": D("5"), "de_only": D("0.88")}
    debit(engine, acc, "1002", 60)
    assert values(acc) == {"general": D("4.4"), "de_only": D("0.88")}


def test_excluded_destination_is_never_paid_by_that_balance(engine):
    not_mobile = money("not_mobile", "1", weight=20, destination_ids={"DST_DE_MOBILE": False})
    acc = account(money("general", "5"), not_mobile)
    debit(engine, acc, "4917123", 60)
    assert values(acc) == {"general": D("4.94"), "not_mobile": D("1")}
    debit(engine, acc, "4930123", 60)
    assert values(acc) == {"general": D("4.94"), "not_mobile": D("0.94")}


def test_expired_and_disabled_balances_are_never_used(engine):
    acc = account(
        money("expired", "5", weight=30, expiry=T0 - timedelta(seconds=1)),
        money("disabled", "5", weight=20, disabled=True),
        money("valid", "5", weight=10, expiry=T0 + timedelta(days=1)),
    )
    debit(engine, acc, "1002", 60)
    assert values(acc) == {"expired": D("5"), "disabled": D("5"), "valid": D("4.4")}


def test_category_restricted_balance_serves_its_category_only(engine):
    acc = account(money("main", "5"), money("sms", "5", weight=20, categories={"sms": True}))
    debit(engine, acc, "1002", 60)
    assert values(acc) == {"main": D("4.4"), "sms": D("5")}


def test_money_splits_across_balances_by_weight(engine):
    acc = account(money("first", "0.65", weight=20), money("second", "1", weight=10))
    result = debit(engine, acc, "1002", 90)
    # first pays 0.4 + 0.2 + 29 * 0.00167; the 30th second no longer fits: second pays it
    assert values(acc) == {"first": D("0.00157"), "second": D("0.99833")}
    assert result.cost == D("0.65010")


def test_partial_debit_stops_at_last_whole_paid_increment(engine):
    acc = account(money("main", "1"))
    result = debit(engine, acc, "1002", 300)
    # 1 - 0.6 = 0.4 pays 239 seconds of 0.00167
    assert result.usage == 299 * SECOND and not result.complete
    assert result.cost == D("0.99913")
    assert values(acc) == {"main": D("0.00087")}


def test_no_usage_paid_means_no_connect_fee_either(engine):
    acc = account(money("main", "0.5"))
    result = debit(engine, acc, "1002", 90)
    assert result.usage == 0 and result.cost == 0 and result.charges == []
    assert values(acc) == {"main": D("0.5")}


def test_allow_negative_charges_the_rest_to_the_default_balance(engine):
    acc = account(money("main", "0.5"))
    result = debit(engine, acc, "1002", 90, allow_negative=True)
    assert result.complete and result.cost == D("0.65010")
    default = next(b for b in acc.iter_balances() if b.id == "*default")
    assert values(acc) == {"main": D("0.1"), default.uuid: D("-0.25010")}


def test_disabled_account_refuses_debits(engine):
    with pytest.raises(AccountDisabled):
        debit(engine, account(money("main", "10"), disabled=True), "1002", 60)


def test_refund_returns_exactly_the_unused_increments(engine):
    acc = account(money("main", "1"))
    result = debit(engine, acc, "1002", 300)
    refund = plan_refund(acc, result, 100 * SECOND)
    assert refund.usage == 199 * SECOND and refund.cost == D("0.33233")
    assert values(acc) == {"main": D("0.33320")}
    kept = result.trimmed(100 * SECOND)
    assert kept.usage == 100 * SECOND and kept.cost == D("0.66680")
    plan_refund(acc, kept, 0)  # nothing kept: everything comes back, the connect fee too
    assert values(acc) == {"main": D("1")}


def test_refund_keeps_an_increment_that_was_started(engine):
    acc = account(money("main", "10"))
    result = debit(engine, acc, "1002", 60)
    refund = plan_refund(acc, result, 30 * SECOND)
    assert refund.usage == 0 and refund.cost == 0
    assert values(acc) == {"main": D("9.4")}


def test_refund_gives_units_back_to_the_voice_balance(engine):
    free = voice("free", 90, rating_subject="*zero1m", destination_ids={"DST_1002": True})
    acc = account(money("main", "10"), free)
    result = debit(engine, acc, "1002", 150)
    refund = plan_refund(acc, result, 0)
    assert refund.units == {"free": D(60 * SECOND)} and refund.money == {"main": D("0.15030")}
    assert values(acc) == {"main": D("10.00000"), "free": D(90 * SECOND)}


def test_refund_to_a_removed_balance_is_reported(engine):
    acc = account(money("main", "10"))
    result = debit(engine, acc, "1002", 90)
    acc.balances[MONETARY] = [money("other", "1")]
    refund = plan_refund(acc, result, 0)
    assert refund.missing == ["main"] and refund.cost == 0
    assert values(acc) == {"other": D("1")}


def test_debit_record_round_trips_through_its_document(engine):
    result = debit(engine, account(money("main", "10"), voice("v", 30)), "1002", 90)
    assert Debit.from_doc(result.to_doc()) == result


def max_for(engine, acc, destination, seconds) -> int:
    rate, destinations = rater(engine, destination, seconds * SECOND)
    return max_usage(acc, seconds * SECOND, rate, at=T0, destinations=destinations, category="call")


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("1", 299),  # 0.4 + 0.2, then 239 s at 0.00167
        ("0.6", 60),  # connect fee and the first minute exactly
        ("0.59999", 0),  # connect fee, but not the first whole increment
        ("0.3", 0),  # not even the connect fee
        ("0", 0),
        ("-5", 0),
        ("100", 3600),  # everything asked for
    ],
)
def test_max_usage_counts_connect_fee_and_whole_increments(engine, value, seconds):
    acc = account(money("main", value))
    assert max_for(engine, acc, "1002", 3600) == seconds * SECOND
    assert values(acc) == {"main": D(value)}  # a dry run changes nothing


def test_max_usage_adds_voice_balances(engine):
    acc = account(money("main", "0"), voice("free", 90))
    assert max_for(engine, acc, "1002", 3600) == 90 * SECOND


def test_max_usage_of_free_destination_needs_no_money(engine):
    assert max_for(engine, account(money("main", "0")), "1005", 600) == 600 * SECOND


def test_max_cost_disconnect_caps_max_usage(engine):
    # 0.01 per second, MaxCost 0.12: the 13th second would start at cost 0.12
    assert max_for(engine, account(money("main", "10")), "1003", 600) == 12 * SECOND


def test_max_cost_disconnect_still_charges_a_real_debit(engine):
    acc = account(money("main", "10"))
    result = debit(engine, acc, "1003", 20)
    assert result.max_cost_reached and result.cost == D("0.20")


def test_max_cost_free_makes_later_increments_free(engine):
    acc = account(money("main", "1"))
    result = debit(engine, acc, "1004", 60)
    assert result.cost == D("0.05") and result.usage == 60 * SECOND
    assert values(acc) == {"main": D("0.95")}
    assert max_for(engine, account(money("main", "0.05")), "1004", 600) == 600 * SECOND


def test_max_usage_is_unlimited_for_accounts_allowed_negative(engine):
    assert max_for(engine, account(allow_negative=True), "1002", 60) == UNLIMITED


def test_max_usage_refuses_disabled_account(engine):
    with pytest.raises(AccountDisabled):
        max_for(engine, account(money("main", "10"), disabled=True), "1002", 60)


def test_adjustment_charges_and_credits_money():
    acc = account(money("main", "1"), money("small", "0.001", weight=20))
    charged = plan_adjustment(acc, D("0.0098"), at=T0)
    assert charged.balance_uuid == "main" and values(acc)["main"] == D("0.9902")
    credited = plan_adjustment(acc, D("-0.5"), at=T0, balance_uuid="small")
    assert credited.value == D("0.501")
    with pytest.raises(InsufficientCredit):
        plan_adjustment(acc, D("5"), at=T0)
    assert values(acc) == {"main": D("0.9902"), "small": D("0.501")}


def test_connect_fee_is_paid_once_when_a_rated_voice_balance_cannot_pay(engine):
    # The balance's own rating (like 1001's) starts with the connect fee, then a 60 s
    # increment the 30 s balance cannot pay: money pays the call, connect fee once.
    rated = voice("rated", 30, rating_subject="SAME_AS_1001")
    acc = account(money("main", "10"), rated)
    result = debit(engine, acc, "1002", 60)
    assert result.cost == D("0.6")
    assert values(acc) == {"main": D("9.4"), "rated": D(30 * SECOND)}
