"""DataDB on Redis: shared by every fs_cgr node, safe on a single server or a Cluster.

Key layout (``P`` is the key prefix, "fscgr" unless configured). Braces are
Redis Cluster hash tags: keys that one atomic step touches share a slot.

=====================================  ===================================================
``P:{live}:<kind>``                    hash: object id -> JSON document (one per LIVE_KIND)
``P:{live}:version``                   counter bumped by every ``write_live`` and ``flush``
``P:{live}:<kind>:staging:<token>``     a big ``write_live``'s new hash of a kind, till switched
``P:{live}:<kind>:old:<token>``         the hash it replaced, unlinked right after the switch
``P:{acc:<tenant>:<account>}``         hash: ``doc`` (JSON) and ``v`` (version counter)
``P:{acc:<tenant>:<account>}:idem:K``  JSON result remembered for idempotency key K (TTL;
                                       unlinked by ``forget_idempotency``)
``P:accounts:<tenant>``                set of account names (index for ``account_ids``)
``P:tenants``                          set of tenants that ever had an account
``P:{journal}``                        hash: session id -> JSON journal record
``P:{journal}:<session id>``           list: JSON documents appended to its record since
``P:{state:<kind>}``                   hash: ``d:<id>`` JSON state document, ``v:<id>`` version
``P:{res:<tenant>}:<resource id>``     hash: usage id -> ``units|expiry µs (0 = never)|owner``
=====================================  ===================================================

``cas_account`` is one Lua script, so the idempotency check, version check
and writes happen as a single step on the server. Concurrent calls share round
trips (``_ScriptBatches``): each still runs its own script, atomically, with
its own reply. An account exists while its
hash holds ``doc``: removing it (and ``flush``) deletes only ``doc``, so the
version counter never goes back. The account index lives in
other slots, so it is written apart: before creating an account (version 0),
and ``account_ids`` lists only indexed accounts that exist. A crash between
the two steps therefore never hides an account and never shows a ghost.

Replication is asynchronous: a master that dies right after acknowledging a write
may take it along. With ``wait_replicas=N`` every ``cas_account`` batch (every money
write) is followed on the same connection by ``WAIT N wait_timeout``, so its reply
comes only once N replicas hold it. When the replicas do not confirm in time the
write still stands (it is on the master and cannot be taken back): it is reported
as done, counted in ``under_replicated`` and logged, i.e. that write was only as
safe as without the option. docs/redis.md weighs the trade-off.

A big ``write_live`` (more than LIVE_CHUNK changes) does not hold the node for one
huge MULTI: it copies each kind it changes to a staging hash, writes the changes
there in pipelined chunks (the event loop runs between them), then one short Lua
script renames the staging hashes over the live ones and bumps the version, all
O(1) on the server. Readers see the old plan or the new one; a failure or a write
of another node in between (the version moved) leaves the live hashes untouched.

Every call has a socket timeout; Redis errors become StorageUnavailable.
The tests run every DataDB test on a single server and on a real 3-master Cluster,
and kill a Sentinel-watched master under load (tests/storage/test_redis_sentinel.py).
"""

import functools
import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from fs_cgr import jsoncodec
from fs_cgr.encoded import json_text
from fs_cgr.errors import StorageUnavailable
from fs_cgr.storage import resource_usage
from fs_cgr.storage.base import IDEMPOTENCY_TTL, LIVE_KINDS, CasResult, DataDB, with_appended
from fs_cgr.storage.checks import (
    LIVE_CHUNK,
    encode_cas,
    encode_live_changes,
    encoded_chunks,
    require_account,
    require_id,
)

DEFAULT_TIMEOUT = 2.0  # seconds, for every command and every connect
DEFAULT_HEALTH_CHECK_INTERVAL = 30  # seconds a pooled connection may idle before a PING
_PREFIX = re.compile(r"[A-Za-z0-9_.-]+")
_DELETE_BATCH = 500
DEFAULT_WAIT_TIMEOUT = 0.5  # seconds a money write waits for its replicas (wait_replicas)
log = logging.getLogger(__name__)

