"""The FreeSWITCH agent's view of channel data: ``fs_cgr.fschannel``, re-exported.

The header and channel-variable knowledge lives in ``fs_cgr.fschannel``, below both
the agent and the CDR importers (``fs_cgr.cdrs.freeswitch``, ``fs_cgr.cdrc``), so
neither imports the other. The agent keeps importing its names from here.
"""

from fs_cgr.fschannel import (
    DEFAULTS,
    MANDATORY,
    NO_CHARGING,
    SOURCE,
    VOICE,
    Defaults,
    FSEvent,
    validate,
)

__all__ = [
    "DEFAULTS",
    "MANDATORY",
    "NO_CHARGING",
    "SOURCE",
    "VOICE",
    "Defaults",
    "FSEvent",
    "validate",
]
