"""``<Service>.Ping``: every CGrateS service answers "Pong" while the node runs, so
clients and load balancers can probe the service they use."""

from fs_cgr.api.registry import rpc

SERVICES = (
    "APIerSv1",
    "AttributeSv1",
    "ResourceSv1",
    "RouteSv1",
    "SupplierSv1",
    "StatSv1",
    "ThresholdSv1",
)


def ping(node, params: dict) -> str:
    return "Pong"


for _service in SERVICES:
    rpc(f"{_service}.Ping")(ping)
