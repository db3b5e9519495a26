"""StatS over JSON-RPC: StatSv1 and the APIerSv1 stat queue profile methods (CGrateS v0.10)."""

from fs_cgr.api import params as p
from fs_cgr.api.registry import rpc

OK = "OK"


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


@rpc("StatSv1.Ping")
def ping(node, params: dict) -> str:
    return "Pong"


@rpc("APIerSv1.SetStatQueueProfile")
def set_stat_queue_profile(node, params: dict) -> str:
    node.stats.set_profile({**params, "Tenant": p.tenant(node, params)})
    return OK


@rpc("APIerSv1.GetStatQueueProfile")
def get_stat_queue_profile(node, params: dict) -> dict:
    return node.stats.get_profile(*p.tenant_id(node, params))


@rpc("APIerSv1.RemoveStatQueueProfile")
def remove_stat_queue_profile(node, params: dict) -> str:
    node.stats.remove_profile(*p.tenant_id(node, params))
    return OK


@rpc("APIerSv1.GetStatQueueProfileIDs")
def get_stat_queue_profile_ids(node, params: dict) -> list[str]:
    return node.stats.profile_ids(p.tenant(node, params))
