"""ThresholdS over JSON-RPC: ThresholdSv1 and the APIerSv1 threshold profile methods."""

from fs_cgr.api import params as p
from fs_cgr.api.profile_methods import register_profile_methods
from fs_cgr.api.registry import rpc


@rpc("ThresholdSv1.ProcessEvent")
def process_event(node, params: dict) -> list[str]:
    ids = p.id_list(params, "ThresholdIDs")
    return node.thresholds.process_event(p.cgr_event(node, params), ids)


@rpc("ThresholdSv1.GetThresholdsForEvent")
def get_thresholds_for_event(node, params: dict) -> list[dict]:
    ids = p.id_list(params, "ThresholdIDs")
    return node.thresholds.thresholds_for_event(p.cgr_event(node, params), ids)


@rpc("ThresholdSv1.GetThreshold")
def get_threshold(node, params: dict) -> dict:
    return node.thresholds.get_threshold(*p.tenant_id(node, params))


@rpc("ThresholdSv1.GetThresholdIDs")
def get_threshold_ids(node, params: dict) -> list[str]:
    return node.thresholds.threshold_ids(p.tenant(node, params))


register_profile_methods("ThresholdProfile", lambda node: node.thresholds)
