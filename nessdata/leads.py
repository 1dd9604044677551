"""Importing inbound leads from a CSV file: upserts inbound_leads and emits one
`lead.created` event per new lead, dated at the lead's creation."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from .csvfile import read_columns
from .db import Database, now_utc
from .errors import InvalidValue, RejectedInput
from .events import ENTITY_ID_MAX, EventWriter, parse_instant
from .progress import Progress
from .schema import inbound_leads

log = logging.getLogger(__name__)

MODULE = "growth"
EVENT_TYPE = "lead.created"
# Event ids are derived from the lead id, so importing a file twice (or two files
# naming the same lead) can never store the lead's event twice.
EVENT_NAMESPACE = uuid.UUID("6f1f3b59-1d0e-4c55-9a55-6c65616473a1")
LOOKUP_CHUNK = 500


@dataclass
class LeadImportReport:
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    rejected: list[InvalidValue] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "new": self.new, "updated": self.updated,
                "unchanged": self.unchanged, "events": self.events,
                "rejected": len(self.rejected),
                "rejects": [r.as_dict() for r in self.rejected]}


def lead_event_id(external_id: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, external_id))


def import_leads(db: Database, path: Path, *, id_column: str, created_at_column: str,
                 source_column: str | None = None, date_format: str | None = None,
                 skip_invalid: bool = False, show_progress: bool = False
                 ) -> LeadImportReport:
    """Import a file in one transaction; any reject stores nothing unless skipped."""
    started = time.perf_counter()
    report = LeadImportReport()
    columns = {"id": id_column, "created_at": created_at_column,
               "source": source_column}
    leads: dict[str, dict[str, Any]] = {}
    with Progress(f"reading {path.name}", show=show_progress) as progress:
        for line, record in progress.track(read_columns(path, columns)):
            report.read += 1
            try:
                lead = _lead(record, columns, db, date_format)
                _check_repeat(leads.get(lead["external_id"]), lead, id_column)
            except InvalidValue as exc:
                exc.line = line
                report.rejected.append(exc)
                continue
            lead["line"] = line
            leads.setdefault(lead["external_id"], lead)
    if report.rejected and not skip_invalid:
        raise RejectedInput(report.rejected, str(path))
    with db.begin(write=True) as conn:
        _store(db, conn, list(leads.values()), report)
    report.seconds = time.perf_counter() - started
    log.info("leads import %s: %d read, %d new, %d updated, %d unchanged, "
             "%d events, %d rejected in %.2fs", path, report.read, report.new,
             report.updated, report.unchanged, report.events, len(report.rejected),
             report.seconds)
    return report


def _lead(record: dict[str, str], columns: dict[str, str | None], db: Database,
          date_format: str | None) -> dict[str, Any]:
    external_id = record["id"]
    if not external_id:
        raise InvalidValue(columns["id"], external_id, "the lead id is empty")
    if len(external_id) > ENTITY_ID_MAX:
        raise InvalidValue(columns["id"], external_id,
                           f"longer than {ENTITY_ID_MAX} characters")
    created_at = parse_instant(record["created_at"], db.tz, columns["created_at"],
                               date_format)
    return {"external_id": external_id, "created_at": created_at,
            "source": record.get("source") or None}


def _check_repeat(first: dict[str, Any] | None, lead: dict[str, Any],
                  id_column: str) -> None:
    if first is None:
        return
    if (first["created_at"], first["source"]) != (lead["created_at"], lead["source"]):
        raise InvalidValue(id_column, lead["external_id"],
                           f"repeats the lead of line {first['line']} with other "
                           "values")


def _store(db: Database, conn: Connection, leads: list[dict[str, Any]],
           report: LeadImportReport) -> None:
    known = _known(conn, [lead["external_id"] for lead in leads])
    now = now_utc()
    new, changed = [], []
    for lead in leads:
        stored = known.get(lead["external_id"])
        if stored is None:
            new.append(lead)
        elif stored != (lead["created_at"], lead["source"]):
            changed.append(lead)
    report.unchanged = len(leads) - len(new) - len(changed)
    if new:
        conn.execute(insert(inbound_leads), [
            {"external_id": lead["external_id"], "created_at": lead["created_at"],
             "source": lead["source"], "imported_at": now} for lead in new
        ])
    for lead in changed:
        conn.execute(
            update(inbound_leads)
            .where(inbound_leads.c.external_id == lead["external_id"])
            .values(created_at=lead["created_at"], source=lead["source"])
        )
    report.new, report.updated = len(new), len(changed)
    report.events, _ = EventWriter(db).insert_rows(conn, [_event(lead) for lead in new])


def _known(conn: Connection, ids: list[str]) -> dict[str, tuple]:
    known = {}
    il = inbound_leads.c
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = conn.execute(
            select(il.external_id, il.created_at, il.source)
            .where(il.external_id.in_(ids[start:start + LOOKUP_CHUNK]))
        )
        known.update({row.external_id: (row.created_at, row.source) for row in rows})
    return known


def _event(lead: dict[str, Any]) -> dict[str, Any]:
    # A lead whose creation date is later corrected keeps its first event: events
    # are append-only, the lead row holds the corrected date.
    return {"event_id": lead_event_id(lead["external_id"]), "module": MODULE,
            "event_type": EVENT_TYPE, "entity_id": lead["external_id"],
            "payload": {"source": lead["source"]} if lead["source"] else {},
            "occurred_at": lead["created_at"]}
