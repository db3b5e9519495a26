"""GetCost: price one call the way CGrateS v0.10 does (engine/calldesc.go).

1. Find the rating infos: the subject's rating profile (or ``*any`` when the subject
   has none), the plan active at the call start and any activated during the call,
   the longest destination prefix the plan rates; fallback subjects fill the parts a
   plan does not rate. A subject whose profile rates nothing for the destination is
   UNAUTHORIZED_DESTINATION, never a free call.
2. Split the call into timespans: at activation times, at midnight, at timing
   boundaries (peak/off-peak) and at GroupIntervalStart tiers.
3. Round each timespan up to its rate increment (this may push the call past its
   end) and price it: round5(usage * rate / unit), divided over the increments and
   rounded to 5 decimals again, so every increment has one 5-decimal cost.
4. Add the connect fee when the request starts the call (duration_index 0).
"""

from fs_cgr.errors import UnauthorizedDestination
from fs_cgr.money import ZERO, round_global
from fs_cgr.rating.callcost import VOICE, CallCost, CallDescriptor, Increment, TimeSpan
from fs_cgr.rating.compile import RatingData, profile_key
from fs_cgr.rating.errors import RatingPlanNotFound
from fs_cgr.rating.model import ANY, RateInterval, RatingInfo
from fs_cgr.rating.timing import DAY, SECOND

MAX_RECURSION_DEPTH = 3


def get_cost(data: RatingData, cd: CallDescriptor) -> CallCost:
    start = cd.start_ns
    end = start + cd.usage
    if cd.usage == 0:
        return _zero_usage_cost(data, cd, start)
    infos = load_rating_infos(data, cd, start, end)
    timespans = split_in_timespans(infos, start, end, cd.duration_index + cd.usage, cd.tor)
    total = ZERO
    for ts in timespans:
        _price(ts)
        total += ts.cost
    connect_fee = ZERO
    first = timespans[0]
    if cd.duration_index == 0 and first.interval is not None:
        connect_fee = first.interval.rating.connect_fee
        first.increments.insert(0, Increment(0, connect_fee, 1))
        first.cost += connect_fee
        total += connect_fee
    return CallCost(cd, timespans, round_global(total), connect_fee)


def _zero_usage_cost(data: RatingData, cd: CallDescriptor, start: int) -> CallCost:
    """CGrateS answers a zero usage with cost 0 and no error, rated or not."""
    try:
        infos = load_rating_infos(data, cd, start, start)
    except (UnauthorizedDestination, RatingPlanNotFound):
        return CallCost(cd, [], ZERO, ZERO)
    return CallCost(cd, [TimeSpan(start, start, 0, infos[0])], ZERO, ZERO)


# -- rating infos (LoadRatingPlans / getRatingPlansForPrefix) -----------------------------


def load_rating_infos(data: RatingData, cd: CallDescriptor, start: int, end: int):
    """The RatingInfos covering [start, end]; raises RatingPlanNotFound when neither the
    subject nor ``*any`` has a profile, UnauthorizedDestination when a part is not rated."""
    resolver = _Resolver(data, cd)
    infos = resolver.for_key(profile_key(cd.tenant, cd.category, cd.subject), start, end, 1)
    if infos is None:
        infos = resolver.for_key(resolver.any_key, start, end, 1)
    if infos is None:
        raise RatingPlanNotFound()
    if not _continuous(infos, start):
        raise UnauthorizedDestination()
    return infos


def _continuous(infos: list[RatingInfo], start: int) -> bool:
    if not infos or infos[0].activation > start:
        return False
    if len(infos) == 1:  # the usual case, without a generator
        return infos[0].intervals is not None
    return all(info.intervals is not None for info in infos)


