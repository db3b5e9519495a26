"""StorDB on peewee: MySQL/MariaDB (PyMySQL) or SQLite.

``mysql://user:password@host:port/db`` uses a connection pool; every
connection has connect, read and write timeouts. ``sqlite:///path`` and
``sqlite://:memory:`` keep one connection behind a lock: SQLite writes one
at a time anyway, and an in-memory database lives only as long as its one
connection. Tables are created when missing. Errors that mean the database
is out of reach become StorageUnavailable.
"""

import logging
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from urllib.parse import unquote, urlsplit

import peewee as pw
import pymysql
from playhouse.pool import MaxConnectionsExceeded, PooledMySQLDatabase
from pymysql.constants.SERVER_STATUS import SERVER_STATUS_IN_TRANS

from fs_cgr import jsoncodec
from fs_cgr.encoded import json_text
from fs_cgr.errors import StorageUnavailable
from fs_cgr.storage.base import StorDB
from fs_cgr.storage.checks import require_id
from fs_cgr.storage.sql_cdrs import (
    cdr_to_row,
    conditions,
    mysql_insert_statements,
    order_by,
    paging,
    row_to_cdr,
)
from fs_cgr.storage.sql_models import build_models
from fs_cgr.times import now

log = logging.getLogger(__name__)

_UNAVAILABLE = (
    pw.OperationalError,
    pw.InterfaceError,
    MaxConnectionsExceeded,
    # raised by the driver itself where the cursor is used directly
    pymysql.err.OperationalError,
    pymysql.err.InterfaceError,
    sqlite3.OperationalError,
)
# a session cost's document keys and their columns, in the order the lookup selects them
# what re-rating a stored CDR changes
_PRICING_COLUMNS = ("cost", "cost_details", "cost_source", "extra_info")
_SESSION_COST_KEYS = {
    "CGRID": "cgrid",
    "RunID": "run_id",
    "OriginHost": "origin_host",
    "OriginID": "origin_id",
    "CostSource": "cost_source",
    "Usage": "usage",
    "CostDetails": "cost_details",
}
# the columns of set_session_cost's upsert, in the order of its parameters
_SESSION_COST_COLUMNS = (*_SESSION_COST_KEYS.values(), "created_at")
_MAX_STATEMENT = 1_024_000  # characters of one multi-row INSERT (PyMySQL's own limit)


