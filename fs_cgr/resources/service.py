"""ResourceService: profiles, and usages counted against their Limit in the DataDB.

Resource profiles are live objects (kind ``resources``, id ``tenant:ID``, Resources.csv or
the API). For an event every active profile whose FilterIDs pass is a resource, highest
Weight first, cut after the first Blocker. A usage (``UsageID``, e.g. the call's OriginID)
of ``Units`` is allowed when the first resource with room (Limit -1 = none) exists: its
AllocationMessage (or ID) is the answer, and the usage is recorded on every matched
resource (CGrateS v0.10). Usages expire after UsageTTL (the request's, else the
profile's; -1 never, 0 not recorded). Counting and recording are one atomic DataDB step
(a Lua script on Redis), so a limit holds across every node sharing the DataDB.

Usages recorded with an ``owner`` (the FreeSWITCH agent uses ``*fs:<box>``) can be listed
(``owned``) and released together (``release_usages``) when their calls are gone.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from fs_cgr.durations import parse_duration
from fs_cgr.errors import CGRError, InvalidArgument, NotFound
from fs_cgr.filters import FilterEngine, LiveObjects, is_active
from fs_cgr.money import to_decimal
from fs_cgr.profiles import ProfileStore, id_list, profile_head, weight
from fs_cgr.storage.base import RESOURCES
from fs_cgr.times import UTC, format_time

log = logging.getLogger(__name__)

NO_THRESHOLDS = "*none"


class ResourceUnavailable(CGRError):
    code = "RESOURCE_UNAVAILABLE"


class ResourceUnauthorized(CGRError):
    code = "RESOURCE_UNAUTHORIZED"


@dataclass
class UsageRequest:
    """CGrateS' ArgRSv1ResourceUsage."""

    tenant: str
    event: dict
    usage_id: str
    units: float = 1.0
    usage_ttl: int | None = None  # ns; None = the profiles' UsageTTL
    time: datetime | None = None


class ResourceService:
    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.live = live or LiveObjects(node.datadb, rating=node.rating)
        self.filters = FilterEngine(node, self.live)
        self.profiles = ProfileStore(node, RESOURCES, self.live)

    # -- profiles ----------------------------------------------------------------------
    def set_profile(self, profile: dict) -> None:
        self.profiles.set(normalize_profile(profile))

    def get_profile(self, tenant: str, profile_id: str) -> dict:
        return self.profiles.get(tenant, profile_id)

    def remove_profile(self, tenant: str, profile_id: str) -> None:
        self.profiles.remove(tenant, profile_id)

    def profile_ids(self, tenant: str) -> list[str]:
        return self.profiles.ids(tenant)

    # -- events ------------------------------------------------------------------------
    def matching(self, request: UsageRequest) -> list[dict]:
        """Matching profiles, highest Weight first, cut after a Blocker; NotFound if none."""
        return self._matched_or_none(request, optional=False)

    def _matched_or_none(self, request: UsageRequest, optional: bool) -> list[dict] | None:
        """``matching``; None instead of NotFound when ``optional``."""
        found = self._matched(request)
        if found:
            return found
        if optional:
            return None
        raise NotFound()

    def _matched(self, request: UsageRequest) -> list[dict]:
        """``matching``, empty when none."""
        found = [
            doc
            for doc in self.profiles.of_tenant(request.tenant)
            if (request.time is None or is_active(doc.get("ActivationInterval"), request.time))
            and self.filters.matches(request.tenant, doc.get("FilterIDs"), request.event)
        ]
        if len(found) < 2:
            return found  # nothing to rank, nothing after a Blocker (a call's usual case)
        found.sort(key=lambda doc: (-to_decimal(doc.get("Weight")), doc["ID"]))
        for index, doc in enumerate(found):
            if doc.get("Blocker"):
                return found[: index + 1]
        return found

    def resources_for_event(self, request: UsageRequest) -> list[dict]:
        """ResourceSv1.GetResourcesForEvent: the matched Resources with their usages."""
        profiles = self.matching(request)
        usages = self.node.datadb.resource_usages(
            request.tenant, [doc["ID"] for doc in profiles], now_us()
        )
        return [_resource_json(request.tenant, doc["ID"], usages[doc["ID"]]) for doc in profiles]

    def get_resource(self, tenant: str, resource_id: str) -> dict:
        self.profiles.get(tenant, resource_id)
        usages = self.node.datadb.resource_usages(tenant, [resource_id], now_us())
        return _resource_json(tenant, resource_id, usages[resource_id])

    def authorize(self, request: UsageRequest, optional: bool = False) -> str | None:
        """The allocation message a usage would get; RESOURCE_UNAUTHORIZED when none.
        No matching profile: NotFound, or None when ``optional`` (no limit applies)."""
        try:
            return self._allocate(request, dry_run=True, owner="", optional=optional)
        except ResourceUnavailable:
            raise ResourceUnauthorized() from None

    def allocate(
        self, request: UsageRequest, owner: str = "", optional: bool = False
    ) -> str | None:
        """Record the usage; its allocation message. RESOURCE_UNAVAILABLE: nothing recorded.
        No matching profile: NotFound, or None when ``optional`` (no limit applies)."""
        return self._allocate(request, dry_run=False, owner=owner, optional=optional)

    def _allocate(self, request: UsageRequest, dry_run: bool, owner: str, optional=False):
        profiles = self._matched_or_none(request, optional)
        if profiles is None:
            return None
        limits = [(doc["ID"], _limit(doc), _ttl_us(request.usage_ttl, doc)) for doc in profiles]
        first = self.node.datadb.resource_allocate(
            request.tenant, limits, request.usage_id, float(request.units), now_us(), dry_run, owner
        )
        if first < 0:
            raise ResourceUnavailable()
        if not dry_run:
            self._notify_thresholds(request.tenant, profiles)
        chosen = profiles[first]
        return chosen.get("AllocationMessage") or chosen["ID"]

    def release(self, request: UsageRequest, optional: bool = False) -> None:
        """Remove the usage from the matched resources. A resource with a positive UsageTTL
        that does not hold it is an error (CGrateS), the others are not. No matching
        profile: NotFound, or nothing to do when ``optional``."""
        profiles = self._matched_or_none(request, optional)
        if profiles is None:
            return
        held = self.node.datadb.resource_release(
            request.tenant, [doc["ID"] for doc in profiles], request.usage_id
        )
        self._notify_thresholds(request.tenant, profiles)
        for doc, found in zip(profiles, held, strict=True):
            if not found and _ttl_us(request.usage_ttl, doc) > 0:
                raise CGRError(f"cannot find usage record with id: {request.usage_id}")

    def owned(self, owner: str) -> list[tuple[str, str, str]]:
        """``(tenant, resource_id, usage_id)`` of the usages recorded with ``owner``."""
        return self.node.datadb.resource_owned(owner)

    def release_usages(self, usages) -> int:
        """Release those ``(tenant, resource_id, usage_id)``; how many were still held."""
        datadb = self.node.datadb
        return sum(sum(datadb.resource_release(t, [rid], uid)) for t, rid, uid in usages)

    def _notify_thresholds(self, tenant: str, profiles: list[dict]) -> None:
        """CGrateS' ResourceUpdate events, when this node has ThresholdS."""
        thresholds = getattr(self.node, "thresholds", None)
        if thresholds is None:
            return
        usages = self.node.datadb.resource_usages(tenant, [d["ID"] for d in profiles], now_us())
        for doc in profiles:
            ids = doc.get("ThresholdIDs") or None
            if ids == [NO_THRESHOLDS]:
                continue
            event = {
                "EventType": "ResourceUpdate",
                "ResourceID": doc["ID"],
                "Usage": sum(units for units, _, _ in usages[doc["ID"]].values()),
            }
            try:
                thresholds.process_event(
                    {"Tenant": tenant, "ID": f"res:{doc['ID']}", "Time": None, "Event": event},
                    ids,
                )
            except NotFound:
                pass
            except CGRError as exc:
                log.warning("resource %s: thresholds not processed: %s", doc["ID"], exc.message)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_us() -> int:
    return time.time_ns() // 1000


