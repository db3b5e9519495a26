"""Which balances a call may draw from, best first (CGrateS' getBalancesForPrefix).

A balance restricted to destinations matches through the dialled number's
prefixes, longest first: the first prefix that belongs to one of the balance's
destinations decides (an excluded "!DST" there rejects the balance), and a
longer matched prefix ranks the balance before any weight does.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from fs_cgr.accounts.model import ANY, MONETARY, Account, Balance
from fs_cgr.durations import SECOND, parse_duration

ZERO_SUBJECT_PREFIX = "*zero"
# CGrateS' rals.balance_rating_subject: what an empty RatingSubject means per ToR
DEFAULT_ZERO_STEP = {"*voice": SECOND}
DEFAULT_ZERO_STEP_ANY = 1

# The dialled number's prefixes that some destination holds, longest first, each with
# the IDs of the destinations holding it.
DestinationMatches = Sequence[tuple[str, Iterable[str]]]


def unit_types(tor: str) -> tuple[str, ...]:
    """Balance types that pay a ToR in units (``*generic`` pays any ToR but money)."""
    return (tor,) if tor in (MONETARY, "*generic") else (tor, "*generic")


def zero_step(rating_subject: str, tor: str) -> int | None:
    """The unit step of a free unit balance ("*zero1m" -> 60 s), None for a balance rated
    with its own RatingSubject. Empty and "*any" take the ToR's default (*zero1s for voice)."""
    subject = rating_subject.strip()
    if subject in ("", ANY):
        return DEFAULT_ZERO_STEP.get(tor, DEFAULT_ZERO_STEP_ANY)
    if not subject.startswith(ZERO_SUBJECT_PREFIX):
        return None
    try:
        step = parse_duration(subject[len(ZERO_SUBJECT_PREFIX) :])
    except ValueError:
        return None
    return step if step > 0 else None


def destination_precision(balance: Balance, destinations: DestinationMatches) -> int | None:
    """Length of the prefix through which ``balance`` covers the call; 0 for a balance valid
    everywhere; None when it does not cover the call."""
    allowed = balance.destination_ids
    if not allowed or allowed.get(ANY, False):
        return 0
    only_exclusions = not any(allowed.values())
    for prefix, destination_ids in destinations:
        found, included = False, True
        for destination_id in destination_ids:
            if destination_id in allowed:
                found = True
                included = included and allowed[destination_id]
        if found or only_exclusions:
            return len(prefix) if included else None
    return None


def usable_balances(
    account: Account,
    balance_types: Iterable[str],
    *,
    category: str,
    destinations: DestinationMatches,
    at: datetime,
) -> list[Balance]:
    """Enabled, unexpired balances with something in them (or blockers) that match the call's
    category and destination: longest destination prefix first, then highest weight."""
    ranked = []
    for balance_type in balance_types:
        for balance in account.balances.get(balance_type, ()):
            if balance.disabled or balance.is_expired(at):
                continue
            if balance.value <= 0 and not balance.blocker:
                continue
            if not balance.matches_category(category):
                continue
            precision = destination_precision(balance, destinations)
            if precision is not None:
                ranked.append((precision, balance))
    if len(ranked) < 2:  # nothing to rank (a call's usual case: one balance, or none)
        return [ranked[0][1]] if ranked else []
    ranked.sort(key=lambda item: (-item[0], -item[1].weight))
    return [balance for _, balance in ranked]
