"""ThresholdS: count the events that hit a threshold and run its actions, as CGrateS v0.10.

Profiles are live objects (kind ``threshold_profiles``); each has a threshold, a state
document in the DataDB (kind ``thresholds``: ``{Tenant, ID, Hits, Snooze}``) changed by
compare-and-set, so hits counted on several nodes add up and an action set runs once per
counted hit, whichever node counted it.

For each matching threshold an event adds one hit; the actions run when the threshold
is not snoozed (MinSleep after its last run), Hits reached MinHits and did not pass
MaxHits (-1 = no limit). The threshold whose Hits reach MaxHits is gone: GetThreshold
and every later event it matches answer NOT_FOUND, until its profile is set again.

``Async`` action sets, and every threshold an account change raises
(``account_changed``), run on a background worker, off the caller's path.
"""

import logging

from fs_cgr.accounts.model import Account
from fs_cgr.errors import (
    CGRError,
    InvalidArgument,
    MandatoryMissing,
    NotFound,
    PartiallyExecuted,
)
from fs_cgr.filters import LiveObjects
from fs_cgr.profiles import (
    ProfileStore,
    cgr_event_parts,
    duration_field,
    id_list,
    integer_field,
    profile_head,
    weight,
)
from fs_cgr.storage.base import THRESHOLD_PROFILES, THRESHOLDS
from fs_cgr.storage.state import UNCHANGED, StateStore
from fs_cgr.thresholds.actions import run_action_set
from fs_cgr.thresholds.background import Background
from fs_cgr.thresholds.events import account_update_events
from fs_cgr.times import add_ns, format_time, parse_time
from fs_cgr.times import now as utc_now

log = logging.getLogger(__name__)

UNLIMITED = -1
GONE = "Gone"  # marks a threshold that reached MaxHits; never shown to clients


