"""The four APIerSv1 methods every tenant-scoped profile kind has, registered in one go:
``Set<Name>Profile``, ``Get<Name>Profile``, ``Get<Name>ProfileIDs``,
``Remove<Name>Profile``, over a node service with ``set_profile(doc)``,
``get_profile(tenant, id)`` and ``profiles`` (a fs_cgr.profiles.ProfileStore)."""

from fs_cgr.api.registry import rpc
from fs_cgr.errors import MandatoryMissing

OK = "OK"


def tenant_of(node, params: dict) -> str:
    return params.get("Tenant") or node.config.general.default_tenant


def tenant_id(node, params: dict) -> tuple[str, str]:
    if not params.get("ID"):
        raise MandatoryMissing("ID")
    return tenant_of(node, params), str(params["ID"])


def register_profile_methods(name: str, service: str) -> None:
    """``name``: as in the method names ("Resource"); ``service``: the node attribute."""

    def set_profile(node, params: dict) -> str:
        getattr(node, service).set_profile({**params, "Tenant": tenant_of(node, params)})
        return OK

    def get_profile(node, params: dict) -> dict:
        return getattr(node, service).get_profile(*tenant_id(node, params))

    def get_profile_ids(node, params: dict) -> list[str]:
        return getattr(node, service).profiles.ids(tenant_of(node, params))

    def remove_profile(node, params: dict) -> str:
        getattr(node, service).profiles.remove(*tenant_id(node, params))
        return OK

    rpc(f"APIerSv1.Set{name}Profile")(set_profile)
    rpc(f"APIerSv1.Get{name}Profile")(get_profile)
    rpc(f"APIerSv1.Get{name}ProfileIDs")(get_profile_ids)
    rpc(f"APIerSv1.Remove{name}Profile")(remove_profile)
