"""Pricing one CDR run by its RequestType, as CGrateS' CDRServer.rateCDR does.

- ``*none``: stored unpriced (Cost -1).
- ``*rated`` and every RequestType CGrateS does not account for (``*raw``, ...):
  GetCost; Cost rounded with the DestinationRate's rounding. ``charging`` says which.
- ``*postpaid`` / ``*pseudoprepaid``: priced and debited (key ``cdr:<CGRID>:<RunID>``),
  then the rounding difference is charged (or credited) with ``...:round``. A debit
  the account cannot pay in full (and may not go negative for) changes nothing and
  leaves the CDR unpriced with INSUFFICIENT_CREDIT in ExtraInfo.
- ``*prepaid``: the session service already charged it: its stored session cost is
  used (CostSource ``*sessions``). Without one the run is priced like ``*rated``,
  no account is touched, and ExtraInfo says so.

A run that cannot be priced is still stored: Cost -1, the error in ExtraInfo.
"""

import logging
from decimal import Decimal

from fs_cgr.cdrs.event import CHARGED_BY_CDR, NONE, PREPAID, charging, start_time
from fs_cgr.cdrs.record import UNRATED, new_cdr
from fs_cgr.encoded import EncodedDict
from fs_cgr.errors import CGRError, InvalidArgument, MandatoryMissing
from fs_cgr.money import ROUND_MIDDLE, round_money, to_decimal
from fs_cgr.rating import CallDescriptor
from fs_cgr.storage.sql_models import COST_LIMIT
from fs_cgr.times import add_ns

log = logging.getLogger(__name__)

COST_SOURCE_CDRS = "*cdrs"
COST_SOURCE_SESSIONS = "*sessions"
NO_SESSION_COST = "no session cost stored: priced as *rated, no account charged"


def call_descriptor(event: dict, offset: int = 0, usage: int | None = None) -> CallDescriptor:
    """The CallDescriptor of ``usage`` ns of the call starting ``offset`` ns after answer."""
    start = start_time(event)
    if start is None:
        raise MandatoryMissing("AnswerTime")
    return CallDescriptor(
        event["Tenant"],
        event["Category"],
        event["Subject"],
        event["Destination"],
        add_ns(start, offset) if offset else start,
        account=event["Account"],
        tor=event.get("ToR") or "*voice",
        duration_index=offset,
        usage=max(int(event.get("Usage") or 0), 0) if usage is None else usage,
    )


def dr_round(cc, amount: Decimal) -> Decimal:
    """``amount`` rounded with the call's DestinationRate rounding (CallCost.rounded_cost)."""
    decimals, method = cc.longest_rounding()
    if not method and not decimals:
        return amount
    return round_money(amount, decimals, method or ROUND_MIDDLE)


def session_cost_amount(doc: dict) -> Decimal:
    """A stored session cost's money: its Cost, else its CostDetails' Cost."""
    if doc.get("Cost") is not None:
        return to_decimal(doc["Cost"])
    return to_decimal((doc.get("CostDetails") or {}).get("Cost"))


def debit_key_of(cdr: dict) -> str:
    """The idempotency key of a CDR run's debit: the same CDR twice is charged once."""
    return f"cdr:{cdr['CGRID']}:{cdr['RunID']}"


