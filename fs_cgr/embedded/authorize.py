"""The verdict of one call: SessionSv1.AuthorizeEvent on the node, as channel variables.

The request carries the cgr_flags the way CGrateS' FreeSWITCH agent turns them into
V1AuthorizeArgs (no flags: just the max usage). What the node answers becomes
``cgr_notify`` (the values of ``fs_cgr.agents.notify``), ``cgr_max_usage`` (seconds),
``cgr_routes`` (when a route profile matched) and the fields AttributeS altered. Any
failure to get an answer is ``-SYSTEM_ERROR``: a call is never let through unchecked.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from fs_cgr.agents import notify
from fs_cgr.agents.flags import ChannelFlags
from fs_cgr.embedded.rpc import NodeRefused, NodeUnavailable
from fs_cgr.errors import InvalidArgument
from fs_cgr.fschannel import Defaults, FSEvent
from fs_cgr.routes.service import format_cgr_routes

METHOD = "SessionSv1.AuthorizeEvent"
# the node fills Tenant, Category and RequestType from its own configuration when empty
NODE_DEFAULTS = Defaults(tenant="", category="", request_type="")
# JSON-RPC error text -> verdict (the same classes the socket agent's REFUSALS name)
REFUSED_BY_ERROR = (
    ("UNAUTHORIZED_DESTINATION", notify.UNAUTHORIZED_DESTINATION),
    ("RESOURCE_UNAUTHORIZED", notify.RESOURCE_UNAVAILABLE),  # AuthorizeResources: over a limit
    ("RESOURCE_UNAVAILABLE", notify.RESOURCE_UNAVAILABLE),
    ("INSUFFICIENT_CREDIT", notify.INSUFFICIENT_FUNDS),
    ("ACCOUNT_NOT_FOUND", notify.INSUFFICIENT_FUNDS),
    ("ACCOUNT_DISABLED", notify.INSUFFICIENT_FUNDS),
    ("MANDATORY_IE_MISSING", notify.MISSING_PARAMETER),
    ("INVALID_ARGUMENT", notify.MISSING_PARAMETER),
)
# NOT_FOUND for an optional part -> the flag asked for it: the call goes on without, as on
# the socket path (no route profile: no cgr_routes; no resource profile: no limit applies;
# fs_cgr's node says the latter without an error, ResourcesOptional: a CGrateS does not)
OPTIONAL_WHEN_NOT_FOUND = (
    ("RESOURCES_ERROR:NOT_FOUND", "AuthorizeResources"),
    ("NOT_FOUND", "GetRoutes"),
)
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Verdict:
    """What the handler sets on the channel; ``error`` is why a call gets -SYSTEM_ERROR."""

    variables: dict = field(default_factory=dict)
    error: str = ""

    @property
    def notify(self) -> str:
        return self.variables["cgr_notify"]

    @property
    def allowed(self) -> bool:
        return self.notify == notify.AUTH_OK


def authorize_args(channel: FSEvent) -> dict:
    """V1AuthorizeArgs of a channel: its event, and the subsystems its cgr_flags ask for."""
    event = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in channel.cgr_event(NODE_DEFAULTS).items()
        if value not in ("", None)
    }
    flags = ChannelFlags.parse(channel.flags)
    args = {"Tenant": event.get("Tenant", ""), "ID": channel.uuid, "Event": event}
    if flags.max_usage_asked(event.get("RequestType") == "*prepaid"):
        args["GetMaxUsage"] = True
    if flags.routes:
        args["GetRoutes"] = True
    if flags.attributes:
        args["GetAttributes"] = True
    if flags.resources:
        args["AuthorizeResources"] = True
        args["ResourcesOptional"] = True  # fs_cgr's: no profile, no limit, no second request
    return args


def authorize(client, channel: FSEvent) -> Verdict:
    """Ask the node; every outcome is a verdict, never an exception."""
    try:
        args = authorize_args(channel)
    except ValueError as exc:  # unreadable channel data, e.g. a created_time that is no number
        return Verdict({"cgr_notify": notify.MISSING_PARAMETER}, error=str(exc))
    try:
        reply = _ask(client, args)
    except NodeUnavailable as exc:
        return Verdict({"cgr_notify": notify.SYSTEM_ERROR}, error=str(exc))
    except NodeRefused as exc:
        return Verdict({"cgr_notify": refusal(exc.message)}, error=exc.message)
    try:
        return Verdict(granted(reply, args))
    except (InvalidArgument, ValueError, TypeError, KeyError) as exc:
        return Verdict({"cgr_notify": notify.SYSTEM_ERROR}, error=f"unusable reply: {exc}")


def _ask(client, args: dict) -> dict:
    """AuthorizeEvent; when a route or resource profile matches nothing (NOT_FOUND), once
    more without asking for it."""
    while True:
        try:
            return client.call(METHOD, args) or {}
        except NodeRefused as exc:
            flag = _not_found_flag(exc.message, args)
            if flag is None:
                raise
        args = {key: value for key, value in args.items() if key != flag}
        if not any(key.startswith(("Get", "Authorize")) for key in args):
            return {}


def _not_found_flag(message: str, args: dict) -> str | None:
    for prefix, flag in OPTIONAL_WHEN_NOT_FOUND:
        if message.startswith(prefix) and args.get(flag):
            return flag
    return None


def granted(reply: dict, args: dict) -> dict:
    """The variables of an answered request: refused when the max usage is 0."""
    if args.get("GetMaxUsage") and int(reply.get("MaxUsage") or 0) <= 0:
        return {"cgr_notify": notify.INSUFFICIENT_FUNDS}
    variables = {"cgr_notify": notify.AUTH_OK}
    if "MaxUsage" in reply:
        variables["cgr_max_usage"] = str(int(reply["MaxUsage"]) // 1_000_000_000)
    digest = reply.get("RoutesDigest") or ""
    if digest:
        variables["cgr_routes"] = format_cgr_routes(digest.split(","))
    variables.update(altered_fields(reply.get("Attributes")))
    return variables


def altered_fields(attributes) -> dict:
    """Channel variables from AttributeS' reply: each altered field that is in the event."""
    if not attributes:
        return {}
    event = (attributes.get("CGREvent") or {}).get("Event") or {}
    altered = {}
    for name in attributes.get("AlteredFields") or ():
        name = name.removeprefix("*req.")
        if name in event and _VARIABLE_NAME.fullmatch(name):
            altered[name] = str(event[name])
    return altered


def refusal(message: str) -> str:
    """The verdict for the node's error text; anything unknown is a system error."""
    for code, verdict in REFUSED_BY_ERROR:
        if code in message:
            return verdict
    return notify.SYSTEM_ERROR