class _Resolver:
    """Rating profiles and their fallback subjects for one destination."""

    __slots__ = ("data", "number", "any_key")

    def __init__(self, data: RatingData, cd: CallDescriptor):
        self.data = data
        self.number = cd.destination or ANY
        self.any_key = profile_key(cd.tenant, cd.category, ANY)

    def for_key(self, key: str, start: int, end: int, depth: int) -> list[RatingInfo] | None:
        """None when the profile does not exist (or recursion is too deep)."""
        if depth > MAX_RECURSION_DEPTH:
            return None
        profile = self.data.profiles.get(key)
        if profile is None:
            return None
        infos = self._profile_infos(profile, start, end)
        if not _continuous(infos, start):
            self._fill_from_fallbacks(infos, start, end, depth + 1)
        return infos

    def _profile_infos(self, profile, start: int, end: int) -> list[RatingInfo]:
        infos = []
        for index, activation in enumerate(profile.active_for_call(start, end)):
            match = activation.plan.match(self.number, start)
            if index == 0 and start < activation.at:
                # the call starts before the profile's first plan: *any rates that part
                infos.append(RatingInfo("", "", "", "", start, None, (self.any_key,)))
            if match is not None:
                infos.append(
                    RatingInfo(
                        profile.key,
                        activation.plan.id,
                        match.prefix,
                        match.destination_id,
                        activation.at,
                        match.intervals,
                        activation.fallback_keys,
                    )
                )
            elif activation.fallback_keys:
                infos.append(
                    RatingInfo("", "", "", "", activation.at, None, activation.fallback_keys)
                )
        return infos

    def _fill_from_fallbacks(self, infos: list[RatingInfo], start: int, end: int, depth: int):
        index = 0
        while index < len(infos):
            info = infos[index]
            if info.intervals is None and info.fallback_keys:
                part_start = start if index == 0 else info.activation
                part_end = end if index == len(infos) - 1 else infos[index + 1].activation
                for key in info.fallback_keys:
                    found = self.for_key(key, part_start, part_end, depth)
                    if found is None:
                        continue
                    for offset, new in enumerate(found):
                        if new.intervals is None:
                            continue
                        if offset == 0:
                            # keep the part's own start: it is where this rating begins
                            infos[index] = (
                                new if index == 0 else new._replace(activation=info.activation)
                            )
                        else:
                            infos.insert(index + offset, new)
                    if _continuous(found, part_start):
                        break
            index += 1


# -- timespans (splitInTimeSpans) ----------------------------------------------------------


def split_in_timespans(infos, start: int, end: int, duration_index: int, tor: str):
    """The call cut into rated timespans, each rounded up to whole increments;
    ``duration_index`` is the call's usage up to ``end`` (CGrateS' DurationIndex)."""
    first = TimeSpan(start, end, duration_index, infos[0])
    timespans = [first]
    intervals = infos[0].intervals
    flat = len(infos) == 1 and len(intervals) == 1 and intervals[0].timing.always
    if flat and (tor != VOICE or not _crosses_midnight(first)):
        _split_on_tiers(timespans, intervals[0])
        _round_to_increments(timespans)
        return timespans
    if tor == VOICE:
        _split_on_activations(timespans, infos[1:])
        _split_on_days(timespans)
    index = 0
    while index < len(timespans):
        ts = timespans[index]
        info = ts.rating_info
        for interval in _intervals_for(info.intervals, ts):
            new = _split_by_interval(ts, interval, tor != VOICE)
            if new is not None:
                new.rating_info = info
                timespans.insert(index + 1, new)
                if ts.interval is not None:
                    break
        index += 1
    _round_to_increments(timespans)
    return timespans


def _cut(ts: TimeSpan, at: int) -> TimeSpan:
    """Split ``ts`` at ``at``; the new right part keeps the duration index."""
    new = TimeSpan(at, ts.end_ns, ts.duration_index, ts.rating_info)
    ts.end_ns = at
    ts.duration_index = max(ts.duration_index - (new.end_ns - at), 0)
    return new


def _split_on_activations(timespans, later_infos):
    """A plan activated during the call rates the call from its activation time on.
    (CGrateS v0.10 splits there too, but SplitByRatingPlan copies the earlier RatingInfo
    to the new part, so the new plan never rates it; fs_cgr applies the new plan.)"""
    for info in later_infos:
        last = timespans[-1]
        if last.start_ns < info.activation < last.end_ns:
            new = _cut(last, info.activation)
            new.rating_info = info
            timespans.append(new)


def _split_on_tiers(timespans, interval: RateInterval):
    """What the generic split does with a single always-active interval: cut only where
    a GroupIntervalStart tier begins."""
    ts = timespans[0]
    ts.interval = interval
    for slot in interval.rating.slots:
        group_start = ts.duration_index - (ts.end_ns - ts.start_ns)
        if max(group_start, 0) < slot.group_start < ts.duration_index:
            ts = _cut(ts, ts.start_ns + slot.group_start - max(group_start, 0))
            ts.interval = interval
            timespans.append(ts)


def _crosses_midnight(ts: TimeSpan) -> bool:
    """SplitByDay's test: not when the span ends at 00:00:00 or on the same day of the
    month (CGrateS compares day numbers only)."""
    first_day = ts.start_ns // DAY
    if first_day == ts.end_ns // DAY or ts.end_ns % DAY < SECOND:
        return False
    return ts.start.day != ts.end.day


