"""An optional price check inside FreeSWITCH: what a call would cost, with no node round trip.

For stateless use (an IVR telling the caller the price, a GetCost-style lookup before
routing): the rating engine (``fs_cgr.rating``, no gevent) compiled once per interpreter
from a tariff plan folder, the CSV files ``fs-cgr load`` reads. It never looks at
balances: accounts live in the DataDB behind the node, and a charged call is always
authorized by the node (``fs_cgr.embedded.handler``). The folder is read once; restart
FreeSWITCH's Python (or FreeSWITCH) to see a changed plan.

Dialplan: ``<action application="python" data="fs_cgr.embedded.price 60"/>`` sets
``cgr_price`` (the cost of 60 s to the channel's destination, CGrateS' rounding) or, when
the call cannot be priced, ``cgr_price_error`` (e.g. ``UNAUTHORIZED_DESTINATION``). The
folder is the FreeSWITCH variable ``fs_cgr_tariffplan``.
"""

from decimal import Decimal

from fs_cgr.durations import SECOND
from fs_cgr.embedded import state
from fs_cgr.embedded.preloaded import serve_from_memory
from fs_cgr.errors import CGRError
from fs_cgr.fschannel import FSEvent
from fs_cgr.rating import CallDescriptor, RatingEngine, load_folder
from fs_cgr.rating.errors import TariffPlanError
from fs_cgr.times import now as utc_now

DEFAULT_SECONDS = 60


def load_engine(folder: str) -> RatingEngine:
    """A tariff plan folder, compiled; TariffPlanError when it cannot be used."""
    return RatingEngine.compile(load_folder(folder).live)


def price(engine: RatingEngine, event: dict, usage: int) -> Decimal:
    """The cost of ``usage`` ns for the event's Tenant/Category/Subject/Destination, from now."""
    cd = CallDescriptor(
        event["Tenant"],
        event["Category"],
        event["Subject"],
        event["Destination"],
        time_start=utc_now(),
        account=event["Account"],
        usage=usage,
    )
    return engine.get_cost(cd).cost


def handler(session, args=""):
    """mod_python3 entry point: ``cgr_price`` or ``cgr_price_error`` on the channel."""
    folder = session.getVariable("fs_cgr_tariffplan") or ""
    try:
        seconds = int(args or DEFAULT_SECONDS)
        engine = state.shared(("tariffplan", folder), lambda: load_engine(folder))
        event = FSEvent.from_channel(session.getVariable).cgr_event()
        session.setVariable("cgr_price", str(price(engine, event, seconds * SECOND)))
    except (TariffPlanError, ValueError) as exc:  # the operator's setup, not the call
        state.log(f"fs_cgr price check: {exc}", "ERR")
        session.setVariable("cgr_price_error", "SYSTEM_ERROR")
    except CGRError as exc:
        session.setVariable("cgr_price_error", exc.message)


# mod_python3 reloads this module on every call: from its first import on, in memory (the
# module keeps what its first run defined; the reload binds the same handler again)
serve_from_memory(__name__, {"handler": handler})
