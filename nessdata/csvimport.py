"""The steps the CSV imports of business records share (leads, contracts): read and
parse every record, collect rejects, refuse an id repeated with other values, look
the ids up in the database and tell new records from changed ones."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from .csvfile import read_columns
from .errors import InvalidValue, RejectedInput
from .progress import Progress

LOOKUP_CHUNK = 500

Parser = Callable[[dict[str, str]], dict[str, Any]]


@dataclass
class ImportReport:
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    rejected: list[InvalidValue] = field(default_factory=list)
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "new": self.new, "updated": self.updated,
                "unchanged": self.unchanged, "events": self.events,
                "rejected": len(self.rejected),
                "rejects": [r.as_dict() for r in self.rejected]}

    def finish(self, what: str, path: Path, log: logging.Logger) -> None:
        """Time the import and log its one INFO line."""
        self.seconds = time.perf_counter() - self.started
        log.info("%s import %s: %d read, %d new, %d updated, %d unchanged, "
                 "%d events, %d rejected in %.2fs", what, path, self.read, self.new,
                 self.updated, self.unchanged, self.events, len(self.rejected),
                 self.seconds)


def read_records(path: Path, columns: Mapping[str, str | None], parse: Parser,
                 report: ImportReport, *, noun: str, skip_invalid: bool,
                 show_progress: bool) -> list[dict[str, Any]]:
    """The parsed records of a file, one per `external_id`, each with its `line`.

    `parse` turns {role: text} into a dict holding `external_id`, or raises
    InvalidValue. Any reject raises RejectedInput unless `skip_invalid`."""
    records: dict[str, dict[str, Any]] = {}
    with Progress(f"reading {path.name}", show=show_progress) as progress:
        for line, raw in progress.track(read_columns(path, columns)):
            report.read += 1
            try:
                if isinstance(raw, InvalidValue):
                    raise raw
                record = parse(raw)
                _check_repeat(records.get(record["external_id"]), record,
                              columns["id"], noun)
            except InvalidValue as exc:
                exc.line = line
                report.rejected.append(exc)
                continue
            records.setdefault(record["external_id"], {**record, "line": line})
    if report.rejected and not skip_invalid:
        raise RejectedInput(report.rejected, str(path))
    return list(records.values())


def _check_repeat(first: dict[str, Any] | None, record: dict[str, Any],
                  id_column: str | None, noun: str) -> None:
    if first is None:
        return
    if {key: value for key, value in first.items() if key != "line"} != record:
        raise InvalidValue(id_column, record["external_id"],
                           f"repeats the {noun} of line {first['line']} with other "
                           "values")


def check_external_id(value: str, column: str | None, noun: str,
                      longest: int) -> str:
    if not value:
        raise InvalidValue(column, value, f"the {noun} id is empty")
    if len(value) > longest:
        raise InvalidValue(column, value, f"longer than {longest} characters")
    return value


def known_rows(conn: Connection, table: Table, ids: list[str],
               fields: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """{external_id: {field: stored value}} of the ids already stored."""
    known = {}
    columns = [table.c[name] for name in fields]
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = conn.execute(
            select(table.c.external_id, *columns)
            .where(table.c.external_id.in_(ids[start:start + LOOKUP_CHUNK]))
        ).mappings()
        known.update({row["external_id"]: {name: row[name] for name in fields}
                      for row in rows})
    return known
