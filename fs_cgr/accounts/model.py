"""Accounts and balances as CGrateS v0.10 keeps them (engine.Account, engine.Balance).

A balance's value is a Decimal: money for ``*monetary``, units for the others
(``*voice`` in nanoseconds, ``*sms``/``*data`` in plain units). Documents stored
in the DataDB hold money and weights as decimal strings and times as RFC 3339.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import is_not

from fs_cgr import jsoncodec
from fs_cgr.encoded import EncodedList
from fs_cgr.money import ZERO, round_global, to_decimal
from fs_cgr.times import format_time, parse_time

MONETARY = "*monetary"
VOICE = "*voice"
SMS = "*sms"
DATA = "*data"
GENERIC = "*generic"
BALANCE_TYPES = (MONETARY, VOICE, SMS, DATA, GENERIC)
DEFAULT_BALANCE_ID = "*default"
ANY = "*any"


def new_uuid() -> str:
    return str(uuid.uuid4())


def parse_string_map(value) -> dict[str, bool]:
    """CGrateS' StringMap: "A;!B" (or a list, or {id: bool}) -> {"A": True, "B": False}.

    "" and "*any" give an empty map, which matches everything.
    """
    if value is None or value == "" or value == ANY:
        return {}
    if isinstance(value, dict):
        return {str(key): bool(included) for key, included in value.items()}
    items = value.split(";") if isinstance(value, str) else list(value)
    result = {}
    for item in items:
        item = str(item).strip()
        if item.startswith("!"):
            result[item[1:]] = False
        elif item:
            result[item] = True
    return result


def string_map_text(value: dict[str, bool]) -> str:
    """The "A;B" form CGrateS' legacy views print (ids only, as Go's StringMap.String)."""
    return ";".join(value)


def _stored_time(text: str | None) -> datetime | None:
    """A time this module wrote (RFC 3339 UTC); fromisoformat is the fast path."""
    if not text or text.startswith("0001-01-01"):  # Go's zero time: never
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return parse_time(text)


@dataclass(slots=True)
class Balance:
    uuid: str
    type: str
    id: str = ""
    value: Decimal = ZERO
    weight: Decimal = ZERO
    expiry: datetime | None = None  # None = *unlimited
    destination_ids: dict[str, bool] = field(default_factory=dict)
    rating_subject: str = ""
    categories: dict[str, bool] = field(default_factory=dict)
    shared_groups: dict[str, bool] = field(default_factory=dict)
    timing_ids: dict[str, bool] = field(default_factory=dict)
    disabled: bool = False
    blocker: bool = False
    factor: dict[str, Decimal] = field(default_factory=dict)

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_BALANCE_ID

    def is_expired(self, at: datetime) -> bool:
        return self.expiry is not None and self.expiry < at

    def matches_category(self, category: str) -> bool:
        return not self.categories or self.categories.get(category, False)

    def add(self, amount: Decimal) -> None:
        """Change the value by ``amount``, rounded as CGrateS' Balance.SetValue does."""
        self.value = round_global(self.value + amount)

    def copy(self) -> "Balance":
        """A copy whose value may change; the maps are shared because they are only replaced."""
        return Balance(
            self.uuid,
            self.type,
            self.id,
            self.value,
            self.weight,
            self.expiry,
            self.destination_ids,
            self.rating_subject,
            self.categories,
            self.shared_groups,
            self.timing_ids,
            self.disabled,
            self.blocker,
            self.factor,
        )

    def to_doc(self) -> dict:
        doc = {"Uuid": self.uuid, "ID": self.id, "Value": str(self.value)}
        if self.weight:
            doc["Weight"] = str(self.weight)
        if self.expiry is not None:
            doc["ExpirationDate"] = format_time(self.expiry)
        for key, value in (
            ("DestinationIDs", self.destination_ids),
            ("RatingSubject", self.rating_subject),
            ("Categories", self.categories),
            ("SharedGroups", self.shared_groups),
            ("TimingIDs", self.timing_ids),
            ("Disabled", self.disabled),
            ("Blocker", self.blocker),
        ):
            if value:
                doc[key] = value
        if self.factor:
            doc["Factor"] = {tor: str(value) for tor, value in self.factor.items()}
        return doc

    @classmethod
    def from_doc(cls, balance_type: str, doc: dict) -> "Balance":
        return cls(
            uuid=doc["Uuid"],
            type=balance_type,
            id=doc.get("ID", ""),
            value=Decimal(doc["Value"]),
            weight=Decimal(doc["Weight"]) if "Weight" in doc else ZERO,
            expiry=_stored_time(doc.get("ExpirationDate")),
            destination_ids=doc.get("DestinationIDs", {}),
            rating_subject=doc.get("RatingSubject", ""),
            categories=doc.get("Categories", {}),
            shared_groups=doc.get("SharedGroups", {}),
            timing_ids=doc.get("TimingIDs", {}),
            disabled=doc.get("Disabled", False),
            blocker=doc.get("Blocker", False),
            factor={tor: to_decimal(v) for tor, v in doc.get("Factor", {}).items()},
        )


