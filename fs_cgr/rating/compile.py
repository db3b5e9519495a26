"""Turn live tariff-plan documents into immutable rating data, checking every reference.

Input is ``{kind: {id: doc}}`` in the shapes of docs/architecture.md; amounts may be
numbers or strings and durations strings ("60s") or integers (ns). A document that
cannot be used raises TariffPlanError naming it, so a bad plan never half-loads.
"""

from decimal import Decimal
from functools import lru_cache

from fs_cgr.durations import parse_duration
from fs_cgr.money import MAX_PLAN_DECIMALS, plan_amount
from fs_cgr.rating.callcost import to_ns
from fs_cgr.rating.errors import TariffPlanError
from fs_cgr.rating.model import (
    ANY,
    Activation,
    DestinationIntervals,
    RateInterval,
    RateSlot,
    Rating,
    RatingPlan,
    RatingProfile,
)
from fs_cgr.rating.prefixes import PrefixIndex
from fs_cgr.rating.timing import ANY_TIMING, SECOND, Timing
from fs_cgr.storage.base import (
    DESTINATION_RATES,
    DESTINATIONS,
    RATES,
    RATING_PLANS,
    RATING_PROFILES,
    TIMINGS,
)
from fs_cgr.times import parse_time

FAR_PAST = -(2**62)


class RatingData:
    """Everything a cost request reads, built once per live version."""

    __slots__ = ("profiles", "plans", "destinations", "destination_index")

    def __init__(self, profiles, plans, destinations):
        self.profiles: dict[str, RatingProfile] = profiles
        self.plans: dict[str, RatingPlan] = plans
        self.destinations: dict[str, tuple[str, ...]] = destinations
        index: dict[str, list[str]] = {}
        for dest_id in sorted(destinations):
            for prefix in destinations[dest_id]:
                index.setdefault(prefix, []).append(dest_id)
        self.destination_index = PrefixIndex({p: tuple(ids) for p, ids in index.items()})


def profile_key(tenant: str, category: str, subject: str) -> str:
    """CGrateS' rating profile key, also reported as the matched subject."""
    return f"*out:{tenant}:{category}:{subject}"


def compile_live(live: dict) -> RatingData:
    destinations = _destinations(live.get(DESTINATIONS) or {})
    timings = _Timings(live.get(TIMINGS) or {})
    rates = {rid: _rate(rid, doc) for rid, doc in (live.get(RATES) or {}).items()}
    shared_ratings: dict[tuple, Rating] = {}
    dest_rates = {
        drid: _destination_rate(drid, doc, rates, destinations, shared_ratings)
        for drid, doc in (live.get(DESTINATION_RATES) or {}).items()
    }
    plans = {
        pid: _rating_plan(pid, doc, dest_rates, timings, destinations)
        for pid, doc in (live.get(RATING_PLANS) or {}).items()
    }
    profiles = {}
    for doc_id, doc in (live.get(RATING_PROFILES) or {}).items():
        profile = _rating_profile(doc_id, doc, plans)
        profiles[profile.key] = profile
    return RatingData(profiles, plans, destinations)


def _fail(kind: str, obj_id: str, reason: str, row=None, field: str = ""):
    """``row`` (from 1) and ``field`` say where in the document, for TariffPlan.locate."""
    raise TariffPlanError(f"{kind} {obj_id}: {reason}", kind, obj_id, row, field)


def _split_list(value) -> list[str]:
    if value is None or value == "":
        return []
    items = value.split(";") if isinstance(value, str) else value
    return [str(item).strip() for item in items if str(item).strip()]


def _destinations(docs: dict) -> dict[str, tuple[str, ...]]:
    result = {}
    for dest_id, doc in docs.items():
        prefixes = doc.get("Prefixes")
        if not isinstance(prefixes, (list, tuple)):
            _fail("Destinations", dest_id, "Prefixes must be a list")
        result[dest_id] = tuple(dict.fromkeys(str(p).strip() for p in prefixes if str(p).strip()))
    return result


