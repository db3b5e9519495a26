"""The four APIerSv1 methods of a tenant-scoped profile kind: Set<Kind>, Get<Kind>,
Remove<Kind> and Get<Kind>IDs, over a service with ``set_profile``, ``get_profile``,
``remove_profile`` and ``profile_ids``."""

from collections.abc import Callable

from fs_cgr.api.params import tenant, tenant_id
from fs_cgr.api.registry import rpc

OK = "OK"


def register_profile_methods(kind: str, service: Callable) -> None:
    """``kind`` as CGrateS names it (``StatQueueProfile``); ``service(node)`` gives the
    service that keeps those profiles."""

    def set_profile(node, params: dict) -> str:
        service(node).set_profile({**params, "Tenant": tenant(node, params)})
        return OK

    def get_profile(node, params: dict) -> dict:
        return service(node).get_profile(*tenant_id(node, params))

    def remove_profile(node, params: dict) -> str:
        service(node).remove_profile(*tenant_id(node, params))
        return OK

    def profile_ids(node, params: dict) -> list[str]:
        return service(node).profile_ids(tenant(node, params))

    rpc(f"APIerSv1.Set{kind}")(set_profile)
    rpc(f"APIerSv1.Get{kind}")(get_profile)
    rpc(f"APIerSv1.Remove{kind}")(remove_profile)
    rpc(f"APIerSv1.Get{kind}IDs")(profile_ids)
