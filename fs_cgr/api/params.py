"""Request parameters matched by name as Go's encoding/json matches them.

CGrateS decodes every request into Go structs, and encoding/json matches a JSON
key to a struct field case-insensitively when no field has exactly that name:
``ActionPlanIds`` fills ``ActionPlanIDs``, ``tenant`` fills ``Tenant``. Every
method here reads its parameters through ``GoParams`` (the JSON-RPC layer wraps
them once), so each accepts the spellings a real CGrateS accepts. Unknown keys
are ignored, as Go ignores them.
"""


class GoParams(dict):
    """A dict whose lookups fall back to a case-insensitive match of the key (nested
    objects, also inside lists, are GoParams too)."""

    __slots__ = ("_folded",)

    def __init__(self, data: dict):
        super().__init__((key, go_params(value)) for key, value in data.items())
        self._folded: dict[str, str] | None = None

    def _key(self, key):
        if dict.__contains__(self, key) or not isinstance(key, str):
            return key
        if self._folded is None:
            self._folded = {}
            for name in self:
                self._folded.setdefault(name.lower(), name)
        return self._folded.get(key.lower(), key)

    def __getitem__(self, key):
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, self._key(key))

    def get(self, key, default=None):
        return dict.get(self, self._key(key), default)

    def __setitem__(self, key, value) -> None:
        self._folded = None
        dict.__setitem__(self, self._key(key), value)

    def pop(self, key, *default):
        self._folded = None
        return dict.pop(self, self._key(key), *default)

    def setdefault(self, key, default=None):
        self._folded = None
        return dict.setdefault(self, self._key(key), default)


def go_params(value):
    """``value`` with every JSON object in it wrapped as GoParams."""
    if isinstance(value, dict) and not isinstance(value, GoParams):
        return GoParams(value)
    if isinstance(value, list):
        return [go_params(item) for item in value]
    return value
