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

Client commands talk to --url (default $FS_CGR_URL or {DEFAULT_URL}) and send
--token (default $FS_CGR_TOKEN) when the server has listen.auth_tokens."""


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
    from fs_cgr import __version__

    parser.add_argument("--version", action="version", version=f"fs-cgr {__version__}")
    client_options = argparse.ArgumentParser(add_help=False)
    client_options.add_argument(
        "--url",
        default=os.environ.get("FS_CGR_URL", DEFAULT_URL),
        help="JSON-RPC URL of the fs_cgr server (default: %(default)s)",
    )
    client_options.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for an answer (default: 30)"
    )
    client_options.add_argument(
        "--token",
        default=os.environ.get("FS_CGR_TOKEN", ""),
        help="API token (listen.auth_tokens; default: $FS_CGR_TOKEN)",
    )
    client_options.add_argument(
        "--cafile",
        default=os.environ.get("FS_CGR_CAFILE") or None,
        help="CA file that verifies an https --url (default: $FS_CGR_CAFILE, else system CAs)",
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
    try:
        return _main(argv)
    except BrokenPipeError:  # e.g. `fs-cgr cdrs | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    cmd: Command = args.command_spec
    if not cmd.client:
        return cmd.run(args) or 0
    from fs_cgr.api.client import RpcClient, RpcError, ServerUnreachable

    try:
        return cmd.run(args, RpcClient(args.url, args.timeout, args.token, args.cafile)) or 0
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
    arg(
        "--tariffplans-dir",
        metavar="DIR",
        action="append",
        help="a folder LoadTariffPlanFromFolder may read below (tariffplans.base_dirs; repeatable)",
    ),
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
        "tariffplans.base_dirs": args.tariffplans_dir,
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
    from fs_cgr.api.client import RpcError

    folder = os.path.abspath(args.dir)
    method = "APIerSv1.RemoveTPFromFolder" if args.remove else "APIerSv1.LoadTariffPlanFromFolder"
    try:
        print(client.call(method, {"FolderPath": folder}))
    except RpcError as exc:
        if not exc.message.startswith("INVALID_PATH"):
            raise
        why = exc.message.partition(": ")[2] or "the server finds no folder there"
        here = "" if os.path.isdir(folder) else "; it is no folder on this machine either"
        raise RpcError(
            f"INVALID_PATH: {folder}: {why} (the server reads the path on its own machine){here}"
        ) from None


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
    "list stored CDRs (APIerSv2.GetCDRs) as a table, or stream them all as CSV or JSON lines",
    arg("--account", action="append", default=[], help="only these accounts (repeatable)"),
    arg("--origin-id", action="append", default=[], help="only these OriginIDs (repeatable)"),
    arg("--run-id", action="append", default=[], help="only these RunIDs, e.g. *default"),
    arg("--since", default="", help="answered at or after (RFC 3339 or '2024-05-06 10:00:00')"),
    arg("--until", default="", help="answered before"),
    arg("--limit", type=int, default=None, help="at most this many (table default: 100)"),
    arg("--format", choices=("table", "csv", "json"), default="table", help="output format"),
    arg("--csv", action="store_true", help="same as --format csv"),
)
def cdrs(args, client) -> None:
    query = {
        "Accounts": args.account,
        "OriginIDs": args.origin_id,
        "RunIDs": args.run_id,
        "AnswerTimeStart": args.since,
        "AnswerTimeEnd": args.until,
    }
    query = {k: v for k, v in query.items() if v}
    output = "csv" if args.csv else args.format
    if output == "table":
        _cdr_table(_fetch(client, {**query, "Limit": args.limit or 100, "OrderBy": "AnswerTime"}))
        return
    from fs_cgr.cdrs.export import LISTING_FIELDS, csv_row, json_line

    if output == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(LISTING_FIELDS)
        for cdr in _stream(client, query, args.limit):
            writer.writerow(csv_row(cdr))
        return
    for cdr in _stream(client, query, args.limit):
        sys.stdout.write(json_line(cdr) + "\n")


CDR_PAGE = 1000


def _stream(client, query: dict, limit: int | None):
    """Every matching CDR, a page of CDR_PAGE at a time in OrderID order: memory stays flat
    on both sides however many there are."""
    start, left = 0, limit
    while left is None or left > 0:
        size = CDR_PAGE if left is None else min(CDR_PAGE, left)
        page = _fetch(client, {**query, "OrderIDStart": start, "Limit": size, "OrderBy": "OrderID"})
        yield from page
        if len(page) < size:
            return
        start = page[-1]["OrderID"] + 1
        left = None if left is None else left - len(page)


def _fetch(client, query: dict) -> list:
    from fs_cgr.api.client import RpcError

    try:
        return client.call("APIerSv2.GetCDRs", query)
    except RpcError as exc:
        if "NOT_FOUND" not in exc.message:
            raise
        return []


def _cdr_table(found: list) -> None:
    columns = ("AnswerTime", "Account", "Destination", "Usage", "RequestType", "RunID", "Cost")
    columns += ("ExtraInfo",)
    print_table([columns] + [tuple(cell(cdr[name]) for name in columns) for cdr in found])


def cell(value) -> str:
    """A table cell: Go's zero time (an unanswered call, a balance that never expires)
    shows empty."""
    return "" if value is None or str(value).startswith("0001-01-01") else str(value)


def print_table(rows: list[tuple]) -> None:
    """Columns aligned by their widest cell; the last one is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)] + [0]
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


@command(
    "stats",
    "print the metrics of a stat queue (StatSv1.GetQueueStringMetrics), or of every queue",
    arg("queue", nargs="?", default="", metavar="QUEUE", help="queue ID (default: every queue)"),
    arg("--tenant", default="", help="tenant (default: the server's default tenant)"),
    arg("--json", action="store_true", help="print the metrics as JSON"),
)
def stats(args, client) -> int:
    tenant = {"Tenant": args.tenant} if args.tenant else {}
    queue_ids = [args.queue] if args.queue else client.call("StatSv1.GetQueueIDs", tenant)
    metrics = {
        queue_id: client.call("StatSv1.GetQueueStringMetrics", {**tenant, "ID": queue_id})
        for queue_id in sorted(queue_ids)
    }
    if args.json:
        print_json(metrics)
        return 0
    if not metrics:
        print("no stat queues")
    for queue_id, values in metrics.items():
        print(queue_id)
        width = max((len(metric_id) for metric_id in values), default=0)
        for metric_id in sorted(values):
            print(f"  {metric_id.ljust(width)}  {values[metric_id]}")
    return 0


from fs_cgr.api import cli_accounts  # noqa: E402, F401 - registers `account` and `topup`

if __name__ == "__main__":  # run the imported module: the one every command registered with
    from fs_cgr.api import cli

    sys.exit(cli.main())
