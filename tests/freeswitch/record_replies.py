"""Record a real FreeSWITCH's replies to the api commands fs_cgr (and its simulator) rely on.

    FS_ESL_HOST=127.0.0.1 FS_ESL_PASSWORD=... python -m tests.freeswitch.record_replies \
        > tests/fssim/recorded/13-api-replies.txt

The output has the format of ../shared/esl-captures (``tests/fssim/captures.py`` reads
both), one inbound session on an idle switch; the password is written as <REDACTED>.
``tests/esl/test_simulator_fidelity.py`` replays it against the simulator byte for byte.
"""

import os
import socket
import sys
from datetime import datetime

GONE = "00000000-0000-0000-0000-000000000000"  # a channel that does not exist
COMMANDS = [
    "api show channels",
    "api show nonsense",
    "api hupall MANAGER_REQUEST cgr_reqtype *prepaid",
    "api hupall MANAGER_REQUEST",
    "api uuid_broadcast",
    f"api uuid_broadcast {GONE} playback!manager_request::/sounds/empty.wav aleg",
    f"api sched_broadcast +5 {GONE} playback::/sounds/empty.wav aleg",
    f"api uuid_setvar {GONE} cgr_notify -INSUFFICIENT_FUNDS",
    f"api uuid_setvar_multi {GONE} cgr_notify=+AUTH_OK;cgr_max_usage=10",
    f"api uuid_transfer {GONE} 1002 XML default",
    f"api uuid_kill {GONE} MANAGER_REQUEST",
    f"api uuid_exists {GONE}",
    "filter Event-Name CHANNEL_ANSWER",
    "event json CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE",
]


class Recorder:
    def __init__(self, sock, out):
        self.sock, self.out, self.buffer = sock, out, b""

    def block(self, direction: str, data: bytes) -> None:
        stamp = datetime.now().isoformat()
        self.out.write(f"=== {stamp} {direction} {len(data)} bytes ===\n".encode() + data)
        ending = b"" if data.endswith(b"\n") else b"\n[no trailing newline]\n"
        self.out.write(ending + b"=== end ===\n")

    def send(self, line: str, shown: str | None = None) -> None:
        data = f"{line}\n\n".encode()
        self.block("SEND", f"{shown or line}\n\n".encode())
        self.sock.sendall(data)

    def receive(self) -> bytes:
        """One whole message (headers and Content-Length body), recorded as it came."""
        while True:
            end = self.buffer.find(b"\n\n")
            if end >= 0:
                lines = self.buffer[:end].decode().split("\n")
                length = next((int(x[16:]) for x in lines if x.startswith("Content-Length: ")), 0)
                total = end + 2 + length
                if len(self.buffer) >= total:
                    message, self.buffer = self.buffer[:total], self.buffer[total:]
                    self.block("RECV", message)
                    return message
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("FreeSWITCH closed the socket")
            self.buffer += data


def main() -> int:
    host, port = os.environ["FS_ESL_HOST"], int(os.environ.get("FS_ESL_PORT", "8021"))
    password = os.environ["FS_ESL_PASSWORD"]  # no default: the box's fs_cgr_vars.xml sets it
    out = sys.stdout.buffer
    out.write(b"# fs_cgr's own recording: api replies of an idle FreeSWITCH (no channels)\n")
    out.write(b"# made by tests/freeswitch/record_replies.py\n\n##### FILE inbound.txt\n")
    with socket.create_connection((host, port), timeout=5) as sock:
        recorder = Recorder(sock, out)
        recorder.receive()
        recorder.send(f"auth {password}", shown="auth <REDACTED>")
        recorder.receive()
        for command in COMMANDS:
            recorder.send(command)
            recorder.receive()
        recorder.send("exit")
        recorder.receive()
        recorder.receive()  # the disconnect notice
    return 0


if __name__ == "__main__":
    sys.exit(main())