class CDRRater:
    def __init__(self, node):
        self.node = node

    def rate(
        self,
        run: dict,
        session_cost: dict | None = None,
        debit_key: str | None = None,
        look_up: bool = True,
    ) -> dict:
        """The priced CDR of one run; errors end up in ExtraInfo, never raised.
        ``debit_key``: the idempotency key of a debit (default ``debit_key(run)``).
        ``look_up=False``: a ``*prepaid`` run without ``session_cost`` is priced as if
        none were stored; the caller looks it up later (``use_session_cost``)."""
        cdr = new_cdr(run)
        request_type = charging(cdr["RequestType"])
        if request_type == NONE:
            return cdr
        try:
            if request_type == PREPAID:
                self._prepaid(run, cdr, session_cost, look_up)
            elif request_type in CHARGED_BY_CDR:
                self._debited(run, cdr, debit_key or debit_key_of(cdr))
            else:
                self._rated(run, cdr)
        except CGRError as exc:
            _unrated(cdr, exc)
        return cdr

    def _price(self, run: dict):
        """The run's CallCost; InvalidArgument, before any debit, when the StorDB could
        not hold its cost."""
        cc = self.node.rating.engine.get_cost(call_descriptor(run))
        if abs(cc.cost) >= COST_LIMIT:
            raise InvalidArgument(f"Cost {cc.cost} beyond what a CDR holds ({COST_LIMIT})")
        return cc

    def _set_cost(self, cdr: dict, cost: Decimal, details: dict, source: str) -> None:
        details = dict(details)
        details["Cost"] = cost
        cdr.update(Cost=cost, CostDetails=details, CostSource=source)

    def _rated(self, run: dict, cdr: dict) -> None:
        cc = self._price(run)
        details = cc.to_event_cost(cdr["CGRID"], cdr["RunID"])
        self._set_cost(cdr, cc.rounded_cost(), details, COST_SOURCE_CDRS)

    def _prepaid(self, run: dict, cdr: dict, session_cost: dict | None, look_up: bool) -> None:
        if session_cost is None and look_up:
            session_cost = self.node.stordb.get_session_cost(cdr["CGRID"], cdr["RunID"])
        if session_cost is None:
            self._rated(run, cdr)
            cdr["ExtraInfo"] = NO_SESSION_COST
            return
        self.use_session_cost(cdr, session_cost)

    def look_up_session_cost(self, cdr: dict) -> None:
        """A ``*prepaid`` CDR priced with ``look_up=False`` gets its stored session cost, if
        any, as ``rate`` would have given it; a StorDB error leaves it unrated, as there."""
        try:
            session_cost = self.node.stordb.get_session_cost(cdr["CGRID"], cdr["RunID"])
        except CGRError as exc:
            _unrated(cdr, exc)
            return
        if session_cost is not None:
            self.use_session_cost(cdr, session_cost)

    def use_session_cost(self, cdr: dict, session_cost: dict) -> None:
        """Price a ``*prepaid`` CDR with its stored session cost (whatever it held). The
        session service's own CostDetails (an EncodedDict holding that cost) is shared,
        not copied: its JSON text, encoded for the session cost, is the CDR's too."""
        details = session_cost.get("CostDetails") or {}
        amount = session_cost_amount(session_cost)
        source = session_cost.get("CostSource") or COST_SOURCE_SESSIONS
        if details.__class__ is EncodedDict and details.get("Cost") is amount:
            cdr.update(Cost=amount, CostDetails=details, CostSource=source)
        else:
            self._set_cost(cdr, amount, details, source)
        cdr["ExtraInfo"] = ""

    def _debited(self, run: dict, cdr: dict, key: str) -> None:
        cc = self._price(run)  # unrated destinations fail here, before any money moves
        accounts = self.node.accounts
        debit = accounts.debit(call_descriptor(run), key, allow_partial=False)
        cost = dr_round(cc, debit.cost)
        if cost != debit.cost:
            try:
                accounts.adjust(run["Tenant"], run["Account"], cost - debit.cost, key + ":round")
            except CGRError as exc:
                log.warning("CDR %s: rounding not charged: %s", key, exc.message)
                cost = debit.cost
        self._set_cost(cdr, cost, cc.to_event_cost(cdr["CGRID"], cdr["RunID"]), COST_SOURCE_CDRS)


def _unrated(cdr: dict, error: CGRError) -> None:
    """The CDR left unrated, saying why in ExtraInfo."""
    cdr.update(Cost=UNRATED, CostDetails=None, CostSource="", ExtraInfo=error.message)
