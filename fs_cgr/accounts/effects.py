"""What ``*cdrlog`` and ``*http_post(_async)`` actions do, once their account change is written.

``*cdrlog`` has the node's CDR service store one CDR per balance action of its list
(``fs_cgr.cdrs.cdrlog``, CGrateS' cdrLogAction).

``*http_post`` / ``*http_post_async`` POST the account as APIerSv2.GetAccount shows
it (CGrateS marshals the account) to the URL in ExtraParameters, from a worker
thread: a timeout per attempt, a few attempts with a pause between, a failure
logged. Neither ever holds the change or the call that caused it.
"""

import logging
import threading
import urllib.error
import urllib.request

from fs_cgr import jsoncodec
from fs_cgr.accounts import actions as acts
from fs_cgr.accounts.views import account_view

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 5.0  # seconds per attempt
HTTP_ATTEMPTS = 3
HTTP_RETRY_PAUSE = 1.0  # seconds


def perform(node, effects: list) -> None:
    """Do each effect; a failure is logged and never raised (the change is written)."""
    for effect in effects:
        try:
            if effect.action.type == acts.CDRLOG:
                node.cdrs.store_cdrlog(effect)
            else:
                post_async(effect.action.extra_parameters, account_view(effect.account))
        except Exception:
            log.exception(
                "account %s: action %s of %s failed",
                effect.account.key,
                effect.action.type,
                effect.action.actions_id,
            )


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
