"""The ``cgr_flags`` channel variable: which subsystems a call goes through.

CGrateS v0.10 and v0.11 spellings are both read (``*routes``/``*suppliers``, their
``_ignore_errors``/``_event_cost``/``_maxcost`` forms, ``*initiate``/``*update``/
``*terminate``/``*cdrs``/``*message``, ...). ``*attributes``, ``*thresholds`` and
``*stats`` may name profile IDs as ``*stats:Q1&Q2``. An unknown flag is logged once per
process and otherwise ignored, so a typo never refuses calls but does not go unseen.

Where the agent uses each one (``fs_cgr.agents.freeswitch``):

connect   ``*attributes`` alter the event; ``*accounts`` (or no flags, or a prepaid
          call) authorize its max usage; ``*resources`` allocate one unit with the
          call's uuid as UsageID (so calls ringing at once count too); ``*routes``.
answer    ``*attributes``, then the session starts.
hangup    ``*attributes``, the session ends (answered) or the CDR is processed (not),
          ``*resources`` release, and ``*thresholds``/``*stats`` get the finished call
          once (answered or not, so ASR counts failed calls).
"""

import functools
import logging
from dataclasses import dataclass, field

from fs_cgr.sessions.subsystems import Subsystems

log = logging.getLogger(__name__)

ACCOUNTS = "*accounts"
RESOURCES = "*resources"
ATTRIBUTES = "*attributes"
THRESHOLDS = "*thresholds"
STATS = "*stats"
ROUTES = ("*routes", "*suppliers")
_IGNORED = frozenset(  # known to CGrateS; nothing (more) for fs_cgr to do with them
    (
        "*sessions",
        "*routes_ignore_errors",
        "*suppliers_ignore_errors",
        "*routes_event_cost",
        "*suppliers_event_cost",
        "*routes_maxcost",
        "*suppliers_maxcost",
        "*fd",
        "*dispatchers",
        "*initiate",
        "*update",
        "*terminate",
        "*cdrs",
        "*message",
        "*authorize",
        "*chargers",
    )
)
_warned: set[str] = set()


@dataclass(frozen=True)
class ChannelFlags:
    given: bool = False  # False: no cgr_flags at all (CGrateS then authorizes max usage)
    accounts: bool = False
    routes: bool = False
    resources: bool = False
    attributes: bool = False
    thresholds: bool = False
    stats: bool = False
    attribute_ids: tuple[str, ...] = ()
    threshold_ids: tuple[str, ...] = field(default=())
    stat_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, flags) -> "ChannelFlags":
        """From cgr_flags, as text (``*accounts;*routes``) or already split."""
        return _parse(tuple(flags.split(";")) if isinstance(flags, str) else tuple(flags))

    @classmethod
    def _from_items(cls, items: tuple[str, ...]) -> "ChannelFlags":
        found: dict = {"given": False}
        for item in (flag.strip() for flag in items):
            if not item:
                continue
            found["given"] = True
            name, _, ids = item.partition(":")
            ids = tuple(part for part in ids.split("&") if part)
            if name == ACCOUNTS:
                found["accounts"] = True
            elif name in ROUTES:
                found["routes"] = True
            elif name == RESOURCES:
                found["resources"] = True
            elif name in (ATTRIBUTES, THRESHOLDS, STATS):
                key = name[1:]
                found[key] = True
                found[key[:-1] + "_ids"] = ids
            elif name not in _IGNORED:
                _warn_unknown(item)
        return cls(**found)

    def max_usage_asked(self, prepaid: bool) -> bool:
        """CGrateS asks for max usage without cgr_flags or with *accounts; prepaid always
        needs it."""
        return prepaid or not self.given or self.accounts

    def altering(self) -> Subsystems:
        """What each stage asks of AttributeS."""
        return Subsystems(attributes=self.attributes, attribute_ids=list(self.attribute_ids))

    def reporting(self) -> Subsystems:
        """What the end of a call asks of ThresholdS and StatS."""
        return Subsystems(
            thresholds=self.thresholds,
            stats=self.stats,
            threshold_ids=list(self.threshold_ids) or None,
            stat_ids=list(self.stat_ids) or None,
        )


@functools.lru_cache(maxsize=256)
def _parse(items: tuple[str, ...]) -> ChannelFlags:
    """Every call of a user carries the same cgr_flags: parsed once."""
    return ChannelFlags._from_items(items)


def _warn_unknown(flag: str) -> None:
    if flag not in _warned:
        _warned.add(flag)
        log.warning("cgr_flags: unknown flag %r ignored", flag)
