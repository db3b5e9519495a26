"""ChargerS: one event becomes one run per matching charger profile.

A profile (live kind ``chargers``, id ``tenant:ID``) matches by its FilterIDs
and ActivationInterval; matching profiles run in Weight order (highest first).
Each run is a copy of the event with ``RunID`` set and the profile's
AttributeIDs applied: ``*none`` changes nothing, an inline
``*constant:*req.Field:value`` sets a field (``value`` may be ``~*req.Other``
to copy another field). Attribute profiles by ID go through AttributeS when
config ``chargers.attributes`` is on (as CGrateS' chargers with attributes_conns);
otherwise they are skipped with one warning per ID.
"""

import logging
from datetime import datetime

from fs_cgr.attributes.service import AttributeRequest
from fs_cgr.cdrs.event import check_storable, check_text, normalize
from fs_cgr.errors import NotFound
from fs_cgr.filters import REQ_PREFIX, FilterEngine, LiveObjects, is_active
from fs_cgr.money import to_decimal
from fs_cgr.profiles import id_list as _list
from fs_cgr.profiles import profile_head
from fs_cgr.storage.base import CHARGERS
from fs_cgr.times import now as utc_now

log = logging.getLogger(__name__)

NONE_ATTRIBUTE = "*none"
CONSTANT = "*constant"
CHARGERS_CONTEXT = "*chargers"


class ChargerService:
    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.live = live or LiveObjects(node.datadb, rating=node.rating)
        self.filters = FilterEngine(node, self.live)
        self._warned: set[str] = set()

    # -- profiles --------------------------------------------------------------
    def get_profile(self, tenant: str, profile_id: str) -> dict:
        self.live.refresh()
        doc = self.live.kind(CHARGERS).get(f"{tenant}:{profile_id}")
        if doc is None:
            raise NotFound()
        return profile_as_json(doc)

    def profile_ids(self, tenant: str) -> list[str]:
        self.live.refresh()
        prefix = tenant + ":"
        return sorted(
            key[len(prefix) :] for key in self.live.kind(CHARGERS) if key.startswith(prefix)
        )

    def set_profile(self, profile: dict) -> None:
        doc = normalize_profile(profile)
        self.node.tariffplans.apply_live([(CHARGERS, f"{doc['Tenant']}:{doc['ID']}", doc)])
        self.live.refresh()

    def remove_profile(self, tenant: str, profile_id: str) -> None:
        key = f"{tenant}:{profile_id}"
        self.live.refresh()
        if key not in self.live.kind(CHARGERS):
            raise NotFound()
        self.node.tariffplans.apply_live([(CHARGERS, key, None)])
        self.live.refresh()

    # -- events ----------------------------------------------------------------
    def matching(self, event: dict, now: datetime | None = None) -> list[dict]:
        """Profiles matching the event, highest Weight first; NotFound when none."""
        moment = now or utc_now()
        tenant = event["Tenant"]
        prefix = tenant + ":"
        found = []
        for key, doc in self.live.kind(CHARGERS).items():
            if not key.startswith(prefix) or not is_active(doc.get("ActivationInterval"), moment):
                continue
            if self.filters.matches(tenant, _list(doc.get("FilterIDs")), event, moment):
                found.append(doc)
        if not found:
            raise NotFound()
        if len(found) > 1:  # one (the usual *default run) needs no ranking
            found.sort(key=lambda doc: (-to_decimal(doc.get("Weight")), doc.get("ID", "")))
        return found

    def runs(self, event: dict, now: datetime | None = None) -> list[dict]:
        """One event per matching profile, with RunID and attributes applied.

        ``event`` is normalized (so storable); a run is checked again only where its
        profile may have changed more than the RunID (attributes)."""
        return [run for run, _ in self.marked_runs(event, now)]

    def marked_runs(self, event: dict, now: datetime | None = None) -> list[tuple[dict, bool]]:
        """``runs`` as ``(run, as_normalized)``: ``as_normalized`` when the profile set only
        the RunID, so that the run of a normalized event is as ``normalize`` makes it."""
        marked = []
        for doc in self.matching(event, now):
            run = self.run_event(event, doc)
            alters = self._alters(doc)
            if alters:
                check_storable(run)
            else:
                check_text("RunID", run["RunID"])
            marked.append((run, not alters))
        return marked

    def _alters(self, profile: dict) -> bool:
        """Whether ``run_event`` may change more of an event than its RunID."""
        attribute_ids = _list(profile.get("AttributeIDs"))
        if self.node.config.chargers.attributes and attribute_ids != [NONE_ATTRIBUTE]:
            return True
        return any(attribute and attribute != NONE_ATTRIBUTE for attribute in attribute_ids)

    def run_event(self, event: dict, profile: dict) -> dict:
        run = dict(event)
        run["RunID"] = profile.get("RunID") or "*default"
        attribute_ids = _list(profile.get("AttributeIDs"))
        through = self.node.config.chargers.attributes and attribute_ids != [NONE_ATTRIBUTE]
        for attribute in attribute_ids:
            if ":" in attribute or not through:
                self._apply(run, attribute)
        if through:
            run = self._through_attributes(run, [a for a in attribute_ids if ":" not in a])
        return run

    def _through_attributes(self, run: dict, attribute_ids: list[str]) -> dict:
        """Config ``chargers.attributes``: the run as AttributeS (context ``*chargers``, the
        profile's AttributeIDs, or any profile of that context when it names none) alters it."""
        request = AttributeRequest(
            tenant=run["Tenant"], event=run, context=CHARGERS_CONTEXT, attribute_ids=attribute_ids
        )
        tenant, altered, reply = self.node.attributes.altered(request)
        if reply is None:
            return run
        return normalize({**altered, "Tenant": tenant}, self.node.config.general)

    def _apply(self, run: dict, attribute: str) -> None:
        if attribute == NONE_ATTRIBUTE or not attribute:
            return
        kind, _, rest = attribute.partition(":")
        path, _, value = rest.partition(":")
        if kind == CONSTANT and path.startswith("*req.") and len(path) > len("*req."):
            field = path[len("*req.") :]
            run[field] = (
                run.get(value[len(REQ_PREFIX) :]) if value.startswith(REQ_PREFIX) else value
            )
            return
        if attribute not in self._warned:
            self._warned.add(attribute)
            log.warning(
                "charger attribute %r skipped: only inline *constant is supported", attribute
            )


def normalize_profile(profile: dict) -> dict:
    """A ChargerProfile as the API sends it (or the CSV loader writes it), as stored."""
    return {
        **profile_head(profile),
        "RunID": str(profile.get("RunID") or ""),
        "AttributeIDs": _list(profile.get("AttributeIDs")),
        "Weight": str(to_decimal(profile.get("Weight"))),
    }


def profile_as_json(doc: dict) -> dict:
    """The ChargerProfile JSON CGrateS replies with."""
    profile = normalize_profile(doc)
    profile["Weight"] = to_decimal(profile["Weight"])
    return profile