# KEYS[1] account hash, KEYS[2] (optional) idempotency record;
# ARGV expected version, document, result, TTL in seconds.
# Replies {status, version, stored result or current document (nil when none)}.
_CAS_SCRIPT = """
local current = redis.call('HMGET', KEYS[1], 'doc', 'v')
local version = 0
if current[1] then version = tonumber(current[2]) end
if KEYS[2] then
  local stored = redis.call('GET', KEYS[2])
  if stored then return {'duplicate', version, stored} end
end
if version ~= tonumber(ARGV[1]) then return {'conflict', version, current[1]} end
version = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[2])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4]) end
return {'applied', version}
"""

# KEYS[1] state hash of one kind; ARGV id, expected version, document ('' = remove).
# Replies {status, version, current document (nil when none) on a conflict}.
_STATE_CAS_SCRIPT = """
local doc_field, version_field = 'd:' .. ARGV[1], 'v:' .. ARGV[1]
local current = redis.call('HMGET', KEYS[1], doc_field, version_field)
local version = 0
if current[1] then version = tonumber(current[2]) end
if version ~= tonumber(ARGV[2]) then return {'conflict', version, current[1]} end
version = redis.call('HINCRBY', KEYS[1], version_field, 1)
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], doc_field)
else redis.call('HSET', KEYS[1], doc_field, ARGV[3]) end
return {'applied', version}
"""


# ResourceS' allocation, atomic on the server (rules: storage/resource_usage.py).
# KEYS: the resources by Weight; ARGV: usage id, units, now µs, dry run (1/0), owner,
# then per key its limit (-1 = none) and usage TTL in µs (0 = not recorded, -1 = never).
_ALLOCATE_SCRIPT = """
local uid, units, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local dry, owner = ARGV[4] == '1', ARGV[5]
local first = -1
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[4 + 2 * i])
  local all = redis.call('HGETALL', key)
  local used = 0
  for j = 1, #all, 2 do
    local u, e = string.match(all[j + 1], '^([^|]*)|([^|]*)|')
    e = tonumber(e)
    if e ~= 0 and e <= now then
      redis.call('HDEL', key, all[j])
    elseif dry or all[j] ~= uid then
      used = used + tonumber(u)
    end
  end
  if first < 0 and (limit < 0 or limit >= used + units) then first = i - 1 end
end
if first < 0 or dry then return first end
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[5 + 2 * i])
  redis.call('HDEL', key, uid)
  if ttl ~= 0 then
    local expiry = 0
    if ttl > 0 then expiry = now + ttl end
    redis.call('HSET', key, uid, ARGV[2] .. '|' .. string.format('%d', expiry) .. '|' .. owner)
  end
end
return first
"""

# A staged live write goes live. KEYS[1] the live version; then per kind its live hash,
# staging hash and a free name for the replaced hash. ARGV[1] the version the staging
# hashes were copied at. Replies the new version, or -1 (nothing changed) when it moved.
_SWITCH_LIVE_SCRIPT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return -1 end
for i = 2, #KEYS, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('RENAME', KEYS[i], KEYS[i + 2]) end
  if redis.call('EXISTS', KEYS[i + 1]) == 1 then
    redis.call('RENAME', KEYS[i + 1], KEYS[i])
    redis.call('PERSIST', KEYS[i])
  end
