"""SIPp calls through a real FreeSWITCH, side by side: no charging, embedded, socket.

    FS_ESL_HOST=127.0.0.1 FS_ESL_PASSWORD=... FS_SIP=127.0.0.1:5060 FS_SIP_PASSWORD=... \\
        python bench/freeswitch_calls.py --rate 50 --calls 100 --runs 3
    ... python bench/freeswitch_calls.py --search --rate 40 --calls 300 --paths bypass,socket

Skips (exit 0) without FS_ESL_HOST. FreeSWITCH runs freeswitch_conf/ with mod_python3
(docs/freeswitch.md) and an extension answering FS_BENCH_NUMBER (7700) with ``echo``; the
three paths are three SIP users calling it with digest auth:

bypass    FS_BENCH_BYPASS_USER (1000): no cgr_reqtype, fs_cgr never sees the call;
embedded  FS_BENCH_EMBEDDED_USER (1010): cgr_reqtype *prepaid, its user_context runs
          00_fs_cgr_embedded.xml.inactive (the mod_python3 handler);
socket    FS_BENCH_SOCKET_USER (1001): cgr_reqtype *prepaid, 00_fs_cgr.xml (static outbound
          socket, the verdict read in the same extension);
<other>   FS_BENCH_<OTHER>_USER: any other path, e.g. ``async`` for a user whose context
          runs the earlier ``socket ... async full`` + uuid_transfer dialplan.

This process runs the node (JSON-RPC on FS_CGR_API, 127.0.0.1:2080, the handler's default
URL; the outbound socket server on 127.0.0.1:8084; the inbound link to FS_ESL_HOST) with
embedded databases. Per path and run: INVITE -> 200 OK times (p50/p99 ms, first INVITE
to the 200, the 407 challenge included, from the µs times of SIPp's message trace), the
clean call rate (SIPp's successful / created), and CPU per call from /proc of FreeSWITCH
and of this process (read before this process reads SIPp's logs, so that fs-cgr's figure
is the node's: a bypass call's is the node's idle work and the bench's polling). Paths
alternate within each run; medians over the runs are printed. Keep runs short on a
shared machine.

``--search``: per path, the highest call rate whose calls end clean (>= 99 %) and are
answered in time (INVITE -> 200 p99 <= ``--max-p99-ms``, default 1000: an overloaded
FreeSWITCH queues calls for seconds instead of failing them, which no caller would call
clean, while fs_cgr sheds a call it is late for): runs of ``--step-seconds`` of calls (at
least ``--calls``) from ``--rate`` up by ``--step`` (x1.25) until one misses either;
then ``--refine`` rounds (default 2) halve, per path, the step between its last clean
rate and its first missed one (geometric mean: with x1.25 steps and 2 rounds the rate is
known to within x1.06, where the steps alone can only tell 1.0x, 0.8x or 0.64x of
bypass's). Each run's figures are printed, then per path the last clean rate and its
ratio to bypass's. The search alternates the paths at each rate and round, so they share
the machine's mood.
"""

import argparse
import csv
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gevent import monkey  # noqa: E402

monkey.patch_all()

import gevent  # noqa: E402

INVITE = """<![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[user]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:[user]@[local_ip]:[local_port]>{auth}
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]>"""
# within the dialog: after the 200 OK (the To tag and route set are known)
IN_DIALOG = """<![CDATA[
{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[user]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} {method}
Max-Forwards: 70
Content-Length: 0

]]>"""
# the first INVITE's 407 is acknowledged in its own transaction
ACK_407 = """<![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]>"""


def scenario(hold_ms: int) -> str:
    """INVITE, 407 challenge, INVITE with digest auth, 200 OK (the measured time), hold, BYE."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="fs_cgr bench: INVITE with digest auth, hold, BYE">
  <send retrans="500" start_rtd="1">{INVITE.format(cseq=1, auth="")}</send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>{ACK_407}</send>
  <send retrans="500">{INVITE.format(cseq=2, auth=chr(10) + "[authentication]")}</send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="1" rrs="true"/>
  <send>{IN_DIALOG.format(method="ACK", cseq=2)}</send>
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500">{IN_DIALOG.format(method="BYE", cseq=3)}</send>
  <recv response="200" crlf="true"/>
</scenario>
"""


