"""Importing inbound leads from a CSV file: upserts inbound_leads and emits one
`lead.created` event per new lead, dated at the lead's creation."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, update

from .csvimport import ImportReport, check_external_id, known_rows, read_records
from .db import Database, now_utc
from .events import ENTITY_ID_MAX, EventWriter, parse_instant
from .schema import inbound_leads

log = logging.getLogger(__name__)

MODULE = "growth"
EVENT_TYPE = "lead.created"
# Event ids are derived from the lead id, so importing a file twice (or two files
# naming the same lead) can never store the lead's event twice.
EVENT_NAMESPACE = uuid.UUID("6f1f3b59-1d0e-4c55-9a55-6c65616473a1")
FIELDS = ("created_at", "source")

# The report of a lead import; the contract import reports the same counts.
LeadImportReport = ImportReport


def lead_event_id(external_id: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, external_id))


def import_leads(db: Database, path: Path, *, id_column: str, created_at_column: str,
                 source_column: str | None = None, date_format: str | None = None,
                 skip_invalid: bool = False, show_progress: bool = False
                 ) -> LeadImportReport:
    """Import a file in one transaction; any reject stores nothing unless skipped."""
    report = LeadImportReport()
    columns = {"id": id_column, "created_at": created_at_column,
               "source": source_column}

    def parse(record: dict[str, str]) -> dict[str, Any]:
        return _lead(record, columns, db, date_format)

    leads = read_records(path, columns, parse, report, noun="lead",
                         skip_invalid=skip_invalid, show_progress=show_progress)
    # Without a source column the stored sources are left as they are.
    fields = FIELDS if source_column else ("created_at",)
    with db.begin(write=True) as conn:
        # Two imports at once would both take a lead for new: one waits instead.
        db.lock(conn, "leads_import")
        _store(db, conn, leads, fields, report)
    report.finish("leads", path, log)
    return report


def _lead(record: dict[str, str], columns: dict[str, str | None], db: Database,
          date_format: str | None) -> dict[str, Any]:
    external_id = check_external_id(record["id"], columns["id"], "lead",
                                    ENTITY_ID_MAX)
    created_at = parse_instant(record["created_at"], db.tz, columns["created_at"],
                               date_format)
    lead = {"external_id": external_id, "created_at": created_at}
    if columns["source"]:
        lead["source"] = record["source"] or None
    return lead


def _store(db: Database, conn: Connection, leads: list[dict[str, Any]],
           fields: tuple[str, ...], report: LeadImportReport) -> None:
    known = known_rows(conn, inbound_leads, [lead["external_id"] for lead in leads],
                       fields)
    now = now_utc()
    new, changed = [], []
    for lead in leads:
        stored = known.get(lead["external_id"])
        if stored is None:
            new.append(lead)
        elif stored != {name: lead[name] for name in fields}:
            changed.append(lead)
    report.unchanged = len(leads) - len(new) - len(changed)
    if new:
        conn.execute(insert(inbound_leads), [
            {"external_id": lead["external_id"], "created_at": lead["created_at"],
             "source": lead.get("source"), "imported_at": now} for lead in new
        ])
    for lead in changed:
        conn.execute(
            update(inbound_leads)
            .where(inbound_leads.c.external_id == lead["external_id"])
            .values({name: lead[name] for name in fields})
        )
    report.new, report.updated = len(new), len(changed)
    report.events, _ = EventWriter(db).insert_rows(conn, [_event(lead) for lead in new])


def _event(lead: dict[str, Any]) -> dict[str, Any]:
    # A lead whose creation date is later corrected keeps its first event: events
    # are append-only, the lead row holds the corrected date.
    return {"event_id": lead_event_id(lead["external_id"]), "module": MODULE,
            "event_type": EVENT_TYPE, "entity_id": lead["external_id"],
            "payload": {"source": lead["source"]} if lead.get("source") else {},
            "occurred_at": lead["created_at"]}
