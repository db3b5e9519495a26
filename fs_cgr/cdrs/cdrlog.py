"""The CDRs a ``*cdrlog`` action writes, one per balance action of its list.

As CGrateS' cdrLogAction: for each ``*topup``, ``*topup_reset``, ``*debit``,
``*debit_reset`` or ``*set_balance`` of the list, a CDR with Source ``*cdrlog``, RunID the
action type, ToR the balance type, Cost the action's value, RequestType ``*none``,
OriginHost 127.0.0.1, Usage 1 ns, PreRated. ExtraParameters is a JSON template
overriding fields; ``^value`` is a constant (the only RSR form supported), other values
name account fields. The account package only collects the effect; the CDR is built
here, where CDRs are made.
"""

import json
import uuid

from fs_cgr import times
from fs_cgr.accounts import actions as acts
from fs_cgr.cdrs.event import cgrid
from fs_cgr.cdrs.record import new_cdr

CDRLOG_SOURCE = "*cdrlog"
LOGGED_ACTIONS = (acts.TOPUP, acts.TOPUP_RESET, acts.DEBIT, acts.DEBIT_RESET, acts.SET_BALANCE)


def cdrlog_cdrs(effect) -> list[dict]:
    """The CDRs a ``*cdrlog`` action writes for its list's balance actions."""
    template = json.loads(effect.action.extra_parameters) if effect.action.extra_parameters else {}
    account = effect.account
    cdrs = []
    for action in effect.actions:
        if action.type not in LOGGED_ACTIONS:
            continue
        now = times.now()
        origin_id = str(uuid.uuid4())
        fields = {
            "ToR": action.balance.type or "",
            "OriginHost": "127.0.0.1",
            "RequestType": "*none",
            "Tenant": account.tenant,
            "Account": account.id,
            "Subject": account.id,
        }
        for name, rule in template.items():
            fields[name] = _template_value(str(rule), fields, action)
        run = {
            **fields,
            "CGRID": cgrid(origin_id, "127.0.0.1"),
            "RunID": action.type,
            "Source": CDRLOG_SOURCE,
            "OriginID": origin_id,
            "SetupTime": now,
            "AnswerTime": now,
            "Usage": 1,
            "PreRated": True,
        }
        cdr = new_cdr(run)
        cdr["OriginHost"] = fields["OriginHost"]
        cdr["Cost"] = action.balance.value if action.balance.value is not None else 0
        cdrs.append(cdr)
    return cdrs


def _template_value(rule: str, fields: dict, action) -> str:
    """``^text`` is the constant text; ``~Field`` (or a bare name) a field already set."""
    if rule.startswith("^"):
        return rule[1:]
    name = rule.lstrip("~")
    if name == "ActionValue":
        return str(action.balance.value or 0)
    return str(fields.get(name, rule))
