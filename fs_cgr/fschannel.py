"""FreeSWITCH channel data as the neutral CGrateS event; the only module that knows
FreeSWITCH's header and channel-variable names.

Two inputs carry the same data under different names: ESL events (and the outbound
socket's ``connect`` reply) prefix channel variables with ``variable_``, while a
mod_json_cdr document keeps bare names in ``variables`` and the caller profile in
``callflow``. ``FSEvent.from_json_cdr`` renames the latter to the former, so one
mapping serves both. Header values must already be URL-decoded (fs_cgr.esl.frames
does it); JSON array variables may be lists.

The event uses CGrateS' field names. What FreeSWITCH did not report (no answer yet, no
billsec before the hangup) is left out rather than guessed; ``validate`` names the
mandatory fields that stayed empty.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from fs_cgr.durations import MILLISECOND, SECOND
from fs_cgr.errors import MandatoryMissing
from fs_cgr.times import UTC

VOICE = "*voice"
SOURCE = "FreeSWITCHAgent"
NO_CHARGING = "*none"
MANDATORY = ("Account", "Subject", "Destination", "Category", "OriginID", "Tenant")

_VAR = "variable_"
_CGR_VAR = _VAR + "cgr_"  # channel variables named cgr_*
_READ_CGR_VARIABLES = frozenset(
    f"cgr_{name}"
    for name in (
        "reqtype",
        "flags",
        "tenant",
        "category",
        "account",
        "subject",
        "destination",
        "acd",
        "originhost",
        "disconnect_cause",
        "notify",
        "routes",
        "route",
    )
)
# mod_json_cdr names -> the ESL header that carries the same datum
_CDR_CALLER_PROFILE = {
    "username": "Caller-Username",
    "destination_number": "Caller-Destination-Number",
    "dialplan": "Caller-Dialplan",
    "uuid": "Unique-ID",
}
# channel variable (or caller-profile field, which getVariable falls back to) -> the ESL
# header of the same datum: what an embedded handler reads with ``session.getVariable``
_CHANNEL_FIELDS = {
    "uuid": "Unique-ID",
    "username": "Caller-Username",
    "destination_number": "Caller-Destination-Number",
    "context": "Caller-Context",
    "dialplan": "Caller-Dialplan",
    "created_time": "Caller-Channel-Created-Time",
}
_CHANNEL_VARIABLES = (*sorted(_READ_CGR_VARIABLES), "process_cdr", "sip_req_user")
EMBEDDED_MARKER = "fs_cgr_embedded"  # set ("true") on calls the embedded handler authorized
_CDR_VARIABLES = {
    "uuid": "Unique-ID",
    "start_uepoch": "Caller-Channel-Created-Time",
    "answer_uepoch": "Caller-Channel-Answered-Time",
    "end_uepoch": "Caller-Channel-Hangup-Time",
    "hangup_cause": "Hangup-Cause",
}


@dataclass(frozen=True)
class Defaults:
    """What an event falls back to when the channel does not say.

    ``origin_host`` is the alias (or address) of the FreeSWITCH the event came from;
    ``extra_fields`` names further channel variables to copy into the event.
    """

    tenant: str = "cgrates.org"
    category: str = "call"
    request_type: str = "*rated"
    origin_host: str = ""
    extra_fields: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config, origin_host: str = "", extra_fields=()) -> "Defaults":
        general = config.general
        return cls(
            general.default_tenant,
            general.default_category,
            general.default_request_type,
            origin_host,
            tuple(extra_fields),
        )


DEFAULTS = Defaults()


class FSEvent:
    """One channel's data, read with FreeSWITCH's names, handed out with CGrateS' names."""

    def __init__(self, headers: Mapping):
        self.headers = headers

    @classmethod
    def from_json_cdr(cls, document: Mapping) -> "FSEvent":
        """A mod_json_cdr document (``variables``, ``callflow``) in ESL header form; values
        URL-decoded already (mod_json_cdr encodes them when ``encode-values`` is on)."""
        variables = document.get("variables") or {}
        headers = {_VAR + name: value for name, value in variables.items()}
        for name, header in _CDR_VARIABLES.items():
            if name in variables:
                headers[header] = variables[name]
        for name, header in _CDR_CALLER_PROFILE.items():
            value = _caller_profile(document).get(name)
            if value:
                headers[header] = value
        return cls(headers)

    @classmethod
    def from_channel(cls, get_variable) -> "FSEvent":
        """A live channel read inside FreeSWITCH (mod_python3's ``session.getVariable``),
        in ESL header form. Only the variables fs_cgr reads are fetched: a channel's
        variables cannot be listed from there, so unknown cgr_* extra fields are not seen."""
        headers = {header: get_variable(name) or "" for name, header in _CHANNEL_FIELDS.items()}
        for name in _CHANNEL_VARIABLES:
            value = get_variable(name)
            if value:
                headers[_VAR + name] = value
        return cls(headers)

    # -- what the agent needs besides the event --------------------------------------

    @property
    def name(self) -> str:
        return self._header("Event-Name")

    @property
    def uuid(self) -> str:
        return self._header("Unique-ID")

    @property
    def has_request_type(self) -> bool:
        """The channel carries cgr_reqtype: only such calls are charged (or touched)."""
        return bool(self.variable("cgr_reqtype"))

    @property
    def flags(self) -> tuple[str, ...]:
        """cgr_flags (``*accounts;*routes``) as a tuple; the connect reply decodes %3B to ';'."""
        return tuple(flag for flag in self.variable("cgr_flags").split(";") if flag.strip())

    @property
    def call_destination(self) -> str:
        """The number dialled: where uuid_transfer sends the call back to."""
        return self._header("Caller-Destination-Number") or self.variable("sip_req_user")

    @property
    def call_context(self) -> str:
        """The dialplan context the call runs in: uuid_transfer keeps it."""
        return self._header("Caller-Context") or "default"

    @property
    def embedded(self) -> bool:
        """The embedded handler authorized this call: the inbound link follows it."""
        return self.variable(EMBEDDED_MARKER) == "true"

    @property
    def answered(self) -> bool:
        return self._header("Caller-Channel-Answered-Time") not in ("", "0")

    @property
    def answered_at(self) -> datetime | None:
        """The answer to the microsecond: when paid time starts to count. (The neutral
        event's AnswerTime keeps whole seconds, as CGrateS rates and stores it.)"""
        return _exact_epoch_us(self._header("Caller-Channel-Answered-Time"))

    def variable(self, name: str) -> str:
        return self._header(_VAR + name)

    # -- the neutral event --------------------------------------------------------------

    def request_type(self, defaults: Defaults) -> str:
        """cgr_reqtype; else *none for what FreeSWITCH will not bill (process_cdr=false,
        inline dialplans such as a REFER from another box); else the configured default."""
        explicit = self.variable("cgr_reqtype")
        if explicit:
            return explicit
        if self.variable("process_cdr") == "false" or self._header("Caller-Dialplan") == "inline":
            return NO_CHARGING
        return defaults.request_type

    def cgr_event(self, defaults: Defaults = DEFAULTS) -> dict:
        account = self.variable("cgr_account") or self._header("Caller-Username")
        event = self._extra_fields(defaults)
        event.update(
            {
                "Tenant": self.variable("cgr_tenant") or defaults.tenant,
                "Category": self.variable("cgr_category") or defaults.category,
                "RequestType": self.request_type(defaults),
                "Account": account,
                "Subject": self.variable("cgr_subject") or account,
                "Destination": self.variable("cgr_destination") or self.call_destination,
                "OriginID": self.uuid,
                "OriginHost": self.variable("cgr_originhost")
                or defaults.origin_host
                or self._header("FreeSWITCH-IPv4"),
                "Source": SOURCE,
                "ToR": VOICE,
            }
        )
        optional = {
            "SetupTime": _epoch_us(self._header("Caller-Channel-Created-Time")),
            "AnswerTime": _epoch_us(self._header("Caller-Channel-Answered-Time")),
            "Usage": self._usage(),
            "PDD": self._pdd(),
            "ACD": _seconds("cgr_acd", self.variable("cgr_acd")),
            "DisconnectCause": self.variable("cgr_disconnect_cause")
            or self._header("Hangup-Cause"),
        }
        event.update({key: value for key, value in optional.items() if value not in (None, "")})
        return event

    def _usage(self) -> int | None:
        """Billed time: billmsec (ms precision) when present, else billsec."""
        billmsec = self.variable("billmsec")
        if billmsec:
            return _integer("billmsec", billmsec) * MILLISECOND
        return _seconds("billsec", self.variable("billsec"))

    def _pdd(self) -> int | None:
        """Post-dial delay (CGrateS: progress_mediamsec, else progressmsec), for StatS' *pdd."""
        for name in ("progress_mediamsec", "progressmsec"):
            text = self.variable(name)
            if text:
                return _integer(name, text) * MILLISECOND
        return None

    def _extra_fields(self, defaults: Defaults) -> dict:
        """cgr_* variables fs_cgr does not read itself, plus the configured extra fields."""
        extra = {
            name: self._header(_VAR + name)
            for name in _cgr_variables(self.headers)
            if name not in _READ_CGR_VARIABLES
        }
        for name in defaults.extra_fields:
            value = self.variable(name)
            if value:
                extra[name] = value
        return extra

    def _header(self, name: str) -> str:
        value = self.headers.get(name, "")
        if value.__class__ is list:  # JSON events give array variables as lists
            return "ARRAY::" + "|:".join(value)
        return value


