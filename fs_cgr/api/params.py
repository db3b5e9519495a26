"""Request parameters matched by name as Go's encoding/json matches them.

CGrateS decodes every request into Go structs, and encoding/json matches a JSON
key to a struct field case-insensitively when no field has exactly that name:
``ActionPlanIds`` fills ``ActionPlanIDs``, ``tenant`` fills ``Tenant``. Every
method here reads its parameters through ``GoParams`` (the JSON-RPC layer wraps
them once), so each accepts the spellings a real CGrateS accepts. Unknown keys
are ignored, as Go ignores them.

Below, the readers CGrateS' profile services share: Tenant (the node's default when
omitted), ID, and a CGREvent with an optional list of IDs it is limited to.
"""

from fs_cgr.errors import InvalidArgument, MandatoryMissing


class GoParams(dict):
    """A dict whose lookups fall back to a case-insensitive match of the key (nested
    objects, also inside lists, are GoParams too)."""

    __slots__ = ("_folded",)

    def __init__(self, data: dict):
        dict.__init__(self, data)  # not super(): one call less for every object of a request
        for key, value in data.items():  # most values are scalars: wrap only what nests
            if isinstance(value, _NESTING):
                _dict_set(self, key, go_params(value))
        self._folded: dict[str, str] | None = None

    def _key(self, key):
        if dict.__contains__(self, key) or not isinstance(key, str):
            return key
        if self._folded is None:
            self._fold()
        return self._folded.get(key.lower(), key)

    def _fold(self) -> None:
        self._folded = {}
        for name in self:
            self._folded.setdefault(name.lower(), name)

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        value = _dict_get(self, key, _ABSENT)  # the exact name first: no folding needed
        if value is not _ABSENT or not isinstance(key, str):
            return default if value is _ABSENT else value
        if self._folded is None:
            self._fold()
        name = self._folded.get(key.lower())
        return default if name is None else _dict_get(self, name, default)

    def __setitem__(self, key, value) -> None:
        self._folded = None
        dict.__setitem__(self, self._key(key), value)

    def pop(self, key, *default):
        self._folded = None
        return dict.pop(self, self._key(key), *default)

    def setdefault(self, key, default=None):
        self._folded = None
        return dict.setdefault(self, self._key(key), default)


_ABSENT = object()
_dict_get = dict.get
_dict_set = dict.__setitem__
_NESTING = (dict, list)


def go_params(value):
    """``value`` with every JSON object in it wrapped as GoParams."""
    if isinstance(value, dict) and not isinstance(value, GoParams):
        return GoParams(value)
    if isinstance(value, list):
        return [go_params(item) for item in value]
    return value


# -- what the profile services read ---------------------------------------------------
def tenant(node, params: dict) -> str:
    return params.get("Tenant") or node.config.general.default_tenant


def tenant_id(node, params: dict) -> tuple[str, str]:
    if not params.get("ID"):
        raise MandatoryMissing("ID")
    return tenant(node, params), str(params["ID"])


def cgr_event(node, params: dict) -> dict:
    """The CGREvent of ``{Tenant, ID, Time, Event, ...}`` (MANDATORY_IE_MISSING names
    what it lacks)."""
    missing = [name for name in ("ID", "Event") if not params.get(name)]
    if missing:
        raise MandatoryMissing(*missing)
    if not isinstance(params["Event"], dict):
        raise InvalidArgument("Event must be an object")
    return {
        "Tenant": tenant(node, params),
        "ID": str(params["ID"]),
        "Time": params.get("Time"),
        "Event": params["Event"],
    }


def id_list(params: dict, name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidArgument(f"{name} must be a list of strings")
    return value
