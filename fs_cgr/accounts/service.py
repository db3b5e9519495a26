"""AccountService: every read and change of accounts, applied atomically in the DataDB.

Each change is: take the account document and its version, compute the new
account with the pure planners (debit, refund, actions), then write it with
``DataDB.cas_account`` only if the version has not moved meanwhile; on a
conflict, recompute from the current document the conflict reports (a bounded
number of times, with jitter). Nothing is ever written without that check, so
any number of greenlets, processes and nodes can debit one account and the
result stays exact.

The account a change starts from is the one this service last wrote or saw,
when it still remembers it: then the common case is a single round trip. The
check makes that safe because versions are never reused; a change computed
from a remembered account that writes nothing or fails is computed again from
a fresh read, so no answer rests on a stale copy.

Debits, refunds and adjustments may carry an idempotency key (session id +
sequence): the DataDB stores the result with the write, and a retry with the
same key gets that result back and changes nothing, even when the account has
changed so much since that the request itself would now fail.

Within one process, changes to the same account take turns on a local lock,
so conflicts only come from other processes or nodes.

After every write the change is told to the listeners of ``on_change`` (action
triggers, ThresholdS, ...), later and outside the lock: see changes.py.
"""

import collections
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from fs_cgr import times
from fs_cgr.accounts import actions as acts
from fs_cgr.accounts import effects as outside
from fs_cgr.accounts import triggers as trig
from fs_cgr.accounts.changes import AccountChanges, Listener
from fs_cgr.accounts.debit import (
    Adjustment,
    Debit,
    Refund,
    plan_adjustment,
    plan_debit,
    plan_refund,
)
from fs_cgr.accounts.maxusage import max_usage
from fs_cgr.accounts.model import Account
from fs_cgr.accounts.pricing import call_rater
from fs_cgr.errors import (
    AccountBusy,
    AccountNotFound,
    CGRError,
    InsufficientCredit,
    InvalidArgument,
    MandatoryMissing,
    NotFound,
)
from fs_cgr.money import ZERO
from fs_cgr.rating import CallDescriptor
from fs_cgr.storage.base import ACTION_PLANS, ACTION_TRIGGERS, ACTIONS
from fs_cgr.times import format_time

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 64  # reads + writes of one change before giving up with AccountBusy
MAX_BACKOFF = 0.02  # seconds
REMEMBERED_ACCOUNTS = 10_000  # accounts whose last known state a service keeps
ASAP = "*asap"
_NO_VERSION = 2**62  # never reached: a compare-and-set expecting it only probes the key
_REMOVED = object()  # what a change returns when its actions removed the account