def _split_on_days(timespans):
    index = 0
    while index < len(timespans):
        ts = timespans[index]
        if _crosses_midnight(ts):
            timespans.insert(index + 1, _cut(ts, (ts.start_ns // DAY + 1) * DAY))
        index += 1


def _intervals_for(intervals, ts: TimeSpan) -> list[RateInterval]:
    """SelectRatingIntevalsForTimespan: the interval whose timing started closest before
    the timespan (highest weight first), plus heavier-or-equal ones starting later."""
    if len(intervals) == 1:
        return intervals
    start = ts.start_ns
    best_index, best_weight, delta = 0, 0, -1
    for index, interval in enumerate(intervals):
        if not interval.timing.contains(start):
            continue
        if interval.weight < best_weight:
            break
        left = interval.timing.left_margin(start)
        if left <= start and (delta == -1 or start - left < delta):
            best_index, best_weight, delta = index, interval.weight, start - left
    result = [intervals[best_index]]
    for interval in intervals[best_index + 1 :]:
        if interval.weight < best_weight:
            break
        if interval.timing.left_margin(start) < ts.end_ns:
            result.append(interval)
    return result


def _split_by_interval(ts: TimeSpan, interval: RateInterval, data: bool) -> TimeSpan | None:
    """SplitByRateInterval: attach the interval, splitting at a tier or timing edge."""
    timing = interval.timing
    starts_in = timing.contains(ts.start_ns)
    if not (starts_in or timing.contains(ts.end_ns, True)):
        return None
    group_start, group_end = ts.group_start, ts.duration_index
    for slot in interval.rating.slots:
        if group_start < slot.group_start < group_end:
            _set_interval(ts, interval)
            new = _cut(ts, ts.start_ns + slot.group_start - group_start)
            _set_interval(new, interval)
            return new
    if data:
        if starts_in:
            _set_interval(ts, interval)
        return None
    ends_in = timing.contains(ts.end_ns, True)
    if starts_in and ends_in:
        _set_interval(ts, interval)
        return None
    if starts_in:
        split = timing.right_margin(ts.start_ns)
        _set_interval(ts, interval)
        if split == ts.start_ns or split == ts.end_ns:
            return None
        return _cut(ts, split)
    split = timing.left_margin(ts.end_ns)
    if split % DAY:  # CopyHour: that time of day on the timespan's first day
        split = ts.start_ns - ts.start_ns % DAY + split % DAY
    if split == ts.end_ns:
        return None
    new = _cut(ts, split)
    _set_interval(new, interval)
    return new


def _set_interval(ts: TimeSpan, interval: RateInterval):
    if not _has_better_interval(ts, interval):
        ts.interval = interval


def _has_better_interval(ts: TimeSpan, other: RateInterval) -> bool:
    """hasBetterRateIntervalThan: keep the own interval unless the other one is heavier
    or its timing started closer before the timespan; an other timing that starts after
    the timespan never wins."""
    other_distance = ts.start_ns - other.timing.left_margin(ts.start_ns)
    if other_distance < 0:
        return True
    own = ts.interval
    if own is None:
        return False
    if own.weight < other.weight:
        return False
    own_distance = ts.start_ns - own.timing.left_margin(ts.start_ns)
    return own_distance <= other_distance


def _round_to_increments(timespans):
    """roundTimeSpansToIncrement: stretch each rated timespan to a whole number of
    increments, swallowing or shortening the timespans it now overlaps."""
    index = 0
    while index < len(timespans):
        ts = timespans[index]
        if ts.interval is not None:
            increment = ts.interval.rating.slot_at(ts.group_start).increment
            duration = ts.end_ns - ts.start_ns
            rounded = -(-duration // increment) * increment
            if rounded > duration:
                ts.end_ns = ts.start_ns + rounded
                ts.duration_index += rounded - duration
                _remove_overlapped(timespans, index)
        index += 1


def _remove_overlapped(timespans, index: int):
    ts = timespans[index]
    last_covered = index
    for later in range(index + 1, len(timespans)):
        other = timespans[later]
        if other.end_ns <= ts.end_ns:
            last_covered = later
        elif other.start_ns < ts.end_ns:
            other.start_ns = ts.end_ns
            break
    del timespans[index + 1 : last_covered + 1]


# -- pricing (createIncrementsSlice) -------------------------------------------------------


def _price(ts: TimeSpan):
    """One compressed increment per timespan (a timespan without rating costs 0)."""
    if ts.interval is None:
        return
    duration = ts.end_ns - ts.start_ns
    increment, each, count = ts.interval.rating.price(
        max(ts.duration_index - duration, 0), duration
    )
    if count:
        ts.increments = [Increment(increment, each, count)]
        ts.cost = each * count
