"""What ``*cdrlog`` and ``*http_post(_async)`` actions do, once their account change is written.

``*cdrlog`` stores one CDR per balance action of its list (``*topup``,
``*topup_reset``, ``*debit``, ``*debit_reset``, ``*set_balance``), as CGrateS'
cdrLogAction: Source ``*cdrlog``, RunID the action type, ToR the balance type,
Cost the action's value, RequestType ``*none``, OriginHost 127.0.0.1, Usage 1 ns,
PreRated. ExtraParameters is a JSON template overriding fields; ``^value`` is a
constant (the only RSR form supported), other values name account fields.

``*http_post`` / ``*http_post_async`` POST the account as APIerSv2.GetAccount shows
it (CGrateS marshals the account) to the URL in ExtraParameters, from a worker
thread: a timeout per attempt, a few attempts with a pause between, a failure
logged. Neither ever holds the change or the call that caused it.
"""

import json
import logging
import threading
import urllib.error
import urllib.request
import uuid

from fs_cgr import jsoncodec, times
from fs_cgr.accounts import actions as acts
from fs_cgr.accounts.views import account_view
from fs_cgr.cdrs.event import cgrid
from fs_cgr.cdrs.record import new_cdr

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 5.0  # seconds per attempt
HTTP_ATTEMPTS = 3
HTTP_RETRY_PAUSE = 1.0  # seconds
CDRLOG_SOURCE = "*cdrlog"
LOGGED_ACTIONS = (acts.TOPUP, acts.TOPUP_RESET, acts.DEBIT, acts.DEBIT_RESET, acts.SET_BALANCE)


def perform(node, effects: list) -> None:
    """Do each effect; a failure is logged and never raised (the change is written)."""
    for effect in effects:
        try:
            if effect.action.type == acts.CDRLOG:
                cdrs = cdrlog_cdrs(effect)
                if cdrs:
                    node.stordb.store_cdrs(cdrs)
            else:
                post_async(effect.action.extra_parameters, account_view(effect.account))
        except Exception:
            log.exception(
                "account %s: action %s of %s failed",
                effect.account.key,
                effect.action.type,
                effect.action.actions_id,
            )


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


def post_async(url: str, body: dict) -> threading.Thread:
    """POST ``body`` as JSON to ``url`` from a worker thread (retried, failures logged)."""
    worker = threading.Thread(target=post, args=(url, body), name="http-post", daemon=True)
    worker.start()
    return worker


def post(url: str, body: dict) -> bool:
    data = jsoncodec.encode(body).encode()
    for attempt in range(1, HTTP_ATTEMPTS + 1):
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as reply:
                reply.read()
            return True
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.warning(
                "*http_post to %s failed (attempt %d of %d): %s", url, attempt, HTTP_ATTEMPTS, exc
            )
        if attempt < HTTP_ATTEMPTS:
            threading.Event().wait(HTTP_RETRY_PAUSE)
    log.error("*http_post to %s: gave up after %d attempts", url, HTTP_ATTEMPTS)
    return False
