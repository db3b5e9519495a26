"""Compiled, immutable rating data: what a RatingPlan says for one destination.

Shapes follow CGrateS: a Rating (RIRate) is a DestinationRate row with its Rates; a
RateInterval puts a Rating under a Timing with a weight; a plan maps each
destination to its list of rate intervals, already ordered the way CGrateS' time
sorter orders them, so a cost request never sorts.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from fs_cgr.money import GLOBAL_ROUNDING_DECIMALS
from fs_cgr.rating.prefixes import PrefixIndex
from fs_cgr.rating.timing import Timing

ANY = "*any"
_GLOBAL_QUANTUM = Decimal(1).scaleb(-GLOBAL_ROUNDING_DECIMALS)
_PRICE_CACHE_SIZE = 4096


class RateSlot(NamedTuple):
    """One Rates row: ``value`` per ``unit`` ns, charged in ``increment`` ns steps, from
    ``group_start`` ns of call usage on. Zero increment/unit mean 1 s, as in CGrateS."""

    group_start: int
    value: Decimal
    increment: int
    unit: int


class Rating:
    """A DestinationRate row joined with its Rates (CGrateS' RIRate)."""

    __slots__ = (
        "rates_id",
        "connect_fee",
        "rounding_method",
        "rounding_decimals",
        "max_cost",
        "max_cost_strategy",
        "slots",
        "_prices",
    )

    def __init__(
        self,
        rates_id: str,
        connect_fee: Decimal,
        slots: tuple[RateSlot, ...],
        rounding_method: str = "",
        rounding_decimals: int = 0,
        max_cost: Decimal = Decimal(0),
        max_cost_strategy: str = "",
    ):
        self.rates_id = rates_id
        self.connect_fee = connect_fee
        self.slots = tuple(sorted(slots)) if len(slots) > 1 else tuple(slots)  # by group start
        self.rounding_method = rounding_method
        self.rounding_decimals = rounding_decimals
        self.max_cost = max_cost
        self.max_cost_strategy = max_cost_strategy
        self._prices: dict[tuple[int, int], tuple[int, Decimal, int]] | None = None

    def slot_at(self, group_start: int) -> RateSlot:
        """GetRateParameters: the slot whose GroupIntervalStart range holds ``group_start``."""
        chosen = self.slots[0]
        for slot in self.slots:
            if slot.group_start > group_start:
                break
            chosen = slot
        return chosen

    def price(self, group_start: int, duration: int) -> tuple[int, Decimal, int]:
        """(increment ns, cost of one increment, increment count) for ``duration`` ns
        starting at ``group_start`` ns of call usage (createIncrementsSlice): the 5-decimal
        cost of the whole duration (RateInterval.GetCost) divided over the increments and
        rounded to 5 decimals again. Memoized: debit loops repeat the same durations."""
        prices = self._prices
        if prices is None:
            prices = self._prices = {}
        key = (group_start, duration)
        price = prices.get(key)
        if price is None:
            slot = self.slot_at(group_start)
            count = duration // slot.increment
            whole = (duration * slot.value / slot.unit).quantize(_GLOBAL_QUANTUM, ROUND_HALF_UP)
            each = (whole / count).quantize(_GLOBAL_QUANTUM, ROUND_HALF_UP) if count else whole
            price = (slot.increment, each, count)
            if len(prices) >= _PRICE_CACHE_SIZE:
                prices.clear()
            prices[key] = price
        return price

    def charged(self) -> dict:
        """EventCost ``Rating`` entry fields of this rating (ids are added by the caller)."""
        return {
            "ConnectFee": self.connect_fee,
            "RoundingMethod": self.rounding_method,
            "RoundingDecimals": self.rounding_decimals,
            "MaxCost": self.max_cost,
            "MaxCostStrategy": self.max_cost_strategy,
        }


class RateInterval(NamedTuple):
    timing: Timing
    rating: Rating
    weight: float


def _sorted_like_cgrates(intervals: list[RateInterval]) -> tuple[RateInterval, ...]:
    """Order intervals as CGrateS' RateIntervalTimeSorter does (higher weight first, then
    earlier start of day), replaying Go's insertion sort since that comparison is not a
    strict order when weights differ."""
    items = list(intervals)

    def before(a: RateInterval, b: RateInterval) -> bool:
        if b.weight < a.weight:
            return True
        return b.timing.start > a.timing.start

    for i in range(1, len(items)):
        j = i
        while j > 0 and before(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return tuple(items)


class DestinationIntervals:
    """A plan's rate intervals for one destination (CGrateS' RateIntervalList)."""

    __slots__ = ("destination_id", "intervals", "weight", "always_active")

    def __init__(self, destination_id: str, intervals: list[RateInterval]):
        self.destination_id = destination_id
        if len(intervals) == 1:
            self.intervals = tuple(intervals)
            self.weight = max(intervals[0].weight, 0)  # GetWeight starts from 0
            self.always_active = intervals[0].timing.always
        else:
            self.intervals = _sorted_like_cgrates(intervals)
            self.weight = max(0, *(ri.weight for ri in intervals))
            self.always_active = any(ri.timing.always for ri in intervals)

    def active_at(self, t: int) -> bool:
        return self.always_active or any(ri.timing.is_active_at(t) for ri in self.intervals)


class DestinationMatch(NamedTuple):
    prefix: str
    destination_id: str
    intervals: tuple[RateInterval, ...]


class RatingPlan:
    """A compiled rating plan: destination -> intervals, and a prefix index over them."""

    __slots__ = ("id", "by_destination", "_index", "_any")

    def __init__(self, plan_id: str, by_destination: dict[str, DestinationIntervals], prefixes):
        """``prefixes``: destination id -> its prefixes (only rated destinations are used)."""
        self.id = plan_id
        self.by_destination = by_destination
        self._any = by_destination.get(ANY)
        table: dict[str, list[DestinationIntervals]] = {}
        for dest_id in sorted(by_destination):
            if dest_id == ANY:
                continue
            for prefix in prefixes[dest_id]:
                table.setdefault(prefix, []).append(by_destination[dest_id])
        self._index = PrefixIndex({p: _entry(p, group) for p, group in table.items()})

    def match(self, number: str, at: int) -> DestinationMatch | None:
        """getRatingPlansForPrefix for one plan: the longest prefix of ``number`` whose
        destinations this plan rates with a timing active at ``at`` (the heaviest wins),
        else the plan's ``*any`` destination."""
        if number and number != ANY:
            for prefix, entry in self._index.matches(number):
                if entry.__class__ is DestinationMatch:
                    return entry
                best = None
                for dest in entry:
                    if dest.active_at(at) and (best is None or dest.weight > best.weight):
                        best = dest
                if best is not None:
                    return DestinationMatch(prefix, best.destination_id, best.intervals)
        if self._any is not None:
            return DestinationMatch(ANY, ANY, self._any.intervals)
        return None


def _entry(prefix: str, group: list[DestinationIntervals]):
    """A prefix's index value: the match itself when one destination rates it at all
    times (no choice left at call time), else the candidates to weigh."""
    if len(group) == 1 and group[0].always_active:
        return DestinationMatch(prefix, group[0].destination_id, group[0].intervals)
    return tuple(group)


class Activation(NamedTuple):
    at: int  # ns since epoch
    plan: RatingPlan
    fallback_keys: tuple[str, ...]


class RatingProfile(NamedTuple):
    key: str  # "*out:tenant:category:subject", as CGrateS names the matched subject
    activations: tuple[Activation, ...]  # sorted by time

    def active_for_call(self, start: int, end: int) -> tuple[Activation, ...]:
        """The last activation at or before the call start and every later one that
        starts before the call ends (RatingPlanActivations.GetActiveForCall)."""
        activations = self.activations
        if len(activations) == 1 and activations[0].at <= start and activations[0].at <= end:
            return activations  # the usual profile: one plan, active since before the call
        return active_by_scan(activations, start, end)


def active_by_scan(activations: tuple, start: int, end: int) -> tuple:
    """``active_for_call`` for any number of activations (sorted by time)."""
    first, stop = 0, len(activations)
    for index, activation in enumerate(activations):
        if activation.at <= start:
            first = index
        if activation.at > end:
            stop = index
            break
    return activations[first:stop]


class RatingInfo(NamedTuple):
    """Which plan rates (part of) a call: CGrateS' RatingInfo. ``intervals`` None means
    nothing rated this part and ``fallback_keys`` may still find a rating."""

    subject: str
    rating_plan_id: str
    prefix: str
    destination_id: str
    activation: int
    intervals: tuple[RateInterval, ...] | None
    fallback_keys: tuple[str, ...]
