"""``fs-cgr``: run a node, or talk to a running one over its JSON-RPC API.

Every subcommand is one function registered with ``@command``; the client
commands get an ``RpcClient`` for ``--url``::

    @command("ping", "check that the server answers")
    def ping(args, client):
        print(client.call("APIerSv1.Ping"))
"""

import argparse
import json
import os
import sys
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:2080/jsonrpc"
EPILOG = f"""\
examples:
  fs-cgr serve                                   # API on 127.0.0.1:2080, embedded databases
  fs-cgr load examples/tariffplan                # load a CGrateS CSV tariff plan
  fs-cgr cost --subject 1002 --destination 4915112345678 --usage 2m30s

Client commands talk to --url (default $FS_CGR_URL or {DEFAULT_URL})."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: tuple
    run: object
    client: bool


_commands: list[Command] = []


def arg(*flags, **options) -> tuple:
    """One ``add_argument`` call, kept for ``@command``."""
    return flags, options


def command(name: str, help: str, *arguments, client: bool = True):
    """Register ``run(args, client)`` (or ``run(args)`` when ``client=False``) as a subcommand."""

    def register(run):
        _commands.append(Command(name, help, arguments, run, client))
        return run

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fs-cgr",
        description="Real-time charging for FreeSWITCH with a CGrateS-compatible JSON-RPC API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    client_options = argparse.ArgumentParser(add_help=False)
    client_options.add_argument(
        "--url",
        default=os.environ.get("FS_CGR_URL", DEFAULT_URL),
        help="JSON-RPC URL of the fs_cgr server (default: %(default)s)",
    )
    client_options.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for an answer (default: 30)"
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in _commands:
        sub = subcommands.add_parser(
            cmd.name,
            help=cmd.help,
            description=cmd.help,
            parents=[client_options] if cmd.client else [],
        )
        for flags, options in cmd.arguments:
            sub.add_argument(*flags, **options)
        sub.set_defaults(command_spec=cmd)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    cmd: Command = args.command_spec
    if not cmd.client:
        return cmd.run(args) or 0
    from fs_cgr.api.client import RpcClient, RpcError, ServerUnreachable

    try:
        return cmd.run(args, RpcClient(args.url, args.timeout)) or 0
    except ServerUnreachable as exc:
        print(f"fs-cgr: {exc}\n(is `fs-cgr serve` running there? see --url)", file=sys.stderr)
        return 2
    except RpcError as exc:
        print(f"fs-cgr: {exc.message}", file=sys.stderr)
        return 1


def print_json(value) -> None:
    from fs_cgr.api.jsonrpc import encode

    print(json.dumps(json.loads(encode(value)), indent=2))


# -- the node ------------------------------------------------------------------
@command(
    "serve",
    "run a node: the JSON-RPC API and, when installed, the FreeSWITCH agent",
    arg("--config", metavar="FILE", help="JSON config file (see docs/configuration.md)"),
    arg("--api", metavar="HOST:PORT", help="JSON-RPC listen address (listen.http)"),
    arg("--esl", metavar="HOST:PORT", help="outbound ESL listen address (freeswitch_agent.listen)"),
    arg("--fs", metavar="HOST:PORT", help="FreeSWITCH event socket to connect to"),
    arg("--fs-password", metavar="PW", help="password of that event socket"),
    arg("--datadb", metavar="URL", help="internal:// or redis://host:port/db"),
    arg("--stordb", metavar="URL", help="sqlite:///path or mysql://user@host:port/db"),
    arg("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default: INFO)"),
    arg(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes sharing the ports (default: one per CPU with a Redis DataDB, "
        "else 1; see docs/workers.md)",
    ),
    client=False,
)
def serve(args) -> int:
    from fs_cgr.api import serve as serving

    return serving.run(args.config, _serve_overrides(args), args.log_level, args.workers)


def _serve_overrides(args) -> dict:
    overrides = {
        "listen.http": args.api,
        "freeswitch_agent.listen": args.esl,
        "datadb.url": args.datadb,
        "stordb.url": args.stordb,
    }
    if args.fs or args.fs_password:
        connection = {"address": args.fs or "127.0.0.1:8021"}
        if args.fs_password:
            connection["password"] = args.fs_password
        overrides["freeswitch_agent.event_socket_conns"] = [connection]
    return {key: value for key, value in overrides.items() if value is not None}


# -- client commands -----------------------------------------------------------
@command("ping", "check that the server answers")
def ping(args, client) -> None:
    print(client.call("APIerSv1.Ping"))


@command(
    "load",
    "load a CGrateS CSV tariff-plan folder into the live plan (all or nothing)",
    arg("dir", help="the folder; the server reads it, so it must be on the server's machine"),
    arg("--remove", action="store_true", help="remove what the folder defines instead"),
)
def load(args, client) -> None:
    folder = os.path.abspath(args.dir)
    method = "APIerSv1.RemoveTPFromFolder" if args.remove else "APIerSv1.LoadTariffPlanFromFolder"
    print(client.call(method, {"FolderPath": folder}))


@command(
    "cost",
    "price a call without charging anyone (APIerSv1.GetCost)",
    arg("--tenant", default="", help="default: the server's general.default_tenant"),
    arg("--category", default="", help="default: the server's general.default_category"),
    arg("--subject", required=True, help="rating subject (usually the caller's account)"),
    arg("--destination", required=True, help="dialled number"),
    arg("--usage", required=True, help='call length: "90s", "2m30s", "1h"'),
    arg("--answer-time", default="", help="RFC 3339 or '2024-05-06 10:00:00' (UTC); default now"),
    arg("--json", action="store_true", help="print the whole EventCost"),
)
def cost(args, client) -> None:
    params = {
        "Tenant": args.tenant,
        "Category": args.category,
        "Subject": args.subject,
        "Destination": args.destination,
        "Usage": args.usage,
        "AnswerTime": args.answer_time,
    }
    event_cost = client.call("APIerSv1.GetCost", {k: v for k, v in params.items() if v})
    if args.json:
        print_json(event_cost)
        return
    from fs_cgr.durations import format_duration

    print(f"Cost:  {event_cost['Cost']}")
    print(f"Usage: {format_duration(int(event_cost['Usage']))}")
    for filters in (event_cost.get("RatingFilters") or {}).values():
        subject = str(filters.get("Subject", "")).split(":", 3)[-1]  # *out:tenant:category:
        print(
            f"Rated: {filters.get('DestinationID')} (prefix {filters.get('DestinationPrefix')})"
            f" by {filters.get('RatingPlanID')}, rating subject {subject}"
        )


@command(
    "cdrs",
    "list stored CDRs (APIerSv2.GetCDRs) as a table or CSV",
    arg("--account", action="append", default=[], help="only these accounts (repeatable)"),
    arg("--origin-id", action="append", default=[], help="only these OriginIDs (repeatable)"),
    arg("--run-id", action="append", default=[], help="only these RunIDs, e.g. *default"),
    arg("--since", default="", help="answered at or after (RFC 3339 or '2024-05-06 10:00:00')"),
    arg("--until", default="", help="answered before"),
    arg("--limit", type=int, default=100, help="at most this many (default: 100)"),
    arg("--csv", action="store_true", help="every field as CSV instead of a table"),
)
def cdrs(args, client) -> None:
    from fs_cgr.api.client import RpcError

    query = {
        "Accounts": args.account,
        "OriginIDs": args.origin_id,
        "RunIDs": args.run_id,
        "AnswerTimeStart": args.since,
        "AnswerTimeEnd": args.until,
        "Limit": args.limit,
        "OrderBy": "AnswerTime",
    }
    try:
        found = client.call("APIerSv2.GetCDRs", {k: v for k, v in query.items() if v})
    except RpcError as exc:
        if "NOT_FOUND" not in exc.message:
            raise
        found = []
    if args.csv:
        import csv

        fields = [name for name in (found[0] if found else {}) if name != "CostDetails"]
        writer = csv.DictWriter(sys.stdout, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**cdr, "ExtraFields": json.dumps(cdr["ExtraFields"])} for cdr in found)
        return
    columns = ("AnswerTime", "Account", "Destination", "Usage", "RequestType", "RunID", "Cost")
    columns += ("ExtraInfo",)  # last: not padded
    rows = [columns] + [tuple(str(cdr[name]) for name in columns) for cdr in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns) - 1)] + [0]
    for row in rows:
        print("  ".join(value.ljust(w) for value, w in zip(row, widths, strict=True)).rstrip())


@command(
    "import-cdrs",
    "import FreeSWITCH mod_cdr_csv files (priced and charged like live calls)",
    arg("files", nargs="+", metavar="FILE"),
    arg("--template", default="", help='columns: a cdr_csv template ("${uuid}",...) or a,b,c'),
    arg("--timezone", default="UTC", help="zone of FreeSWITCH's *_stamp columns (default: UTC)"),
)
def import_cdrs(args, client) -> int:
    totals = dict.fromkeys(("Processed", "Stored", "Duplicates", "Failed", "UnratedRuns"), 0)
    for path in args.files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
        for start in range(0, len(lines), 20000):  # requests well below the body limit
            params = {
                "Name": path,
                "Content": "\n".join(lines[start : start + 20000]),
                "Template": args.template,
                "Timezone": args.timezone,
                "FirstLine": start + 1,
            }
            report = client.call("CDRsV1.ImportFreeSWITCHCSV", params)
            for problem in report["Problems"]:
                print(problem, file=sys.stderr)
            for key in totals:
                totals[key] += report[key]
    print(
        f"processed {totals['Processed']}, stored {totals['Stored']},"
        f" duplicates {totals['Duplicates']}, failed {totals['Failed']},"
        f" unrated runs {totals['UnratedRuns']}"
    )
    return 1 if totals["Failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
