"""The mod_python3 entry points: ``handler`` for the dialplan, ``runtime`` for start-up.

Dialplan: ``<action application="python" data="fs_cgr.embedded.handler"/>``. mod_python3
re-imports (reloads) the named module on every call, which costs in FreeSWITCH's call
thread what executing its body costs: so ``fs_cgr.embedded.handler`` only re-exports
these functions (a reload of this module's body took ~180 us a call, of the tiny one
~40 us), and the shared client and the burst log live in ``fs_cgr.embedded.state``,
imported once per interpreter. ``autoload_configs/python.conf.xml`` names the handler
module as ``startup-script`` so the imports are paid when FreeSWITCH starts, not by the
first call.

The handler sets the verdict's channel variables and the marker the node follows the
call by, then returns: an authorized call simply goes on through the dialplan (no
transfer, no second hunt); a refused one is answered here with the SIP response of its
``cgr_notify`` and hung up, so no later action can put it through. (On a SIP channel the
response ends the call; ``respond`` does nothing on others, e.g. loopback, where only the
hangup stops the dialplan from going on to the routing.)

Settings are FreeSWITCH variables (a channel's, else the global ones from vars.xml):
``fs_cgr_rpc_url`` (default ``http://127.0.0.1:2080/jsonrpc``) and
``fs_cgr_rpc_timeout`` (seconds, default 1).
"""

from fs_cgr.agents import notify
from fs_cgr.embedded import state
from fs_cgr.embedded.authorize import Verdict, authorize
from fs_cgr.fschannel import EMBEDDED_MARKER, FSEvent

# the hangup cause of a refused call, as FreeSWITCH maps the SIP response (a no-op once
# the response has ended the call)
HANGUP_CAUSES = {"403": "CALL_REJECTED", "486": "USER_BUSY", "503": "NORMAL_TEMPORARY_FAILURE"}


def handler(session, args=""):
    """Authorize the call of ``session`` (mod_python3's Session) and return."""
    channel = FSEvent.from_channel(session.getVariable)
    try:
        verdict = authorize(state.client(session.getVariable), channel)
    except Exception as exc:  # e.g. an unusable fs_cgr_rpc_url: refused, never let through
        verdict = Verdict({"cgr_notify": notify.SYSTEM_ERROR}, error=repr(exc))
    if verdict.notify == notify.SYSTEM_ERROR:
        state.report(channel.uuid, verdict)
    variables = {**verdict.variables, EMBEDDED_MARKER: "true"}
    for name, value in variables.items():
        session.setVariable(name, value)
    if not verdict.allowed:
        response = notify.SIP_RESPONSES.get(verdict.notify, notify.REFUSED)
        session.execute("respond", response)
        session.hangup(HANGUP_CAUSES.get(response[:3], "CALL_REJECTED"))


def runtime(args=""):
    """mod_python3's startup-script hook: everything is imported by now."""
    state.log("fs_cgr embedded handler loaded")
