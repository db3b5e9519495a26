"""AttributeService: which profile applies to an event, and what it changes.

Per run the active profile whose Contexts hold the event's context (``*default`` when none
is given; profiles of context ``*any`` when none of that context matches), whose FilterIDs
pass and whose Weight is highest applies; each of its attributes whose own FilterIDs pass
sets its Path (``*req.<Field>`` in the event, ``*tenant``; other paths are only listed
as altered, as CGrateS does). A value ``*remove`` deletes the field.

Runs repeat up to ``ProcessRuns`` (config ``attributes.process_runs``) on the altered
event. With ``attributes.profile_runs`` 0 processing stops when a run's best profile has
applied already (CGrateS v0.10); with N > 0 (CGrateS v0.11's ``*profileRuns``) a profile
applies at most N times and never in two runs in a row, so the next best one takes its
turn. A run that matches nothing, or a Blocker profile, ends the runs.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from fs_cgr.attributes.profiles import normalize_profile, profile_as_json
from fs_cgr.attributes.values import REMOVE, REQ, as_text, parsers, substitute
from fs_cgr.errors import MandatoryMissing, NotFound
from fs_cgr.filters import FilterEngine, LiveObjects, is_active
from fs_cgr.money import to_decimal
from fs_cgr.profiles import PerLoad, ProfileStore
from fs_cgr.storage.base import ATTRIBUTES
from fs_cgr.times import format_time

DEFAULT_CONTEXT = "*default"
ANY_CONTEXT = "*any"
TENANT_PATH = "*tenant"
MANDATORY_MARK = "*attributes"  # a field holding this must be filled by AttributeS


@dataclass
class AttributeRequest:
    """AttributeSv1.ProcessEvent's arguments (CGrateS' AttrArgsProcessEvent)."""

    tenant: str
    event: dict
    event_id: str = ""
    time: datetime | None = None
    context: str = ""
    attribute_ids: list[str] = field(default_factory=list)
    process_runs: int | None = None
    profile_runs: int | None = None


class AttributeService:
    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.live = live or LiveObjects(node.datadb, rating=node.rating)
        self.filters = FilterEngine(node, self.live)
        self.profiles = ProfileStore(node, ATTRIBUTES, self.live)
        self._by_context = PerLoad()  # (tenant, context) -> profiles

    @property
    def config(self):
        return self.node.config.attributes

    # -- profiles ----------------------------------------------------------------------
    def set_profile(self, profile: dict, attributes_required: bool = True) -> None:
        self.profiles.set(normalize_profile(profile, attributes_required))

    def get_profile(self, tenant: str, profile_id: str) -> dict:
        return profile_as_json(self.profiles.get(tenant, profile_id))

    def remove_profile(self, tenant: str, profile_id: str) -> None:
        self.profiles.remove(tenant, profile_id)

    def profile_ids(self, tenant: str) -> list[str]:
        return self.profiles.ids(tenant)

    # -- events ----------------------------------------------------------------------
    def profile_for_event(self, request: AttributeRequest, skip=frozenset()) -> dict:
        """The highest-Weight matching profile (GetAttributeForEvent); NotFound when none.
        Profiles of the request's context first; none matching: those of context *any."""
        best = self._profile_or_none(request, skip)
        if best is None:
            raise NotFound()
        return best

    def _profile_or_none(self, request: AttributeRequest, skip) -> dict | None:
        if request.attribute_ids:
            found = [self._by_id(request.tenant, pid) for pid in request.attribute_ids]
            best = self._best(request, [doc for doc in found if doc is not None], skip)
        else:
            context = request.context or DEFAULT_CONTEXT
            best = self._best(request, self._of_context(request.tenant, context), skip)
            if best is None and context != ANY_CONTEXT:
                best = self._best(request, self._of_context(request.tenant, ANY_CONTEXT), skip)
        return best

    def _of_context(self, tenant: str, context: str) -> list[dict]:
        """The tenant's profiles of ``context``, kept until the live documents are read
        again (as ProfileStore.of_tenant keeps the tenant's)."""
        docs = self.live.kind(ATTRIBUTES)
        return self._by_context.get(
            docs,
            (tenant, context),
            lambda: [
                doc for doc in self.profiles.of_tenant(tenant) if context in doc.get("Contexts", ())
            ],
        )

    def _best(self, request: AttributeRequest, candidates: list[dict], skip) -> dict | None:
        """Highest Weight wins; equal Weights go to the lower ID, so the answer does not
        depend on the order the DataDB happens to list profiles in."""
        best = None
        for doc in candidates:
            if doc["ID"] in skip or not self._applies(request, doc):
                continue
            if best is None or _ranks_before(doc, best):
                best = doc
        return best

    def _applies(self, request: AttributeRequest, doc: dict) -> bool:
        moment = request.time
        if moment and not is_active(doc.get("ActivationInterval"), moment):
            return False
        return self.filters.matches(request.tenant, doc.get("FilterIDs"), request.event, moment)

    def _by_id(self, tenant: str, profile_id: str) -> dict | None:
        return self.live.kind(ATTRIBUTES).get(f"{tenant}:{profile_id}")

    def process_event(self, request: AttributeRequest) -> dict:
        """``{MatchedProfiles, AlteredFields, CGREvent}``; NotFound when no profile matched."""
        reply = self._process(request)
        if reply is None:
            raise NotFound()
        return reply

    def _process(self, request: AttributeRequest) -> dict | None:
        """``process_event``, None when no profile matched."""
        runs = request.process_runs or self.config.process_runs
        profile_runs = (
            self.config.profile_runs if request.profile_runs is None else (request.profile_runs)
        )
        current = request  # copied before its first change: no copy when nothing matches
        applied: dict[str, int] = {}
        matched: list[str] = []
        altered: list[str] = []
        last = None
        for run in range(runs):
            skip = (  # nothing applied yet (the first run): no comprehension to call
                {pid for pid, n in applied.items() if profile_runs and n >= profile_runs}
                if applied
                else set()
            )
            if profile_runs and last is not None:
                skip.add(last)  # CGrateS v0.11: never the same profile twice in a row
            profile = self._profile_or_none(current, skip)
            if profile is None:
                if run == 0:
                    return None
                break
            if not profile_runs and profile["ID"] in applied:
                break
            if current is request:
                current = _copy(request)
            for path in self._apply(profile, current):
                _add_sorted(altered, path)
            applied[profile["ID"]] = applied.get(profile["ID"], 0) + 1
            last = profile["ID"]
            if profile["ID"] not in matched:
                matched.append(profile["ID"])
            if profile.get("Blocker"):
                break
        if current is request:
            current = _copy(request)
        for name, value in current.event.items():
            if value == MANDATORY_MARK:
                raise MandatoryMissing(name)
        return {
            "MatchedProfiles": matched,
            "AlteredFields": altered,
            "CGREvent": {
                "Tenant": current.tenant,
                "ID": request.event_id,
                "Time": request.time,
                "Event": current.event,
            },
        }

    def altered(self, request: AttributeRequest) -> tuple[str, dict, dict | None]:
        """``(tenant, event, reply)`` after ProcessEvent; the request's own tenant and event
        (times printed) and None when no profile matched. Other errors propagate."""
        request.event = plain(request.event)
        reply = self._process(request)
        if reply is None:
            return request.tenant, request.event, None
        return reply["CGREvent"]["Tenant"], dict(reply["CGREvent"]["Event"]), reply

    def _apply(self, profile: dict, request: AttributeRequest) -> list[str]:
        """Apply one profile to ``request`` in place; the paths it altered, in order."""
        altered: list[str] = []
        event = request.event
        for attribute in profile.get("Attributes") or ():
            filter_ids = attribute.get("FilterIDs")
            if filter_ids and not self.filters.matches(
                request.tenant, filter_ids, event, request.time
            ):
                continue
            kind, path = attribute.get("Type", ""), attribute["Path"]
            new = substitute(
                kind, parsers(attribute["Value"]), event, self.node.config.general.rounding_decimals
            )
            _add_sorted(altered, path)
            if path == TENANT_PATH:
                request.tenant = request.tenant + new if kind == "*composed" else new
            elif path.startswith(REQ):
                name = path[len(REQ) :]
                if new == REMOVE:
                    event.pop(name, None)
                else:
                    event[name] = as_text(event.get(name, "")) + new if kind == "*composed" else new
        return altered


