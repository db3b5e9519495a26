"""Channels with no outbound socket, whose dialplan ran mod_python3's ``python`` app.

``EmbeddedChannel`` creates such a channel on the simulator; ``run(handler)`` calls the
real embedded handler with a ``SimSession`` (mod_python3's Session: getVariable,
setVariable, execute) on a native thread, as FreeSWITCH does, while the simulator and
the node keep running on the gevent hub. What the handler asked to execute (``respond``)
is carried out afterwards, on the hub: a 4xx/5xx ``respond`` ends an unanswered SIP
channel; on the simulator's loopback channels it does nothing (FreeSWITCH 1.10.12's
loopback ignores it and the dialplan goes on), so only the handler's ``hangup`` ends them.
"""

import json
from pathlib import Path

import gevent

from tests.fssim.channel import SimChannel

APP = ("python", "fs_cgr.embedded.handler")
# the variables a real SIP leg carries beyond the simulator's loopback ones (capture 11)
SOFIA = json.loads((Path(__file__).parent / "recorded" / "sofia-variables.json").read_text())
# the hangup cause FreeSWITCH gives an unanswered channel refused with ``respond``
RESPOND_CAUSES = {"403": "CALL_REJECTED", "486": "USER_BUSY", "503": "NORMAL_TEMPORARY_FAILURE"}


class SimSession:
    """What mod_python3's Session offers the handler, on a simulated channel. Unknown
    channel variables fall back to the caller profile, then to ``global_vars``, as
    switch_channel_get_variable does."""

    def __init__(self, channel: SimChannel, global_vars: dict):
        self.channel = channel
        self.global_vars = global_vars
        self.executed: list[tuple[str, str]] = []
        self.hangup_cause: str | None = None  # what the handler hung up with, if it did

    def getVariable(self, name: str):  # noqa: N802 (mod_python3's name)
        if name in self.channel.vars:
            return self.channel.vars[name]
        profile = {
            "uuid": self.channel.uuid,
            "destination_number": self.channel.destination,
            "context": self.channel.context,
            "dialplan": self.channel.dialplan,
            "created_time": str(self.channel.created_us),
        }
        return profile.get(name, self.global_vars.get(name))

    def setVariable(self, name: str, value: str) -> None:  # noqa: N802
        self.channel.set_var(name, value)

    def execute(self, app: str, data: str = "") -> None:
        self.executed.append((app, data))

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self.hangup_cause = cause


class EmbeddedChannel:
    """``sofia``: the channel also carries a real SIP leg's variables (its events are as big
    as FreeSWITCH's: ~6 KB at answer, ~10 KB at hangup, against ~3.5 KB without)."""

    def __init__(
        self, sim, variables: dict, destination: str, caller: str = "1001", sofia: bool = False
    ):
        self.sim = sim
        if sofia:
            variables = {**dict(SOFIA["answer"]), **variables}
        self.channel = SimChannel(sim, destination, caller, dict(variables), "")
        if sofia:
            self.channel.reporting_vars = [tuple(pair) for pair in SOFIA["hangup"]]
        self.channel.app = APP
        self.channel.vars.pop("socket_host", None)
        self.channel.vars["current_application"], self.channel.vars["current_application_data"] = (
            APP
        )
        sim.channels[self.channel.uuid] = self.channel
        self.session = None

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def vars(self) -> dict:
        return self.channel.vars

    def run(self, handler, global_vars: dict, native: bool = True) -> "EmbeddedChannel":
        """The dialplan's ``python`` action: the handler on a native thread (``native``;
        in a gevent monkey-patched process, in this greenlet), then its ``respond`` (if
        any) on the hub."""
        self.session = SimSession(self.channel, global_vars)
        if native:
            gevent.get_hub().threadpool.apply(handler, (self.session,))
        else:
            handler(self.session)
        for app, data in self.session.executed:
            if app == "respond" and data[:1] in "3456" and self.channel.name.startswith("sofia/"):
                self.sim.hangup(self.channel, RESPOND_CAUSES.get(data[:3], "CALL_REJECTED"))
        if self.session.hangup_cause is not None and self.channel.alive:
            self.sim.hangup(self.channel, self.session.hangup_cause)
        return self

    def answer(self) -> None:
        self.sim.answer(self.channel)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self.sim.hangup(self.channel, cause)

    def wait_hangup(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the channel to end (fs_cgr cut it); True if it did."""
        deadline = gevent.get_hub().loop.now() + timeout
        while self.channel.alive and gevent.get_hub().loop.now() < deadline:
            gevent.sleep(0.05)
        return not self.channel.alive