class _Timings:
    """Timing documents compiled on first use: Timings.csv also holds action-plan timings
    ("*asap") that a rating plan must not reference but may sit next to."""

    def __init__(self, docs: dict):
        self._docs = docs
        self._built = {ANY: ANY_TIMING}

    def get(self, timing_id: str, user: str, *where) -> Timing:
        timing_id = timing_id or ANY
        timing = self._built.get(timing_id)
        if timing is None:
            doc = self._docs.get(timing_id)
            if doc is None:
                _fail("RatingPlans", user, f"TimingId {timing_id!r} not found", *where)
            try:
                timing = Timing.from_document({**doc, "ID": timing_id})
            except ValueError as exc:
                _fail("Timings", timing_id, str(exc))
            self._built[timing_id] = timing
        return timing


@lru_cache(maxsize=4096)
def _cached_amount(value) -> Decimal:
    return plan_amount(value)


@lru_cache(maxsize=4096)
def _cached_duration(value) -> int:
    return parse_duration(value)


def _amount(kind: str, obj_id: str, field: str, value) -> Decimal:
    """A Decimal; tariff plans repeat few distinct values, so parsing is memoized."""
    try:
        return _cached_amount(value)
    except (ValueError, TypeError) as exc:
        _fail(kind, obj_id, f"invalid {field} {value!r}: {exc}", field=field)


def _duration(kind: str, obj_id: str, field: str, value) -> int:
    try:
        ns = _cached_duration(value)
    except (ValueError, TypeError):
        _fail(kind, obj_id, f"invalid {field} {value!r}")
    if ns < 0:
        _fail(kind, obj_id, f"negative {field} {value!r}")
    return ns


def _number(kind: str, obj_id: str, field: str, value) -> float:
    if value is None or value == "":
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        _fail(kind, obj_id, f"invalid {field} {value!r}")


def _rate(rate_id: str, doc: dict) -> tuple[Decimal, tuple[RateSlot, ...]]:
    """(connect fee of the first slot, slots): CGrateS takes the fee from RateSlots[0]."""
    rows = doc.get("RateSlots") or []
    if not rows:
        _fail("Rates", rate_id, "no RateSlots")
    slots = []
    for number, row in enumerate(rows, 1):
        try:
            slots.append(_slot(row))
        except _BadField as bad:
            detail = f"Rates {rate_id} slot {number}: {bad}"
            raise TariffPlanError(detail, "Rates", rate_id, number, bad.field) from None
    if not any(slot.group_start == 0 for slot in slots):
        _fail("Rates", rate_id, "no slot with GroupIntervalStart 0s")
    return _amount("Rates", rate_id, "ConnectFee", rows[0].get("ConnectFee")), tuple(slots)


