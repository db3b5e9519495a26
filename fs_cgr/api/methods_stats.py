"""StatS over JSON-RPC: StatSv1 and the APIerSv1 stat queue profile methods (CGrateS v0.10)."""

from fs_cgr.api import params as p
from fs_cgr.api.profile_methods import register_profile_methods
from fs_cgr.api.registry import rpc


@rpc("StatSv1.ProcessEvent")
def process_event(node, params: dict) -> list[str]:
    return node.stats.process_event(p.cgr_event(node, params), p.id_list(params, "StatIDs"))


@rpc("StatSv1.GetStatQueuesForEvent")
def get_stat_queues_for_event(node, params: dict) -> list[str]:
    return node.stats.queues_for_event(p.cgr_event(node, params), p.id_list(params, "StatIDs"))


@rpc("StatSv1.GetQueueStringMetrics")
def get_queue_string_metrics(node, params: dict) -> dict:
    return node.stats.string_metrics(*p.tenant_id(node, params))


@rpc("StatSv1.GetQueueFloatMetrics")
def get_queue_float_metrics(node, params: dict) -> dict:
    return node.stats.float_metrics(*p.tenant_id(node, params))


@rpc("StatSv1.GetQueueIDs")
def get_queue_ids(node, params: dict) -> list[str]:
    return node.stats.queue_ids(p.tenant(node, params))


@rpc("StatSv1.GetStatQueue")
def get_stat_queue(node, params: dict) -> dict:
    return node.stats.get_queue(*p.tenant_id(node, params))


register_profile_methods("StatQueueProfile", lambda node: node.stats)
