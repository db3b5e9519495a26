"""RatingEngine: compiled rating data plus the questions other packages ask of it."""

from fs_cgr.rating.callcost import CallCost, CallDescriptor
from fs_cgr.rating.compile import RatingData, compile_live, profile_key
from fs_cgr.rating.cost import get_cost


class RatingEngine:
    """Immutable once compiled: safe to share between greenlets, replaced on reload."""

    __slots__ = ("data",)

    def __init__(self, data: RatingData):
        self.data = data

    @classmethod
    def compile(cls, live: dict) -> "RatingEngine":
        """Build from ``{kind: {id: doc}}``; raises TariffPlanError for unusable documents."""
        return cls(compile_live(live))

    def get_cost(self, cd: CallDescriptor) -> CallCost:
        """Price ``cd``; raises UnauthorizedDestination or RatingPlanNotFound (a NotFound)."""
        return get_cost(self.data, cd)

    def has_rating_profile(self, tenant: str, category: str, subject: str) -> bool:
        return profile_key(tenant, category, subject) in self.data.profiles

    def destination_ids(self, number: str) -> set[str]:
        """Every destination with a prefix of ``number`` (balance DestinationIDs filters)."""
        found = set()
        for _, ids in self.data.destination_index.matches(number):
            found.update(ids)
        return found

    def longest_prefix(self, number: str) -> tuple[str, tuple[str, ...]] | None:
        """(prefix, destination ids) of the longest known prefix of ``number``."""
        return self.data.destination_index.longest(number)