@dataclass(slots=True)
class Account:
    tenant: str
    id: str
    balances: dict[str, list[Balance]] = field(default_factory=dict)  # CGrateS' BalanceMap
    allow_negative: bool = False
    disabled: bool = False
    update_time: datetime | None = None
    action_plan_ids: list[str] = field(default_factory=list)  # plans the scheduler runs for it
    # ActionTrigger documents; never changed in place (copies share them): replace one to
    # change it
    action_triggers: list[dict] = field(default_factory=list)
    # (trigger documents, their JSON text) as last encoded: every charge writes the
    # document again, and while the list holds the same documents their text is the same
    triggers_json: tuple[list, str] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.tenant}:{self.id}"

    def iter_balances(self):
        for chain in self.balances.values():
            yield from chain

    def find_balance(self, balance_uuid: str) -> Balance | None:
        for balance in self.iter_balances():
            if balance.uuid == balance_uuid:
                return balance
        return None

    def add_balance(self, balance: Balance) -> Balance:
        self.balances.setdefault(balance.type, []).append(balance)
        return balance

    def default_monetary(self) -> Balance:
        """The ``*default`` monetary balance, created empty when missing (as CGrateS does):
        money owed beyond every balance is charged to it."""
        for balance in self.balances.get(MONETARY, ()):
            if balance.is_default:
                return balance
        return self.add_balance(Balance(new_uuid(), MONETARY, DEFAULT_BALANCE_ID))

    def copy(self) -> "Account":
        return Account(
            self.tenant,
            self.id,
            {kind: [b.copy() for b in chain] for kind, chain in self.balances.items()},
            self.allow_negative,
            self.disabled,
            self.update_time,
            list(self.action_plan_ids),
            list(self.action_triggers),
            self.triggers_json,
        )

    def to_doc(self) -> dict:
        doc = {
            "Tenant": self.tenant,
            "ID": self.id,
            "BalanceMap": {
                kind: [b.to_doc() for b in chain] for kind, chain in self.balances.items()
            },
            "AllowNegative": self.allow_negative,
            "Disabled": self.disabled,
        }
        if self.update_time is not None:
            doc["UpdateTime"] = format_time(self.update_time)
        if self.action_plan_ids:
            doc["ActionPlanIDs"] = list(self.action_plan_ids)
        if self.action_triggers:
            doc["ActionTriggers"] = self._encoded_triggers()
        return doc

    def _encoded_triggers(self) -> EncodedList:
        """The trigger documents with their JSON text, encoded only when the list changed."""
        triggers, cached = self.action_triggers, self.triggers_json
        if (
            cached is None
            or len(cached[0]) != len(triggers)
            or any(map(is_not, cached[0], triggers))
        ):
            cached = self.triggers_json = (list(triggers), jsoncodec.encode(triggers))
        return EncodedList(triggers, cached[1])

    @classmethod
    def from_doc(cls, doc: dict) -> "Account":
        return cls(
            tenant=doc["Tenant"],
            id=doc["ID"],
            balances={
                kind: [Balance.from_doc(kind, b) for b in chain]
                for kind, chain in doc.get("BalanceMap", {}).items()
            },
            allow_negative=doc.get("AllowNegative", False),
            disabled=doc.get("Disabled", False),
            update_time=_stored_time(doc.get("UpdateTime")),
            action_plan_ids=list(doc.get("ActionPlanIDs", ())),
            action_triggers=[dict(trigger) for trigger in doc.get("ActionTriggers", ())],
        )