_NAME_BREAK = "\0"  # in no header name FreeSWITCH writes
_CGR_VAR_AFTER_BREAK = _NAME_BREAK + _CGR_VAR


def _cgr_variables(headers: Mapping) -> list[str]:
    """The names (``cgr_...``) of the cgr_* channel variables among the headers, in order.

    An event has ~250 headers and a handful of them are cgr_* variables: they are found by
    splitting the names joined into one text, in C, rather than testing each in Python.
    A name holding the break could cut a cgr_* name short or fake one; the name found is
    then no header's, or another header's, which is found too. So unless each name found
    is a header's and found once, each name is tested (a check of the few names found,
    cheaper than counting the breaks in all of them)."""
    pieces = (_NAME_BREAK + _NAME_BREAK.join(headers)).split(_CGR_VAR_AFTER_BREAK)
    names = ["cgr_" + piece.partition(_NAME_BREAK)[0] for piece in pieces[1:]]
    if len(set(names)) != len(names) or any(_VAR + name not in headers for name in names):
        return [key[len(_VAR) :] for key in headers if key.startswith(_CGR_VAR)]
    return names


def validate(event: Mapping) -> None:
    """Raise MandatoryMissing naming every mandatory field left empty (CGrateS' order)."""
    missing = [name for name in MANDATORY if not str(event.get(name, "")).strip()]
    if missing:
        raise MandatoryMissing(*missing)


def _caller_profile(document: Mapping) -> Mapping:
    callflow = document.get("callflow") or {}
    if isinstance(callflow, list):  # newer FreeSWITCH: a list, the current profile first
        callflow = callflow[0] if callflow else {}
    return callflow.get("caller_profile") or {}


def _epoch_us(value: str) -> datetime | None:
    """FreeSWITCH's µs epoch; "0" means the moment has not happened. Whole seconds are
    kept, as CGrateS keeps them (its CDRs store no sub-second times)."""
    if not value or value == "0":
        return None
    try:  # the epoch plus a timedelta: a third of fromtimestamp's cost
        return _EPOCH + timedelta(seconds=_integer("channel time", value) // 1_000_000)
    except OverflowError:  # beyond year 9999: fromtimestamp names the error
        return _exact_epoch_us(value).replace(microsecond=0)


def _exact_epoch_us(value: str) -> datetime | None:
    if not value or value == "0":
        return None
    micros = _integer("channel time", value)
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        pass
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _seconds(name: str, value: str) -> int | None:
    return _integer(name, value) * SECOND if value else None


def _integer(name: str, value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"FreeSWITCH {name} is not a whole number: {value!r}")
    return int(value)