# the agent tests' plan, plus the bench number's prefix priced like 49...
EXTRA_DESTINATION = "DST_DE,77\n"
PATHS = ("bypass", "embedded", "socket")


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def freeswitch_pid() -> int:
    if env("FS_PID"):
        return int(env("FS_PID"))
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "freeswitch":
                    return int(entry.name)
            except OSError:
                continue
    raise SystemExit("no freeswitch process found (set FS_PID)")


def process_cpu(pid: int) -> float:
    """utime + stime of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


class Node:
    """The fs_cgr node of the embedded and socket paths, in this process."""

    def __init__(self, users, no_cdr: bool = False):
        from fs_cgr.agents.freeswitch import FreeSwitchAgent
        from fs_cgr.api.server import ApiServer
        from fs_cgr.app import Node as FsCgrNode
        from fs_cgr.config import load_config
        from tests.agents.lab import write_plan

        self.tmp = tempfile.mkdtemp(prefix="fs-cgr-fsbench-")
        esl = f"{env('FS_ESL_HOST')}:{env('FS_ESL_PORT', '8021')}"
        overrides = {
            "general.data_dir": self.tmp,
            "stordb.url": f"sqlite:///{self.tmp}/stordb.sqlite",
            "freeswitch_agent.listen": "127.0.0.1:8084",
            "freeswitch_agent.event_socket_conns": [
                {"address": esl, "password": env("FS_ESL_PASSWORD", "ClueCon"), "alias": "fs"}
            ],
        }
        if no_cdr:
            overrides["freeswitch_agent.create_cdr"] = False
        self.node = FsCgrNode(load_config(overrides=overrides, env={}))
        self.node.datadb.flush()
        self.node.stordb.flush()
        plan = write_plan(Path(self.tmp))
        with (plan / "Destinations.csv").open("a") as destinations:
            destinations.write(EXTRA_DESTINATION)
        self.node.tariffplans.load_folder(plan)
        self.node.rating.refresh()
        self.node.start()
        self.api = ApiServer(self.node, env("FS_CGR_API", "127.0.0.1:2080"))
        self.api.start()
        self.agent = FreeSwitchAgent(self.node).start()
        for user in users:  # the charged paths' accounts
            self.node.accounts.add_balance("cgrates.org", user, "*monetary", "100000")

    def close(self) -> None:
        self.agent.stop(hangup=False)
        self.api.stop(timeout=1)
        self.node.stop()


def run_sipp(user: str, args, workdir: Path) -> None:
    """One SIPp run of ``args.calls`` calls from ``user``, until SIPp exits."""
    scenario_file = workdir / "uac_auth.xml"
    scenario_file.write_text(scenario(args.hold_ms))
    for old in workdir.glob("uac_auth_*"):
        old.unlink()
    command = [
        "sipp", env("FS_SIP", f"{env('FS_ESL_HOST')}:5060"), "-sf", str(scenario_file),
        "-s", env("FS_BENCH_NUMBER", "7700"), "-key", "user", user,
        "-au", user, "-ap", env("FS_SIP_PASSWORD", "1234"),
        "-m", str(args.calls), "-r", str(args.rate), "-i", env("FS_SIPP_IP", "127.0.0.1"),
        "-timeout", str(args.calls / args.rate + args.hold_ms / 1000 + 20),
        "-trace_stat", "-trace_msg", "-bg",
    ]  # fmt: skip
    started = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=30)
    match = re.search(r"PID=\[(\d+)\]", started.stdout + started.stderr)
    if match is None:
        raise SystemExit(f"sipp did not start: {started.stdout}{started.stderr}")
    while Path(f"/proc/{match.group(1)}").exists():
        gevent.sleep(0.1)


def sipp_results(workdir: Path) -> dict:
    """The last SIPp run's RTTs and call counts, read from its logs. (Reading the message
    trace takes this process ~0.3-0.9 ms of CPU a call: done after fs-cgr's CPU is read.)"""
    rtts = []
    for path in workdir.glob("uac_auth_*_messages.log"):
        rtts += invite_to_200_ms(path.read_text(errors="replace"))
    stats = {}
    for path in workdir.glob("uac_auth_*_.csv"):
        with path.open() as rows:
            stats = list(csv.DictReader(rows, delimiter=";"))[-1]
    created = int(stats.get("TotalCallCreated", 0))
    return {
        "rtts": rtts,
        "created": created,
        "ok": int(stats.get("SuccessfulCall(C)", 0)),
    }


