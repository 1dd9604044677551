"""Column types shared by the schema and the migrations."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import JSON, BigInteger, DateTime, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc

# SQLite keeps instants as UTC text in this exact shape (26 characters), so that
# comparing two of them as strings compares the instants. Triggers rewrite any other
# shape a plain-SQL writer uses ('T', 'Z', offsets) into it.
SQLITE_INSTANT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
SQLITE_INSTANT_GLOB = (
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] "
    "[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]"
)
SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


class _SQLiteInstant(String):
    """Text on SQLite, declared DATETIME so SQL clients recognise it."""


@compiles(_SQLiteInstant, "sqlite")
def _compile_sqlite_instant(type_, compiler, **kw):
    return "DATETIME"


class UTCDateTime(TypeDecorator):
    """A timezone-aware instant, stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteInstant())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"an aware datetime is required, got {value!r}")
        if dialect.name == "sqlite":
            return to_sqlite_instant(value)
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def to_sqlite_instant(value: datetime) -> str:
    """The one text shape of instants on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff', UTC).

    isoformat pads the year to 4 digits (strftime's %Y does not before 1000), which
    the text comparisons of ranges rely on, and is cheaper than strftime."""
    if value.tzinfo is None:
        raise ValueError(f"an aware datetime is required, got {value!r}")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


JSONType = JSON().with_variant(JSONB(), "postgresql")


class ExactDecimal(TypeDecorator):
    """NUMERIC(precision, scale) on PostgreSQL. On SQLite, whose NUMERIC is a binary
    float, an integer count of 10^-scale units (cents for money), so values and
    SUM() stay exact there too. Values are Decimal in Python either way, rounded
    half away from zero to `scale` places as PostgreSQL rounds them.

    Known limit: on SQLite a value must fit in 64 bits of units (about 9.2e16 for
    scale 2, 9.2e10 for scale 8); a larger one is refused with OverflowError."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int):
        super().__init__(precision, scale, asdecimal=True)
        self.scale = scale
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.impl.precision, self.scale))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"{value!r} is a float: money and rates are Decimal")
        exact = Decimal(value).quantize(self.quantum, rounding=ROUND_HALF_UP)
        if dialect.name == "sqlite":
            return int(exact.scaleb(self.scale))
        return exact

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(self.quantum)

    @property
    def python_type(self):
        return Decimal
