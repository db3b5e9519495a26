"""GetCost rules, each checked against a hand-computed price (see conftest for the plan)."""

import datetime as dt
from decimal import Decimal

import pytest

from fs_cgr.errors import NotFound, UnauthorizedDestination
from fs_cgr.rating import CallDescriptor, Increment, RatingEngine, load_folder
from fs_cgr.rating.errors import RatingPlanNotFound

from .plans import MONDAY_1PM, seconds, write_folder

UTC = dt.timezone.utc


def test_per_second_rate_rounds_each_increment_to_5_decimals(cost):
    # 30 s of 0.25/min: round5(0.125 / 30) = 0.00417 per second -> 0.1251, not 0.125
    cc = cost("61412345", 30)
    assert cc.cost == Decimal("0.1251")
    assert cc.usage == seconds(30)
    assert cc.timespans[0].increments[1:] == [Increment(seconds(1), Decimal("0.00417"), 30)]


def test_per_minute_rate_rounds_usage_up_to_the_increment(cost):
    assert cost("6190000", 60).cost == Decimal("0.25")
    sixty_one = cost("6190000", 61)
    assert sixty_one.cost == Decimal("0.50")
    assert sixty_one.usage == seconds(120)  # rated usage, beyond the call's end


def test_tiers_follow_group_interval_start(cost):
    # RT_20CNT: 0.4 fee + 0.2 for the first minute + 60 * round5(0.1/60) = 0.7002
    two_minutes = cost("4912345", 120)
    assert two_minutes.cost == Decimal("0.7002")
    assert [ts.duration for ts in two_minutes.timespans] == [seconds(60), seconds(60)]
    assert cost("4912345", 130).cost == Decimal("0.7169")  # 0.4 + 0.2 + 70 * 0.00167
    first_minute = cost("4912345", 20)  # one started 60 s increment
    assert (first_minute.cost, first_minute.usage) == (Decimal("0.6"), seconds(60))


def test_tiers_continue_across_requests_of_the_same_call(cost):
    first = cost("4912345", 60)
    second = cost("4912345", 60, index_s=60)
    assert first.cost == Decimal("0.6")
    assert (second.cost, second.connect_fee) == (Decimal("0.1002"), Decimal(0))


def test_connect_fee_only_at_call_start(cost):
    first = cost("4912345", 60)
    assert first.connect_fee == Decimal("0.4")
    assert first.timespans[0].increments[0] == Increment(0, Decimal("0.4"), 1)
    later = cost("4912345", 10, index_s=120)
    assert all(inc.duration > 0 for inc in later.iter_increments())
    assert later.cost == Decimal("0.0167")


def test_connect_fee_only_rate_costs_the_fee_whatever_the_length(cost):
    assert cost("6121234", 1).cost == Decimal(20)
    assert cost("6131234", 3600).cost == Decimal(20)


def test_rate_in_cents_per_minute(cost):
    # 123 s in 60 s steps = 3 increments of 22
    cc = cost("441234", 123)
    assert cc.cost == Decimal(66)
    assert cc.usage == seconds(180)


def test_longest_prefix_wins(cost):
    assert cost("61412345", 60).timespans[0].destination_id == "DST_AU_MOB"
    assert cost("61412345", 60).timespans[0].prefix == "614"
    assert cost("61512345", 60).timespans[0].destination_id == "DST_AU"
    assert cost("61512345", 60).cost == Decimal("0.25")


def test_call_crossing_peak_end_is_split(cost):
    start = dt.datetime(2024, 6, 3, 18, 59, tzinfo=UTC)  # Monday, PEAK until 19:00
    cc = cost("39123", 120, start=start)
    # 60 s at 0.6/min + 60 s at 0.3/min (tier continues: same slot)
    assert cc.cost == Decimal("0.9")
    assert [(ts.start.hour, ts.start.minute) for ts in cc.timespans] == [(18, 59), (19, 0)]
    assert [ts.rating.rates_id for ts in cc.timespans] == ["RT_PEAK", "RT_OFF"]
    assert [ts.timing.id for ts in cc.timespans] == ["PEAK", "OFFPEAK_EVENING"]


