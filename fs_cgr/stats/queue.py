"""One stat queue: its profile as stored, its items and metrics, and how an event enters it.

The queue document is CGrateS' StatQueue JSON: ``{Tenant, ID, SQItems: [{EventID,
ExpiryTime}], SQMetrics: {MetricID: metric state}, MinItems}``. Items leave the queue
when their TTL passed (oldest first) or when QueueLength is reached (the oldest makes
room for the new one); each leaving item is taken out of every metric.
"""

import logging
from datetime import datetime

from fs_cgr.errors import InvalidArgument, ServerError
from fs_cgr.profiles import duration_field, id_list, integer_field, profile_head, weight
from fs_cgr.stats.metrics import MetricError, metric_for
from fs_cgr.times import add_ns, format_time, parse_time

log = logging.getLogger(__name__)

NO_THRESHOLDS = "*none"


def normalize_profile(profile: dict) -> dict:
    """A StatQueueProfile as the API sends it, checked, as stored (TTL in ns)."""
    head = profile_head(profile)
    metrics = profile.get("Metrics") or []
    if not isinstance(metrics, list) or not all(
        isinstance(m, dict) and m.get("MetricID") for m in metrics
    ):
        raise InvalidArgument("Metrics must be a list of objects with a MetricID")
    for metric in metrics:
        try:
            metric_for(metric["MetricID"])
        except MetricError as exc:
            raise ServerError(exc.message) from None
    return {
        **head,
        "QueueLength": integer_field(profile, "QueueLength"),
        "TTL": duration_field(profile, "TTL"),
        "MinItems": integer_field(profile, "MinItems"),
        "Metrics": [
            {"MetricID": str(m["MetricID"]), "FilterIDs": id_list(m.get("FilterIDs"))}
            for m in metrics
        ],
        "Stored": bool(profile.get("Stored")),
        "Blocker": bool(profile.get("Blocker")),
        "Weight": weight(profile.get("Weight")),
        "ThresholdIDs": id_list(profile.get("ThresholdIDs")),
    }


def new_queue(profile: dict) -> dict:
    """An empty queue with the profile's metrics."""
    min_items = profile.get("MinItems") or 0
    return {
        "Tenant": profile["Tenant"],
        "ID": profile["ID"],
        "SQItems": [],
        "SQMetrics": {
            m["MetricID"]: metric_for(m["MetricID"]).new_state(min_items, m.get("FilterIDs") or [])
            for m in profile.get("Metrics") or ()
        },
        "MinItems": min_items,
    }


def remove_expired(queue: dict, now: datetime) -> int:
    """Take out the items whose ExpiryTime passed; returns how many."""
    items = queue["SQItems"]
    expired = 0
    for item in items:
        expiry = parse_time(item.get("ExpiryTime"))
        if expiry is None or expiry > now:
            break  # items are in arrival order, so expiry order too
        _take_out(queue, item["EventID"])
        expired += 1
    del items[:expired]
    return expired


def add_event(queue: dict, profile: dict, event_id: str, event: dict, passes, now) -> str | None:
    """Put the event into the queue and its metrics whose filters ``passes``.

    Returns None, or the error of the first metric that could not take the event (the
    metrics after it are left out, as in CGrateS)."""
    remove_expired(queue, now)
    length = profile.get("QueueLength") or 0
    while length > 0 and len(queue["SQItems"]) >= length:
        _take_out(queue, queue["SQItems"].pop(0)["EventID"])
    ttl = profile.get("TTL", -1)
    expiry = format_time(add_ns(now, ttl)) if ttl is not None and ttl >= 0 else None
    queue["SQItems"].append({"EventID": event_id, "ExpiryTime": expiry})
    for metric_id, state in queue["SQMetrics"].items():
        if not passes(state.get("FilterIDs") or [], event):
            continue
        try:
            metric_for(metric_id).add(state, event_id, event)
        except MetricError as exc:
            return f"metricID: {metric_id}, add eventID: {event_id}, error: {exc.message}"
    return None


def _take_out(queue: dict, event_id: str) -> None:
    for metric_id, state in queue["SQMetrics"].items():
        metric_for(metric_id).remove(state, event_id)


def string_metrics(queue: dict) -> dict[str, str]:
    return {mid: metric_for(mid).string_value(s) for mid, s in queue["SQMetrics"].items()}


def float_metrics(queue: dict) -> dict:
    return {mid: metric_for(mid).float_value(s) for mid, s in queue["SQMetrics"].items()}


def event_values(queue: dict) -> dict:
    """Metric values as StatS puts them in its threshold event."""
    return {mid: metric_for(mid).event_value(s) for mid, s in queue["SQMetrics"].items()}
