"""FreeSWITCH 1.10.12 event-socket simulator for tests: real loopback sockets, fake clock.

    sim = FreeSwitchSim()                       # sim.clock: FakeClock (advance(seconds))
    call = sim.place_call(server.address, variables={"cgr_reqtype": "*prepaid"},
                          destination="1002", caller="1001")
    call.wait_transfer()                        # "1002 XML cgr" once fs_cgr transferred it
    call.vars["cgr_notify"]                     # channel variables fs_cgr set
    call.answer(); sim.clock.advance(65)
    call.hangup("NORMAL_CLEARING")              # CHANNEL_HANGUP ... CHANNEL_HANGUP_COMPLETE
    call.wait_closed(); call.api_log            # every command fs_cgr sent, in order

    address = sim.listen_inbound()              # port-8021 mode (password sim.password)

See sim.py for the behaviour of each command and the options (drop_park,
reply_delay, call.stall, sim.inbound_stalled, call.drop(), sim.drop_inbound()).
"""

from tests.fssim.clock import FakeClock
from tests.fssim.sim import FreeSwitchSim, InboundSession, SimCall, wait_until

__all__ = ["FakeClock", "FreeSwitchSim", "InboundSession", "SimCall", "wait_until"]
