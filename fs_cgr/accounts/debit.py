"""Debit planning: which balances pay for a stretch of usage, increment by increment.

Pure (no I/O): the planner changes the Account object it is given and returns
the Debit record that says exactly who paid what, so that a later refund can
give back precisely the increments a call did not use. CGrateS' order
(engine.Account.debitCreditBalance):

1. unit balances of the call's ToR (voice), best first: a free one
   (RatingSubject "" / "*zero<step>") pays the usage in units rounded up to its
   step; one with its own RatingSubject pays each increment of that rating in
   units while money pays the increment's cost;
2. what is left is rated with the call's subject and paid from money balances
   (best first, each increment whole from the first balance that can pay it);
   the connect fee, when the rating charges one, is paid first and never refunded;
3. when money runs out the debit stops at the last whole paid increment, unless
   negative balances are allowed: then the ``*default`` monetary balance pays the rest.

A DestinationRate's MaxCost caps the call: with ``*free`` the increments after
the cost so far reached MaxCost cost nothing; with ``*disconnect`` a dry run
(max usage) stops there and a real debit flags ``max_cost_reached``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from fs_cgr.accounts.model import MONETARY, Account, Balance
from fs_cgr.accounts.selection import (
    DestinationMatches,
    unit_types,
    usable_balances,
    zero_step,
)
from fs_cgr.encoded import EncodedDict
from fs_cgr.errors import AccountDisabled, InsufficientCredit
from fs_cgr.money import ZERO

MAX_COST_FREE = "*free"
MAX_COST_DISCONNECT = "*disconnect"

# rate(offset_ns, rating_subject or None) -> CallCost of the usage from offset_ns to its end
RateFn = Callable[[int, "str | None"], object]


@dataclass(slots=True)
class Charge:
    """``count`` equal increments, the first starting ``start`` ns into the debited usage.

    Each increment lasts ``duration`` ns (0 for the connect fee), takes ``units`` from the
    unit balance ``units_uuid`` and ``cost`` from the monetary balance ``money_uuid``
    ("" where nothing was taken: free increments, or money-only charges).
    """

    start: int
    duration: int
    count: int
    cost: Decimal = ZERO
    money_uuid: str = ""
    units_uuid: str = ""
    units: Decimal = ZERO

    @property
    def end(self) -> int:
        return self.start + self.duration * self.count

    @property
    def is_connect_fee(self) -> bool:
        return self.duration == 0

    def to_doc(self) -> list:
        return [
            self.start,
            self.duration,
            self.count,
            str(self.cost),
            self.money_uuid,
            self.units_uuid,
            str(self.units),
        ]

    @classmethod
    def from_doc(cls, doc: list) -> "Charge":
        start, duration, count, cost, money_uuid, units_uuid, units = doc
        return cls(start, duration, count, Decimal(cost), money_uuid, units_uuid, Decimal(units))


@dataclass(slots=True)
class Debit:
    """What one debit took. ``usage``: ns paid in whole increments (may exceed ``requested``
    when increments round up, or fall short when money ran out); ``cost``: money taken,
    connect fee included; ``charges`` in usage order. A debit is not changed once its
    document was asked for (``to_doc``)."""

    requested: int
    usage: int = 0
    cost: Decimal = ZERO
    charges: list[Charge] = field(default_factory=list)
    max_cost_reached: bool = False
    tenant: str = ""
    account: str = ""
    key: str = ""
    # its document, made once: the JSON text of its idempotency record is the one of its
    # journal note (fs_cgr.encoded)
    doc: EncodedDict | None = field(default=None, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        return self.usage >= self.requested

    def trimmed(self, keep_usage: int) -> "Debit":
        """The debit as it stands after ``refund_plan(..., keep_usage)`` gave the rest back."""
        kept = []
        for charge in self.charges:
            count = charge.count - refundable_count(charge, keep_usage)
            if count:
                kept.append(
                    Charge(
                        charge.start,
                        charge.duration,
                        count,
                        charge.cost,
                        charge.money_uuid,
                        charge.units_uuid,
                        charge.units,
                    )
                )
        usage = max((c.end for c in kept), default=0)
        cost = sum((c.cost * c.count for c in kept), ZERO)
        return Debit(
            self.requested,
            usage,
            cost,
            kept,
            self.max_cost_reached,
            self.tenant,
            self.account,
            self.key,
        )

    def to_doc(self) -> dict:
        """Its document; the same EncodedDict every time (see ``doc``), never to be changed."""
        if self.doc is None:
            self.doc = EncodedDict(
                {
                    "Tenant": self.tenant,
                    "Account": self.account,
                    "Key": self.key,
                    "Requested": self.requested,
                    "Usage": self.usage,
                    "Cost": str(self.cost),
                    "Charges": [charge.to_doc() for charge in self.charges],
                    "MaxCostReached": self.max_cost_reached,
                }
            )
        return self.doc

    @classmethod
    def from_doc(cls, doc: dict) -> "Debit":
        return cls(
            requested=doc["Requested"],
            usage=doc["Usage"],
            cost=Decimal(doc["Cost"]),
            charges=[Charge.from_doc(c) for c in doc["Charges"]],
            max_cost_reached=doc.get("MaxCostReached", False),
            tenant=doc.get("Tenant", ""),
            account=doc.get("Account", ""),
            key=doc.get("Key", ""),
        )


@dataclass(slots=True)
class Refund:
    """What a refund gave back: ``usage`` ns of increments, ``cost`` money; per balance
    ``units``/``money`` by uuid; ``missing``: uuids of balances gone since the debit."""

    usage: int = 0
    cost: Decimal = ZERO
    units: dict[str, Decimal] = field(default_factory=dict)
    money: dict[str, Decimal] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    tenant: str = ""
    account: str = ""
    key: str = ""

    def to_doc(self) -> dict:
        return {
            "Tenant": self.tenant,
            "Account": self.account,
            "Key": self.key,
            "Usage": self.usage,
            "Cost": str(self.cost),
            "Units": {uuid: str(v) for uuid, v in self.units.items()},
            "Money": {uuid: str(v) for uuid, v in self.money.items()},
            "Missing": list(self.missing),
        }

    @classmethod
    def from_doc(cls, doc: dict) -> "Refund":
        return cls(
            usage=doc["Usage"],
            cost=Decimal(doc["Cost"]),
            units={uuid: Decimal(v) for uuid, v in doc["Units"].items()},
            money={uuid: Decimal(v) for uuid, v in doc["Money"].items()},
            missing=list(doc["Missing"]),
            tenant=doc.get("Tenant", ""),
            account=doc.get("Account", ""),
            key=doc.get("Key", ""),
        )


def plan_debit(
    account: Account,
    usage: int,
    rate: RateFn,
    *,
    at: datetime,
    tor: str = "*voice",
    category: str = "",
    destinations: DestinationMatches = (),
    allow_negative: bool = False,
    cost_so_far: Decimal = ZERO,
    dry_run: bool = False,
) -> Debit:
    """Charge ``usage`` ns to ``account`` (changed in place) and say who paid what.

    ``rate(offset, subject)`` prices the usage from ``offset`` to its end (subject None:
    the call's own); ``destinations``: see selection.DestinationMatches; ``at``: balances
    expired at that time are never used; ``cost_so_far``: money this call already cost
    (MaxCost). A ``dry_run`` (max usage) leaves ``account`` unchanged: it walks copies of
    the balances it may draw from, which costs less than copying the account. Raises
    AccountDisabled; rating errors propagate.
    """
    if account.disabled:
        raise AccountDisabled()
    if usage <= 0:
        return Debit(requested=usage)
    money = usable_balances(
        account, (MONETARY,), category=category, destinations=destinations, at=at
    )
    walk = _Walk(
        account,
        _walked(money, dry_run),
        usage,
        allow_negative=allow_negative and not dry_run,
        cost_so_far=cost_so_far,
        dry_run=dry_run,
    )
    units = usable_balances(
        account, unit_types(tor), category=category, destinations=destinations, at=at
    )
    for balance in _walked(units, dry_run):
        if walk.done:
            break
        step = zero_step(balance.rating_subject, tor)
        if step is not None:
            walk.pay_free_units(balance, step)
        else:
            walk.pay_rated(rate(walk.offset, balance.rating_subject), balance)
        if balance.blocker and walk.offset < usage:
            walk.blocked = True
    if not walk.done:
        walk.pay_rated(rate(walk.offset, None))
    return walk.debit()


def _walked(balances: list[Balance], dry_run: bool) -> list[Balance]:
    """The balances a walk draws from: for a dry run, copies (only a balance's value
    changes in a walk), thrown away with it."""
    return [balance.copy() for balance in balances] if dry_run else balances


class _Walk:
    """The running state of one debit: where in the usage it is and what it charged."""

    def __init__(self, account, money, usage, *, allow_negative, cost_so_far, dry_run):
        self.account = account
        self.money = money
        self.usage = usage
        self.allow_negative = allow_negative
        self.cost_so_far = cost_so_far
        self.dry_run = dry_run
        self.offset = 0
        self.charges: list[Charge] = []
        self.blocked = False  # a blocker balance stopped the walk
        self.stopped = False  # something could not be paid
        self.in_debt = False  # the *default balance pays everything from here on
        self.connect_fee_paid = False
        self.max_cost_reached = False

    @property
    def done(self) -> bool:
        return self.offset >= self.usage or self.blocked or self.stopped

    def debit(self) -> Debit:
        if self.offset == 0:
            self.give_back_connect_fee()
        cost = sum((c.cost * c.count for c in self.charges), ZERO)
        return Debit(
            self.usage, self.offset, cost, self.charges, max_cost_reached=self.max_cost_reached
        )

    def give_back_connect_fee(self) -> None:
        """No usage could be paid: a connect fee alone is not charged either (a dry run
        took it from copies, thrown away with the walk)."""
        if not self.dry_run:
            for charge in self.charges:
                self.account.find_balance(charge.money_uuid).add(charge.cost * charge.count)
        self.charges = []

    def charge(self, duration, count, cost=ZERO, money_uuid="", units_uuid="", units=ZERO):
        last = self.charges[-1] if self.charges else None
        if (
            last is not None
            and duration
            and last.duration == duration
            and last.cost == cost
            and last.money_uuid == money_uuid
            and last.units_uuid == units_uuid
            and last.units == units
            and last.end == self.offset
        ):
            last.count += count
        else:
            self.charges.append(
                Charge(self.offset, duration, count, cost, money_uuid, units_uuid, units)
            )
        self.offset += duration * count

    # -- unit balances -----------------------------------------------------------
    def pay_free_units(self, balance: Balance, step: int) -> None:
        """A free unit balance covers the rest of the usage rounded up to its step."""
        needed = -(-(self.usage - self.offset) // step)
        count = min(needed, int(balance.value // step))
        if count > 0:
            balance.add(Decimal(-step * count))
            self.charge(step, count, units_uuid=balance.uuid, units=Decimal(step))

    # -- rated usage ----------------------------------------------------------------
    def pay_rated(self, call_cost, unit_balance: Balance | None = None) -> None:
        """Pay a rating's increments in order: units from ``unit_balance`` when given,
        money from the monetary balances; stop at the first one nobody can pay."""
        for timespan in call_cost.timespans:
            max_cost, strategy = _max_cost(timespan)
            for inc in timespan.increments:
                if inc.duration == 0:
                    if self.connect_fee_paid:  # a rated unit balance tried first
                        continue
                    if not self.pay_connect_fee(inc.cost):
                        self.stopped = True
                        return
                    continue
                if not self.pay_increments(
                    inc.duration, inc.cost, inc.compress, max_cost, strategy, unit_balance
                ):
                    return
        if self.offset < self.usage and unit_balance is None:
            self.stopped = True  # the rating covered less than asked: nothing more to pay

    def pay_connect_fee(self, fee: Decimal) -> bool:
        self.connect_fee_paid = True
        if fee == 0:
            return True
        for balance in self.money:
            if balance.value >= fee:
                return self.take_money(balance, 0, 1, fee)
            if balance.blocker:
                return False
        if self.allow_negative:
            return self.take_money(self.account.default_monetary(), 0, 1, fee)
        return False

    def pay_increments(self, duration, cost, count, max_cost, strategy, unit_balance) -> bool:
        """Pay ``count`` equal increments; False when this rating's walk ends here."""
        payable = count
        if unit_balance is not None:
            payable = min(count, int(unit_balance.value // duration))
        below_cap = payable
        if max_cost > 0 and strategy:
            below_cap = _increments_below(max_cost - self.cost_so_far, cost, payable)
        if not self.pay_money(duration, cost, below_cap, unit_balance):
            return False
        over = payable - below_cap
        if over:
            self.max_cost_reached = True
            if strategy == MAX_COST_FREE:
                self.charge(duration, over)  # past MaxCost: neither money nor units
            elif self.dry_run:
                self.stopped = True
                return False
            elif not self.pay_money(duration, cost, over, unit_balance):
                return False
        return payable == count and not self.done

    def pay_money(self, duration, cost, count, unit_balance) -> bool:
        """Pay ``count`` increments' cost from money (units too, when a unit balance pays)."""
        if count <= 0:
            return True
        if cost == 0:
            self.take_units(unit_balance, duration, count)
            if unit_balance is None:
                self.charge(duration, count)
            else:
                self.charge(duration, count, ZERO, "", unit_balance.uuid, Decimal(duration))
            return True
        left = count
        if not self.in_debt:
            for balance in self.money:
                affordable = min(left, int(balance.value // cost)) if balance.value >= cost else 0
                if affordable:
                    self.take_units(unit_balance, duration, affordable)
                    self.take_money(balance, duration, affordable, cost, unit_balance)
                    left -= affordable
                if not left:
                    return True
                if balance.blocker:
                    self.blocked = True
                    return False
        if not self.allow_negative:
            self.stopped = unit_balance is None
            return False
        self.in_debt = True
        self.take_units(unit_balance, duration, left)
        self.take_money(self.account.default_monetary(), duration, left, cost, unit_balance)
        return True

    def take_money(self, balance, duration, count, cost, unit_balance=None) -> bool:
        balance.add(-cost * count)
        if unit_balance is None:
            self.charge(duration, count, cost, balance.uuid)
        else:
            self.charge(duration, count, cost, balance.uuid, unit_balance.uuid, Decimal(duration))
        if duration:
            self.cost_so_far += cost * count
        return True

    @staticmethod
    def take_units(unit_balance, duration, count) -> None:
        if unit_balance is not None and count:
            unit_balance.add(Decimal(-duration * count))


def _max_cost(timespan) -> tuple[Decimal, str]:
    interval = timespan.interval
    if interval is None:
        return ZERO, ""
    rating = interval.rating
    return rating.max_cost or ZERO, rating.max_cost_strategy or ""


def _increments_below(room: Decimal, cost: Decimal, count: int) -> int:
    """How many increments start while the call's cost is still below its MaxCost."""
    if room <= 0:
        return 0
    if cost <= 0:
        return count
    whole, rest = divmod(room, cost)
    return min(count, int(whole) + (1 if rest else 0))


def refundable_count(charge: Charge, keep_usage: int) -> int:
    """Increments of ``charge`` starting at or after ``keep_usage``. A connect fee is
    given back only with everything else (``keep_usage`` 0: the call is refunded whole,
    as CGrateS refunds a session terminated with Usage 0)."""
    if charge.is_connect_fee:
        return charge.count if keep_usage <= 0 else 0
    if charge.end <= keep_usage:
        return 0
    if charge.start >= keep_usage:
        return charge.count
    kept = -(-(keep_usage - charge.start) // charge.duration)
    return charge.count - kept


def plan_refund(account: Account, debit: Debit, keep_usage: int) -> Refund:
    """Give back to ``account`` (changed in place) every increment of ``debit`` that starts
    at or after ``keep_usage`` ns, to the balances that paid it."""
    refund = Refund()
    for charge in debit.charges:
        count = refundable_count(charge, keep_usage)
        if not count:
            continue
        refund.usage += charge.duration * count
        for uuid, amount, paid in (
            (charge.units_uuid, charge.units * count, refund.units),
            (charge.money_uuid, charge.cost * count, refund.money),
        ):
            if not uuid or not amount:
                continue
            balance = account.find_balance(uuid)
            if balance is None:
                if uuid not in refund.missing:
                    refund.missing.append(uuid)
                continue
            balance.add(amount)
            paid[uuid] = paid.get(uuid, ZERO) + amount
    refund.cost = sum(refund.money.values(), ZERO)
    return refund


@dataclass(slots=True)
class Adjustment:
    """A money correction (e.g. a cost rounded up after the call): ``amount`` > 0 was taken
    from the monetary balance ``balance_uuid``, < 0 was given to it; ``value`` is its value
    afterwards."""

    amount: Decimal
    balance_uuid: str = ""
    value: Decimal = ZERO
    tenant: str = ""
    account: str = ""
    key: str = ""

    def to_doc(self) -> dict:
        return {
            "Tenant": self.tenant,
            "Account": self.account,
            "Key": self.key,
            "Amount": str(self.amount),
            "BalanceUuid": self.balance_uuid,
            "Value": str(self.value),
        }

    @classmethod
    def from_doc(cls, doc: dict) -> "Adjustment":
        return cls(
            amount=Decimal(doc["Amount"]),
            balance_uuid=doc["BalanceUuid"],
            value=Decimal(doc["Value"]),
            tenant=doc.get("Tenant", ""),
            account=doc.get("Account", ""),
            key=doc.get("Key", ""),
        )


def plan_adjustment(
    account: Account,
    amount: Decimal,
    *,
    at: datetime,
    balance_uuid: str = "",
    allow_negative: bool = False,
) -> Adjustment:
    """Take ``amount`` from ``account`` (changed in place), or give it back when negative.

    The money goes to/from ``balance_uuid`` when that monetary balance exists, else a charge
    uses the best monetary balance that covers it whole and a credit goes to ``*default``.
    A charge nobody covers raises InsufficientCredit unless ``allow_negative``.
    """
    named = account.find_balance(balance_uuid) if balance_uuid else None
    if named is not None and named.type != MONETARY:
        named = None
    if amount > 0:
        if account.disabled:
            raise AccountDisabled()
        target = named
        if target is None:
            usable = usable_balances(account, (MONETARY,), category="", destinations=(), at=at)
            target = next((b for b in usable if b.value >= amount), None)
        if target is None or target.value < amount:
            if not allow_negative:
                raise InsufficientCredit()
            target = target or account.default_monetary()
    elif amount < 0:
        target = named or account.default_monetary()
    else:
        return Adjustment(amount)
    target.add(-amount)
    return Adjustment(amount, target.uuid, target.value)