# a message in SIPp's -trace_msg log: a line of 47 dashes and the time (µs), then "UDP message
# sent (...)" or "received [...]", a blank line and the SIP message
_TRACED = re.compile(r"^-{47} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})\n[^\n]*\n\n", re.M)
_HEADER = re.compile(r"^(Call-ID|CSeq): *(.*?)\r?$", re.M | re.I)


def invite_to_200_ms(log: str) -> list[float]:
    """Per call, ms from its first INVITE sent to the 200 OK of an INVITE received, from
    SIPp's message trace: its times are to the µs, where its response-time statistics come
    in 4 ms steps (SIPp's coarse clock), which would read any added p50 as +0 or +4 ms."""
    first_invite, answered = {}, {}
    pieces = _TRACED.split(log)
    for stamp, message in zip(pieces[1::2], pieces[2::2], strict=True):
        headers = {name.lower(): value for name, value in _HEADER.findall(message)}
        call_id, cseq = headers.get("call-id"), headers.get("cseq", "")
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if message.startswith("INVITE "):
            first_invite.setdefault(call_id, at)
        elif message.startswith("SIP/2.0 200") and cseq.endswith(" INVITE"):
            answered.setdefault(call_id, at)
    return [(at - first_invite[c]) * 1000 for c, at in answered.items() if c in first_invite]


DEFAULT_USERS = {"bypass": "1000", "embedded": "1010", "socket": "1001"}


def user_of(path: str) -> str:
    user = env(f"FS_BENCH_{path.upper()}_USER", DEFAULT_USERS.get(path, ""))
    if not user:
        raise SystemExit(f"path {path!r}: set FS_BENCH_{path.upper()}_USER")
    return user


