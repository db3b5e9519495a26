"""One call's charging state, and its journal document.

A Session holds one SessionRun per charger run. A ``*prepaid`` run keeps every
Debit it made, in call order: a Debit covers ``[offset, offset + usage)`` of the
call, so a refund can give back exactly the increments past the final usage,
the last debits first. ``pending`` is a debit asked for but not yet answered:
after a crash it is asked again with the same idempotency key, so its answer is
not lost.

The journal record (``to_doc``) is written whole when the session starts, is handed
over or ends; each debit only appends its ``debit_note`` (a few hundred bytes, the
whole record being tens of KB late in a long call). ``from_doc`` applies the notes.

Tens of thousands of these are live at once, so they have slots and no greenlet or
Event of their own: the session service's TimerWheel holds one Timer per call.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from fs_cgr.accounts.debit import Debit
from fs_cgr.cdrs.event import PREPAID, charging, to_json
from fs_cgr.money import ZERO
from fs_cgr.storage.base import JOURNAL_APPENDED
from fs_cgr.times import format_time, parse_time


@dataclass(slots=True)
class PendingDebit:
    seq: int
    offset: int  # ns into the call where the debited stretch starts
    usage: int


@dataclass(slots=True)
class SessionRun:
    event: dict  # the charger run: normalised event with RunID
    debits: list[tuple[int, int, Debit]] = field(default_factory=list)  # (seq, offset, debit)
    next_seq: int = 1
    pending: PendingDebit | None = None
    # the event is as ``normalize`` makes it, and stays so (only normalized events are
    # merged into it): its CDR is not normalized again. Unknown (False) once journaled.
    as_normalized: bool = False

    @property
    def run_id(self) -> str:
        return self.event["RunID"]

    @property
    def request_type(self) -> str:
        return self.event["RequestType"]

    @property
    def prepaid(self) -> bool:
        return charging(self.request_type) == PREPAID

    @property
    def reserved(self) -> int:
        """Usage paid so far, from the call's start (debits are contiguous)."""
        if not self.debits:
            return 0
        _, offset, debit = self.debits[-1]
        return offset + debit.usage

    @property
    def charged(self) -> Decimal:
        return sum((debit.cost for _, _, debit in self.debits), ZERO)

    def key(self, cgrid: str, action: str, seq: int) -> str:
        """Idempotency key: ``<CGRID>:<RunID>:debit:<seq>`` / ``...:refund:<seq>``."""
        return f"{cgrid}:{self.run_id}:{action}:{seq}"

    def add_debit(self, seq: int, offset: int, debit: Debit) -> None:
        """A debit made: it is the last one, and the one pending when it has its number."""
        self.debits.append((seq, offset, debit))
        self.next_seq = max(self.next_seq, seq + 1)
        if self.pending is not None and self.pending.seq == seq:
            self.pending = None

    def to_doc(self) -> dict:
        return {
            "Event": to_json(self.event),
            "Debits": [[seq, offset, debit.to_doc()] for seq, offset, debit in self.debits],
            "NextSeq": self.next_seq,
            "Pending": None
            if self.pending is None
            else [self.pending.seq, self.pending.offset, self.pending.usage],
        }

    @classmethod
    def from_doc(cls, doc: dict) -> "SessionRun":
        event = dict(doc["Event"])
        for key in ("SetupTime", "AnswerTime"):
            event[key] = parse_time(event.get(key))
        pending = doc.get("Pending")
        return cls(
            event=event,
            debits=[(seq, offset, Debit.from_doc(d)) for seq, offset, d in doc["Debits"]],
            next_seq=doc["NextSeq"],
            pending=PendingDebit(*pending) if pending else None,
        )


class Session:
    """A live call. ``anchor`` is when its paid time started counting (see SessionService)."""

    __slots__ = (
        "event", "runs", "prepaid_runs", "debit_interval", "anchor", "on_disconnect", "lock",
        "ended", "disconnect_reason", "final_usage", "timer", "settler", "last_debit_at",
    )  # fmt: skip

    def __init__(self, event: dict, runs: list[SessionRun], debit_interval: int, anchor):
        self.event = event
        self.runs = runs
        # the runs the session debits (looked up at every debit; a session's runs are fixed)
        self.prepaid_runs = tuple(run for run in runs if run.prepaid)
        self.debit_interval = debit_interval
        self.anchor: datetime = anchor
        self.on_disconnect = None
        self.lock = threading.RLock()
        self.ended = False
        self.disconnect_reason = ""
        self.final_usage: int | None = None
        self.timer = None  # the wheel's Timer of its next debit or disconnect, when followed
        self.settler = None  # the greenlet retrying settlement while the DataDB is down
        self.last_debit_at: datetime | None = None

    cgrid = property(lambda self: self.event["CGRID"])
    tenant = property(lambda self: self.event["Tenant"])
    origin_id = property(lambda self: self.event.get("OriginID", ""))
    origin_host = property(lambda self: self.event.get("OriginHost", ""))

    @property
    def paid_usage(self) -> int | None:
        """What every prepaid run has paid for (the least of them); None: nothing prepaid."""
        runs = self.prepaid_runs
        return min(run.reserved for run in runs) if runs else None

    def debit_note(self, run: SessionRun) -> list:
        """What the journal appends after ``run``'s last debit (see ``from_doc``)."""
        seq, offset, debit = run.debits[-1]
        at = format_time(self.last_debit_at)
        return [self.runs.index(run), seq, offset, debit.to_doc(), at]

    def to_doc(self) -> dict:
        return {
            "CGRID": self.cgrid,
            "OriginID": self.origin_id,
            "OriginHost": self.origin_host,
            "Event": to_json(self.event),
            "DebitInterval": self.debit_interval,
            "Anchor": format_time(self.anchor),
            "LastDebitAt": format_time(self.last_debit_at) if self.last_debit_at else "",
            "FinalUsage": self.final_usage,
            "Runs": [run.to_doc() for run in self.runs],
        }

    @classmethod
    def from_doc(cls, doc: dict) -> "Session":
        event = dict(doc["Event"])
        for key in ("SetupTime", "AnswerTime"):
            event[key] = parse_time(event.get(key))
        runs = [SessionRun.from_doc(run) for run in doc["Runs"]]
        session = cls(event, runs, doc["DebitInterval"], parse_time(doc["Anchor"]))
        session.last_debit_at = parse_time(doc.get("LastDebitAt"))
        session.final_usage = doc.get("FinalUsage")
        for index, seq, offset, debit, at in doc.get(JOURNAL_APPENDED, ()):
            session.runs[index].add_debit(seq, offset, Debit.from_doc(debit))
            session.last_debit_at = parse_time(at)
        return session