class AccountService:
    def __init__(self, node):
        self.node = node
        self._locks = _KeyedLocks()
        self._known = _KnownAccounts(REMEMBERED_ACCOUNTS)
        self.changes = AccountChanges()
        self._reaction_writes = _ReactionWrites(REMEMBERED_ACCOUNTS)
        self.on_change(self._check_triggers, wants=_has_triggers)

    def stop(self) -> None:
        """The node stops: the change listeners finish what is queued."""
        self.changes.close()

    def on_change(self, listener: Listener, wants=None) -> None:
        """Call ``listener(tenant, account_id, doc, previous)`` after every successful change
        of an account (``doc``: the account document as written; ``previous``: the Account
        before it, None when new). Listeners run one after the other in a worker, never
        inside the change; a failing one is logged. ``wants(doc)``: only the changes it
        wants need telling (AccountChanges.add)."""
        self.changes.add(listener, wants)

    @property
    def datadb(self):
        return self.node.datadb

    # -- reading ---------------------------------------------------------------------
    def get_account(self, tenant: str, account: str) -> Account:
        """The account, or NotFound."""
        stored = self.datadb.get_account(tenant, account)
        if stored is None:
            raise NotFound()
        return Account.from_doc(stored[0])

    def account_ids(self, tenant: str | None = None) -> list[str]:
        """``tenant:account`` ids, sorted."""
        return self.datadb.account_ids(tenant)

    def count(self, tenant: str | None = None) -> int:
        return len(self.account_ids(tenant))

    def get_accounts(
        self, tenant: str, account_ids: Iterable[str] = (), offset: int = 0, limit: int = 0
    ) -> list[Account]:
        """Accounts of ``tenant`` (the ones named, or all, sorted), paginated; missing skipped."""
        names = [a for a in account_ids if a] or [
            key.split(":", 1)[1] for key in self.account_ids(tenant)
        ]
        offset = min(max(offset, 0), len(names))
        names = names[offset : offset + limit] if limit > 0 else names[offset:]
        found = []
        for name in names:
            stored = self.datadb.get_account(tenant, name)
            if stored is not None:
                found.append(Account.from_doc(stored[0]))
        return found

    # -- charging ----------------------------------------------------------------------
    def debit(
        self,
        cd: CallDescriptor,
        key: str | None = None,
        *,
        allow_partial: bool = True,
        allow_negative: bool | None = None,
        cost_so_far: Decimal = ZERO,
    ) -> Debit:
        """Charge ``cd.usage`` of ``cd``'s call to account ``cd.account`` (see debit.py).

        ``allow_negative`` None = the account's AllowNegative. With ``allow_partial`` False a
        debit that cannot pay all of the usage raises InsufficientCredit and changes nothing.
        Raises AccountNotFound, AccountDisabled, rating errors, AccountBusy.
        """
        _require(Tenant=cd.tenant, Account=cd.account)
        rate, destinations = self._rating(cd)

        def change(account: Account | None):
            account = _existing(account)
            debit = plan_debit(
                account,
                cd.usage,
                rate,
                at=max(times.now(), cd.time_start),
                tor=cd.tor,
                category=cd.category,
                destinations=destinations,
                allow_negative=account.allow_negative if allow_negative is None else allow_negative,
                cost_so_far=cost_so_far,
            )
            if not debit.complete and not allow_partial:
                raise InsufficientCredit()
            trig.count(account, debit, cd.tor, cd.category, destinations)
            debit.tenant, debit.account, debit.key = cd.tenant, cd.account, key or ""
            return (account if debit.charges or key else None), debit

        return self._update(cd.tenant, cd.account, change, key, Debit.from_doc)

    def refund(self, debit: Debit, keep_usage: int = 0, key: str | None = None) -> Refund:
        """Give back every increment of ``debit`` that starts at or after ``keep_usage`` ns
        (the connect fee only with everything: ``keep_usage`` 0). Balances removed since
        are listed in ``Refund.missing``. ``debit.trimmed(keep_usage)`` is what stays
        charged."""
        _require(Tenant=debit.tenant, Account=debit.account)

        def change(account: Account | None):
            account = _existing(account)
            refund = plan_refund(account, debit, keep_usage)
            refund.tenant, refund.account, refund.key = debit.tenant, debit.account, key or ""
            return account, refund

        return self._update(debit.tenant, debit.account, change, key, Refund.from_doc)

    def adjust(
        self,
        tenant: str,
        account: str,
        amount: Decimal,
        key: str | None = None,
        *,
        balance_uuid: str = "",
        allow_negative: bool | None = None,
    ) -> Adjustment:
        """Charge ``amount`` of money (credit it when negative), e.g. a rounding difference;
        see debit.plan_adjustment. Raises InsufficientCredit, AccountNotFound, AccountBusy."""
        _require(Tenant=tenant, Account=account)

        def change(current: Account | None):
            current = _existing(current)
            negative = current.allow_negative if allow_negative is None else allow_negative
            adjustment = plan_adjustment(
                current,
                amount,
                at=times.now(),
                balance_uuid=balance_uuid,
                allow_negative=negative,
            )
            adjustment.tenant, adjustment.account, adjustment.key = tenant, account, key or ""
            return (current if amount or key else None), adjustment

        return self._update(tenant, account, change, key, Adjustment.from_doc)

    def max_usage(
        self, cd: CallDescriptor, cap_ns: int | None = None, cost_so_far: Decimal = ZERO
    ) -> int:
        """The longest part of ``cd.usage`` (capped at ``cap_ns``) the account can pay for.

        An account allowed to go negative gets the whole (capped) usage, or -1 (CGrateS'
        "unlimited") when no cap is given. Raises AccountNotFound, AccountDisabled.
        """
        _require(Tenant=cd.tenant, Account=cd.account)
        usage = cd.usage if cap_ns is None else min(cd.usage, cap_ns)
        # the account as this node last wrote or read it, when the store still holds that
        # version (versions never repeat): the store then hands the document back undecoded
        # (None), and the dry run leaves the known account unchanged
        known, version = self._known.get(f"{cd.tenant}:{cd.account}") or (None, None)
        if known is None:
            version = None
        stored = self.datadb.get_account_unless(cd.tenant, cd.account, version)
        if stored is None:
            raise AccountNotFound()
        account = known if stored[0] is None else Account.from_doc(stored[0])
        rate, destinations = self._rating(cd)
        allowed = max_usage(
            account,
            usage,
            rate,
            at=max(times.now(), cd.time_start),
            tor=cd.tor,
            category=cd.category,
            destinations=destinations,
            cost_so_far=cost_so_far,
        )
        if allowed < 0 and cap_ns is not None:
            return usage
        return allowed

    def _rating(self, cd: CallDescriptor):
        return call_rater(self.node.rating.engine, cd)

    # -- managing accounts ---------------------------------------------------------
    def set_account(
        self,
        tenant: str,
        account: str,
        *,
        allow_negative: bool | None = None,
        disabled: bool | None = None,
        action_plan_ids: Iterable[str] = (),
        overwrite_plans: bool = False,
        action_triggers_id: str = "",
    ) -> Account:
        """Create or update an account; attaching action plans runs their *asap actions
        (in the same atomic write) and binds the account to their scheduled timings;
        ``action_triggers_id`` replaces its triggers with that group's."""
        _require(Tenant=tenant, Account=account)
        live = self.datadb.read_live()
        plans = self._action_plans(action_plan_ids, live)
        triggers = self._trigger_group(action_triggers_id, live)
        return self._set_account(
            tenant, account, allow_negative, disabled, plans, overwrite_plans, triggers
        )

    def _set_account(
        self,
        tenant,
        account,
        allow_negative,
        disabled,
        plans,
        overwrite_plans,
        triggers=None,
        *,
        loading=False,
    ):
        effects: list = []

        def change(current: Account | None):
            effects.clear()
            current = current or Account(tenant, account)
            if allow_negative is not None:
                current.allow_negative = allow_negative
            if disabled is not None:
                current.disabled = disabled
            if overwrite_plans:  # plans kept stay bound, without running their *asap again
                wanted = {plan_id for plan_id, _ in plans}
                current.action_plan_ids = [p for p in current.action_plan_ids if p in wanted]
            if triggers is not None:
                trig.attach(current, triggers, overwrite=True)
            self._attach_plans(current, plans, effects, loading)
            return current, current

        before = self._plan_ids_of(tenant, account)
        updated = self._update(tenant, account, change)
        self._bind_plans(updated.key, before, updated.action_plan_ids)
        outside.perform(self.node, effects)
        return updated

    def unbind_plan(self, tenant: str, account: str, plan_id: str) -> None:
        """Take the account off the plan (its scheduled timings no longer run for it)."""

        def change(current: Account | None):
            if current is None or plan_id not in current.action_plan_ids:
                return None, None
            current.action_plan_ids.remove(plan_id)
            return current, current

        self._update(tenant, account, change)
        self.datadb.set_remove(plan_index(plan_id), [f"{tenant}:{account}"])

    def _plan_ids_of(self, tenant: str, account: str) -> list[str]:
        stored = self.datadb.get_account(tenant, account)
        return list(stored[0].get("ActionPlanIDs", ())) if stored else []

    def _bind_plans(self, account_key: str, before: Iterable[str], after: Iterable[str]) -> None:
        """Keep the DataDB's plan -> accounts index (what the scheduler runs) in step."""
        before, after = set(before), set(after)
        for plan_id in before - after:
            self.datadb.set_remove(plan_index(plan_id), [account_key])
        for plan_id in after - before:
            self.datadb.set_add(plan_index(plan_id), [account_key])

    def remove_account(self, tenant: str, account: str) -> bool:
        """Delete the account; False when there was none."""
        _require(Tenant=tenant, Account=account)
        self._known.forget(f"{tenant}:{account}")
        plan_ids = self._plan_ids_of(tenant, account)
        removed = self.datadb.remove_account(tenant, account)
        self._bind_plans(f"{tenant}:{account}", plan_ids, ())
        return removed

    def add_balance(
        self,
        tenant: str,
        account: str,
        balance_type: str,
        value,
        balance: dict | None = None,
        *,
        overwrite: bool = False,
        debit: bool = False,
    ) -> Account:
        """CGrateS' AddBalance (``debit``: DebitBalance): *topup (or *debit) the balances the
        ``balance`` fields select, creating one when none matches; ``overwrite`` resets them
        first. Creates the account when missing."""
        _require(Tenant=tenant, Account=account, BalanceType=balance_type)
        balance_filter = acts.balance_filter_from_params(balance_type, balance)
        amount = acts.parse_units(balance_type, value)
        if not amount:
            raise MandatoryMissing("Value")
        balance_filter.value = abs(amount)
        kind = acts.DEBIT if debit else acts.TOPUP
        action = acts.Action(kind + "_reset" if overwrite else kind, balance_filter)
        return self._run_actions(tenant, account, [action], create=True)

    def set_balance(
        self, tenant: str, account: str, balance_type: str, value=None, balance: dict | None = None
    ) -> Account:
        """CGrateS' SetBalance: the balance with the given UUID or ID takes the given fields
        (created when missing). Creates the account when missing."""
        _require(Tenant=tenant, Account=account, BalanceType=balance_type)
        balance_filter = acts.balance_filter_from_params(balance_type, balance)
        amount = acts.parse_units(balance_type, value)
        if amount:
            balance_filter.value = abs(amount)
        if not balance_filter.id and not balance_filter.uuid:
            raise MandatoryMissing("BalanceID", "or", "BalanceUUID")
        action = acts.Action(acts.SET_BALANCE, balance_filter)
        return self._run_actions(tenant, account, [action], create=True)

    def remove_balances(
        self, tenant: str, account: str, balance_type: str, balance: dict | None = None
    ) -> Account:
        """Remove every balance of ``balance_type`` the ``balance`` fields select."""
        _require(Tenant=tenant, Account=account, BalanceType=balance_type)
        action = acts.Action(
            acts.REMOVE_BALANCE, acts.balance_filter_from_params(balance_type, balance)
        )
        return self._run_actions(tenant, account, [action])

    def execute_actions(
        self, tenant: str, account: str, actions_id: str, reaction: bool = False
    ) -> Account | None:
        """Run the live actions ``actions_id`` on the account (None when they removed it).
        ``reaction``: they react to an earlier change (a threshold's actions), so their own
        change raises no further reaction (``written_by_reaction``)."""
        _require(Tenant=tenant, Account=account, ActionsId=actions_id)
        doc = self.datadb.read_live().get(ACTIONS, {}).get(actions_id)
        if doc is None:
            raise NotFound(f"actions {actions_id}")
        marker = self._reaction_writes if reaction else None
        return self._run_actions(tenant, account, acts.parse_actions(doc), marker=marker)

    def written_by_reaction(self, tenant: str, account: str, doc: dict) -> bool:
        """Whether this change of the account was written by a trigger's or a threshold's
        actions: reacting to it again could loop (a recurrent trigger or a threshold whose
        own top-up keeps it crossed), so neither does, as CGrateS runs no triggers from
        inside a trigger's actions."""
        return self._reaction_writes.seen(f"{tenant}:{account}", doc.get("UpdateTime"))

    def execute_account_actions(self, docs: Iterable[dict]) -> list[Account]:
        """AccountActions rows: create each account (AllowNegative, Disabled) and run its
        action plan's *asap actions, timings in weight order."""
        live = self.datadb.read_live()
        done = []
        for doc in docs:
            tenant, account = doc.get("Tenant", ""), doc.get("Account", "")
            _require(Tenant=tenant, Account=account)
            plan_id = doc.get("ActionPlanId") or doc.get("ActionPlanID") or ""
            plans = self._action_plans([plan_id], live)
            group = doc.get("ActionTriggersId") or doc.get("ActionTriggersID") or ""
            triggers = self._trigger_group(group, live) if group else None
            allow_negative = bool(doc.get("AllowNegative", False))
            disabled = bool(doc.get("Disabled", False))
            done.append(
                self._set_account(
                    tenant, account, allow_negative, disabled, plans, False, triggers, loading=True
                )
            )
        return done

    # -- action triggers -------------------------------------------------------------
    def _trigger_group(self, group_id: str, live: dict) -> list | None:
        if not group_id:
            return None
        doc = live.get(ACTION_TRIGGERS, {}).get(group_id)
        if doc is None:
            raise NotFound(f"action triggers {group_id}")
        return trig.group_triggers(doc)

    def add_triggers(
        self,
        tenant: str,
        account: str,
        group_ids: Iterable[str],
        *,
        overwrite: bool = False,
        activation=None,
        executed: bool = False,
    ) -> Account:
        """AddAccountActionTriggers: copy the groups' triggers into the existing account."""
        _require(Tenant=tenant, Account=account)
        live = self.datadb.read_live()
        triggers = [t for group in group_ids for t in self._trigger_group(group, live) or ()]

        def change(current: Account | None):
            current = _existing(current)
            trig.attach(
                current, triggers, overwrite=overwrite, activation=activation, executed=executed
            )
            return current, current

        return self._update(tenant, account, change)

    def change_triggers(self, tenant: str, account: str, edit: Callable[[list], list]) -> Account:
        """Replace the account's trigger documents by ``edit(documents)`` (remove, reset)."""
        _require(Tenant=tenant, Account=account)

        def change(current: Account | None):
            current = _existing(current)
            current.action_triggers = edit([dict(doc) for doc in current.action_triggers])
            return current, current

        return self._update(tenant, account, change)

    def _check_triggers(self, tenant: str, account: str, doc: dict, _previous=None) -> None:
        """The change listener of action triggers: fire the ones this change crossed.

        A change written by a reaction is not checked again (``written_by_reaction``)."""
        if not _has_triggers(doc) or not trig.maybe_crossed(doc):
            return
        if self.written_by_reaction(tenant, account, doc):
            return
        now = times.now()
        current = Account.from_doc(doc)
        if any(t.crossed(current, now) for t in trig.account_triggers(current)):
            self.fire_triggers(tenant, account)

    def fire_triggers(self, tenant: str, account: str) -> Account | None:
        """Run the actions of every trigger of the account crossed now, highest Weight
        first, each marked Executed (a recurrent one only gets LastExecutionTime), all in
        one atomic write."""
        live = self.datadb.read_live()
        effects: list = []

        def change(current: Account | None):
            effects.clear()
            current = _existing(current)
            if current.disabled:
                return None, None
            now = times.now()
            fired = False
            order = sorted(
                range(len(current.action_triggers)),
                key=lambda i: -_weight(current.action_triggers[i]),
            )
            for index in order:
                trigger = trig.ActionTrigger.from_doc(current.action_triggers[index])
                if not trigger.crossed(current, now):
                    continue
                actions_doc = live.get(ACTIONS, {}).get(trigger.actions_id)
                if actions_doc is None:
                    log.error("action trigger %s: no actions %s", trigger.id, trigger.actions_id)
                    continue
                current.action_triggers[index] = {
                    **current.action_triggers[index],
                    "Executed": True,
                    "LastExecutionTime": format_time(now),
                }
                acts.execute(current, acts.parse_actions(actions_doc), now, effects)
                if trigger.recurrent:
                    current.action_triggers[index] = {
                        **current.action_triggers[index],
                        "Executed": False,
                    }
                fired = True
            return (current if fired else None), current

        updated = self._update(tenant, account, change, marker=self._reaction_writes)
        outside.perform(self.node, effects)
        return updated

    # -- actions plumbing ------------------------------------------------------------
    def _action_plans(self, plan_ids: Iterable[str], live: dict | None = None) -> list:
        """[(plan id, [(timing id, [Action])] in weight order)] from the live objects."""
        plan_ids = [p for p in plan_ids if p]
        if not plan_ids:
            return []
        live = live if live is not None else self.datadb.read_live()
        plans = []
        for plan_id in plan_ids:
            plan = live.get(ACTION_PLANS, {}).get(plan_id)
            if plan is None:
                raise NotFound(f"action plan {plan_id}")
            timings = []
            entries = sorted(plan.get("ActionPlan") or (), key=lambda e: -_weight(e))
            for entry in entries:
                actions_doc = live.get(ACTIONS, {}).get(entry.get("ActionsId", ""))
                if actions_doc is None:
                    raise NotFound(f"actions {entry.get('ActionsId')} of action plan {plan_id}")
                timing_id = entry.get("TimingId") or (entry.get("Timing") or {}).get("Time")
                timings.append((timing_id or "", acts.parse_actions(actions_doc)))
            plans.append((plan_id, timings))
        return plans

    def _attach_plans(self, account: Account, plans: list, effects: list, loading: bool) -> None:
        """Run the *asap timings of newly attached plans (of every plan when ``loading`` a
        tariff plan's AccountActions, as CGrateS' loader does); bind the account to the
        plans (the scheduler runs their other timings)."""
        for plan_id, timings in plans:
            if plan_id in account.action_plan_ids and not loading:
                continue
            for timing_id, actions in timings:
                if timing_id == ASAP and acts.execute(account, actions, times.now(), effects):
                    raise acts.ActionError(f"action plan {plan_id} removes the account")
            if plan_id not in account.action_plan_ids:
                account.action_plan_ids.append(plan_id)

    def prefetch(self, keys: list[tuple[str, str]]) -> None:
        """Read many accounts in one go and remember them, so that changing each next is a
        single compare-and-set (a scheduled run over a plan's accounts)."""
        for (tenant, account), stored in zip(keys, self.datadb.get_accounts(keys), strict=True):
            if stored is not None:
                self._known.put(f"{tenant}:{account}", *_state(*stored))

    def run_scheduled(self, tenant: str, account: str, actions: list, key: str) -> bool:
        """A scheduled run of ``actions`` on the account, once per ``key`` (the run's id):
        a run repeated after a node died mid-way changes nothing the second time.
        False when the account is gone."""
        try:
            self._run_actions(tenant, account, actions, key=key)
        except NotFound:
            return False
        return True

    def _run_actions(self, tenant, account, actions, *, create=False, key=None, marker=None):
        """Run ``actions`` on the account in one atomic write; None when they removed it."""
        effects: list = []

        def change(current: Account | None):
            effects.clear()
            if current is None:
                if not create:
                    raise NotFound()
                current = Account(tenant, account)
            if acts.execute(current, actions, times.now(), effects):
                return None, _REMOVED
            return current, _Ran() if key is not None else current

        result = self._update(tenant, account, change, key, _Ran.from_doc, marker)
        outside.perform(self.node, effects)
        if result is _REMOVED:
            self.remove_account(tenant, account)
            return None
        return result

    # -- the one way accounts are written ------------------------------------------------
    def _update(
        self,
        tenant: str,
        account: str,
        change: Callable[[Account | None], tuple[Account | None, object]],
        key: str | None = None,
        from_doc: Callable[[dict], object] | None = None,
        marker: "_ReactionWrites | None" = None,
    ):
        """``change`` (returns the account to write, or None to write nothing, and the
        result) the account as last known, compare-and-set; on a conflict, again from the
        current account it reports; a duplicate key returns the stored result."""
        name = f"{tenant}:{account}"
        with self._locks.hold(name):
            state, fresh = self._known.get(name), False
            for attempt in range(MAX_ATTEMPTS):
                if state is None:
                    state, fresh = self._read(tenant, account), True
                known, version = state
                try:
                    updated, result = change(known.copy() if known is not None else None)
                except CGRError:
                    if not fresh:
                        state = None  # the remembered account may be stale: decide on a read
                        continue
                    earlier = self._stored_result(tenant, account, key)
                    if earlier is None:
                        raise
                    return from_doc(earlier)
                if updated is None:
                    if not fresh:
                        state = None
                        continue
                    return result
                updated.update_time = times.now()
                doc = updated.to_doc()
                outcome = self.datadb.cas_account(
                    tenant,
                    account,
                    version,
                    doc,
                    key,
                    result.to_doc() if key is not None else None,
                )
                if outcome.applied:
                    self._known.put(
                        name, updated if result is not updated else updated.copy(), outcome.version
                    )
                    if marker is not None:
                        marker.put(name, doc.get("UpdateTime"))
                    self.changes.notify(tenant, account, doc, known)
                    return result
                if outcome.duplicate:
                    self._known.forget(name)
                    return from_doc(outcome.stored)
                if fresh:  # a real race, not just a stale copy: let the other writer pass
                    time.sleep(random.uniform(0, min(MAX_BACKOFF, 0.0005 * 2**attempt)))
                state, fresh = _state(outcome.doc, outcome.version), True
                self._known.put(name, *state)
        raise AccountBusy(f"{tenant}:{account}: {MAX_ATTEMPTS} concurrent changes won")

    def _read(self, tenant: str, account: str) -> tuple[Account | None, int]:
        stored = self.datadb.get_account(tenant, account)
        return _state(*stored) if stored else (None, 0)

    def stored_result(self, tenant: str, account: str, key: str) -> dict | None:
        """What the request with idempotency ``key`` did to the account (its result
        document: a Debit, Refund or Adjustment doc), or None when none was applied."""
        return self._stored_result(tenant, account, key)

    def _stored_result(self, tenant: str, account: str, key: str | None):
        """The result stored under ``key`` by an earlier identical request, or None.

        A compare-and-set expecting a version no account ever reaches writes nothing and
        reports the key as a duplicate when it was seen: a read of the idempotency record
        through the DataDB contract alone."""
        if key is None:
            return None
        outcome = self.datadb.cas_account(tenant, account, _NO_VERSION, {}, key)
        return outcome.stored if outcome.duplicate else None