def test_call_crossing_into_peak_and_weekend(cost):
    morning = cost("39123", 120, start=dt.datetime(2024, 6, 3, 7, 59, tzinfo=UTC))
    assert [ts.rating.rates_id for ts in morning.timespans] == ["RT_OFF", "RT_PEAK"]
    assert morning.cost == Decimal("0.9")
    # Friday 23:59 -> Saturday: off-peak evening, then weekend (split at midnight)
    weekend = cost("39123", 120, start=dt.datetime(2024, 6, 7, 23, 59, tzinfo=UTC))
    assert [ts.timing.id for ts in weekend.timespans] == ["OFFPEAK_EVENING", "WEEKEND"]
    assert weekend.cost == Decimal("0.6")
    assert cost("39123", 60, start=dt.datetime(2024, 6, 8, 13, tzinfo=UTC)).cost == Decimal("0.3")


def test_midnight_splits_and_each_part_rounds_to_increments(cost):
    start = dt.datetime(2024, 6, 3, 23, 59, 30, tzinfo=UTC)
    per_second = cost("61412345", 60, start=start)
    assert len(per_second.timespans) == 2
    assert per_second.cost == Decimal("0.2502")  # each 30 s part: 30 * 0.00417 = 0.1251
    per_minute = cost("6190000", 60, start=start)
    # the first 30 s part is rounded up to a whole minute and swallows the second part
    assert len(per_minute.timespans) == 1
    assert (per_minute.cost, per_minute.usage) == (Decimal("0.25"), seconds(60))


def test_activation_time_mid_call_switches_plan(cost):
    start = dt.datetime(2024, 6, 3, 11, 59, tzinfo=UTC)
    cc = cost("6190000", 120, subject="switcher", start=start)
    assert [ts.rating_plan_id for ts in cc.timespans] == ["RP_OLD", "RP_NEW"]
    # RP_OLD: 0.25 per started minute; RP_NEW from 12:00: 0.3/min per second
    assert cc.cost == Decimal("0.55")
    after = cost("6190000", 60, subject="switcher", start=dt.datetime(2024, 6, 3, 12, tzinfo=UTC))
    assert (after.cost, after.timespans[0].rating_plan_id) == (Decimal("0.3"), "RP_NEW")


def test_call_starting_before_the_first_activation_uses_any_until_then(cost):
    cc = cost("61412345", 60, subject="newcomer")
    assert [ts.subject for ts in cc.timespans] == [
        "*out:cgrates.org:call:*any",
        "*out:cgrates.org:call:newcomer",
    ]
    # 30 s of RT_25_PS (30 * 0.00417) + 30 s of RT_OFF (30 * 0.005)
    assert cc.cost == Decimal("0.2751")


def test_subject_without_profile_uses_any(cost):
    cc = cost("61412345", 30, subject="nobody")
    assert cc.timespans[0].subject == "*out:cgrates.org:call:*any"
    assert cc.cost == Decimal("0.1251")


def test_subject_with_profile_but_unrated_destination_is_unauthorized(cost):
    assert cost("1555", 60, subject="us_only").cost == Decimal("0.2502")  # 60 * 0.00417
    with pytest.raises(UnauthorizedDestination) as caught:
        cost("61412345", 60, subject="us_only")
    assert caught.value.message == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"


def test_fallback_subject_rates_what_the_own_plan_does_not(cost):
    own = cost("1555", 60, subject="us_fallback")
    assert own.timespans[0].subject == "*out:cgrates.org:call:us_fallback"
    fallen = cost("61412345", 30, subject="us_fallback")
    assert fallen.timespans[0].subject == "*out:cgrates.org:call:*any"
    assert fallen.cost == Decimal("0.1251")


def test_any_destination_in_plan_catches_the_rest(cost):
    assert cost("1555", 60, subject="with_any").timespans[0].destination_id == "DST_US"
    other = cost("99999", 60, subject="with_any")
    assert (other.timespans[0].destination_id, other.timespans[0].prefix) == ("*any", "*any")
    assert other.cost == Decimal(20)


def test_unknown_destination_is_an_error_never_free(cost):
    with pytest.raises(UnauthorizedDestination):
        cost("999", 60)
    with pytest.raises(UnauthorizedDestination):  # DST_UNRATED exists but no plan rates it
        cost("7123", 60)


def test_profile_activated_after_the_call_rates_nothing(cost):
    with pytest.raises(UnauthorizedDestination):
        cost("1555", 60, subject="late")


def test_no_profile_at_all_is_rating_plan_not_found(engine):
    cd = CallDescriptor("other.org", "call", "1001", "61412345", MONDAY_1PM, usage=seconds(60))
    with pytest.raises(RatingPlanNotFound) as caught:
        engine.get_cost(cd)
    assert isinstance(caught.value, NotFound)
    assert caught.value.message == "SERVER_ERROR: RATING_PLAN_NOT_FOUND"


