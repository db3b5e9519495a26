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

# The SIP answer to a refused call (the socket dialplan's table in 00_fs_cgr.xml; the
# embedded handler answers with it); an unknown verdict is refused as a system error.
REFUSED = "503 Service Unavailable"
SIP_RESPONSES = {
    INSUFFICIENT_FUNDS: "403 Forbidden",
    UNAUTHORIZED_DESTINATION: "403 Forbidden",
    MISSING_PARAMETER: "403 Forbidden",
    SYSTEM_ERROR: REFUSED,
    RESOURCE_UNAVAILABLE: "486 Busy Here",
}