def plan_index(plan_id: str) -> str:
    """The DataDB set of ``tenant:account`` ids bound to an action plan."""
    return f"action_plan_accounts:{plan_id}"


class _Ran:
    """What a keyed action run stores with its write: only that it happened."""

    def to_doc(self) -> dict:
        return {"Ran": True}

    @classmethod
    def from_doc(cls, doc: dict) -> "_Ran":
        return cls()


def _state(doc: dict | None, version: int) -> tuple[Account | None, int]:
    return (Account.from_doc(doc) if doc is not None else None), version


def _has_triggers(doc: dict) -> bool:
    """Whether an account document has action triggers: the changes ``_check_triggers``
    looks at (the others need no telling)."""
    return bool(doc.get("ActionTriggers"))


def _existing(account: Account | None) -> Account:
    if account is None:
        raise AccountNotFound()
    return account


def _weight(entry: dict) -> Decimal:
    try:
        return Decimal(str(entry.get("Weight") or 0))
    except ArithmeticError:
        raise InvalidArgument(f"bad action plan weight {entry.get('Weight')!r}") from None


def _require(**fields) -> None:
    """MANDATORY_IE_MISSING naming the empty fields as CGrateS' API does."""
    missing = [name for name, value in fields.items() if not value]
    if missing:
        raise MandatoryMissing(*missing)


