"""Writing events: validation, idempotent batches, and file imports."""

from __future__ import annotations

import csv
import gc
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.errors import UniqueViolation
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database, now_utc
from .errors import InvalidValue, NessdataError, RejectedInput
from .localtime import EARLIEST, LATEST
from .progress import Progress
from .schema import module_events
from .types import to_sqlite_instant

log = logging.getLogger(__name__)

MODULE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
EVENT_TYPE_MAX = 64
ENTITY_ID_MAX = 255
DEFAULT_MAX_PAYLOAD = 65536
COLUMNS = ("event_id", "module", "event_type", "entity_id", "payload", "occurred_at")
KNOWN_FIELDS = frozenset(COLUMNS)
BATCH_SIZE = 5000
# From this many rows a batch takes the bulk path: COPY through a staging table on
# PostgreSQL, a plain prepared INSERT on SQLite, both without SQLAlchemy's per-row
# type processing. Smaller batches gain nothing from it.
BULK_MIN_ROWS = 500
# The form str(uuid.UUID(x)) gives: such an id needs no parsing to canonicalise.
CANONICAL_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
UTC = ZoneInfo("UTC")
PG_STAGE = "nessdata_event_stage"
# json.dumps builds an encoder per call when given options; one is enough.
# allow_nan=False: NaN and Infinity are not JSON, and PostgreSQL refuses them.
JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


@dataclass
class WriteReport:
    """What a batch or an import did."""

    inserted: int = 0
    duplicates: int = 0
    rejected: list[InvalidValue] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "rejects": [r.as_dict() for r in self.rejected],
        }


