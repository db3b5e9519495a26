"""Action plans as stored (live ``action_plans``) and as CGrateS' API shows them.

A plan document is ``{"ID", "ActionPlan": [entry]}``. An ActionPlans.csv entry names
its timing: ``{"ActionsId", "TimingId", "Weight"}`` (a Timings.csv ID or a predefined
one); a ``SetActionPlan`` entry carries it: ``{"ActionsId", "Uuid", "Weight",
"Timing": {"Years", "Months", "MonthDays", "WeekDays", "Time"}}``.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fs_cgr.errors import InvalidArgument
from fs_cgr.money import to_decimal
from fs_cgr.rating.timing import parse_int_list
from fs_cgr.scheduler.timing import ANCHORED, ASAP, PREDEFINED, Schedule, anchored, schedule_of
from fs_cgr.storage.base import ACTION_PLANS, TIMINGS


@dataclass(frozen=True, slots=True)
class PlanTiming:
    """One timing of a plan: which actions, when."""

    plan_id: str
    uuid: str  # stable id of this timing: the scheduler's state is kept under it
    actions_id: str
    weight: Decimal
    timing_id: str
    fields: dict  # Years, Months, MonthDays, WeekDays, Time

    @property
    def is_asap(self) -> bool:
        return self.timing_id == ASAP or self.fields.get("Time") == ASAP

    @property
    def needs_anchor(self) -> bool:
        return self.timing_id in ANCHORED

    def schedule(self, anchor: datetime) -> Schedule:
        if self.needs_anchor:
            return anchored(self.timing_id, anchor)
        return schedule_of(self.fields)

    def view(self) -> dict:
        """CGrateS' ActionTiming JSON."""
        start = self.timing_id if self.timing_id in PREDEFINED else self.fields.get("Time") or ""
        return {
            "Uuid": self.uuid,
            "Timing": {
                "Timing": {
                    "Years": list(parse_int_list(self.fields.get("Years"), "Years")),
                    "Months": list(parse_int_list(self.fields.get("Months"), "Months")),
                    "MonthDays": list(parse_int_list(self.fields.get("MonthDays"), "MonthDays")),
                    "WeekDays": list(parse_int_list(self.fields.get("WeekDays"), "WeekDays")),
                    "StartTime": start,
                    "EndTime": "",
                },
                "Rating": None,
                "Weight": 0,
            },
            "ActionsID": self.actions_id,
            "ExtraData": None,
            "Weight": self.weight,
        }


def plan_timings(plan_id: str, doc: dict, live: dict) -> list[PlanTiming]:
    """The plan's timings, highest Weight first. Raises InvalidArgument for a timing
    that does not exist or cannot be read."""
    timings = []
    for index, entry in enumerate(doc.get("ActionPlan") or ()):
        timing_id = str(entry.get("TimingId") or "")
        fields = entry.get("Timing")
        if fields is None:
            if timing_id in PREDEFINED:
                fields = {
                    "Time": timing_id if timing_id in (ASAP, "*every_minute", "*hourly") else ""
                }
            else:
                fields = live.get(TIMINGS, {}).get(timing_id)
                if fields is None:
                    raise InvalidArgument(f"action plan {plan_id}: no timing {timing_id!r}")
        try:
            weight = to_decimal(entry.get("Weight") or 0)
            timing = PlanTiming(
                plan_id,
                str(entry.get("Uuid") or f"{plan_id}#{index}"),
                str(entry.get("ActionsId") or ""),
                weight,
                timing_id,
                dict(fields),
            )
            if not timing.needs_anchor:
                schedule_of(timing.fields)
        except ValueError as exc:
            raise InvalidArgument(f"action plan {plan_id}: {exc}") from None
        timings.append(timing)
    timings.sort(key=lambda t: -t.weight)
    return timings


def plan_view(plan_id: str, doc: dict, live: dict, account_ids) -> dict:
    """CGrateS' ActionPlan JSON: Id, AccountIDs {"tenant:account": true}, ActionTimings."""
    return {
        "Id": plan_id,
        "AccountIDs": {account: True for account in sorted(account_ids)} or None,
        "ActionTimings": [t.view() for t in plan_timings(plan_id, doc, live)],
    }


def check_live(live: dict) -> None:
    """Refuse plans whose timings cannot be read (before anything is written)."""
    for plan_id, doc in (live.get(ACTION_PLANS) or {}).items():
        plan_timings(plan_id, doc, live)