end
return redis.call('INCR', KEYS[1])
"""
_STAGING_TTL = 3600  # seconds: staging hashes of a writer that died go away by themselves
_STAGED_ATTEMPTS = 3  # staged writes tried before one MULTI (other nodes kept writing)

_REDIS_ERRORS = (redis.RedisError, RedisClusterException)


def _unavailable_on_redis_errors(method):
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _REDIS_ERRORS as exc:
            raise StorageUnavailable(f"redis: {str(exc)[:200]}") from exc

    return guarded


# A lease: taken when free, extended when the caller holds it, refused otherwise.
_CLAIM_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisDataDB(DataDB):
    """``url``: ``redis://[:password@]host:port/db``, ``rediss://...``, ``unix://...``,
    ``redis+sentinel://[:password@]host:port,host2:port/master_name/db``,
    ``redis+cluster://[:password@]host:port,host2:port``."""

    @_unavailable_on_redis_errors
    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        prefix: str = "fscgr",
        idempotency_ttl: int = IDEMPOTENCY_TTL,
        health_check_interval: int = DEFAULT_HEALTH_CHECK_INTERVAL,
        wait_replicas: int = 0,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    ):
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"Redis key prefix must match {_PREFIX.pattern}, got {prefix!r}")
        if int(idempotency_ttl) <= 0:
            raise ValueError("idempotency_ttl must be a positive number of seconds")
        wait = _replica_wait(url, wait_replicas, wait_timeout, timeout)
        self.prefix = prefix
        self.idempotency_ttl = int(idempotency_ttl)
        self._client = connect(
            url,
            timeout=timeout,
            connect_timeout=timeout if connect_timeout is None else connect_timeout,
            health_check_interval=health_check_interval,
        )
        self._cas = _ScriptBatches(self._client, _CAS_SCRIPT, wait)
        self._state_cas = _ScriptBatches(self._client, _STATE_CAS_SCRIPT)
        self._allocate = self._client.register_script(_ALLOCATE_SCRIPT)
        self._switch_live = self._client.register_script(_SWITCH_LIVE_SCRIPT)
        self._live_version_key = f"{prefix}:{{live}}:version"
        self._journal_key = f"{prefix}:{{journal}}"

    # -- keys ------------------------------------------------------------------
    def _live_key(self, kind: str) -> str:
        return f"{self.prefix}:{{live}}:{kind}"

    def _account_key(self, tenant: str, account: str) -> str:
        return f"{self.prefix}:{{acc:{tenant}:{account}}}"

    def _index_key(self, tenant: str) -> str:
        return f"{self.prefix}:accounts:{tenant}"

    # -- live tariff objects -------------------------------------------------
    @_unavailable_on_redis_errors
    def live_version(self) -> int:
        return int(self._client.get(self._live_version_key) or 0)

    @_unavailable_on_redis_errors
    def read_live_texts(self, kinds: Iterable[str] = LIVE_KINDS) -> dict[str, dict[str, str]]:
        kinds = list(kinds)
        pipe = self._client.pipeline(transaction=True)
        for kind in kinds:
            pipe.hgetall(self._live_key(kind))
        return dict(zip(kinds, pipe.execute(), strict=True))

    @_unavailable_on_redis_errors
    def write_live(self, changes: Iterable[tuple[str, str, dict | None]]) -> int:
        changes = changes if isinstance(changes, list) else list(changes)
        if len(changes) > LIVE_CHUNK:
            for _ in range(_STAGED_ATTEMPTS):
                version = self._write_live_staged(changes)
                if version >= 0:
                    return version
            log.warning("live objects kept changing during a staged write: one MULTI instead")
        pipe = self._client.pipeline(transaction=True)
        for kind, (upserts, deletes) in _final_by_kind(encode_live_changes(changes)).items():
            if upserts:
                pipe.hset(self._live_key(kind), mapping=upserts)
            if deletes:
                pipe.hdel(self._live_key(kind), *deletes)
        pipe.incr(self._live_version_key)
        return int(pipe.execute()[-1])

    def _write_live_staged(self, changes: list) -> int:
        """The new version, or -1 when another write came in before the switch."""
        token = uuid.uuid4().hex
        staging: dict[str, str] = {}  # kind -> its staging hash, once copied
        try:
            version = self.live_version()
            for chunk in encoded_chunks(changes):
                pipe = self._client.pipeline(transaction=False)
                for kind, (upserts, deletes) in _final_by_kind(chunk).items():
                    key = staging.get(kind)
                    if key is None:
                        key = staging[kind] = f"{self._live_key(kind)}:staging:{token}"
                        pipe.copy(self._live_key(kind), key, replace=True)
                        pipe.expire(key, _STAGING_TTL)
                    if deletes:
                        pipe.hdel(key, *deletes)
                    if upserts:
                        pipe.hset(key, mapping=upserts)
                pipe.execute()
            keys = [self._live_version_key]
            for kind, key in staging.items():
                keys += [self._live_key(kind), key, f"{self._live_key(kind)}:old:{token}"]
            switched = int(self._switch_live(keys=keys, args=[version]))
            if switched >= 0:
                self._client.unlink(*keys[3::3])
            return switched
        finally:
            if staging:  # gone when switched; a failed or refused write leaves nothing behind
                self._client.unlink(*staging.values())

    # -- accounts --------------------------------------------------------------
    @_unavailable_on_redis_errors
    def get_account_unless(
        self, tenant: str, account: str, version: int | None
    ) -> tuple[dict | None, int] | None:
        require_account(tenant, account)
        doc, current = self._client.hmget(self._account_key(tenant, account), "doc", "v")
        if doc is None:
            return None
        current = int(current)
        return (None if current == version else jsoncodec.decode(doc)), current

    @_unavailable_on_redis_errors
    def get_accounts(self, keys: list[tuple[str, str]]) -> list[tuple[dict, int] | None]:
        """One pipeline (no transaction) for all of them."""
        pipe = self._client.pipeline(transaction=False)
        for tenant, account in keys:
            require_account(tenant, account)
            pipe.hmget(self._account_key(tenant, account), "doc", "v")
        return [
            (jsoncodec.decode(doc), int(version)) if doc is not None else None
            for doc, version in pipe.execute()
        ]

    @_unavailable_on_redis_errors
    def cas_account(
        self,
        tenant: str,
        account: str,
        expected_version: int,
        doc: dict,
        idempotency_key: str | None = None,
        result=None,
    ) -> CasResult:
        doc_text, result_text = encode_cas(
            tenant, account, expected_version, doc, idempotency_key, result
        )
        key = self._account_key(tenant, account)
        keys = [key] if idempotency_key is None else [key, f"{key}:idem:{idempotency_key}"]
        if expected_version == 0:
            self._index_account(tenant, account)
        args = [expected_version, doc_text, result_text, self.idempotency_ttl]
        reply = self._cas.run(keys, args)
        status, version = reply[0], int(reply[1])
        if status == "duplicate":
            return CasResult(status, jsoncodec.decode(reply[2]), version)
        if status == "conflict" and len(reply) > 2 and reply[2] is not None:
            return CasResult(status, version=version, doc=jsoncodec.decode(reply[2]))
        return CasResult(status, version=version)

    @_unavailable_on_redis_errors
    def forget_idempotency(self, tenant: str, account: str, keys: Iterable[str]) -> None:
        require_account(tenant, account)
        key = self._account_key(tenant, account)
        records = [f"{key}:idem:{idem}" for idem in keys]
        if records:  # one slot (the account's hash tag): one UNLINK, even on a Cluster
            self._client.unlink(*records)

    def _index_account(self, tenant: str, account: str) -> None:
        pipe = self._client.pipeline(transaction=False)
        pipe.sadd(f"{self.prefix}:tenants", tenant)
        pipe.sadd(self._index_key(tenant), account)
        pipe.execute()

    @_unavailable_on_redis_errors
    def remove_account(self, tenant: str, account: str) -> bool:
        require_account(tenant, account)
        removed = self._client.hdel(self._account_key(tenant, account), "doc")
        self._client.srem(self._index_key(tenant), account)
        return bool(removed)

    @_unavailable_on_redis_errors
    def account_ids(self, tenant: str | None = None) -> list[str]:
        tenants = (
            [tenant] if tenant is not None else self._client.smembers(f"{self.prefix}:tenants")
        )
        candidates = [
            (t, account) for t in tenants for account in self._client.smembers(self._index_key(t))
        ]
        pipe = self._client.pipeline(transaction=False)
        for t, account in candidates:
            pipe.hexists(self._account_key(t, account), "doc")
        exists = pipe.execute() if candidates else []
        return sorted(f"{t}:{a}" for (t, a), found in zip(candidates, exists, strict=True) if found)

    # -- session journal -------------------------------------------------------
    def _appended_key(self, session_id: str) -> str:
        return f"{self._journal_key}:{session_id}"  # the journal's hash slot: one MULTI

    @_unavailable_on_redis_errors
    def journal_put(self, session_id: str, doc: dict) -> None:
        require_id("session id", session_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._journal_key, session_id, jsoncodec.encode(doc))
        pipe.delete(self._appended_key(session_id))
        pipe.execute()

    @_unavailable_on_redis_errors
    def journal_append(self, session_id: str, doc) -> None:
        require_id("session id", session_id)
        self._client.rpush(self._appended_key(session_id), json_text(doc))  # as memory.py

    @_unavailable_on_redis_errors
    def journal_delete(self, session_id: str) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.hdel(self._journal_key, session_id)
        pipe.delete(self._appended_key(session_id))
        pipe.execute()

    @_unavailable_on_redis_errors
    def journal_all(self) -> list[dict]:
        records = self._client.hgetall(self._journal_key)
        pipe = self._client.pipeline(transaction=False)
        for session_id in records:
            pipe.lrange(self._appended_key(session_id), 0, -1)
        appended = pipe.execute() if records else []
        return [
            with_appended(jsoncodec.decode(text), texts)
            for text, texts in zip(records.values(), appended, strict=True)
        ]

    # -- state documents -------------------------------------------------------
    def _state_key(self, kind: str) -> str:
        return f"{self.prefix}:{{state:{kind}}}"

    @_unavailable_on_redis_errors
    def get_state(self, kind: str, obj_id: str) -> tuple[dict, int] | None:
        require_id(kind, obj_id)
        doc, version = self._client.hmget(self._state_key(kind), f"d:{obj_id}", f"v:{obj_id}")
        return None if doc is None else (jsoncodec.decode(doc), int(version))

    @_unavailable_on_redis_errors
    def cas_state(self, kind: str, obj_id: str, expected_version: int, doc) -> CasResult:
        require_id(kind, obj_id)
        text = "" if doc is None else jsoncodec.encode(doc)
        reply = self._state_cas.run([self._state_key(kind)], [obj_id, expected_version, text])
        status, version = reply[0], int(reply[1])
        current = reply[2] if len(reply) > 2 else None
        return CasResult(
            status, version=version, doc=None if current is None else jsoncodec.decode(current)
        )

    @_unavailable_on_redis_errors
    def state_ids(self, kind: str) -> list[str]:
        fields = self._client.hkeys(self._state_key(kind))
        return sorted(field[2:] for field in fields if field.startswith("d:"))

    # -- resource usages -------------------------------------------------------
    def _resource_key(self, tenant: str, resource_id: str) -> str:
        return f"{self.prefix}:{{res:{tenant}}}:{resource_id}"

    @_unavailable_on_redis_errors
    def resource_allocate(
        self, tenant, limits, usage_id, units, now_us, dry_run=False, owner=""
    ) -> int:
        require_id("usage id", usage_id)
        keys = [self._resource_key(tenant, rid) for rid, _limit, _ttl in limits]
        args = [usage_id, repr(float(units)), int(now_us), int(bool(dry_run)), owner]
        for _rid, limit, ttl in limits:
            args += [repr(float(limit)), int(ttl)]
        return int(self._allocate(keys=keys, args=args))

    @_unavailable_on_redis_errors
    def resource_release(self, tenant: str, resource_ids: list, usage_id: str) -> list[bool]:
        pipe = self._client.pipeline(transaction=False)
        for rid in resource_ids:
            pipe.hdel(self._resource_key(tenant, rid), usage_id)
        return [bool(removed) for removed in pipe.execute()]

    @_unavailable_on_redis_errors
    def resource_usages(self, tenant: str, resource_ids: list, now_us: int) -> dict:
        pipe = self._client.pipeline(transaction=False)
        for rid in resource_ids:
            pipe.hgetall(self._resource_key(tenant, rid))
        return {
            rid: resource_usage.active(_usages(raw), now_us)
            for rid, raw in zip(resource_ids, pipe.execute(), strict=True)
        }

    @_unavailable_on_redis_errors
    def resource_owned(self, owner: str) -> list[tuple[str, str, str]]:
        found = []
        for key in self._client.scan_iter(match=f"{self.prefix}:{{res:*", count=_DELETE_BATCH):
            tenant, _, rid = key[len(self.prefix) + 6 :].partition("}:")
            for uid, usage in _usages(self._client.hgetall(key)).items():
                if usage[2] == owner:
                    found.append((tenant, rid, uid))
        return found

    # -- shared state ------------------------------------------------------------------
    def _state_key(self, name: str) -> str:
        return f"{self.prefix}:state:{name}"

    @_unavailable_on_redis_errors
    def set_add(self, name: str, members: Iterable[str]) -> None:
        members = list(members)
        if members:
            self._client.sadd(self._state_key(name), *members)

    @_unavailable_on_redis_errors
    def set_remove(self, name: str, members: Iterable[str]) -> None:
        members = list(members)
        if members:
            self._client.srem(self._state_key(name), *members)

    @_unavailable_on_redis_errors
    def set_members(self, name: str) -> set[str]:
        return set(self._client.smembers(self._state_key(name)))

    @_unavailable_on_redis_errors
    def get_value(self, name: str) -> str | None:
        return self._client.get(self._state_key(name))

    @_unavailable_on_redis_errors
    def set_value(self, name: str, value: str) -> None:
        self._client.set(self._state_key(name), value)

    @_unavailable_on_redis_errors
    def claim(self, name: str, owner: str, ttl: float) -> bool:
        key, ms = f"{self.prefix}:lease:{name}", max(int(ttl * 1000), 1)
        return bool(self._client.eval(_CLAIM_SCRIPT, 1, key, owner, ms))

    @_unavailable_on_redis_errors
    def release(self, name: str, owner: str) -> None:
        self._client.eval(_RELEASE_SCRIPT, 1, f"{self.prefix}:lease:{name}", owner)

    @_unavailable_on_redis_errors
    def flush(self) -> None:
        """Delete every key under the prefix but the version counters: account hashes only
        lose their document, and the live version moves on so nodes reload."""
        batch = []
        for key in self._client.scan_iter(match=f"{self.prefix}:*", count=_DELETE_BATCH):
            if key != self._live_version_key:
                batch.append(key)
            if len(batch) >= _DELETE_BATCH:
                self._delete(batch)
                batch = []
        self._delete(batch)
        self._client.incr(self._live_version_key)

    def _delete(self, keys: list[str]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
        kinds = pipe.execute() if keys else []
        accounts = f"{self.prefix}:{{acc:"
        for key, kind in zip(keys, kinds, strict=True):
            if kind == "hash" and key.startswith(accounts):
                pipe.hdel(key, "doc")
            else:
                pipe.unlink(key)
        pipe.execute()

    @property
    def under_replicated(self) -> int:
        """Money writes that stood without the replicas ``wait_replicas`` asked for."""
        return self._cas.under_replicated

    def close(self) -> None:
        self._client.close()


def _final_by_kind(encoded: list) -> dict[str, tuple[dict[str, str], list[str]]]:
    """Per kind, the upserts and the deletes that ``encoded`` changes come to (the last
    change of an object wins), so each kind is one HSET and one HDEL."""
    final: dict[str, dict[str, str | None]] = {}
    for kind, obj_id, text in encoded:
        final.setdefault(kind, {})[obj_id] = text
    return {
        kind: (
            {obj_id: text for obj_id, text in texts.items() if text is not None},
            [obj_id for obj_id, text in texts.items() if text is None],
        )
        for kind, texts in final.items()
    }


def _usages(raw: dict) -> dict:
    """A resource hash as ``{usage_id: (units, expiry_us, owner)}``."""
    usages = {}
    for uid, text in raw.items():
        units, expiry, owner = text.split("|", 2)
        usages[uid] = (float(units), int(expiry), owner)
    return usages


def _replica_wait(url: str, replicas, wait_timeout, timeout: float) -> tuple[int, int] | None:
    """``WAIT`` arguments (replicas, milliseconds) for ``wait_replicas``, or None."""
    replicas, wait_timeout = int(replicas), float(wait_timeout)
    if replicas < 0 or wait_timeout <= 0:
        raise ValueError("wait_replicas must be >= 0 and wait_timeout > 0 seconds")
    if not replicas:
        return None
    if urlsplit(url).scheme == "redis+cluster":
        raise ValueError("wait_replicas is not supported on a Redis Cluster URL")
    if wait_timeout >= timeout:
        raise ValueError(f"wait_timeout ({wait_timeout}s) must be below timeout ({timeout}s)")
    return replicas, max(1, round(wait_timeout * 1000))


class _ScriptBatches:
    """Runs one Lua script for many callers, sharing round trips.

    Calls that arrive while a batch is on the wire wait, and the next batch carries
    them all as one pipeline (not a transaction): every call stays its own atomic
    script run with its own reply. One batch is in flight at a time; one of its
    callers sends it, then hands the turn to the first call still waiting. Waiting
    needs no timeout of its own: every batch ends within the client's socket
    timeouts, and its sender always wakes the batch and passes the turn on.
    """

    def __init__(self, client, script: str, wait: tuple[int, int] | None = None):
        self._client = client
        self._script = script
        self._wait = wait  # WAIT (replicas, milliseconds) after each batch, or None
        self.under_replicated = 0
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._lock = threading.Lock()
        self._waiting: list[_ScriptCall] = []
        self._sending = False

    def run(self, keys: list[str], args: list):
        call = _ScriptCall(keys, args)
        with self._lock:
            self._waiting.append(call)
            if self._sending:
                call.woken = threading.Event()
            else:
                self._sending = call.sends = True
        if not call.sends:
            try:
                call.woken.wait()
            except BaseException:  # the caller was stopped (e.g. its own timeout)
                self._leave(call)
                raise
        if call.sends:
            self._send_waiting()
        if call.error is not None:
            raise call.error
        return call.reply

    def _leave(self, call: "_ScriptCall") -> None:
        with self._lock:
            if call in self._waiting:
                self._waiting.remove(call)
                if call.sends:
                    self._pass_turn()

    def _pass_turn(self) -> None:
        """To the first waiting call, or to whoever comes next (the lock is held)."""
        if self._waiting:
            following = self._waiting[0]
            following.sends = True
            following.woken.set()
        else:
            self._sending = False

    def _send_waiting(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._send(batch)
        finally:
            for call in batch:
                if not call.answered:  # this greenlet was stopped while sending
                    call.error = redis.ConnectionError("batch sender interrupted")
            with self._lock:
                self._pass_turn()
            for call in batch:
                if call.woken is not None:
                    call.woken.set()

    def _send(self, calls: list["_ScriptCall"]) -> None:
        try:
            _answer(calls, self._pipeline(calls), retry_unknown=True)
            unknown = [call for call in calls if not call.answered]
            if unknown:  # not run at all: load the script (a restarted server), run them again
                self._client.script_load(self._script)
                _answer(unknown, self._pipeline(unknown), retry_unknown=False)
        except _REDIS_ERRORS as exc:
            for call in calls:
                if not call.answered:
                    call.error, call.answered = exc, True

    def _pipeline(self, calls: list["_ScriptCall"]) -> list:
        pipe = self._client.pipeline(transaction=False)
        for call in calls:
            pipe.evalsha(self._sha, len(call.keys), *call.keys, *call.args)
        if self._wait is None:
            return pipe.execute(raise_on_error=False)
        pipe.execute_command("WAIT", *self._wait)  # same connection: waits for these writes
        *replies, confirmed = pipe.execute(raise_on_error=False)
        self._check_replicas(replies, confirmed)
        return replies

    def _check_replicas(self, replies: list, confirmed) -> None:
        """Count and log the applied writes the replicas did not confirm in time."""
        wrote = sum(1 for reply in replies if isinstance(reply, list) and reply[0] == "applied")
        if wrote and (isinstance(confirmed, Exception) or confirmed < self._wait[0]):
            self.under_replicated += wrote
            log.warning(
                "%d money write(s) confirmed by %s of %d replicas within %d ms: they stand "
                "on the master only",
                wrote,
                confirmed,
                self._wait[0],
                self._wait[1],
            )


class _ScriptCall:
    __slots__ = ("keys", "args", "reply", "error", "answered", "sends", "woken")

    def __init__(self, keys: list[str], args: list):
        self.keys, self.args = keys, args
        self.reply = self.error = None
        self.answered = self.sends = False
        self.woken: threading.Event | None = None  # only a call that waits needs one


def _answer(calls: list[_ScriptCall], replies: list, *, retry_unknown: bool) -> None:
    """Give each call its reply (an error reply raises in its caller); with
    ``retry_unknown``, calls the server did not know the script for stay unanswered."""
    for call, reply in zip(calls, replies, strict=True):
        if retry_unknown and isinstance(reply, NoScriptError):
            continue
        if isinstance(reply, Exception):
            call.error = reply
        else:
            call.reply = reply
        call.answered = True


def connect(url: str, *, timeout: float, connect_timeout: float, health_check_interval: int):
    """A redis-py client for ``url`` whose every call gives up after ``timeout`` seconds.

    A dropped pooled connection is retried once at once; a timeout is never
    retried, so no call waits longer than its timeout.
    """
    options = {
        "socket_timeout": timeout,
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": health_check_interval,
        "decode_responses": True,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    }
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return redis.Redis.from_url(url, **options)
    if scheme == "redis+sentinel":
        return _sentinel_master(url, options)
    if scheme == "redis+cluster":
        parts = urlsplit(url)
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in _hosts(parts.netloc)],
            password=unquote(parts.password) if parts.password else None,
            **options,
        )
    raise ValueError(f"not a Redis URL: {url!r}")


def _sentinel_master(url: str, options: dict):
    parts = urlsplit(url)
    path = [segment for segment in parts.path.split("/") if segment]
    if not path or len(path) > 2:
        raise ValueError(f"Sentinel URL needs /master_name[/db]: {url!r}")
    limits = {k: options[k] for k in ("socket_timeout", "socket_connect_timeout", "retry")}
    sentinel = Sentinel(_hosts(parts.netloc), sentinel_kwargs=limits, **limits)
    return sentinel.master_for(
        path[0],
        db=int(path[1]) if len(path) == 2 else 0,
        password=unquote(parts.password) if parts.password else None,
        **options,
    )


def _hosts(netloc: str) -> list[tuple[str, int]]:
    """``host:port,host2:port`` (after any ``user:password@``) as (host, port) pairs."""
    hosts = []
    for item in netloc.rpartition("@")[2].split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected host:port, got {item!r}")
        hosts.append((host, int(port)))
    return hosts
