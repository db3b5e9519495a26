"""The dry run of max_usage over the licensed sample plans of ../shared: whichever account
object it starts from (the caller's or the document decoded again, both kept unchanged) it
gives the same usage, the one a dry-run plan_debit pays; and the one-activation shortcut of
RatingProfile.active_for_call picks what the general scan picks."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fs_cgr.accounts.debit import plan_debit
from fs_cgr.accounts.maxusage import max_usage
from fs_cgr.accounts.model import MONETARY, VOICE, Account, Balance
from fs_cgr.accounts.pricing import call_rater
from fs_cgr.durations import SECOND
from fs_cgr.errors import CGRError
from fs_cgr.rating import CallDescriptor, RatingEngine, load_folder
from fs_cgr.rating.model import active_by_scan

pytestmark = pytest.mark.shared

D = Decimal
HOUR = 3600 * SECOND


@pytest.fixture(scope="module")
def engines(tariffplans_dir):
    folders = sorted(path for path in tariffplans_dir.iterdir() if path.is_dir())
    assert folders, f"no tariff plans under {tariffplans_dir}"
    return {folder.name: RatingEngine.compile(load_folder(folder).live) for folder in folders}


def shapes(tenant: str, account: str, subject: str) -> list[Account]:
    def acc(*balances, **flags):
        result = Account(tenant, account, **flags)
        for balance in balances:
            result.add_balance(balance)
        return result

    return [
        acc(Balance("m", MONETARY, "m", D("0.5"), D(10))),
        acc(Balance("m", MONETARY, "m", D("3.3"), D(10)), Balance("n", MONETARY, "n", D("1.25"))),
        acc(Balance("m", MONETARY, "m", D("20")), Balance("v", VOICE, "v", D(90 * SECOND), D(20))),
        acc(
            Balance("m", MONETARY, "m", D("7")),
            Balance("v", VOICE, "v", D(300 * SECOND), D(20), rating_subject=subject),
        ),
        acc(
            Balance("m", MONETARY, "m", D("1"), D(10), blocker=True),
            Balance("n", MONETARY, "n", D("100"), D(5)),
        ),
    ]


def test_max_usage_is_the_same_from_every_starting_object(engines):
    checked = 0
    for engine in engines.values():
        numbers = [prefix + "123" for prefix in sorted(engine.data.destination_index._table)[:6]]
        for key in sorted(engine.data.profiles)[:4]:
            tenant, category, subject = key.split(":")[-3:]
            for number in numbers:
                for hour in (13, 23):  # the 3 h call from 23:59:30 crosses midnight
                    at = datetime(2014, 8, 4, hour, 59, 30, tzinfo=UTC)
                    cd = CallDescriptor(
                        tenant, category, subject, number, at, account=subject, usage=3 * HOUR
                    )
                    try:
                        rate, destinations = call_rater(engine, cd)
                        rate(0, None)
                    except CGRError:
                        continue  # not rated: nothing to compare
                    for account in shapes(tenant, subject, subject):
                        before = account.to_doc()
                        options = dict(at=at, category=category, destinations=destinations)
                        kept = max_usage(account, 3 * HOUR, rate, **options)
                        assert account.to_doc() == before
                        decoded = Account.from_doc(before)
                        assert max_usage(decoded, 3 * HOUR, rate, **options) == kept
                        dry = plan_debit(account, 3 * HOUR, rate, dry_run=True, **options)
                        assert account.to_doc() == before
                        assert kept == min(3 * HOUR, dry.usage)
                        checked += 1
    assert checked >= 50


def test_active_for_call_shortcut_agrees_with_the_scan(engines):
    for engine in engines.values():
        for profile in engine.data.profiles.values():
            times = sorted({a.at for a in profile.activations})
            points = {0, 2**62}
            for at in times:
                points.update((at - 1, at, at + 1))
            for start in points:
                for end in points:
                    if end < start:
                        continue
                    expected = active_by_scan(profile.activations, start, end)
                    assert tuple(profile.active_for_call(start, end)) == tuple(expected)
