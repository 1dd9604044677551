"""Importing contracts from a CSV file: upserts contracts and emits one
`contract.signed` event per new contract, dated at local midnight of its start.

Status: a file may give it (`--status-column`: active, ended or cancelled). Where it
does not (no such column, or an empty cell), a contract whose end date is before
today (local) is `ended`, any other `active`, and a contract stored as `cancelled`
stays cancelled: cancelling is decided outside the file. The indices read the
dates, and skip cancelled contracts entirely (a cancelled contract is void: never
active, new or ended)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, update

from .csvimport import ImportReport, check_external_id, known_rows, read_records
from .db import Database, now_utc
from .errors import InvalidValue
from .events import ENTITY_ID_MAX, EventWriter, parse_instant
from .localtime import day_start, local_today
from .schema import contracts

log = logging.getLogger(__name__)

MODULE = "fin"
EVENT_TYPE = "contract.signed"
# Derived from the contract id: re-importing can never store the event twice.
EVENT_NAMESPACE = uuid.UUID("3b8e2a64-5c1f-4f0e-8d7a-636f6e747261")
STATUSES = ("active", "ended", "cancelled")
CENT = Decimal("0.01")
MRR_MAX = Decimal("1e16")  # Money is NUMERIC(18, 2)
FIELDS = ("start_date", "end_date", "mrr", "client_ref", "status")

ContractImportReport = ImportReport


@dataclass(frozen=True)
class ContractColumns:
    """The header names of each role in the file; None: not in this file."""

    id: str
    start: str
    end: str | None = None
    mrr: str | None = None
    client: str | None = None
    status: str | None = None

    def as_roles(self) -> dict[str, str | None]:
        return {"id": self.id, "start": self.start, "end": self.end,
                "mrr": self.mrr, "client": self.client, "status": self.status}


def contract_event_id(external_id: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, external_id))


def import_contracts(db: Database, path: Path, *, id_column: str, start_column: str,
                     end_column: str | None = None, mrr_column: str | None = None,
                     client_column: str | None = None,
                     status_column: str | None = None,
                     date_format: str | None = None, skip_invalid: bool = False,
                     show_progress: bool = False) -> ContractImportReport:
    """Import a file in one transaction; any reject stores nothing unless skipped.

    Columns not given leave the stored values of known contracts as they are; a
    new contract without an MRR column gets an MRR of 0."""
    columns = ContractColumns(id_column, start_column, end_column, mrr_column,
                              client_column, status_column)
    report = ContractImportReport()

    def parse(record: dict[str, str]) -> dict[str, Any]:
        return parse_contract(record, columns, db, date_format)

    found = read_records(path, columns.as_roles(), parse, report, noun="contract",
                         skip_invalid=skip_invalid, show_progress=show_progress)
    with db.begin(write=True) as conn:
        _store(db, conn, found, report)
    report.finish("contracts", path, log)
    return report


def parse_contract(record: dict[str, str], columns: ContractColumns, db: Database,
                   date_format: str | None) -> dict[str, Any]:
    """The values a record gives: `external_id`, and only the fields of the
    columns the file has."""
    given: dict[str, Any] = {
        "external_id": check_external_id(record["id"], columns.id, "contract",
                                         ENTITY_ID_MAX),
        "start_date": _local_date(record["start"], columns.start, db, date_format),
    }
    if columns.end is not None:
        given["end_date"] = (_local_date(record["end"], columns.end, db, date_format)
                             if record["end"] else None)
        if given["end_date"] and given["end_date"] < given["start_date"]:
            raise InvalidValue(columns.end, record["end"],
                               f"ends before the contract starts "
                               f"({given['start_date']})")
    if columns.mrr is not None:
        given["mrr"] = parse_mrr(record["mrr"], columns.mrr)
    if columns.client is not None:
        given["client_ref"] = record["client"] or None
    if columns.status is not None and record["status"]:
        given["status"] = _status(record["status"], columns.status, given)
    return given


def _local_date(text: str, column: str, db: Database,
                date_format: str | None) -> date:
    # A value with a time of day (e.g. won_date) is dated on its local day.
    return parse_instant(text, db.tz, column, date_format).astimezone(db.tz).date()


def parse_mrr(text: str, column: str) -> Decimal:
    if not text:
        raise InvalidValue(column, text, "an MRR is required (write 0 for none)")
    if "," in text:
        raise InvalidValue(column, text,
                           "use a point as the decimal separator and no thousands "
                           "separator, e.g. 1234.10")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(column, text, "not a number") from None
    if not value.is_finite() or value < 0 or value >= MRR_MAX:
        raise InvalidValue(column, text, "must be a number from 0 to 10^16")
    if value != value.quantize(CENT):
        raise InvalidValue(column, text, "has more than 2 decimal places")
    return value.quantize(CENT)


def _status(text: str, column: str, given: dict[str, Any]) -> str:
    status = text.strip().lower()
    if status not in STATUSES:
        raise InvalidValue(column, text, f"must be one of {', '.join(STATUSES)}")
    if status == "ended" and given.get("end_date") is None:
        raise InvalidValue(column, text, "an ended contract needs an end date")
    return status


def _merged(given: dict[str, Any], stored: dict[str, Any] | None,
            today: date) -> dict[str, Any]:
    """The contract as it should be stored: the stored values, overwritten by
    what the file gives, with a status derived unless the file gave one."""
    base = stored or {"end_date": None, "mrr": Decimal("0.00"), "client_ref": None,
                      "status": None}
    merged = {**base, **{k: v for k, v in given.items() if k in FIELDS}}
    if "status" not in given:
        merged["status"] = _derived_status(merged, base["status"], today)
    return merged


def _derived_status(contract: dict[str, Any], stored: str | None,
                    today: date) -> str:
    if stored == "cancelled":
        return stored
    end = contract["end_date"]
    return "ended" if end is not None and end < today else "active"


def _store(db: Database, conn: Connection, found: list[dict[str, Any]],
           report: ContractImportReport) -> None:
    known = known_rows(conn, contracts, [c["external_id"] for c in found], FIELDS)
    today, now = local_today(db.tz), now_utc()
    new, changed = [], []
    for given in found:
        stored = known.get(given["external_id"])
        contract = {"external_id": given["external_id"],
                    **_merged(given, stored, today)}
        if stored is None:
            new.append(contract)
        elif stored != {name: contract[name] for name in FIELDS}:
            changed.append(contract)
    report.unchanged = len(found) - len(new) - len(changed)
    if new:
        conn.execute(insert(contracts), [
            {**contract, "created_at": now, "updated_at": now} for contract in new
        ])
    for contract in changed:
        conn.execute(
            update(contracts)
            .where(contracts.c.external_id == contract["external_id"])
            .values(**{name: contract[name] for name in FIELDS}, updated_at=now)
        )
    report.new, report.updated = len(new), len(changed)
    events = [_event(contract, db) for contract in new]
    report.events, _ = EventWriter(db).insert_rows(conn, events)


def _event(contract: dict[str, Any], db: Database) -> dict[str, Any]:
    # Like a lead's, a contract's event keeps the start it was first imported with.
    payload = {"mrr": str(contract["mrr"])}
    if contract["client_ref"]:
        payload["client_ref"] = contract["client_ref"]
    return {"event_id": contract_event_id(contract["external_id"]),
            "module": MODULE, "event_type": EVENT_TYPE,
            "entity_id": contract["external_id"], "payload": payload,
            "occurred_at": day_start(contract["start_date"], db.tz)}
