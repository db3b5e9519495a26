"""The embedded DataDB: everything in this process, nothing shared with others.

It keeps documents as JSON text (``codec``), so callers get fresh copies and
the same values Redis would give back. One lock guards every step; no step
waits on I/O while holding it, so threads and greenlets both stay safe.
Account versions live apart from the documents and outlast removals and
``flush``, so they never go back.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from fs_cgr import jsoncodec
from fs_cgr.encoded import json_text
from fs_cgr.storage import resource_usage
from fs_cgr.storage.base import IDEMPOTENCY_TTL, LIVE_KINDS, CasResult, DataDB, with_appended
from fs_cgr.storage.checks import (
    encode_cas,
    encoded_chunks,
    require_account,
    require_id,
)


class MemoryDataDB(DataDB):
    def __init__(self, idempotency_ttl: float = IDEMPOTENCY_TTL):
        if idempotency_ttl <= 0:
            raise ValueError("idempotency_ttl must be a positive number of seconds")
        self.idempotency_ttl = idempotency_ttl
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, str]] = {}
        self._live_version = 0
        self._accounts: dict[tuple[str, str], tuple[str, int]] = {}
        self._last_versions: dict[tuple[str, str], int] = {}  # never cleared
        # (tenant, account, key) -> (monotonic expiry, result). One TTL for all, so the
        # order of insertion is the order of expiry: expired records are popped off the
        # front, a few at each write, never searched for; dropped ones free their memory.
        self._idempotency: OrderedDict[tuple[str, str, str], tuple[float, str]] = OrderedDict()
        self._journal: dict[str, str] = {}
        self._appended: dict[str, list[str]] = {}  # session id -> JSON appended to its record
        self._states: dict[tuple[str, str], str] = {}
        self._state_versions: dict[tuple[str, str], int] = {}  # never cleared
        self._resources: dict[str, dict[str, dict]] = {}  # tenant -> resource id -> usages
        self._sets: dict[str, set[str]] = {}
        self._values: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # name -> (owner, monotonic deadline)

    # -- live tariff objects -------------------------------------------------
    def live_version(self) -> int:
        return self._live_version

    def read_live_texts(self, kinds: Iterable[str] = LIVE_KINDS) -> dict[str, dict[str, str]]:
        with self._lock:
            return {kind: dict(self._live.get(kind, {})) for kind in kinds}

    def write_live(self, changes: Iterable[tuple[str, str, dict | None]]) -> int:
        """New dicts of the kinds that change, swapped in at once: readers see the old plan
        or the new one. A big write builds them in chunks while the loop goes on
        (``encoded_chunks``), and again if another write came in meanwhile."""
        changes = changes if isinstance(changes, list) else list(changes)
        while True:
            version = self._live_version
            staged: dict[str, dict[str, str]] = {}
            for chunk in encoded_chunks(changes):
                for kind, obj_id, text in chunk:
                    objects = staged.get(kind)
                    if objects is None:
                        objects = staged[kind] = dict(self._live.get(kind, {}))
                    if text is None:
                        objects.pop(obj_id, None)
                    else:
                        objects[obj_id] = text
            with self._lock:
                if self._live_version == version:
                    self._live.update(staged)
                    self._live_version += 1
                    return self._live_version

    # -- accounts --------------------------------------------------------------
    def get_account_unless(
        self, tenant: str, account: str, version: int | None
    ) -> tuple[dict | None, int] | None:
        require_account(tenant, account)
        stored = self._accounts.get((tenant, account))
        if stored is None:
            return None
        text, current = stored
        return (None if current == version else jsoncodec.decode(text)), current

    def cas_account(
        self,
        tenant: str,
        account: str,
        expected_version: int,
        doc: dict,
        idempotency_key: str | None = None,
        result=None,
    ) -> CasResult:
        text, stored_result = encode_cas(
            tenant, account, expected_version, doc, idempotency_key, result
        )
        key = (tenant, account)
        with self._lock:
            now = time.monotonic()
            current_text, current = self._accounts.get(key, (None, 0))
            if idempotency_key is not None:
                self._purge_expired(now)  # first: a key seen again must not be an expired one
                seen = self._idempotency.get((tenant, account, idempotency_key))
                if seen is not None:
                    return CasResult("duplicate", jsoncodec.decode(seen[1]), current)
            if current != expected_version:
                current_doc = None if current_text is None else jsoncodec.decode(current_text)
                return CasResult("conflict", version=current, doc=current_doc)
            version = self._last_versions.get(key, 0) + 1
            self._accounts[key] = (text, version)
            self._last_versions[key] = version
            if idempotency_key is not None:
                expires = now + self.idempotency_ttl
                self._idempotency[(tenant, account, idempotency_key)] = (expires, stored_result)
            return CasResult("applied", version=version)

    def _purge_expired(self, now: float) -> None:
        """Drop the records expired by ``now``: only the oldest are looked at."""
        records = self._idempotency
        while records:
            oldest = next(iter(records))
            if records[oldest][0] > now:
                return
            del records[oldest]

    def forget_idempotency(self, tenant: str, account: str, keys: Iterable[str]) -> None:
        require_account(tenant, account)
        with self._lock:
            for key in keys:
                self._idempotency.pop((tenant, account, key), None)

    def idempotency_count(self) -> int:
        """Results remembered now (expired ones included until swept): for tests and bench."""
        return len(self._idempotency)

    def remove_account(self, tenant: str, account: str) -> bool:
        require_account(tenant, account)
        with self._lock:
            return self._accounts.pop((tenant, account), None) is not None

    def account_ids(self, tenant: str | None = None) -> list[str]:
        with self._lock:
            keys = list(self._accounts)
        return sorted(f"{t}:{a}" for t, a in keys if tenant is None or t == tenant)

    # -- session journal -------------------------------------------------------
    def journal_put(self, session_id: str, doc: dict) -> None:
        require_id("session id", session_id)
        text = jsoncodec.encode(doc)
        with self._lock:
            self._journal[session_id] = text
            self._appended.pop(session_id, None)

    def journal_append(self, session_id: str, doc) -> None:
        require_id("session id", session_id)
        text = json_text(doc)  # a debit's text as its idempotency record has it
        with self._lock:
            self._appended.setdefault(session_id, []).append(text)

    def journal_delete(self, session_id: str) -> None:
        with self._lock:
            self._journal.pop(session_id, None)
            self._appended.pop(session_id, None)

    def journal_all(self) -> list[dict]:
        with self._lock:
            appended = self._appended
            records = [(text, list(appended.get(sid, ()))) for sid, text in self._journal.items()]
        return [with_appended(jsoncodec.decode(text), appended) for text, appended in records]

    # -- state documents -------------------------------------------------------
    def get_state(self, kind: str, obj_id: str) -> tuple[dict, int] | None:
        require_id(kind, obj_id)
        with self._lock:
            text = self._states.get((kind, obj_id))
            version = self._state_versions.get((kind, obj_id), 0)
        return None if text is None else (jsoncodec.decode(text), version)

    def cas_state(self, kind: str, obj_id: str, expected_version: int, doc) -> CasResult:
        require_id(kind, obj_id)
        text = None if doc is None else jsoncodec.encode(doc)
        key = (kind, obj_id)
        with self._lock:
            current_text = self._states.get(key)
            current = self._state_versions.get(key, 0) if current_text is not None else 0
            if current != expected_version:
                current_doc = None if current_text is None else jsoncodec.decode(current_text)
                return CasResult("conflict", version=current, doc=current_doc)
            version = self._state_versions.get(key, 0) + 1
            self._state_versions[key] = version
            if text is None:
                self._states.pop(key, None)
            else:
                self._states[key] = text
            return CasResult("applied", version=version)

    def state_ids(self, kind: str) -> list[str]:
        with self._lock:
            return sorted(obj_id for k, obj_id in self._states if k == kind)

    # -- resource usages -------------------------------------------------------
    def resource_allocate(
        self, tenant, limits, usage_id, units, now_us, dry_run=False, owner=""
    ) -> int:
        with self._lock:
            table = self._resources.setdefault(tenant, {})
            return resource_usage.allocate(table, limits, usage_id, units, now_us, dry_run, owner)

    def resource_release(self, tenant: str, resource_ids: list, usage_id: str) -> list[bool]:
        with self._lock:
            table = self._resources.get(tenant, {})
            return [table.get(rid, {}).pop(usage_id, None) is not None for rid in resource_ids]

    def resource_usages(self, tenant: str, resource_ids: list, now_us: int) -> dict:
        with self._lock:
            table = self._resources.get(tenant, {})
            return {rid: resource_usage.active(table.get(rid, {}), now_us) for rid in resource_ids}

    def resource_owned(self, owner: str) -> list[tuple[str, str, str]]:
        with self._lock:
            return [
                (tenant, rid, uid)
                for tenant, table in self._resources.items()
                for rid, usages in table.items()
                for uid, usage in usages.items()
                if usage[2] == owner
            ]

    # -- shared state ------------------------------------------------------------------
    def set_add(self, name: str, members: Iterable[str]) -> None:
        with self._lock:
            self._sets.setdefault(name, set()).update(members)

    def set_remove(self, name: str, members: Iterable[str]) -> None:
        with self._lock:
            self._sets.get(name, set()).difference_update(members)

    def set_members(self, name: str) -> set[str]:
        with self._lock:
            return set(self._sets.get(name, ()))

    def get_value(self, name: str) -> str | None:
        return self._values.get(name)

    def set_value(self, name: str, value: str) -> None:
        with self._lock:
            self._values[name] = value

    def claim(self, name: str, owner: str, ttl: float) -> bool:
        now = time.monotonic()
        with self._lock:
            holder = self._leases.get(name)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return False
            self._leases[name] = (owner, now + ttl)
            return True

    def release(self, name: str, owner: str) -> None:
        with self._lock:
            if self._leases.get(name, (None,))[0] == owner:
                del self._leases[name]

    def flush(self) -> None:
        """Remove everything but the version counters; the live version moves on (never
        back) so nodes reload."""
        with self._lock:
            self._resources.clear()
            self._live.clear()
            self._live_version += 1
            self._accounts.clear()
            self._idempotency.clear()
            self._journal.clear()
            self._appended.clear()
            self._states.clear()
            self._sets.clear()
            self._values.clear()
            self._leases.clear()
