"""Tenant-scoped live profiles (attribute, resource, stat queue, threshold ...): the
APIerSv1 Set/Get/Remove/Get...IDs view of them, and which of them an event hits.

CGrateS' StatS and ThresholdS pick their profiles the same way: the given IDs, or every
profile of the tenant; then the active ones (ActivationInterval, looked at only when the
event carries a Time) whose FilterIDs pass; highest Weight first, cut after the first
Blocker. ``ProfileStore`` does that for one live kind, and keeps the profiles through
``TariffPlanService.apply_live`` like every other live object.
"""

from datetime import datetime

from fs_cgr.durations import parse_duration
from fs_cgr.errors import InvalidArgument, MandatoryMissing, NotFound, require
from fs_cgr.filters import FilterEngine, LiveObjects, is_active, normalize_interval
from fs_cgr.money import to_decimal
from fs_cgr.times import parse_time

MAX_TENANTS_INDEXED = 1024  # tenants asked for are remembered up to this many


class PerLoad:
    """Lists derived from one kind's live documents, kept until the documents are read
    again: each load makes new dicts, never changed after, so a list built from the
    current ones stays right. At most MAX_TENANTS_INDEXED keys are remembered."""

    def __init__(self):
        self._docs: dict | None = None  # the live documents the lists were built from
        self._lists: dict = {}

    def get(self, docs: dict, key, build) -> list[dict]:
        """The list ``build()`` made for ``key`` from ``docs``, built now if not kept."""
        if docs is not self._docs or len(self._lists) > MAX_TENANTS_INDEXED:
            self._docs, self._lists = docs, {}
        found = self._lists.get(key)
        if found is None:
            found = self._lists[key] = build()
        return found


def tenant_docs(docs: dict, tenant: str) -> list[dict]:
    """The documents of ``tenant`` among live documents keyed ``tenant:ID``."""
    prefix = tenant + ":"
    return [doc for key, doc in docs.items() if key.startswith(prefix)]


class ProfileStore:
    def __init__(self, node, kind: str, live: LiveObjects | None = None):
        self.node = node
        self.kind = kind
        self.live = live or LiveObjects(node.datadb, rating=node.rating)
        self.filters = FilterEngine(node, self.live)
        self._of_tenant = PerLoad()

    def set(self, doc: dict) -> None:
        self.node.tariffplans.apply_live([(self.kind, f"{doc['Tenant']}:{doc['ID']}", doc)])
        self.live.refresh()

    def get(self, tenant: str, profile_id: str) -> dict:
        """The profile as CGrateS replies it (ActivationInterval times in full)."""
        self.live.refresh()
        doc = self.live.kind(self.kind).get(f"{tenant}:{profile_id}")
        if doc is None:
            raise NotFound()
        return {**doc, "ActivationInterval": normalize_interval(doc.get("ActivationInterval"))}

    def remove(self, tenant: str, profile_id: str) -> None:
        self.get(tenant, profile_id)
        self.node.tariffplans.apply_live([(self.kind, f"{tenant}:{profile_id}", None)])
        self.live.refresh()

    def ids(self, tenant: str) -> list[str]:
        """Profile IDs of the tenant, sorted; NotFound when there are none."""
        self.live.refresh()
        ids = sorted(doc["ID"] for doc in self.of_tenant(tenant))
        if not ids:
            raise NotFound()
        return ids

    def of_tenant(self, tenant: str) -> list[dict]:
        """The tenant's profiles; the list is kept until the live documents are read again
        (each load makes new dicts, never changed after), so an event does not scan them."""
        docs = self.live.kind(self.kind)
        return list(self._of_tenant.get(docs, tenant, lambda: tenant_docs(docs, tenant)))

    def matching(
        self, tenant: str, event: dict, ids=None, moment: datetime | None = None
    ) -> list[dict]:
        """The profiles ``event`` hits, best first, up to and with the first Blocker."""
        docs = self.live.kind(self.kind)
        if ids:
            candidates = [docs[key] for key in (f"{tenant}:{i}" for i in ids) if key in docs]
        else:
            candidates = self.of_tenant(tenant)
        found = [
            doc
            for doc in candidates
            if (moment is None or is_active(doc.get("ActivationInterval"), moment))
            and self.filters.matches(tenant, doc.get("FilterIDs"), event, moment)
        ]
        found.sort(key=lambda doc: (-to_decimal(doc.get("Weight")), doc["ID"]))
        for index, doc in enumerate(found):
            if doc.get("Blocker"):
                return found[: index + 1]
        return found


def cgr_event_parts(node, cgr_event: dict) -> tuple[str, dict, datetime | None]:
    """(tenant, event, time) of a CGREvent ``{Tenant, ID, Time, Event}``; the tenant
    defaults to the node's, the time to None (activation intervals not looked at)."""
    if not isinstance(cgr_event, dict):
        raise MandatoryMissing("CGREvent")
    event = cgr_event.get("Event")
    if not isinstance(event, dict):
        raise MandatoryMissing("Event")
    try:
        moment = parse_time(cgr_event.get("Time"))
    except ValueError as exc:
        raise InvalidArgument(f"Time: {exc}") from None
    return cgr_event.get("Tenant") or node.config.general.default_tenant, event, moment


# -- profile fields as the API and the CSV loader give them ------------------------------
def profile_head(profile) -> dict:
    """The fields every profile has: Tenant and ID (both required), FilterIDs and
    ActivationInterval."""
    if not isinstance(profile, dict):
        raise MandatoryMissing("Tenant", "ID")
    require(profile, ("Tenant", "ID"))
    return {
        "Tenant": str(profile["Tenant"]),
        "ID": str(profile["ID"]),
        "FilterIDs": id_list(profile.get("FilterIDs")),
        "ActivationInterval": _checked_interval(profile.get("ActivationInterval")),
    }


def _checked_interval(interval) -> dict | None:
    if interval is not None and not isinstance(interval, (dict, str)):
        raise InvalidArgument("ActivationInterval must be {ActivationTime, ExpiryTime}")
    try:
        return normalize_interval(interval)
    except ValueError as exc:
        raise InvalidArgument(f"ActivationInterval: {exc}") from None


def id_list(value) -> list[str]:
    """IDs given as a list or as CGrateS' ``a;b`` text."""
    if not value:
        return []
    if isinstance(value, str):
        return [part for part in value.split(";") if part]
    return [str(part) for part in value]


def integer_field(profile: dict, name: str) -> int:
    value = profile.get(name)
    if value in (None, ""):
        return 0
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an integer, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidArgument(f"{name} must be an integer, got {value!r}") from None
    return number


def duration_field(profile: dict, name: str) -> int:
    """Nanoseconds from a JSON number (CGrateS' form) or a duration text ("1s", "-1")."""
    try:
        return parse_duration(profile.get(name))
    except ValueError:
        raise InvalidArgument(f"{name} must be a duration, got {profile.get(name)!r}") from None


def weight(value):
    """Weights stay JSON numbers, checked here so a typo is refused, not stored."""
    try:
        number = to_decimal(value)
    except ValueError:
        raise InvalidArgument(f"Weight must be a number, got {value!r}") from None
    return int(number) if number == number.to_integral_value() else float(number)