class SQLStorDB(StorDB):
    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        write_timeout: float = 30.0,
        busy_timeout: float = 5.0,
        table_prefix: str = "",
        max_connections: int = 20,
    ):
        parts = urlsplit(url)
        self.url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no password
        if parts.scheme == "mysql":
            self._db = _mysql(parts, connect_timeout, read_timeout, write_timeout, max_connections)
            self._hold = self._db.connection_context  # a pooled connection per block
        elif parts.scheme == "sqlite":
            self._db = _sqlite(url, busy_timeout)
            lock = threading.Lock()
            self._hold = lambda: lock  # the one connection, one block at a time
        else:
            raise ValueError(f"not a StorDB URL: {url!r}")
        self._tp, self._cdr, self._session_cost = build_models(self._db, table_prefix)
        self._stored_runs_sql, self._session_cost_sql = self._hot_queries()
        self._session_cost_upsert = self._session_cost_upsert_sql()
        self._cdr_inserts: dict[tuple, tuple[list, str, str]] = {}  # see _cdr_insert
        with self._session():
            self._db.create_tables([self._tp, self._cdr, self._session_cost], safe=True)

    def _hot_queries(self) -> tuple[str, str]:
        """The SQL of the two lookups every call's CDR makes, written once: peewee
        would build the same text anew each time, at a cost above the query's own."""
        quote = self._quote
        cdr, sc = self._cdr._meta, self._session_cost._meta
        columns = ", ".join(
            quote(sc.fields[name].column_name) for name in _SESSION_COST_KEYS.values()
        )
        where = f"{quote('cgrid')} = {self._db.param} AND {quote('run_id')} = {self._db.param}"
        return (
            f"SELECT {quote('cgrid')}, {quote('run_id')} FROM {quote(cdr.table_name)}"
            f" WHERE {quote('cgrid')}",
            f"SELECT {columns} FROM {quote(sc.table_name)} WHERE {where} LIMIT 1",
        )

    def _session_cost_upsert_sql(self) -> str:
        """The text of set_session_cost's upsert, written once like ``_hot_queries`` (one
        per answered prepaid call); its parameters are the db values of
        ``_SESSION_COST_COLUMNS`` in that order, which is checked here."""
        sc = self._session_cost
        fields = [sc._meta.fields[name] for name in _SESSION_COST_COLUMNS]
        sample = ["c", "r", "h", "o", "s", 1, None, now()]
        insert = sc.insert(dict(zip(fields, sample, strict=True)))
        preserve = [sc.origin_host, sc.origin_id, sc.cost_source, sc.usage, sc.cost_details]
        unique_key = None if isinstance(self._db, pw.MySQLDatabase) else [sc.cgrid, sc.run_id]
        sql, params = insert.on_conflict(conflict_target=unique_key, preserve=preserve).sql()
        if list(params) != [
            field.db_value(value) for field, value in zip(fields, sample, strict=True)
        ]:
            raise RuntimeError("peewee orders the session cost columns differently")
        return sql

    @contextmanager
    def _session(self):
        """A connection for the block; an unreachable database raises StorageUnavailable."""
        try:
            with self._hold():
                yield
        except _UNAVAILABLE as exc:
            raise StorageUnavailable(f"{self.url}: {exc}") from exc

    def _upsert(self, insert, unique_key: list, preserve: list) -> None:
        """Insert, or overwrite ``preserve`` columns of the row with the same unique key."""
        if isinstance(self._db, pw.MySQLDatabase):  # ON DUPLICATE KEY names no key
            unique_key = None
        insert.on_conflict(conflict_target=unique_key, preserve=preserve).execute()

    # -- stored tariff plans -----------------------------------------------------
    def set_tp(self, tpid: str, kind: str, obj_id: str, doc: dict) -> None:
        for what, value in (("tpid", tpid), ("kind", kind), ("id", obj_id)):
            require_id(what, value)
        if not isinstance(doc, dict):
            raise ValueError(f"tariff-plan document must be a dict, got {type(doc).__name__}")
        tp = self._tp
        insert = tp.insert(tpid=tpid, kind=kind, obj_id=obj_id, doc=jsoncodec.encode(doc))
        with self._session():
            self._upsert(insert, [tp.tpid, tp.kind, tp.obj_id], [tp.doc])

    def get_tp(self, tpid: str, kind: str, obj_id: str) -> dict | None:
        tp = self._tp
        query = tp.select(tp.doc).where(tp.tpid == tpid, tp.kind == kind, tp.obj_id == obj_id)
        with self._session():
            text = query.scalar()
        return None if text is None else jsoncodec.decode(text)

    def get_tp_ids(self, tpid: str, kind: str) -> list[str]:
        return sorted(self.get_tp_all(tpid, kind))

    def get_tp_all(self, tpid: str, kind: str) -> dict[str, dict]:
        tp = self._tp
        query = tp.select(tp.obj_id, tp.doc).where(tp.tpid == tpid, tp.kind == kind).tuples()
        with self._session():
            rows = list(query)
        return {obj_id: jsoncodec.decode(text) for obj_id, text in sorted(rows)}

    def remove_tp(self, tpid: str, kind: str | None = None, obj_id: str | None = None) -> int:
        if obj_id is not None and kind is None:
            raise ValueError("remove_tp: an object id needs its kind")
        tp = self._tp
        where = [tp.tpid == tpid]
        if kind is not None:
            where.append(tp.kind == kind)
        if obj_id is not None:
            where.append(tp.obj_id == obj_id)
        with self._session():
            return tp.delete().where(*where).execute()

    def tpids(self) -> list[str]:
        tp = self._tp
        with self._session():
            return [tpid for (tpid,) in tp.select(tp.tpid).distinct().order_by(tp.tpid).tuples()]

    # -- CDRs --------------------------------------------------------------------
    def store_cdrs(self, cdrs: list[dict]) -> int:
        """Every CDR is checked first, so a bad one stores nothing. Then INSERT IGNORE
        runs over all rows: on MySQL as multi-row statements (up to 1 MB each) whose
        text ``mysql_insert_statements`` builds, on SQLite one prepared statement
        stepped in C; peewee's per-value query building would cost more than the
        database does."""
        created_at = now()
        rows = [cdr_to_row(cdr, created_at) for cdr in cdrs]
        if not rows:
            return 0
        fields, head, one_row = self._cdr_insert(tuple(rows[0]))
        mysql = isinstance(self._db, pw.MySQLDatabase)
        if mysql:
            statements = list(mysql_insert_statements(head, rows, _MAX_STATEMENT))
        else:
            values = [tuple(f.db_value(row[f.column_name]) for f in fields) for row in rows]
        # many rows may take several statements: keep them in one transaction
        with self._session(), self._db.atomic() if len(rows) > 1 else nullcontext():
            cursor = self._db.cursor()
            if mysql:
                return sum(cursor.execute(statement) for statement in statements)
            cursor.executemany(one_row, values)
            return cursor.rowcount

    def _cdr_insert(self, columns: tuple) -> tuple[list, str, str]:
        """``(fields, head, one_row)`` of the CDR rows' ``columns`` (cdr_to_row's, the same
        every time): their fields, ``INSERT IGNORE INTO table (columns) VALUES `` and that
        head with one row of parameters (SQLite's statement). Written once, as
        ``_hot_queries``: quoting and joining 21 columns cost as much as a CDR's row."""
        insert = self._cdr_inserts.get(columns)
        if insert is None:
            fields = [self._cdr._meta.columns[column] for column in columns]
            table = self._quote(self._cdr._meta.table_name)
            names = ", ".join(self._quote(f.column_name) for f in fields)
            ignore = "IGNORE" if isinstance(self._db, pw.MySQLDatabase) else "OR IGNORE"
            head = f"INSERT {ignore} INTO {table} ({names}) VALUES "
            marks = ", ".join([self._db.param] * len(fields))
            insert = self._cdr_inserts[columns] = (fields, head, f"{head}({marks})")
        return insert

    def _quote(self, name: str) -> str:
        """A table or column name quoted for this database."""
        open_quote, close_quote = self._db.quote
        return f"{open_quote}{name}{close_quote}"

    def get_cdrs(self, query: dict) -> list[dict]:
        cdr = self._cdr
        select = self._matching(query).order_by(*order_by(cdr, query))
        limit, offset = paging(query)
        if limit is not None:
            select = select.limit(limit)
        if offset:
            select = select.offset(offset)
        with self._session():
            rows = list(select.dicts())
        return [row_to_cdr(row) for row in rows]

    def count_cdrs(self, query: dict) -> int:
        """Matching CDRs, ignoring Limit, Offset and OrderBy."""
        select = self._matching(query)
        order_by(self._cdr, query)  # a bad OrderBy or paging is an error here too
        paging(query)
        with self._session():
            return select.count()

    def update_cdrs(self, cdrs: list[dict]) -> int:
        cdr, changed = self._cdr, 0
        rows = [cdr_to_row(doc) for doc in cdrs]  # every CDR checked before any write
        with self._session(), self._db.atomic():
            for row in rows:
                priced = {name: row[name] for name in _PRICING_COLUMNS}
                where = (cdr.cgrid == row["cgrid"], cdr.run_id == row["run_id"])
                changed += cdr.update(**priced).where(*where).execute()
        return changed

    def stored_runs(self, cgrids: list[str]) -> set[tuple[str, str]]:
        cgrids = sorted(set(cgrids))
        if not cgrids:
            return set()
        marks = ", ".join([self._db.param] * len(cgrids))
        sql = f"{self._stored_runs_sql} IN ({marks})"
        with self._session():
            return {tuple(row) for row in self._db.execute_sql(sql, cgrids).fetchall()}

    def _matching(self, query: dict):
        where = conditions(self._cdr, query)
        select = self._cdr.select()
        return select.where(*where) if where else select

    # -- session costs -------------------------------------------------------------
    def set_session_cost(self, doc: dict) -> None:
        if not isinstance(doc, dict):
            raise ValueError(f"a session cost must be a dict, got {type(doc).__name__}")
        require_id("CGRID", doc.get("CGRID"))
        require_id("RunID", doc.get("RunID"))
        usage = doc.get("Usage") or 0
        if isinstance(usage, bool) or not isinstance(usage, int):
            raise ValueError(f"session cost Usage must be int nanoseconds, got {usage!r}")
        details = doc.get("CostDetails")
        values = (
            doc["CGRID"],
            doc["RunID"],
            doc.get("OriginHost") or "",
            doc.get("OriginID") or "",
            doc.get("CostSource") or "",
            usage,
            None if details is None else json_text(details),
            now(),
        )
        fields = self._session_cost._meta.fields
        params = [
            fields[name].db_value(v) for name, v in zip(_SESSION_COST_COLUMNS, values, strict=True)
        ]
        with self._session():
            self._db.execute_sql(self._session_cost_upsert, params)

    def get_session_cost(self, cgrid: str, run_id: str) -> dict | None:
        with self._session():
            row = self._db.execute_sql(self._session_cost_sql, (cgrid, run_id)).fetchone()
        if row is None:
            return None
        doc = dict(zip(_SESSION_COST_KEYS, row, strict=True))
        details = doc["CostDetails"]
        doc["CostDetails"] = None if details is None else jsoncodec.decode(details)
        return doc

    def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` on one pooled MySQL connection: each check-out pings
        the server, a round trip per StorDB call that a call's CDR commit (session
        cost, duplicate check, insert) would otherwise pay three times. SQLite has one
        connection, taken per call.

        What ``fn`` does with an unreachable database stays its own: with no connection
        to be had, ``fn`` runs without one held (each call then fails as alone, and the
        CDR path spools); a connection that cannot be given back leaves ``fn``'s outcome
        as it is (peewee forgets it either way; the pool drops it at its next check-out)."""
        if not isinstance(self._db, PooledMySQLDatabase):
            return fn(*args, **kwargs)
        held = self._hold()  # the pool's connection_context
        try:
            held.__enter__()
        except _UNAVAILABLE:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        finally:
            try:
                held.__exit__(None, None, None)
            except _UNAVAILABLE as exc:
                log.warning("%s: a connection could not be given back: %s", self.url, exc)

    def flush(self) -> None:
        with self._session(), self._db.atomic():
            for model in (self._tp, self._cdr, self._session_cost):
                model.delete().execute()

    def close(self) -> None:
        if isinstance(self._db, PooledMySQLDatabase):
            self._db.close_all()
        else:
            self._db.close()


class _MySQLPool(PooledMySQLDatabase):
    def _can_reuse(self, conn) -> bool:
        """PyMySQL knows from the server's last reply whether a transaction is open,
        so a clean connection goes back to the pool without a ROLLBACK round trip."""
        if conn.server_status is not None and not conn.server_status & SERVER_STATUS_IN_TRANS:
            return True
        return super()._can_reuse(conn)


def _mysql(parts, connect_timeout, read_timeout, write_timeout, max_connections):
    database = parts.path.strip("/")
    if not database or parts.query:
        raise ValueError(f"MySQL URL is mysql://user:password@host:port/database, got {parts.path}")
    return _MySQLPool(
        database,
        max_connections=max_connections,
        stale_timeout=300,
        timeout=connect_timeout,  # longest wait for a free pooled connection
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        write_timeout=write_timeout,
        field_types={"DATETIME": "DATETIME(6)"},
    )


def _sqlite(url: str, busy_timeout: float):
    """``sqlite://:memory:`` or ``sqlite:///`` + a file path (``sqlite:////var/x.sqlite``)."""
    memory = url == "sqlite://:memory:"
    path = ":memory:" if memory else url.removeprefix("sqlite:///")
    if path in ("", url) or "?" in path:
        raise ValueError(f"SQLite URL is sqlite:///<file path> or sqlite://:memory:, got {url!r}")
    db = pw.SqliteDatabase(
        path,
        thread_safe=False,
        check_same_thread=False,
        timeout=busy_timeout,
        pragmas={} if memory else {"journal_mode": "wal", "synchronous": "normal"},
    )
    db.connect()
    return db