class _BadField(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field


def _slot(row: dict) -> RateSlot:
    values = []
    for field in ("GroupIntervalStart", "Rate", "RateIncrement", "RateUnit", "ConnectFee"):
        value = row.get(field)
        try:
            values.append(_cached_amount(value) if field in _AMOUNTS else _cached_duration(value))
        except (ValueError, TypeError):
            raise _BadField(field, f"invalid {field} {value!r}") from None
        if values[-1] < 0:
            raise _BadField(field, f"negative {field} {value!r}")
    start, rate, increment, unit, _ = values
    return RateSlot(start, rate, increment or SECOND, unit or SECOND)


_AMOUNTS = ("Rate", "ConnectFee")


def _destination_rate(dr_id: str, doc: dict, rates: dict, destinations: dict, shared) -> list:
    """[(destination id, Rating)] for each row; equal Ratings are one object (``shared``)."""
    rows = doc.get("DestinationRates") or []
    if not rows:
        _fail("DestinationRates", dr_id, "no DestinationRates")
    result = []
    for number, row in enumerate(rows, 1):
        dest_id = str(row.get("DestinationId") or "").strip()
        rate_id = str(row.get("RateId") or "").strip()
        if dest_id != ANY and dest_id not in destinations:
            _fail(
                "DestinationRates",
                dr_id,
                f"DestinationId {dest_id!r} not found",
                number,
                "DestinationId",
            )
        if rate_id not in rates:
            _fail("DestinationRates", dr_id, f"RateId {rate_id!r} not found", number, "RateId")
        connect_fee, slots = rates[rate_id]
        key = (
            rate_id,
            str(row.get("RoundingMethod") or ""),
            _rounding_decimals(dr_id, number, row.get("RoundingDecimals")),
            _amount("DestinationRates", dr_id, "MaxCost", row.get("MaxCost")),
            str(row.get("MaxCostStrategy") or ""),
        )
        rating = shared.get(key)
        if rating is None:
            rating = shared[key] = Rating(rate_id, connect_fee, slots, *key[1:])
        result.append((dest_id, rating))
    return result


def _rounding_decimals(dr_id: str, number: int, value) -> int:
    try:
        decimals = int(value or 0)
    except (TypeError, ValueError):
        decimals = -1
    if not 0 <= decimals <= MAX_PLAN_DECIMALS:
        _fail(
            "DestinationRates",
            dr_id,
            f"RoundingDecimals {value!r} is not from 0 to {MAX_PLAN_DECIMALS}",
            number,
            "RoundingDecimals",
        )
    return decimals


def _rating_plan(plan_id, doc, dest_rates, timings, destinations) -> RatingPlan:
    bindings = doc.get("RatingPlanBindings") or []
    if not bindings:
        _fail("RatingPlans", plan_id, "no RatingPlanBindings")
    per_destination: dict[str, list[RateInterval]] = {}
    for number, binding in enumerate(bindings, 1):
        dr_id = str(binding.get("DestinationRatesId") or "").strip()
        if dr_id not in dest_rates:
            _fail(
                "RatingPlans",
                plan_id,
                f"DestinationRatesId {dr_id!r} not found",
                number,
                "DestinationRatesId",
            )
        timing = timings.get(
            str(binding.get("TimingId") or "").strip(), plan_id, number, "TimingId"
        )
        weight = _number("RatingPlans", plan_id, "Weight", binding.get("Weight"))
        for dest_id, rating in dest_rates[dr_id]:
            interval = RateInterval(timing, rating, weight)
            known = per_destination.setdefault(dest_id, [])
            if interval not in known:
                known.append(interval)
    by_destination = {
        dest_id: DestinationIntervals(dest_id, intervals)
        for dest_id, intervals in per_destination.items()
    }
    return RatingPlan(plan_id, by_destination, destinations)


def _rating_profile(doc_id: str, doc: dict, plans: dict) -> RatingProfile:
    tenant, category, subject = doc.get("Tenant"), doc.get("Category"), doc.get("Subject")
    if not (tenant and category and subject):
        _fail("RatingProfiles", doc_id, "Tenant, Category and Subject are mandatory")
    activations = []
    for number, item in enumerate(doc.get("RatingPlanActivations") or [], 1):
        plan_id = str(item.get("RatingPlanId") or "").strip()
        if plan_id not in plans:
            _fail(
                "RatingProfiles",
                doc_id,
                f"RatingPlanId {plan_id!r} not found",
                number,
                "RatingPlanId",
            )
        try:
            moment = parse_time(item.get("ActivationTime"))
        except ValueError:
            _fail(
                "RatingProfiles", doc_id, f"invalid ActivationTime {item.get('ActivationTime')!r}"
            )
        at = FAR_PAST if moment is None else to_ns(moment)
        fallbacks = sorted(
            {profile_key(tenant, category, s) for s in _split_list(item.get("FallbackSubjects"))}
        )
        activations.append(Activation(at, plans[plan_id], tuple(fallbacks)))
    if not activations:
        _fail("RatingProfiles", doc_id, "no RatingPlanActivations")
    activations.sort(key=lambda activation: activation.at)
    return RatingProfile(profile_key(tenant, category, subject), tuple(activations))
