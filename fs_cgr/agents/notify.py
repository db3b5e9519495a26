"""The values fs_cgr writes into the ``cgr_notify`` channel variable.

FreeSWITCH's dialplan (freeswitch_conf/dialplan/default/00_fs_cgr.xml) branches
on exactly these strings, so they live in one place that both the agent and the
configuration test import. A leading ``+`` means the call may go on, ``-`` that
it must be refused.
"""

AUTH_OK = "+AUTH_OK"
INSUFFICIENT_FUNDS = "-INSUFFICIENT_FUNDS"
UNAUTHORIZED_DESTINATION = "-UNAUTHORIZED_DESTINATION"
MISSING_PARAMETER = "-MISSING_PARAMETER"
SYSTEM_ERROR = "-SYSTEM_ERROR"
RESOURCE_UNAVAILABLE = "-RESOURCE_UNAVAILABLE"  # over a ResourceS limit (e.g. concurrent calls)

ALL = (
    AUTH_OK,
    INSUFFICIENT_FUNDS,
    UNAUTHORIZED_DESTINATION,
    MISSING_PARAMETER,
    SYSTEM_ERROR,
    RESOURCE_UNAVAILABLE,
)