def measure(path: str, args, fs_pid: int, workdir: Path) -> dict:
    user = user_of(path)
    fs_before, own_before = process_cpu(fs_pid), own_cpu()
    run_sipp(user, args, workdir)
    gevent.sleep(args.settle)  # hangups, terminates and CDRs of the last calls
    fs_cpu, own = process_cpu(fs_pid) - fs_before, own_cpu() - own_before
    result = sipp_results(workdir)
    calls = max(1, result["created"])
    return {
        "rate": args.rate,
        "p50": percentile(result["rtts"], 0.50),
        "p99": percentile(result["rtts"], 0.99),
        "clean": result["ok"] / calls,
        "fs_cpu_ms": fs_cpu * 1000 / calls,
        "fscgr_cpu_ms": own * 1000 / calls,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50, help="calls per second")
    parser.add_argument("--calls", type=int, default=100, help="calls per run and path")
    parser.add_argument("--hold-ms", type=int, default=2000, help="answered time per call")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after SIPp ends")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--no-cdr", action="store_true", help="freeswitch_agent.create_cdr off")
    parser.add_argument("--search", action="store_true", help="highest clean call rate per path")
    parser.add_argument("--step", type=float, default=1.25, help="--search: rate factor")
    parser.add_argument("--max-rate", type=float, default=1000, help="--search: stop there")
    parser.add_argument(
        "--max-p99-ms", type=float, default=1000, help="--search: slowest clean INVITE -> 200 p99"
    )
    parser.add_argument(
        "--step-seconds", type=float, default=10, help="--search: seconds of calls per step"
    )
    parser.add_argument(
        "--refine", type=int, default=2, help="--search: rounds halving the last step"
    )
    args = parser.parse_args(argv)
    if not env("FS_ESL_HOST"):
        print("FS_ESL_HOST not set: no FreeSWITCH to measure, skipped")
        return 0
    fs_pid = freeswitch_pid()
    paths = args.paths.split(",")
    node = Node([user_of(path) for path in paths if path != "bypass"], args.no_cdr)
    workdir = Path(tempfile.mkdtemp(prefix="fs-cgr-sipp-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if args.search:
        try:
            return search(paths, args, fs_pid, workdir)
        finally:
            node.close()
    runs = {path: [] for path in paths}
    try:
        for run in range(args.runs):
            for path in paths:
                runs[path].append(figures := measure(path, args, fs_pid, workdir))
                print(
                    f"run {run + 1} {path:9s} "
                    + " ".join(f"{k}={v:.3f}" for k, v in figures.items())
                )
    finally:
        node.close()
    print(f"\nmedians of {args.runs} runs: {args.calls} calls at {args.rate}/s, {args.hold_ms} ms")
    print("path       INVITE->200 p50  p99 (ms)  clean   FreeSWITCH CPU/call  fs-cgr CPU/call (ms)")
    medians = {
        path: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for path, results in runs.items()
    }
    for path, m in medians.items():
        print(
            f"{path:9s}  {m['p50']:15.1f}  {m['p99']:8.1f}  {m['clean']:6.3f}  "
            f"{m['fs_cpu_ms']:19.2f}  {m['fscgr_cpu_ms']:15.2f}"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if "bypass" in medians:
        base = medians["bypass"]
        for path in (p for p in paths if p != "bypass"):
            m = medians[path]
            added_cpu = (
                m["fs_cpu_ms"] + m["fscgr_cpu_ms"] - base["fs_cpu_ms"] - base["fscgr_cpu_ms"]
            )
            print(
                f"{path} vs bypass: +{m['p50'] - base['p50']:.1f} ms p50, "
                f"+{added_cpu:.2f} ms CPU/call (FreeSWITCH + fs-cgr), "
                f"clean rate {m['clean'] / base['clean'] if base['clean'] else 0:.3f}x"
            )
    return 0


CLEAN = 0.99  # the share of calls that must succeed at a rate the search accepts


def search(paths: list[str], args, fs_pid: int, workdir: Path) -> int:
    """Raise the rate until a path fails more than 1 % or answers too late, then narrow
    the step it missed; the last clean rate per path."""
    clean_rate = {path: 0.0 for path in paths}
    missed_rate: dict[str, float] = {}
    least_calls = args.calls

    def attempt(path: str, rate: float) -> None:
        clean = clean_at(rate, path, args, fs_pid, workdir, least_calls)
        (clean_rate if clean else missed_rate)[path] = rate

    rate = args.rate
    while len(missed_rate) < len(paths) and rate <= args.max_rate:
        for path in (p for p in paths if p not in missed_rate):
            attempt(path, rate)
        rate = round(rate * args.step, 1)
    for _ in range(args.refine):
        for path in (p for p in paths if clean_rate[p] and p in missed_rate):
            attempt(path, round(math.sqrt(clean_rate[path] * missed_rate[path]), 1))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"\nhighest rate with >= {CLEAN:.0%} clean calls and p99 <= {args.max_p99_ms:g} ms"
        f" ({args.step_seconds:g} s per step):"
    )
    for path, found in clean_rate.items():
        ratio = found / clean_rate["bypass"] if clean_rate.get("bypass") else 0
        print(f"{path:9s}  {found:6.1f}/s" + (f"  {ratio:.2f}x bypass" if path != "bypass" else ""))
    return 0


def clean_at(rate: float, path: str, args, fs_pid: int, workdir: Path, least_calls: int) -> bool:
    """One run of ``path`` at ``rate`` for ``--step-seconds`` (at least ``least_calls``
    calls, a sustained rate): whether its calls ended clean and in time."""
    args.rate = rate
    args.calls = max(least_calls, int(rate * args.step_seconds))
    figures = measure(path, args, fs_pid, workdir)
    print(f"{path:9s} " + " ".join(f"{k}={v:.3f}" for k, v in figures.items()))
    return figures["clean"] >= CLEAN and figures["p99"] <= args.max_p99_ms


if __name__ == "__main__":
    sys.exit(main())
