"""Open the configured databases from their URLs.

Options may be given as keyword arguments or in the URL's query string
(``redis://127.0.0.1:6379/0?timeout=1&prefix=node1``); keyword arguments win.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit

from fs_cgr.storage.base import DataDB, StorDB

_INTERNAL = ("", "internal", "internal://", "*internal")
_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster")
_REDIS_OPTIONS = {
    "timeout": float,
    "connect_timeout": float,
    "prefix": str,
    "idempotency_ttl": int,
    "health_check_interval": int,
    "wait_replicas": int,
    "wait_timeout": float,
}
_MEMORY_OPTIONS = {"idempotency_ttl": float}
_SQL_OPTIONS = {
    "connect_timeout": float,
    "read_timeout": float,
    "write_timeout": float,
    "busy_timeout": float,
    "table_prefix": str,
    "max_connections": int,
}


def open_datadb(url: str = "internal://", **options) -> DataDB:
    """``internal://`` (or "", ``internal://?idempotency_ttl=3600``) = MemoryDataDB;
    ``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://``, ``redis+cluster://``
    = RedisDataDB."""
    base, from_url = _split_options(url.strip(), _MEMORY_OPTIONS)
    if base in _INTERNAL:
        from fs_cgr.storage.memory import MemoryDataDB

        return MemoryDataDB(**{**from_url, **options})
    if urlsplit(url).scheme in _REDIS_SCHEMES:
        from fs_cgr.storage.redis_datadb import RedisDataDB

        url, from_url = _split_options(url, _REDIS_OPTIONS)
        return RedisDataDB(url, **{**from_url, **options})
    raise ValueError(
        f"unknown DataDB URL {url!r}: use internal:// or redis://host:port/db "
        "(also rediss://, unix://, redis+sentinel://, redis+cluster://)"
    )


def open_stordb(url: str = "internal://", **options) -> StorDB:
    """``internal://`` = SQLite in memory; ``sqlite:///path``, ``sqlite://:memory:``,
    ``mysql://user:password@host:port/db``. SQLite runs in a thread of its own in a
    gevent-patched process (fs_cgr.storage.sqlite_thread)."""
    from fs_cgr.storage.sql import SQLStorDB

    if url.strip() in _INTERNAL:
        url = "sqlite://:memory:"
    scheme = urlsplit(url).scheme
    if scheme in ("sqlite", "mysql"):
        url, from_url = _split_options(url, _SQL_OPTIONS)
        stordb = SQLStorDB(url, **{**from_url, **options})
        if scheme == "mysql":
            return stordb
        from fs_cgr.storage.sqlite_thread import off_the_loop_when_patched

        return off_the_loop_when_patched(stordb)
    raise ValueError(
        f"unknown StorDB URL {url!r}: use internal://, sqlite:///path, sqlite://:memory: "
        "or mysql://user:password@host:port/db"
    )


def _split_options(url: str, known: dict) -> tuple[str, dict]:
    """Take our options out of the query string; the rest stays for the driver."""
    base, _, query = url.partition("?")
    options, rest = {}, []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in known:
            try:
                options[name] = known[name](value)
            except ValueError:
                raise ValueError(f"bad {name}={value!r} in {url!r}") from None
        else:
            rest.append((name, value))
    return (f"{base}?{urlencode(rest)}" if rest else base), options


def is_shared_datadb(url: str) -> bool:
    """Whether every process opening ``url`` sees the same DataDB (Redis), unlike
    ``internal://``, which lives in the memory of one process."""
    return urlsplit(url).scheme in _REDIS_SCHEMES


def is_in_memory_stordb(url: str) -> bool:
    """``internal://`` and ``sqlite://:memory:``: a StorDB no other process can see."""
    return url.strip() in _INTERNAL or url.strip().startswith("sqlite://:memory:")
