"""How long a call may last on what an account holds (CGrateS' GetMaxSessionDuration)."""

from datetime import datetime
from decimal import Decimal

from fs_cgr.accounts.debit import RateFn, plan_debit
from fs_cgr.accounts.model import Account
from fs_cgr.accounts.selection import DestinationMatches
from fs_cgr.errors import AccountDisabled
from fs_cgr.money import ZERO

UNLIMITED = -1


def max_usage(
    account: Account,
    usage: int,
    rate: RateFn,
    *,
    at: datetime,
    tor: str = "*voice",
    category: str = "",
    destinations: DestinationMatches = (),
    cost_so_far: Decimal = ZERO,
) -> int:
    """The longest part of ``usage`` ns the balances pay for in whole increments, connect fee
    included: 0 when even the connect fee is out of reach (a zero or negative balance never
    authorizes a paid call), ``usage`` when it is all covered, UNLIMITED for an account
    allowed to go negative. MaxCost *disconnect ends it where the cost reaches MaxCost.
    The account is left unchanged (plan_debit's dry run)."""
    if account.disabled:
        raise AccountDisabled()
    if account.allow_negative:
        return UNLIMITED
    debit = plan_debit(
        account,
        usage,
        rate,
        at=at,
        tor=tor,
        category=category,
        destinations=destinations,
        cost_so_far=cost_so_far,
        dry_run=True,
    )
    return min(usage, debit.usage)