def parse_instant(value: Any, tz: ZoneInfo, field_name: str = "occurred_at",
                  date_format: str | None = None) -> datetime:
    """An aware UTC datetime from a datetime, a date, or text; naive means local."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, dtime())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if date_format:
                parsed = datetime.strptime(text, date_format)
            else:
                parsed = datetime.fromisoformat(text)
        except ValueError:
            expected = f"format {date_format}" if date_format else "ISO 8601"
            raise InvalidValue(field_name, value, f"not a date/time ({expected})")
    else:
        raise InvalidValue(field_name, value, "a date/time is required")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    parsed = parsed.astimezone(UTC)
    if not EARLIEST <= parsed < LATEST:
        raise InvalidValue(field_name, value, f"outside the years {EARLIEST.year} "
                           f"to {LATEST.year - 1} that nessdata counts")
    return parsed


def validate(raw: Mapping[str, Any], tz: ZoneInfo, now: datetime,
             max_payload: int = DEFAULT_MAX_PAYLOAD) -> dict[str, Any]:
    """One event as the row to insert, or InvalidValue naming the bad field."""
    if not KNOWN_FIELDS.issuperset(raw):
        name = sorted(raw.keys() - KNOWN_FIELDS)[0]
        raise InvalidValue(name, raw[name], f"unknown field; expected {', '.join(COLUMNS)}")
    module = raw.get("module")
    event_type = raw.get("event_type")
    if (isinstance(module, str) and module in _VALID_MODULES
            and isinstance(event_type, str) and event_type in _VALID_TYPES):
        return _row(raw, module, event_type, tz, now, max_payload)
    for name, given in (("module", module), ("event_type", event_type)):
        if given in (None, ""):
            raise InvalidValue(name, given, "is missing")
    if not isinstance(module, str) or not MODULE_RE.match(module):
        raise InvalidValue("module", module,
                           "must be a lowercase identifier of at most 32 characters, "
                           "e.g. growth")
    if (not isinstance(event_type, str) or len(event_type) > EVENT_TYPE_MAX
            or not EVENT_TYPE_RE.match(event_type)):
        raise InvalidValue("event_type", event_type,
                           "must be lowercase dotted identifiers of at most 64 "
                           "characters, e.g. lead.created")
    _remember(_VALID_MODULES, module)
    _remember(_VALID_TYPES, event_type)
    return _row(raw, module, event_type, tz, now, max_payload)


# Names already found valid: a batch repeats a few modules and types, and their
# regular expressions are a good part of the cost of validating an event.
_VALID_MODULES: set[str] = set()
_VALID_TYPES: set[str] = set()
VALID_NAMES_KEPT = 10_000


def _remember(known: set[str], name: str) -> None:
    if len(known) < VALID_NAMES_KEPT:
        known.add(name)


def _row(raw: Mapping[str, Any], module: str, event_type: str, tz: ZoneInfo,
         now: datetime, max_payload: int) -> dict[str, Any]:
    return {
        "event_id": _event_id(raw.get("event_id")),
        "module": module,
        "event_type": event_type,
        "entity_id": _entity_id(raw.get("entity_id")),
        "payload": _payload(raw.get("payload"), max_payload),
        "occurred_at": (now if raw.get("occurred_at") in (None, "")
                        else parse_instant(raw["occurred_at"], tz)),
    }


def _event_id(value: Any) -> str:
    if value in (None, ""):
        return str(uuid.uuid4())
    if isinstance(value, str) and CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidValue("event_id", value, "must be a UUID") from None


def _entity_id(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidValue("entity_id", value, "must be text or an integer")
    text = str(value)
    if "\x00" in text:
        raise InvalidValue("entity_id", value, "contains a NUL character")
    if len(text) > ENTITY_ID_MAX:
        raise InvalidValue("entity_id", value, f"longer than {ENTITY_ID_MAX} characters")
    return text


def _payload(value: Any, max_bytes: int) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    given = value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InvalidValue("payload", given, "is not valid JSON") from None
        except RecursionError:
            raise InvalidValue("payload", given, "is nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidValue("payload", given, "must be a JSON object")
    try:
        text = JSON_ENCODER.encode(value)
    except RecursionError:
        raise InvalidValue("payload", given, "is nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise InvalidValue("payload", given, f"cannot be stored as JSON: {exc}") from None
    if "\\u0000" in text or "\x00" in text:
        raise InvalidValue("payload", given, "contains a NUL character (\\u0000), "
                           "which PostgreSQL cannot store")
    size = len(text) if text.isascii() else len(text.encode())
    if size > max_bytes:
        raise InvalidValue("payload", f"<{size} bytes>", f"larger than {max_bytes} bytes")
    payload = JSONObject(value)
    payload.text = text
    return payload


class JSONObject(dict):
    """A validated payload that keeps the JSON text its size was measured on, so
    the bulk path does not serialise it twice. Rows are not changed between
    validation and insert; a payload changed after validation must be a new dict."""

    __slots__ = ("text",)


class EventWriter:
    """Validates and stores events; an event_id already stored is a duplicate."""

    def __init__(self, db: Database, max_payload: int = DEFAULT_MAX_PAYLOAD):
        self.db = db
        self.max_payload = max_payload

    def emit(self, module: str, event_type: str, *, entity_id=None, payload=None,
             occurred_at=None, event_id=None) -> str:
        """Store one event and return its event_id (also when it was a duplicate)."""
        row = validate(
            {"event_id": event_id, "module": module, "event_type": event_type,
             "entity_id": entity_id, "payload": payload, "occurred_at": occurred_at},
            self.db.tz, now_utc(), self.max_payload,
        )
        with self.db.begin(write=True) as conn:
            self.insert_rows(conn, [row])
        return row["event_id"]

    def emit_many(self, events: Iterable[Mapping[str, Any]], *,
                  skip_invalid: bool = False, source: str = "batch") -> WriteReport:
        """Store a batch in one transaction. With invalid events nothing is stored,
        unless skip_invalid, where only the valid ones are."""
        started = time.perf_counter()
        report = WriteReport()
        rows = self.validate_all(enumerate(events, start=1), report)
        if report.rejected and not skip_invalid:
            raise RejectedInput(report.rejected, source)
        with self.db.begin(write=True) as conn:
            report.inserted, report.duplicates = self.insert_rows(conn, rows)
        report.seconds = time.perf_counter() - started
        return report

    def validate_all(self, numbered, report: WriteReport) -> list[dict]:
        """Rows for the valid (number, event) pairs; rejects go into the report."""
        now = now_utc()
        rows = []
        with _cyclic_gc_paused():
            for number, raw in numbered:
                try:
                    if isinstance(raw, InvalidValue):
                        raise raw
                    if not isinstance(raw, Mapping):
                        raise InvalidValue("event", raw, "must be a JSON object")
                    rows.append(validate(raw, self.db.tz, now, self.max_payload))
                except InvalidValue as exc:
                    exc.line = number
                    report.rejected.append(exc)
        return rows

    def insert_rows(self, conn: Connection, rows: list[dict]) -> tuple[int, int]:
        """Insert validated rows, skipping stored event_ids: (inserted, duplicates)."""
        # The first row of an event_id wins; later ones are duplicates, as they
        # would be in a later batch.
        first: dict[str, dict] = {}
        for row in rows:
            first.setdefault(row["event_id"], row)
        unique = list(first.values())
        within_batch = len(rows) - len(unique)
        if len(unique) >= BULK_MIN_ROWS:
            inserted = bulk_insert(conn, unique)
        else:
            inserted = self._insert_chunks(conn, unique)
        return inserted, within_batch + len(unique) - inserted

    def _insert_chunks(self, conn: Connection, unique: list[dict]) -> int:
        inserted = 0
        for start in range(0, len(unique), BATCH_SIZE):
            chunk = unique[start:start + BATCH_SIZE]
            # RETURNING counts what was really inserted: drivers disagree on
            # rowcount for executemany, RETURNING rows are exact on both.
            result = conn.execute(self._insert_ignoring_duplicates(), chunk)
            inserted += len(result.all())
        return inserted

    def _insert_ignoring_duplicates(self):
        dialect_insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        return (
            dialect_insert(module_events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(module_events.c.id)
        )


@contextmanager
def _cyclic_gc_paused():
    """A million new row dicts would set off full cyclic collections again and
    again (a sixth of the validation time); rows hold no cycles, so collecting
    can wait. Whoever found the collector on turns it back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def bulk_insert(conn: Connection, rows: list[dict]) -> int:
    """Insert rows with distinct event_ids, skipping stored ones: how many were new.

    COPY on PostgreSQL (one statement, so its statement triggers run once);
    prepared INSERTs by the thousand on SQLite, whose summed rowcount is exact."""
    if conn.dialect.name == "postgresql":
        return _copy_insert(conn, rows)
    sql = (f"INSERT INTO module_events ({', '.join(COLUMNS)}) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING")
    inserted = 0
    for start in range(0, len(rows), BATCH_SIZE):
        chunk = rows[start:start + BATCH_SIZE]
        values = [_as_tuple(row, to_sqlite_instant) for row in chunk]
        inserted += conn.exec_driver_sql(sql, values).rowcount
    return inserted


