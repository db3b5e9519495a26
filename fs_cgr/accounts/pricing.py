"""The rating questions a debit asks, answered by the rating engine."""

from fs_cgr.rating import CallDescriptor, RatingEngine
from fs_cgr.times import add_ns


def call_rater(engine: RatingEngine, cd: CallDescriptor):
    """``(rate, destinations)`` for the planners: ``rate(offset, subject)`` prices ``cd``'s
    usage from ``offset`` ns to its end (as the same call, so tiers continue and the connect
    fee is charged only from its very start); ``subject`` replaces the call's (a balance's
    RatingSubject). ``destinations``: the dialled number's known prefixes, longest first."""

    def rate(offset: int, subject: str | None):
        if not offset and not subject:  # the call itself: its own descriptor says just that
            return engine.get_cost(cd)
        part = CallDescriptor(
            cd.tenant,
            cd.category,
            subject or cd.subject,
            cd.destination,
            add_ns(cd.time_start, offset) if offset else cd.time_start,
            account=subject or cd.account,
            tor=cd.tor,
            duration_index=cd.duration_index + offset,
            usage=cd.usage - offset,
        )
        return engine.get_cost(part)

    return rate, list(engine.data.destination_index.matches(cd.destination))