class ThresholdService:
    def __init__(self, node, live: LiveObjects | None = None):
        self.node = node
        self.profiles = ProfileStore(node, THRESHOLD_PROFILES, live)
        self.state = StateStore(node.datadb)
        self.background = Background("fs-cgr-thresholds")
        if node.config.thresholds.account_updates:
            node.accounts.on_change(self.on_account_change)

    def stop(self) -> None:
        self.background.stop()

    # -- profiles ----------------------------------------------------------------------
    def set_profile(self, profile: dict) -> None:
        """Store the profile; a threshold it did not have (or that was gone) starts at 0
        hits, an existing one keeps counting, as in CGrateS."""
        doc = normalize_profile(profile)
        self.profiles.set(doc)

        def change(current):
            if current is None or current.get(GONE):
                return new_threshold(doc["Tenant"], doc["ID"]), None
            return UNCHANGED, None

        self.state.update(THRESHOLDS, _key(doc["Tenant"], doc["ID"]), change)

    def get_profile(self, tenant: str, profile_id: str) -> dict:
        return self.profiles.get(tenant, profile_id)

    def remove_profile(self, tenant: str, profile_id: str) -> None:
        self.profiles.remove(tenant, profile_id)
        self.remove_thresholds([_key(tenant, profile_id)])

    def profile_ids(self, tenant: str) -> list[str]:
        return self.profiles.ids(tenant)

    def reset_thresholds(self, profiles: dict[str, dict]) -> None:
        """Fresh thresholds (0 hits) for these profiles, as a tariff plan load leaves them."""
        for key, profile in profiles.items():
            fresh = new_threshold(profile["Tenant"], profile["ID"])
            self.state.update(THRESHOLDS, key, lambda current, t=fresh: (t, None))

    def remove_thresholds(self, keys) -> None:
        for key in keys:
            self.state.update(
                THRESHOLDS,
                key,
                lambda current: (UNCHANGED if current is None else None, None),
            )

    # -- thresholds --------------------------------------------------------------------
    def get_threshold(self, tenant: str, threshold_id: str) -> dict:
        """ThresholdSv1.GetThreshold: ``{Tenant, ID, Hits, Snooze}``; NotFound when gone."""
        stored = self.state.get(THRESHOLDS, _key(tenant, threshold_id))
        if stored is None:
            self.profiles.get(tenant, threshold_id)  # a profile never counted: 0 hits
            return new_threshold(tenant, threshold_id)
        if stored.get(GONE):
            raise NotFound()
        return stored

    def threshold_ids(self, tenant: str) -> list[str]:
        prefix = tenant + ":"
        return [
            key[len(prefix) :]
            for key in self.state.ids(THRESHOLDS)
            if key.startswith(prefix) and not self._gone(key)
        ]

    def _gone(self, key: str) -> bool:
        stored = self.state.get(THRESHOLDS, key)
        return stored is not None and bool(stored.get(GONE))

    def thresholds_for_event(self, cgr_event: dict, threshold_ids=None) -> list[dict]:
        """ThresholdSv1.GetThresholdsForEvent: the thresholds the event would hit."""
        tenant, event, moment = cgr_event_parts(self.node, cgr_event)
        pairs = self._matching(tenant, event, moment, threshold_ids)
        return [threshold for _, threshold in pairs]

    def _matching(self, tenant, event, moment, threshold_ids) -> list[tuple[dict, dict]]:
        """(profile, threshold) pairs, best first; NotFound when one of them is gone
        (CGrateS fails the whole event then)."""
        pairs = []
        for profile in self.profiles.matching(tenant, event, threshold_ids, moment):
            pairs.append((profile, self.get_threshold(tenant, profile["ID"])))
        return pairs

    # -- events --------------------------------------------------------------------------
    def process_event(self, cgr_event: dict, threshold_ids: list[str] | None = None) -> list[str]:
        """ThresholdSv1.ProcessEvent: one hit on every matching threshold, actions run as
        due; returns the hit thresholds' IDs. NotFound when none matched,
        PartiallyExecuted when a synchronous action set failed."""
        tenant, event, moment = cgr_event_parts(self.node, cgr_event)
        if not cgr_event.get("ID"):
            raise MandatoryMissing("ID")
        pairs = self._matching(tenant, event, moment, threshold_ids)
        if not pairs:
            raise NotFound()
        failed = False
        hit = []
        for profile, _ in pairs:
            fire = self._hit(profile)
            if fire is None:
                continue  # gone meanwhile (another node counted its last hit)
            hit.append(profile["ID"])
            if fire:
                failed = not self._run_actions(profile, tenant, event) or failed
        if failed:
            raise PartiallyExecuted()
        return hit

    def _hit(self, profile: dict) -> bool | None:
        """Count one hit atomically; True when the actions are due, None when gone."""
        tenant, threshold_id = profile["Tenant"], profile["ID"]

        def change(current):
            threshold = current or new_threshold(tenant, threshold_id)
            if threshold.get(GONE):
                return UNCHANGED, None
            now = utc_now()
            hits = threshold["Hits"] + 1
            fire = _due(profile, threshold, hits, now)
            updated = {**threshold, "Hits": hits}
            if fire:
                updated["Snooze"] = format_time(add_ns(now, profile.get("MinSleep") or 0))
            if hits == profile.get("MaxHits"):
                updated[GONE] = True
            return updated, fire

        return self.state.update(THRESHOLDS, _key(tenant, threshold_id), change)

    def _run_actions(self, profile: dict, tenant: str, event: dict) -> bool:
        """Run the profile's action sets (on the worker when Async); False when a
        synchronous one failed."""
        ok = True
        for actions_id in profile.get("ActionIDs") or ():
            if profile.get("Async"):
                self.background.submit(self._run_logged, tenant, event, actions_id)
            else:
                ok = self._run_logged(tenant, event, actions_id) and ok
        return ok

    def _run_logged(self, tenant: str, event: dict, actions_id: str) -> bool:
        try:
            run_action_set(self.node, self.profiles.live, tenant, event, actions_id)
        except CGRError as exc:
            log.warning("<ThresholdS> failed executing actions: %s, error: %s", actions_id, exc)
            return False
        return True

    # -- account changes ---------------------------------------------------------------
    def on_account_change(self, tenant: str, account_id: str, doc: dict, previous) -> None:
        """AccountService's change listener: the account's events, when the tenant has
        thresholds at all (most debits then cost nothing here) and the change is not
        itself the work of a threshold's or trigger's actions (that could loop)."""
        if self.profiles.of_tenant(tenant) and not self.node.accounts.written_by_reaction(
            tenant, account_id, doc
        ):
            self.account_changed(previous, Account.from_doc(doc))

    def account_changed(self, before, after) -> None:
        """The account-change hook: raise CGrateS' BalanceUpdate/AccountUpdate events for
        the change, processed on the worker (never on the path of the change itself)."""
        for cgr_event in account_update_events(before, after):
            self.background.submit(self._process_quietly, cgr_event)

    def _process_quietly(self, cgr_event: dict) -> None:
        try:
            self.process_event(cgr_event)
        except NotFound:
            pass
        except CGRError as exc:
            log.warning("<ThresholdS> account event %s: %s", cgr_event["Event"], exc.message)


def new_threshold(tenant: str, threshold_id: str) -> dict:
    return {"Tenant": tenant, "ID": threshold_id, "Hits": 0, "Snooze": format_time(None)}


def _due(profile: dict, threshold: dict, hits: int, now) -> bool:
    snooze = parse_time(threshold.get("Snooze"))
    if snooze is not None and snooze > now:
        return False
    if hits < (profile.get("MinHits") or 0):
        return False
    max_hits = profile.get("MaxHits", UNLIMITED)
    return max_hits == UNLIMITED or hits <= max_hits


def _key(tenant: str, threshold_id: str) -> str:
    return f"{tenant}:{threshold_id}"


def normalize_profile(profile: dict) -> dict:
    """A ThresholdProfile as the API sends it, checked, as stored (MinSleep in ns)."""
    head = profile_head(profile)
    min_sleep = duration_field(profile, "MinSleep")
    if min_sleep < 0:
        raise InvalidArgument(f"MinSleep must not be negative, got {profile.get('MinSleep')!r}")
    return {
        **head,
        "MaxHits": integer_field(profile, "MaxHits"),
        "MinHits": integer_field(profile, "MinHits"),
        "MinSleep": min_sleep,
        "Blocker": bool(profile.get("Blocker")),
        "Weight": weight(profile.get("Weight")),
        "ActionIDs": id_list(profile.get("ActionIDs")),
        "Async": bool(profile.get("Async")),
    }