class _KnownAccounts:
    """The last known ``(Account, version)`` of up to ``size`` accounts (the least recently
    written dropped first): where a change starts, checked by its compare-and-set. The
    accounts kept here are never changed: changes start from copies of them, and max
    usage's dry run only reads them."""

    def __init__(self, size: int):
        self._size = size
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Account | None, int]] = {}

    def get(self, name: str) -> tuple[Account | None, int] | None:
        return self._entries.get(name)

    def put(self, name: str, account: Account | None, version: int) -> None:
        with self._lock:
            self._entries.pop(name, None)
            self._entries[name] = (account, version)
            if len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]

    def forget(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)


class _ReactionWrites:
    """The UpdateTime of the last few writes a reaction (trigger, threshold) made to each of
    up to ``size`` accounts. Several can be on their way to the change listeners at once
    (a reaction to an earlier change written before the listeners saw this one), so one
    remembered write per account would let the older ones pass for outside changes."""

    PER_ACCOUNT = 16

    def __init__(self, size: int):
        self._size = size
        self._lock = threading.Lock()
        self._writes: dict[str, collections.deque] = {}

    def put(self, name: str, update_time: str | None) -> None:
        with self._lock:
            writes = self._writes.pop(name, None) or collections.deque(maxlen=self.PER_ACCOUNT)
            writes.append(update_time)
            self._writes[name] = writes  # the most recently written last
            if len(self._writes) > self._size:
                del self._writes[next(iter(self._writes))]

    def seen(self, name: str, update_time: str | None) -> bool:
        with self._lock:
            return update_time in self._writes.get(name, ())