def _copy(request: AttributeRequest) -> AttributeRequest:
    """The request with its own copy of the event, to alter."""
    return replace(request, event=dict(request.event))


def _ranks_before(doc: dict, other: dict) -> bool:
    weight, other_weight = to_decimal(doc.get("Weight")), to_decimal(other.get("Weight"))
    return weight > other_weight or (weight == other_weight and doc["ID"] < other["ID"])


def _add_sorted(fields: list[str], path: str) -> None:
    """CGrateS' membership check sorts the list in place before each append; replies keep
    that order (all but the last path sorted), so clients comparing lists see the same."""
    fields.sort()
    if path not in fields:
        fields.append(path)


def altered_fields(reply: dict) -> dict:
    """The ``*req.`` fields a ProcessEvent reply altered, with their new values (removed
    ones left out)."""
    event = reply["CGREvent"]["Event"]
    found = {}
    for path in reply["AlteredFields"]:
        name = path[len(REQ) :] if path.startswith(REQ) else ""
        if name and name in event:
            found[name] = event[name]
    return found


def altered_values(reply: dict) -> dict[str, str]:
    """``altered_fields`` as text: what CGrateS' FreeSWITCH agent sets back on the channel."""
    return {name: as_text(value) for name, value in altered_fields(reply).items()}


def plain(event: dict) -> dict:
    """The event as JSON carries it: times printed (RFC 3339), durations as ns."""
    return {
        key: format_time(value) if isinstance(value, datetime) else value
        for key, value in event.items()
    }
