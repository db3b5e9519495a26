"""``fs-cgr account`` and ``fs-cgr topup``: an operator's daily look at and care of accounts."""

from decimal import Decimal

from fs_cgr.api.cli import arg, cell, command, print_table

NS_PER_SECOND = 10**9


@command(
    "account",
    "show an account: balances, action triggers and action plans",
    arg("account", help="account id"),
    arg("--tenant", default="cgrates.org", help="default: cgrates.org"),
)
def account(args, client) -> None:
    shown = client.call("APIerSv2.GetAccount", {"Tenant": args.tenant, "Account": args.account})
    flags = [name for name in ("AllowNegative", "Disabled") if shown.get(name)]
    print(f"Account {shown['ID']}" + (f"  ({', '.join(flags)})" if flags else ""))
    rows = [("TYPE", "ID", "VALUE", "WEIGHT", "EXPIRES", "DESTINATIONS")]
    for kind, chain in sorted((shown.get("BalanceMap") or {}).items()):
        for balance in chain:
            rows.append(
                (
                    kind,
                    balance.get("ID") or balance.get("Uuid", "")[:8],
                    _value(kind, balance.get("Value")),
                    str(balance.get("Weight", 0)),
                    cell(balance.get("ExpirationDate")),
                    ";".join(
                        k if v else f"!{k}"
                        for k, v in (balance.get("DestinationIDs") or {}).items()
                    )
                    or "*any",
                )
            )
    print_table(rows)
    triggers = shown.get("ActionTriggers") or []
    if triggers:
        print()
        rows = [("TRIGGER", "TYPE", "THRESHOLD", "BALANCE", "ACTIONS", "EXECUTED", "RECURRENT")]
        for trigger in triggers:
            watched = trigger.get("Balance") or {}
            rows.append(
                (
                    f"{trigger['ID']}/{trigger['UniqueID']}",
                    trigger["ThresholdType"],
                    str(trigger["ThresholdValue"]),
                    "/".join(filter(None, (watched.get("Type"), watched.get("ID")))) or "*any",
                    trigger["ActionsID"],
                    "yes" if trigger["Executed"] else "no",
                    "yes" if trigger["Recurrent"] else "no",
                )
            )
        print_table(rows)
    _plans(client, args.tenant, args.account)


def _plans(client, tenant: str, account: str) -> None:
    timings = client.call("APIerSv1.GetAccountActionPlan", {"Tenant": tenant, "Account": account})
    starts = {}
    for plan_id in sorted({timing["ActionPlanId"] for timing in timings}):
        for plan in client.call("APIerSv1.GetActionPlan", {"ID": plan_id}):
            for timing in plan["ActionTimings"]:
                starts[timing["Uuid"]] = timing["Timing"]["Timing"]["StartTime"] or "00:00:00"
    rows = [("PLAN", "ACTIONS", "WHEN", "NEXT RUN")]
    for timing in timings:
        uuid = timing["Uuid"]
        rows.append(
            (
                timing["ActionPlanId"],
                timing["ActionsId"],
                starts.get(uuid, ""),
                cell(timing["NextExecTime"]),
            )
        )
    if len(rows) > 1:
        print()
        print_table(rows)


@command(
    "topup",
    "add to an account's balance (APIerSv1.AddBalance); creates the account if needed",
    arg("account", help="account id"),
    arg("amount", help='money, or for --type *voice a duration ("10m", "90s")'),
    arg("--tenant", default="cgrates.org", help="default: cgrates.org"),
    arg("--type", default="*monetary", help="balance type (default: *monetary)"),
    arg("--id", default="", help="balance id (default: the type's unnamed balance)"),
    arg("--destinations", default="", help="destination ids the balance pays for, A;B"),
    arg("--expiry", default="", help="*month, *month_end, +720h, or a time"),
    arg("--weight", default="", help="balance weight (higher pays first)"),
)
def topup(args, client) -> None:
    balance = {
        "ID": args.id,
        "DestinationIDs": args.destinations,
        "ExpiryTime": args.expiry,
        "Weight": args.weight,
    }
    client.call(
        "APIerSv1.AddBalance",
        {
            "Tenant": args.tenant,
            "Account": args.account,
            "BalanceType": args.type,
            "Value": args.amount,
            "Balance": {key: value for key, value in balance.items() if value},
        },
    )
    account(args, client)


def _value(kind: str, value) -> str:
    if kind == "*voice" and value is not None:
        from fs_cgr.durations import format_duration

        return format_duration(int(Decimal(str(value))))
    if value is None:
        return ""
    return format(Decimal(str(value)).normalize(), "f")  # 2.00000 -> 2
