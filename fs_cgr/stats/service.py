"""StatS: stat queues fed by events, their metrics read by clients and ThresholdS.

Profiles are live objects (kind ``stat_queue_profiles``, id ``tenant:ID``); each has a
queue, a state document in the DataDB (kind ``stat_queues``), so it survives restarts
and every node sharing the DataDB feeds the same queue. An event changes a queue by
compare-and-set (``fs_cgr.storage.state``): two nodes adding to one queue at once both
count.

After a queue took an event, StatS sends ThresholdS an event with the queue's metric
values (``EventType: StatUpdate``, ``StatID``, one field per metric ID), to the
profile's ThresholdIDs (all matching thresholds when empty, none for ``*none``), as
CGrateS does with ``stats.thresholds_conns``; fs_cgr always has ThresholdS at hand.
"""

import copy
import logging
import uuid

from fs_cgr.errors import MandatoryMissing, NotFound, PartiallyExecuted
from fs_cgr.filters import LiveObjects
from fs_cgr.profiles import ProfileStore, cgr_event_parts
from fs_cgr.stats import queue as queues
from fs_cgr.storage.base import STAT_QUEUE_PROFILES, STAT_QUEUES
from fs_cgr.storage.state import UNCHANGED, StateStore
from fs_cgr.times import now as utc_now

log = logging.getLogger(__name__)

STAT_UPDATE = "StatUpdate"


class StatService:
    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.profiles = ProfileStore(node, STAT_QUEUE_PROFILES, live)
        self.state = StateStore(node.datadb)

    # -- profiles ----------------------------------------------------------------------
    def set_profile(self, profile: dict) -> None:
        """Store the profile; its queue is created when it has none (an existing queue
        keeps its items and metrics, as in CGrateS)."""
        doc = queues.normalize_profile(profile)
        self.profiles.set(doc)
        key = f"{doc['Tenant']}:{doc['ID']}"
        self.state.update(
            STAT_QUEUES,
            key,
            lambda current: (queues.new_queue(doc) if current is None else UNCHANGED, None),
        )

    def get_profile(self, tenant: str, profile_id: str) -> dict:
        return self.profiles.get(tenant, profile_id)

    def remove_profile(self, tenant: str, profile_id: str) -> None:
        self.profiles.remove(tenant, profile_id)
        self._remove_queue(f"{tenant}:{profile_id}")

    def profile_ids(self, tenant: str) -> list[str]:
        return self.profiles.ids(tenant)

    def check_profiles(self, profiles: dict[str, dict]) -> None:
        """Refuse profiles (``{tenant:ID: profile}``) whose queues could not be built
        (an unknown metric), before anything is written."""
        for profile in profiles.values():
            queues.normalize_profile(profile)

    def reset_queues(self, profiles: dict[str, dict]) -> None:
        """Fresh, empty queues for these profiles (``{tenant:ID: profile}``), as a tariff
        plan load leaves them."""
        for key, profile in profiles.items():
            fresh = queues.new_queue(profile)
            self.state.update(STAT_QUEUES, key, lambda current, q=fresh: (q, None))

    def remove_queues(self, keys) -> None:
        for key in keys:
            self._remove_queue(key)

    def _remove_queue(self, key: str) -> None:
        self.state.update(
            STAT_QUEUES,
            key,
            lambda current: (UNCHANGED if current is None else None, None),
        )

    # -- events --------------------------------------------------------------------------
    def queues_for_event(self, cgr_event: dict, stat_ids=None) -> list[str]:
        """StatSv1.GetStatQueuesForEvent: the IDs of the queues the event would enter."""
        tenant, event, moment = cgr_event_parts(self.node, cgr_event)
        return [p["ID"] for p in self.profiles.matching(tenant, event, stat_ids, moment)]

    def process_event(self, cgr_event: dict, stat_ids: list[str] | None = None) -> list[str]:
        """StatSv1.ProcessEvent: the event enters every matching queue; returns their IDs.

        NotFound when no queue matches; PartiallyExecuted when a metric could not take
        the event or ThresholdS failed (the other queues and metrics took it)."""
        tenant, event, moment = cgr_event_parts(self.node, cgr_event)
        event_id = cgr_event.get("ID")
        if not event_id:
            raise MandatoryMissing("ID")
        matched = self.profiles.matching(tenant, event, stat_ids, moment)
        if not matched:
            raise NotFound()
        failed = False
        for profile in matched:
            values, error = self._add(profile, str(event_id), event)
            if error is not None:
                log.warning(
                    "<StatS> Queue: %s:%s, ignoring event: %s", tenant, profile["ID"], error
                )
                failed = True
            failed = not self._notify_thresholds(profile, values) or failed
        if failed:
            raise PartiallyExecuted()
        return [profile["ID"] for profile in matched]

    def _add(self, profile: dict, event_id: str, event: dict) -> tuple[dict, str | None]:
        """Put the event into the profile's queue: (metric values after it, error)."""
        tenant = profile["Tenant"]

        def passes(filter_ids, ev) -> bool:
            return self.profiles.filters.matches(tenant, filter_ids, ev)

        def change(current):
            queue = current if current is not None else queues.new_queue(profile)
            error = queues.add_event(queue, profile, event_id, event, passes, utc_now())
            return queue, (queues.event_values(queue), error)

        return self.state.update(STAT_QUEUES, f"{tenant}:{profile['ID']}", change)

    def _notify_thresholds(self, profile: dict, values: dict) -> bool:
        """Send ThresholdS the queue's metric values; False when ThresholdS failed."""
        threshold_ids = profile.get("ThresholdIDs") or []
        if threshold_ids == [queues.NO_THRESHOLDS]:
            return True
        event = {"EventType": STAT_UPDATE, "StatID": profile["ID"], **values}
        cgr_event = {"Tenant": profile["Tenant"], "ID": str(uuid.uuid4()), "Event": event}
        try:
            self.node.thresholds.process_event(cgr_event, threshold_ids or None)
        except NotFound:
            return True
        except Exception:
            log.exception("<StatS> ThresholdS failed on the update of %s", profile["ID"])
            return False
        return True

    # -- reading queues ------------------------------------------------------------------
    def get_queue(self, tenant: str, queue_id: str) -> dict:
        """StatSv1.GetStatQueue: the queue without its expired items (they are dropped
        from the stored queue too)."""
        return self._read(tenant, queue_id, copy.deepcopy)

    def string_metrics(self, tenant: str, queue_id: str) -> dict[str, str]:
        return self._read(tenant, queue_id, queues.string_metrics)

    def float_metrics(self, tenant: str, queue_id: str) -> dict:
        return self._read(tenant, queue_id, queues.float_metrics)

    def _read(self, tenant: str, queue_id: str, view):
        """``view(queue)``, taken while no update of the queue runs; expired items are
        dropped (and stored) first. A profile whose queue was never written (e.g. loaded
        from the StorDB) has an empty one; no profile: NotFound."""

        def change(current):
            if current is None:
                return UNCHANGED, view(queues.new_queue(self.profiles.get(tenant, queue_id)))
            if queues.remove_expired(current, utc_now()):
                return current, view(current)
            return UNCHANGED, view(current)

        return self.state.update(STAT_QUEUES, f"{tenant}:{queue_id}", change)

    def queue_ids(self, tenant: str) -> list[str]:
        prefix = tenant + ":"
        stored = self.state.ids(STAT_QUEUES)
        return [key[len(prefix) :] for key in stored if key.startswith(prefix)]