def from_epoch_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _limit(doc: dict) -> float:
    return float(doc.get("Limit") or 0)


def _ttl_us(request_ttl: int | None, doc: dict) -> int:
    """The usage TTL in µs as the DataDB takes it: -1 never expires, 0 not recorded."""
    ttl = request_ttl if request_ttl not in (None, 0) else int(doc.get("UsageTTL") or 0)
    if ttl < 0:
        return -1
    return max(1, ttl // 1000) if ttl else 0


def _resource_json(tenant: str, resource_id: str, usages: dict) -> dict:
    """CGrateS' Resource: Usages by id, TTLIdx (usages that expire, soonest first)."""
    expiring = sorted((expiry, uid) for uid, (_, expiry, _) in usages.items() if expiry)
    return {
        "Tenant": tenant,
        "ID": resource_id,
        "Usages": {
            uid: {
                "Tenant": tenant,
                "ID": uid,
                "ExpiryTime": format_time(from_epoch_us(expiry) if expiry else None),
                "Units": units,
            }
            for uid, (units, expiry, _) in usages.items()
        },
        "TTLIdx": [uid for _, uid in expiring] or None,
    }


def normalize_profile(profile: dict) -> dict:
    """A ResourceProfile as the API sends it (UsageTTL ns or "1h"), as stored."""
    head = profile_head(profile)
    try:
        ttl = profile.get("UsageTTL")
        usage_ttl = ttl if isinstance(ttl, int) else parse_duration(str(ttl or "0"))
        limit = float(profile.get("Limit") or 0)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    return {
        **head,
        "UsageTTL": max(usage_ttl, -1),
        "Limit": int(limit) if limit.is_integer() else limit,
        "AllocationMessage": str(profile.get("AllocationMessage") or ""),
        "Blocker": bool(profile.get("Blocker")),
        "Stored": bool(profile.get("Stored")),
        "Weight": weight(profile.get("Weight")),
        "ThresholdIDs": id_list(profile.get("ThresholdIDs")),
    }
