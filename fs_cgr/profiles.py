"""Tenant-scoped live profiles (``tenant:ID`` documents of one kind) as the APIerSv1
Set/Get/Remove/Get...IDs methods see them; AttributeS and ResourceS keep theirs here."""

from fs_cgr.errors import InvalidArgument, NotFound
from fs_cgr.filters import LiveObjects
from fs_cgr.money import to_decimal


class ProfileStore:
    def __init__(self, node, kind: str, live: LiveObjects):
        self.node = node
        self.kind = kind
        self.live = live

    def set(self, doc: dict) -> None:
        """Write a normalised profile (validated with the whole live plan first)."""
        self.node.tariffplans.apply_live([(self.kind, f"{doc['Tenant']}:{doc['ID']}", doc)])
        self.live.refresh()

    def get(self, tenant: str, profile_id: str) -> dict:
        self.live.refresh()
        doc = self.live.kind(self.kind).get(f"{tenant}:{profile_id}")
        if doc is None:
            raise NotFound()
        return doc

    def remove(self, tenant: str, profile_id: str) -> None:
        self.get(tenant, profile_id)
        self.node.tariffplans.apply_live([(self.kind, f"{tenant}:{profile_id}", None)])
        self.live.refresh()

    def ids(self, tenant: str) -> list[str]:
        """Sorted IDs of the tenant's profiles; NotFound when it has none."""
        self.live.refresh()
        ids = sorted(doc["ID"] for doc in self.of_tenant(tenant))
        if not ids:
            raise NotFound()
        return ids

    def of_tenant(self, tenant: str) -> list[dict]:
        prefix = tenant + ":"
        return [doc for key, doc in self.live.kind(self.kind).items() if key.startswith(prefix)]


def as_list(value) -> list[str]:
    """A list field as the API or a CSV cell gives it ("a;b" or a list)."""
    if not value:
        return []
    if isinstance(value, str):
        return [part for part in value.split(";") if part]
    return [str(part) for part in value]


def weight(value):
    """A Weight kept a JSON number, checked here so a typo is refused, not stored."""
    try:
        number = to_decimal(value)
    except ValueError:
        raise InvalidArgument(f"Weight must be a number, got {value!r}") from None
    return int(number) if number == number.to_integral_value() else float(number)
