"""The StorDB tables as peewee models, built per database so two StorDBs can coexist.

The ``cdrs`` and ``session_costs`` columns follow CGrateS' tables. Differences:
``cost`` is DECIMAL(20,8) (exact) and times keep microseconds; on MySQL every
table uses the binary collation, so text compares exactly as on SQLite.
SQLite has no exact decimal type, so there ``cost`` is an integer count of
1e-8 units. Both backends hold every cost below ±COST_LIMIT exactly.
"""

from datetime import datetime
from decimal import Decimal

import peewee as pw

from fs_cgr.times import UTC

COST_DECIMALS = 8
COST_LIMIT = Decimal(10) ** 10  # SQLite's 64-bit integers hold ±9.2e10 at 8 decimals
_COST_SCALE = Decimal(10) ** COST_DECIMALS


class UTCDateTimeField(pw.DateTimeField):
    """Aware UTC datetimes, stored naive in UTC with microseconds.

    On SQLite the text always has six fraction digits, so text order is time order.
    """

    def db_value(self, value):
        if value is None:
            return None
        naive = value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(self.model._meta.database, pw.SqliteDatabase):
            return naive.isoformat(sep=" ", timespec="microseconds")
        return naive

    def python_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


class ScaledDecimalField(pw.BigIntegerField):
    """An exact Decimal on SQLite, kept as an integer number of 1e-8 units."""

    def db_value(self, value):
        if value is None:
            return None
        scaled = Decimal(value) * _COST_SCALE
        # A stored cost is always whole here; a filter bound may not be, and SQLite
        # compares an integer column with a REAL bound numerically.
        return int(scaled) if scaled == scaled.to_integral_value() else float(scaled)

    def python_value(self, value):
        return None if value is None else Decimal(value) / _COST_SCALE


class JSONTextField(pw.TextField):
    """JSON text from fs_cgr.jsoncodec. ``long`` = LONGTEXT (MySQL's TEXT stops at 64 KiB).

    On MySQL it goes to PyMySQL as UTF-8 bytes, which PyMySQL sends as a hex
    literal at C speed; escaping a str costs it a Python-level pass per character.
    """

    def __init__(self, *args, long: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if long:
            self.field_type = "LONGTEXT"

    def db_value(self, value):
        if value is not None and isinstance(self.model._meta.database, pw.MySQLDatabase):
            return value.encode()
        return value


def build_models(db: pw.Database, table_prefix: str = "") -> tuple[type, type, type]:
    """``(TPObject, CDR, SessionCost)`` bound to ``db``."""
    mysql = isinstance(db, pw.MySQLDatabase)

    class Base(pw.Model):
        class Meta:
            database = db
            legacy_table_names = False  # index names start with the (prefixed) table name
            table_settings = ["DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"] if mysql else None

    class TPObject(Base):
        tpid = pw.CharField(64)
        kind = pw.CharField(64)
        obj_id = pw.CharField(255)
        doc = JSONTextField(long=True)

        class Meta:
            table_name = table_prefix + "tp_objects"
            indexes = ((("tpid", "kind", "obj_id"), True),)

    class CDR(Base):
        id = pw.BigAutoField()
        cgrid = pw.CharField(40)
        run_id = pw.CharField(64)
        origin_host = pw.CharField(64)
        source = pw.CharField(64)
        origin_id = pw.CharField(128)
        tor = pw.CharField(16)
        request_type = pw.CharField(24)
        tenant = pw.CharField(64, index=True)
        category = pw.CharField(64)
        account = pw.CharField(128, index=True)
        subject = pw.CharField(128)
        destination = pw.CharField(128)
        setup_time = UTCDateTimeField(null=True, index=True)
        answer_time = UTCDateTimeField(null=True, index=True)
        usage = pw.BigIntegerField()
        extra_fields = JSONTextField()
        cost_source = pw.CharField(64)
        cost = (
            pw.DecimalField(max_digits=20, decimal_places=COST_DECIMALS)
            if mysql
            else ScaledDecimalField()
        )
        cost_details = JSONTextField(long=True, null=True)
        extra_info = pw.TextField()
        created_at = UTCDateTimeField()

        class Meta:
            table_name = table_prefix + "cdrs"
            indexes = ((("cgrid", "run_id"), True),)

    class SessionCost(Base):
        cgrid = pw.CharField(40)
        run_id = pw.CharField(64)
        origin_host = pw.CharField(64)
        origin_id = pw.CharField(128)
        cost_source = pw.CharField(64)
        usage = pw.BigIntegerField()
        cost_details = JSONTextField(long=True, null=True)
        created_at = UTCDateTimeField()

        class Meta:
            table_name = table_prefix + "session_costs"
            indexes = ((("cgrid", "run_id"), True), (("origin_host", "origin_id"), False))

    return TPObject, CDR, SessionCost