def test_zero_usage_costs_nothing_and_raises_nothing(cost):
    assert cost("61412345", 0).cost == 0
    assert cost("999", 0).cost == 0


def test_rounding_and_max_cost_are_kept_not_applied(cost):
    fee = cost("6121234", 3600)
    rating = fee.timespans[0].rating
    assert (rating.max_cost, rating.max_cost_strategy) == (Decimal("0.12"), "*disconnect")
    assert fee.cost == Decimal(20)  # MaxCost does not cap GetCost
    cents = cost("441234", 60 * 30)
    assert cents.cost == Decimal(660)  # the EventCost of GetCost is never capped
    assert cents.longest_rounding() == (2, "*middle")
    assert cents.rounded_cost() == Decimal(50)  # *free MaxCost 50 caps the rated cost
    assert cost("441234", 60).rounded_cost() == Decimal(22)
    per_second = cost("61412345", 30)
    assert per_second.longest_rounding() == (4, "*up")
    assert cost("61412345", 7).rounded_cost() == Decimal("0.0292")  # 7 * 0.00417 = 0.02919


def test_iter_increments_expands_in_call_order(cost):
    cc = cost("4912345", 62)
    expanded = list(cc.iter_increments())
    assert expanded[0] == Increment(0, Decimal("0.4"), 1)
    assert expanded[1] == Increment(seconds(60), Decimal("0.2"), 1)
    assert expanded[2:] == [Increment(seconds(1), Decimal("0.00167"), 1)] * 2
    assert sum(inc.cost for inc in expanded) == cc.cost


def test_sms_units_in_nanoseconds(tmp_path):
    folder = write_folder(
        tmp_path,
        {
            "Destinations.csv": "DST_ALL,1\n",
            "Rates.csv": "RT_SMS,0,0.01,1,1,0\n",
            "DestinationRates.csv": "DR_SMS,*any,RT_SMS,*up,4,0,\n",
            "RatingPlans.csv": "RP_SMS,DR_SMS,*any,10\n",
            "RatingProfiles.csv": "cgrates.org,sms,*any,2014-01-01T00:00:00Z,RP_SMS,\n",
        },
    )
    engine = RatingEngine.compile(load_folder(folder).live)
    cd = CallDescriptor("cgrates.org", "sms", "1001", "1002", MONDAY_1PM, usage=3)
    assert engine.get_cost(cd).cost == Decimal("0.03")


def test_destination_choice_by_weight_and_active_timing(tmp_path):
    folder = write_folder(
        tmp_path,
        {
            "Destinations.csv": "DST_A,49\nDST_B,49\nDST_C,4\n",
            "Timings.csv": "PEAK,*any,*any,*any,1;2;3;4;5,08:00:00\n",
            "Rates.csv": "RT_1,0,1,60s,60s,0s\nRT_2,0,2,60s,60s,0s\nRT_3,0,3,60s,60s,0s\n",
            "DestinationRates.csv": (
                "DR_A,DST_A,RT_1,*up,4,0,\nDR_B,DST_B,RT_2,*up,4,0,\nDR_C,DST_C,RT_3,*up,4,0,\n"
            ),
            "RatingPlans.csv": (
                "RP_WEIGHT,DR_A,*any,10\nRP_WEIGHT,DR_B,*any,20\n"
                "RP_TIMED,DR_A,PEAK,10\nRP_TIMED,DR_C,*any,10\n"
            ),
            "RatingProfiles.csv": (
                "cgrates.org,call,weighed,2014-01-01T00:00:00Z,RP_WEIGHT,\n"
                "cgrates.org,call,timed,2014-01-01T00:00:00Z,RP_TIMED,\n"
            ),
        },
    )
    engine = RatingEngine.compile(load_folder(folder).live)

    def price(subject, hour):
        start = dt.datetime(2024, 6, 3, hour, tzinfo=UTC)
        cd = CallDescriptor("cgrates.org", "call", subject, "4912", start, usage=seconds(60))
        ts = engine.get_cost(cd).timespans[0]
        return ts.destination_id, ts.prefix, ts.cost

    assert price("weighed", 13) == ("DST_B", "49", Decimal(2))
    assert price("timed", 13) == ("DST_A", "49", Decimal(1))
    # at 03:00 DST_A has no active timing: the shorter prefix of DST_C rates the call
    assert price("timed", 3) == ("DST_C", "4", Decimal(3))