def _copy_insert(conn: Connection, rows: list[dict]) -> int:
    """COPY straight into module_events: new events, the usual case, go in at the
    database's own speed. A stored event_id (a re-import, a concurrent writer)
    fails the COPY where it meets it; then the staging table's INSERT … ON
    CONFLICT DO NOTHING stores the batch instead, skipping what is stored."""
    try:
        with conn.begin_nested():
            _copy(conn, "module_events", rows)
        return len(rows)
    except UniqueViolation:
        return _insert_via_stage(conn, rows)


def _copy(conn: Connection, table: str, rows: list[dict]) -> None:
    with conn.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_as_tuple(row, _aware))


def _insert_via_stage(conn: Connection, rows: list[dict]) -> int:
    columns = ", ".join(COLUMNS)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {PG_STAGE} (event_id text, module text, "
        "event_type text, entity_id text, payload jsonb, occurred_at timestamptz) "
        "ON COMMIT DELETE ROWS"
    )
    _copy(conn, PG_STAGE, rows)
    inserted = conn.exec_driver_sql(
        f"INSERT INTO module_events ({columns}) SELECT {columns} FROM {PG_STAGE} "
        "ON CONFLICT (event_id) DO NOTHING"
    ).rowcount
    conn.exec_driver_sql(f"TRUNCATE {PG_STAGE}")
    return inserted


def _as_tuple(row: dict, instant) -> tuple:
    payload = row["payload"]
    text = payload.text if isinstance(payload, JSONObject) else json.dumps(payload)
    return (row["event_id"], row["module"], row["event_type"], row["entity_id"],
            text, instant(row["occurred_at"]))


def _aware(value: datetime) -> datetime:
    # COPY writes what it is given: a naive instant would be read as UTC silently.
    if value.tzinfo is None:
        raise ValueError(f"an aware datetime is required, got {value!r}")
    return value


def emit(db: Database, module: str, event_type: str, **fields) -> str:
    return EventWriter(db).emit(module, event_type, **fields)


def emit_many(db: Database, events: Iterable[Mapping[str, Any]], **options) -> WriteReport:
    return EventWriter(db).emit_many(events, **options)


def read_event_file(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, raw event) from JSON Lines or CSV, by the file's extension."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _utf8(path, _read_jsonl(path))
    if suffix == ".csv":
        return _utf8(path, _read_csv(path))
    raise NessdataError(
        f"{path}: unknown file type {suffix or '(none)'}; use .jsonl or .csv"
    )


def _utf8(path: Path, records: Iterator) -> Iterator:
    try:
        yield from records
    except UnicodeDecodeError as exc:
        raise NessdataError(
            f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8, e.g. "
            "`iconv -f cp1252 -t utf-8 in.csv > out.csv`"
        ) from exc


def _read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, InvalidValue("line", line.strip(), f"not JSON: {exc.msg}")
            except RecursionError:
                yield number, InvalidValue("line", line.strip(), "nested too deeply")


def _read_csv(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"module", "event_type"} - set(reader.fieldnames or ())
        if missing:
            raise NessdataError(
                f"{path}: the CSV header lacks {', '.join(sorted(missing))}; "
                f"expected columns {', '.join(COLUMNS)}"
            )
        header = reader.fieldnames or []
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise NessdataError(f"{path}: the header names {', '.join(repeated)} "
                                "more than once")
        for row in reader:
            # The header is line 1; a record's first line is what we report.
            if None in row:
                yield reader.line_num, InvalidValue(
                    "line", ",".join(row[None]), f"{len(header) + len(row[None])} "
                    f"values under a header of {len(header)} columns")
                continue
            yield reader.line_num, row


def import_events(db: Database, path: Path, *, skip_invalid: bool = False,
                  show_progress: bool = False) -> WriteReport:
    """Import a file in one transaction; any reject stores nothing unless skipped."""
    started = time.perf_counter()
    writer = EventWriter(db)
    report = WriteReport()
    with Progress(f"reading {path.name}", show=show_progress) as progress:
        rows = writer.validate_all(progress.track(read_event_file(path)), report)
    if report.rejected and not skip_invalid:
        raise RejectedInput(report.rejected, str(path))
    with db.begin(write=True) as conn:
        report.inserted, report.duplicates = writer.insert_rows(conn, rows)
    report.seconds = time.perf_counter() - started
    log.info(
        "imported %s: %d inserted, %d duplicates, %d rejected in %.2fs",
        path, report.inserted, report.duplicates, len(report.rejected), report.seconds,
    )
    return report
