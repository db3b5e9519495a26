"""One simulated channel: the loopback B leg of the captures, with its variables and times.

Header names, their order and the billing arithmetic follow capture 01 (and
09 for billsec: FreeSWITCH subtracts whole epoch seconds, so 3.98 s of talk
between x.99 and y.97 bills 4 s).
"""

import time
import uuid as uuidlib

from gevent.event import Event as Flag

# Event-Calling-File / -Function / -Line-Number of each event, as in the captures.
CALLERS = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        "943",
    ),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
}

# Q.850 codes of the causes tests use; FreeSWITCH's own causes (>127) report 16.
Q850 = {
    "UNALLOCATED_NUMBER": 1,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "CALL_REJECTED": 21,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "OUTGOING_CALL_BARRED": 52,
    "INCOMING_CALL_BARRED": 54,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
}

CODECS = [
    ("Read-Codec-Name", "L16"),
    ("Read-Codec-Rate", "8000"),
    ("Read-Codec-Bit-Rate", "128000"),
    ("Write-Codec-Name", "L16"),
    ("Write-Codec-Rate", "8000"),
    ("Write-Codec-Bit-Rate", "128000"),
]


def local_stamp(us: int) -> str:
    """``2026-11-22 02:33:29``: FreeSWITCH's local time; the simulated host runs on UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(us // 1_000_000))


def gmt_stamp(us: int) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(us // 1_000_000))


def new_uuid() -> str:
    return str(uuidlib.uuid4())


class SimChannel:
    """State of one call leg; ``sim.emit`` turns ``event_pairs`` into bytes for listeners."""

    def __init__(
        self,
        sim,
        destination: str,
        caller: str,
        variables: dict,
        socket_address: str,
        socket_args: str = "async full",
    ):
        self.sim = sim
        self.uuid = new_uuid()
        self.destination = destination
        self.caller = caller
        self.name = f"loopback/{destination}-b"
        self.created_us = sim.clock.now_us()
        self.answered_us = 0
        self.hangup_us = 0
        self.state = "CS_EXECUTE"
        self.state_number = 4
        self.call_state = "RINGING"
        self.answer_state = "ringing"
        self.hangup_cause = ""
        self.profile_index = 1
        self.dialplan = "xml"
        self.context = "cgr"
        self.rdnis = ""
        self.transfer_source = ""
        self.transferred_to = ""  # "<destination> <dialplan> <context>" once transferred
        self.transferred = Flag()  # set with transferred_to: wait on it instead of polling
        self.calls: list = []  # the outbound sockets (SimCall) the channel opened
        self.app = ("socket", f"{socket_address} {socket_args}")
        self.app_uuid = new_uuid()
        self.broadcasts: list[str] = []  # uuid_broadcast / sched_broadcast paths played
        self.vars: dict[str, str] = {}
        self.reporting_vars: list[tuple[str, str]] = []  # e.g. a SIP leg's RTP statistics
        for name, value in self._initial_vars(variables, socket_address):
            self.vars[name] = str(value)

    def _initial_vars(self, variables: dict, socket_address: str):
        yield from [
            ("direction", "inbound"),
            ("uuid", self.uuid),
            ("session_id", str(self.sim.next_session_id())),
            ("channel_name", self.name),
            ("read_codec", "L16"),
            ("read_rate", "8000"),
            ("write_codec", "L16"),
            ("write_rate", "8000"),
            ("origination_caller_id_number", self.caller),
            ("other_loopback_leg_uuid", new_uuid()),
            ("loopback_leg", "B"),
            ("DP_MATCH", f"ARRAY::{self.destination}|:{self.destination}"),
            ("call_uuid", self.uuid),
        ]
        yield from variables.items()
        yield from [
            ("current_application_data", self.app[1]),
            ("current_application", self.app[0]),
            ("socket_host", socket_address.rpartition(":")[0]),
        ]

    @property
    def alive(self) -> bool:
        return not self.hangup_us

    def set_var(self, name: str, value: str) -> None:
        """Like switch_channel_set_variable: a changed variable moves to the end."""
        self.vars.pop(name, None)
        self.vars[name] = value

    # --- headers ------------------------------------------------------------

    def event_pairs(self, event_name: str, extra=()) -> list[tuple[str, str]]:
        pairs = self.sim.event_head(event_name)
        if event_name == "CHANNEL_HANGUP_COMPLETE":
            pairs.append(("Hangup-Cause", self.hangup_cause))
        if event_name == "CHANNEL_DATA":
            pairs += self._profile_pairs("Channel-")
        pairs += self._state_pairs()
        pairs += self._profile_pairs("Caller-")
        if event_name != "CHANNEL_STATE":
            pairs += [(f"variable_{name}", value) for name, value in self.vars.items()]
        return pairs + list(extra)

    def _state_pairs(self) -> list[tuple[str, str]]:
        pairs = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(self.state_number)),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", "inbound"),
            ("Presence-Call-Direction", "inbound"),
            ("Channel-HIT-Dialplan", "true"),
            ("Channel-Call-UUID", self.uuid),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause:
            pairs.append(("Hangup-Cause", self.hangup_cause))
        return pairs + [(f"Channel-{name}", value) for name, value in CODECS]

    def _profile_pairs(self, prefix: str) -> list[tuple[str, str]]:
        """The caller profile; CHANNEL_DATA repeats it with the ``Channel-`` prefix first."""
        pairs = [
            ("Direction", "inbound"),
            ("Logical-Direction", "inbound"),
            ("Dialplan", self.dialplan),
            ("Caller-ID-Number", self.caller),
            ("Orig-Caller-ID-Number", self.caller),
            ("Callee-ID-Name", "Outbound Call"),
            ("Callee-ID-Number", "cgr"),
            ("ANI", self.caller),
            ("Destination-Number", self.destination),
            ("Unique-ID", self.uuid),
            ("Source", "mod_loopback"),
        ]
        if self.transfer_source:
            pairs.append(("Transfer-Source", self.transfer_source))
        pairs.append(("Context", self.context))
        if self.rdnis:
            pairs.append(("RDNIS", self.rdnis))
        pairs += [
            ("Channel-Name", self.name),
            ("Profile-Index", str(self.profile_index)),
            ("Profile-Created-Time", str(self.created_us)),
            ("Channel-Created-Time", str(self.created_us)),
            ("Channel-Answered-Time", str(self.answered_us)),
            ("Channel-Progress-Time", "0"),
            ("Channel-Progress-Media-Time", "0"),
            ("Channel-Hangup-Time", str(self.hangup_us if self.state == "CS_REPORTING" else 0)),
            ("Channel-Transfer-Time", "0"),
            ("Channel-Resurrect-Time", "0"),
            ("Channel-Bridged-Time", "0"),
            ("Channel-Last-Hold", "0"),
            ("Channel-Hold-Accum", "0"),
            ("Screen-Bit", "true"),
            ("Privacy-Hide-Name", "false"),
            ("Privacy-Hide-Number", "false"),
        ]
        return [(prefix + name, value) for name, value in pairs]

    def app_pairs(self, completed: bool, response: str = "_none_") -> list[tuple[str, str]]:
        app, data = self.app
        pairs = [("Application", app)]
        if data:
            pairs.append(("Application-Data", data))
        if completed:
            pairs.append(("Application-Response", response))
        return pairs + [("Application-UUID", self.app_uuid)]

    # --- what happens to the channel -----------------------------------------

    def transfer(self, destination: str, dialplan: str, context: str) -> None:
        now_s = self.sim.clock.now_us() // 1_000_000
        self.transfer_source = f"{now_s}:{new_uuid()}:bl_xfer:{destination}/{context}/{dialplan}"
        self.transferred_to = f"{destination} {dialplan} {context}"
        self.transferred.set()
        self.rdnis = self.destination
        self.destination, self.dialplan, self.context = destination, dialplan, context
        self.profile_index += 1
        self.set_var("max_forwards", "70")
        self.set_var("transfer_history", self.transfer_source)
        self.set_var("transfer_source", self.transfer_source)

    def start_app(self, app: str, data: str = "") -> None:
        self.app = (app, data)
        self.app_uuid = new_uuid()
        self.vars.pop("current_application", None)
        self.vars.pop("current_application_data", None)
        if data:
            self.vars["current_application_data"] = data
        self.vars["current_application"] = app

    def mark_answered(self) -> None:
        self.answered_us = self.sim.clock.now_us()
        self.answer_state = "answered"

    def mark_hungup(self, cause: str) -> None:
        self.hangup_us = self.sim.clock.now_us()
        self.hangup_cause = cause
        self.answer_state = "hangup"
        self.state_number = 10

    def mark_reporting(self) -> None:
        self.state, self.state_number, self.call_state = "CS_REPORTING", 11, "HANGUP"
        for name, value in [*self.reporting_vars, *self.billing_vars()]:
            self.vars[name] = value

    def billing_vars(self) -> list[tuple[str, str]]:
        """The variables FreeSWITCH adds at CS_REPORTING, in capture 01's order."""
        start, answer, end = self.created_us, self.answered_us, self.hangup_us
        pairs = [
            ("hangup_cause", self.hangup_cause),
            ("hangup_cause_q850", str(Q850.get(self.hangup_cause, 16))),
            ("digits_dialed", "none"),
            ("start_stamp", local_stamp(start)),
            ("profile_start_stamp", local_stamp(start)),
        ]
        if answer:
            pairs.append(("answer_stamp", local_stamp(answer)))
        pairs += [("end_stamp", local_stamp(end))]
        for name, us in [("start", start), ("profile_start", start), ("answer", answer)]:
            pairs += [(f"{name}_epoch", str(us // 1_000_000)), (f"{name}_uepoch", str(us))]
        pairs += [
            ("bridge_epoch", "0"),
            ("bridge_uepoch", "0"),
            ("last_hold_epoch", "0"),
            ("last_hold_uepoch", "0"),
            ("hold_accum_seconds", "0"),
            ("hold_accum_usec", "0"),
            ("hold_accum_ms", "0"),
            ("resurrect_epoch", "0"),
            ("resurrect_uepoch", "0"),
            ("progress_epoch", "0"),
            ("progress_uepoch", "0"),
            ("progress_media_epoch", "0"),
            ("progress_media_uepoch", "0"),
            ("end_epoch", str(end // 1_000_000)),
            ("end_uepoch", str(end)),
            ("last_app", self.app[0]),
        ]
        if self.app[1]:
            pairs.append(("last_arg", self.app[1]))
        pairs.append(("caller_id", self.caller))
        for unit, divisor in [("sec", 1_000_000), ("msec", 1_000), ("usec", 1)]:
            pairs += self._durations(unit, divisor)
        return pairs + [("is_loopback", "1")]

    def _durations(self, unit: str, divisor: int) -> list[tuple[str, str]]:
        """duration/billsec/... in one unit: differences of whole epoch units, as FreeSWITCH."""
        start, answer, end = (
            t // divisor for t in (self.created_us, self.answered_us, self.hangup_us)
        )
        bill = end - answer if answer else 0
        total = end - start
        wait = answer - start if answer else 0
        duration_name = {"sec": "duration", "msec": "mduration", "usec": "uduration"}[unit]
        return [
            (duration_name, str(total)),
            (f"bill{unit}", str(bill)),
            (f"progress{unit}", "0"),
            (f"answer{unit}", str(wait)),
            (f"wait{unit}", "0"),
            (f"progress_media{unit}", "0"),
            (f"flow_bill{unit}", str(total)),
        ]
