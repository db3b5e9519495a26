"""CPU of the inbound link's events, without the rest of the node: a SIP leg's
CHANNEL_ANSWER and CHANNEL_HANGUP_COMPLETE (``event json``, ~6 and ~10 KB, as the
simulator writes them for ``bench/calls.py --like-freeswitch``: FreeSWITCH's bytes, the
hangup with its repeated Hangup-Cause) read from the wire (``Parser.feed``) and turned
into the CGrateS event (``FSEvent.cgr_event``), in microseconds per event.

    python bench/link_events.py            # median of --runs runs of --number events each

What a call costs on the link is one of each: ``per_call_us`` is their sum. Compare
branches by running this file with each one's code on the path (alternately: the
machine's load moves the numbers).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def link_frames() -> dict[str, bytes]:
    """The two events of one simulated SIP call, as the simulator sends them."""
    from tests.agents.lab import WallClock
    from tests.fssim import wire
    from tests.fssim.embedded import EmbeddedChannel
    from tests.fssim.sim import FreeSwitchSim

    frames = {}

    class Capture:
        def wants(self, event_name, uuid):
            return True

        def passes_filters(self, pairs):
            return True

        def send_event(self, event_name, pairs, body="", encoded=None):
            frames[event_name] = wire.json_event(pairs, body)

    sim = FreeSwitchSim(WallClock())
    sim.unbound.add(Capture())
    variables = {"cgr_reqtype": "*prepaid", "cgr_account": "1001", "cgr_flags": "*accounts"}
    call = EmbeddedChannel(sim, variables, "4912345", sofia=True)
    call.answer()
    call.hangup()
    return {name: frames[name] for name in ("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE")}


def measure(frame: bytes, number: int) -> float:
    """Microseconds to read one such event and make its CGrateS event."""
    from fs_cgr.esl.frames import Parser
    from fs_cgr.fschannel import Defaults, FSEvent

    defaults = Defaults(origin_host="fs1")
    parser = Parser()
    started = time.process_time()
    for _ in range(number):
        (message,) = parser.feed(frame)
        FSEvent(message.event.headers).cgr_event(defaults)
    return (time.process_time() - started) * 1e6 / number


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=2000, help="events a run")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    frames = link_frames()
    report = {"bytes": {name: len(frame) for name, frame in frames.items()}}
    for name, frame in frames.items():
        report[name + "_us"] = round(
            statistics.median(measure(frame, args.number) for _ in range(args.runs)), 1
        )
    report["per_call_us"] = round(sum(report[name + "_us"] for name in frames), 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
