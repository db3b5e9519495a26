"""The optional subsystems of a session request: CGrateS' SessionSv1 booleans
(GetAttributes, AuthorizeResources, AllocateResources, ReleaseResources,
ProcessThresholds, ProcessStats) and the FreeSWITCH agent's cgr_flags map onto one
``Subsystems``; ``SessionSubsystems`` runs them the way CGrateS' SessionS does:

- attributes first (context ``*sessions``): the altered event is what the rest sees;
  no matching profile is not an error; any other failure is ``ATTRIBUTES_ERROR:<why>``;
- resources with the event's OriginID as UsageID and 1 unit; a refusal is
  ``RESOURCES_ERROR:RESOURCE_UNAVAILABLE`` (``RESOURCE_UNAUTHORIZED`` when authorizing);
- thresholds and stats last, on the CGREvent; their failures are logged and only make
  the request "partially executed" (the reply still carries the matched IDs).

StatS and ThresholdS are reached through ``node.stats`` / ``node.thresholds``
(``process_event(cgr_event, ids) -> [matched IDs]``); a node without them reports the
flags as not connected, as CGrateS does without ``stats_conns``.
"""

import logging
import uuid
from dataclasses import dataclass, field

from fs_cgr.attributes.service import AttributeRequest, plain
from fs_cgr.errors import CGRError, MandatoryMissing, NotFound
from fs_cgr.resources.service import UsageRequest

log = logging.getLogger(__name__)

SESSIONS_CONTEXT = "*sessions"


class SubsystemError(CGRError):
    """``<SUBSYSTEM>_ERROR:<reason>``, as CGrateS' SessionS wraps a subsystem's error."""

    def __init__(self, subsystem: str, cause: CGRError):
        self.subsystem = subsystem
        self.cause = cause  # what the subsystem raised: callers may decide on it
        super().__init__(cause.message)

    @property
    def message(self) -> str:
        return f"{self.subsystem}_ERROR:{self.detail}"


@dataclass
class Subsystems:
    attributes: bool = False
    authorize_resources: bool = False
    allocate_resources: bool = False
    release_resources: bool = False
    thresholds: bool = False
    stats: bool = False
    attribute_ids: list[str] = field(default_factory=list)
    threshold_ids: list[str] | None = None
    stat_ids: list[str] | None = None

    @classmethod
    def from_params(cls, params: dict) -> "Subsystems":
        """From a SessionSv1 request's booleans and ID lists."""
        return cls(
            attributes=bool(params.get("GetAttributes")),
            authorize_resources=bool(params.get("AuthorizeResources")),
            allocate_resources=bool(params.get("AllocateResources")),
            release_resources=bool(params.get("ReleaseResources")),
            thresholds=bool(params.get("ProcessThresholds")),
            stats=bool(params.get("ProcessStats")),
            attribute_ids=[str(i) for i in params.get("AttributeIDs") or ()],
            threshold_ids=_ids(params.get("ThresholdIDs")),
            stat_ids=_ids(params.get("StatIDs")),
        )


def _ids(value) -> list[str] | None:
    return [str(item) for item in value] if value else None


class SessionSubsystems:
    def __init__(self, node):
        self.node = node

    # -- attributes --------------------------------------------------------------------
    def alter(self, tenant: str, event: dict, wanted: Subsystems, event_id: str = ""):
        """``(tenant, event, reply)``: the event as AttributeS altered it and its
        ProcessEvent reply; unchanged and None when not asked or no profile matched."""
        if not wanted.attributes:
            return tenant, event, None
        request = AttributeRequest(
            tenant=tenant,
            event=event,
            event_id=event_id,
            context=SESSIONS_CONTEXT,
            attribute_ids=wanted.attribute_ids,
        )
        try:
            return self.node.attributes.altered(request)
        except CGRError as exc:
            raise SubsystemError("ATTRIBUTES", exc) from None

    # -- resources ---------------------------------------------------------------------
    def authorize_resources(self, tenant: str, event: dict, optional: bool = False) -> str | None:
        """The allocation message; with ``optional`` None when no resource profile matches
        (fs_cgr's ResourcesOptional), else RESOURCES_ERROR:NOT_FOUND then."""
        usage_id = str(event.get("OriginID") or "") or uuid.uuid4().hex
        return self._resources("authorize", tenant, event, usage_id, optional)

    def allocate_resources(
        self, tenant: str, event: dict, owner: str = "", optional: bool = False
    ) -> str | None:
        """The allocation message; with ``optional`` None when no resource profile matches
        (the agent's calls: no limit applies), else RESOURCES_ERROR:NOT_FOUND then."""
        return self._resources("allocate", tenant, event, _origin_id(event), owner, optional)

    def release_resources(self, tenant: str, event: dict, optional: bool = False) -> None:
        """Give back the event's unit; with ``optional`` a call no resource profile matches
        has nothing to give back, else RESOURCES_ERROR:NOT_FOUND then."""
        self._resources("release", tenant, event, _origin_id(event), optional)

    def _resources(self, action: str, tenant: str, event: dict, usage_id: str, *more):
        request = UsageRequest(tenant=tenant, event=plain(event), usage_id=usage_id, units=1.0)
        try:
            return getattr(self.node.resources, action)(request, *more)
        except CGRError as exc:
            raise SubsystemError("RESOURCES", exc) from None

    # -- thresholds and stats ------------------------------------------------------------
    def report(self, tenant: str, event: dict, wanted: Subsystems, event_id: str = "") -> dict:
        """Feed ThresholdS / StatS as asked: ``{"ThresholdIDs": [...], "StatQueueIDs":
        [...]}`` for the asked ones, and ``"PartiallyExecuted": True`` when one failed."""
        cgr_event = {
            "Tenant": tenant,
            "ID": event_id or uuid.uuid4().hex,
            "Time": None,
            "Event": plain(event),
        }
        reply = {}
        for asked, service, ids, key in (
            (wanted.thresholds, "thresholds", wanted.threshold_ids, "ThresholdIDs"),
            (wanted.stats, "stats", wanted.stat_ids, "StatQueueIDs"),
        ):
            if not asked:
                continue
            matched, failed = self._feed(service, cgr_event, ids)
            reply[key] = matched
            if failed:
                reply["PartiallyExecuted"] = True
        return reply

    def _feed(self, name: str, cgr_event: dict, ids) -> tuple[list[str], bool]:
        service = getattr(self.node, name)
        try:
            return list(service.process_event(cgr_event, ids)), False
        except NotFound:
            return [], False
        except Exception as exc:  # a report must never fail the call it reports
            log.warning("event %s: %s not processed: %s", cgr_event["ID"], name, exc)
            return [], True


def _origin_id(event: dict) -> str:
    origin_id = str(event.get("OriginID") or "")
    if not origin_id:
        raise MandatoryMissing("OriginID")
    return origin_id