class _KeyedLocks:
    """One lock per key, alive only while someone holds or waits for it. An idle lock is kept
    for the next key (a few of them): making one costs more than the rest of taking it."""

    SPARE = 64

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, list] = {}  # key -> [lock, users]
        self._spare: list = []  # locks nobody holds or waits for

    def hold(self, key: str) -> "_Held":
        """``with locks.hold(key):`` the key's lock, taken in turn."""
        return _Held(self, key)

    def _enter(self, key: str) -> list:
        with self._guard:
            entry = self._locks.get(key)
            if entry is None:
                lock = self._spare.pop() if self._spare else threading.Lock()
                entry = self._locks[key] = [lock, 0]
            entry[1] += 1
        return entry

    def _leave(self, key: str, entry: list) -> None:
        with self._guard:
            entry[1] -= 1
            if not entry[1]:  # released by its last holder, and nobody waits for it
                del self._locks[key]
                if len(self._spare) < self.SPARE:
                    self._spare.append(entry[0])


class _Held:
    """A key's lock while a ``with`` block runs (a class: a generator context costs more)."""

    __slots__ = ("locks", "key", "entry")

    def __init__(self, locks: _KeyedLocks, key: str):
        self.locks, self.key = locks, key

    def __enter__(self) -> None:
        entry = self.locks._enter(self.key)
        try:
            entry[0].acquire()
        except BaseException:  # e.g. a timeout while waiting: no longer a user
            self.locks._leave(self.key, entry)
            raise
        self.entry = entry

    def __exit__(self, *exc_info) -> None:
        self.entry[0].release()
        self.locks._leave(self.key, self.entry)
