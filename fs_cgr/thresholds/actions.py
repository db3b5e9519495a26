"""Where ThresholdS runs an action set: the one call site of the accounts' actions.

As in CGrateS, the actions act on the account the event names (``Account`` field, in the
event's tenant), through ``AccountService.execute_actions``. An event without an account
(a StatS update, say) can only run actions that need none: ``*log`` logs the event;
every other action is skipped with a warning.
"""

import json
import logging

from fs_cgr.accounts.actions import LOG
from fs_cgr.errors import NotFound
from fs_cgr.storage.base import ACTIONS

log = logging.getLogger(__name__)


def run_action_set(node, live, tenant: str, event: dict, actions_id: str) -> None:
    """Run the live action set ``actions_id`` for ``event``; raises when it failed."""
    account = event.get("Account")
    if account:
        node.accounts.execute_actions(tenant, str(account), actions_id, reaction=True)
        return
    doc = live.kind(ACTIONS).get(actions_id)
    if doc is None:
        raise NotFound(f"actions {actions_id}")
    for action in doc.get("Actions") or ():
        kind = action.get("Identifier")
        if kind == LOG:
            log.info("LOG Event: %s", json.dumps(event, sort_keys=True, default=str))
        else:
            log.warning("actions %s: %s needs an account; the event has none", actions_id, kind)
