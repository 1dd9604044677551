"""The Omie syncs: clients into `clients`, and what was billed per client and month
into `erp_revenue_snapshot`. Each run is logged in sync_runs; everything is fetched
before anything is written, and the writes go in one transaction."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, insert, select, update

from ..db import Database, now_utc
from ..errors import InvalidValue, JobBusy, UpstreamError
from ..localtime import local_today, month_start, next_month
from ..progress import Progress
from ..schema import clients, erp_revenue_snapshot, sync_runs
from ..settings import Settings
from ..syncruns import SyncRun, blocked_until, recorded_run
from .client import (
    OmieBlocked,
    OmieClient,
    Page,
    format_date,
    parse_date,
    parse_money,
)

log = logging.getLogger(__name__)

CLIENTS_SOURCE = "omie_clients"
REVENUE_SOURCE = "omie_revenue"
DEFAULT_MONTHS = 3
MAX_MONTHS = 120
CANCELLED = "CANCELADO"
CENT = Decimal("0.01")
T = TypeVar("T")


class SyncCooldown(JobBusy):
    """A manual run came too soon after the previous run of the same sync."""

    def __init__(self, source: str, cooldown: int, seconds_left: int):
        self.seconds_left = seconds_left
        super().__init__(f"the {source} sync ran less than {cooldown} s ago "
                         "(NESSDATA_OMIE_SYNC_COOLDOWN_SECONDS): try again in "
                         f"{seconds_left // 60} min {seconds_left % 60} s")


@dataclass
class ClientsReport:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_by_tag: int = 0
    duplicates: int = 0
    calls: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"fetched": self.fetched, "inserted": self.inserted,
                "updated": self.updated, "unchanged": self.unchanged,
                "skipped_by_tag": self.skipped_by_tag, "duplicates": self.duplicates,
                "calls": self.calls, "seconds": round(self.seconds, 3)}


@dataclass
class MonthRevenue:
    period: date
    totals: dict[int, tuple[Decimal, int]] = field(default_factory=dict)
    titles: int = 0
    cancelled: int = 0
    outside_month: int = 0

    @property
    def valor(self) -> Decimal:
        return sum((value for value, _ in self.totals.values()), Decimal("0.00"))

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period.isoformat(), "clients": len(self.totals),
                "titles": self.titles, "cancelled": self.cancelled,
                "outside_month": self.outside_month, "valor": str(self.valor)}


@dataclass
class RevenueReport:
    months: list[MonthRevenue] = field(default_factory=list)
    rows_written: int = 0
    duplicates: int = 0
    calls: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"months": [m.as_dict() for m in self.months],
                "rows_written": self.rows_written, "duplicates": self.duplicates,
                "calls": self.calls, "seconds": round(self.seconds, 3)}


# -- the public entry points ---------------------------------------------------------

def sync_clients(db: Database, settings: Settings, *, client: OmieClient | None = None,
                 show_progress: bool = False, manual: bool = False) -> ClientsReport:
    """Omie's clients into `clients`: matched on omie_codigo, then on document.

    `manual` runs are refused within the cooldown of the previous run."""
    def work(omie: OmieClient, run: SyncRun) -> ClientsReport:
        return _sync_clients(db, settings, omie, run, show_progress)

    return _logged(db, settings, CLIENTS_SOURCE, {}, client, manual, work)


def sync_revenue(db: Database, settings: Settings, *, since: date | None = None,
                 until: date | None = None, client: OmieClient | None = None,
                 show_progress: bool = False, manual: bool = False) -> RevenueReport:
    """Replace the snapshot of the months since..until (first days of months;
    default the current local month and the two before it) with what Omie billed."""
    months = revenue_months(db, since, until)
    params = {"since": months[0].isoformat(), "until": months[-1].isoformat()}

    def work(omie: OmieClient, run: SyncRun) -> RevenueReport:
        return _sync_revenue(db, omie, run, months, show_progress)

    return _logged(db, settings, REVENUE_SOURCE, params, client, manual, work)


def revenue_months(db: Database, since: date | None, until: date | None,
                   now: datetime | None = None) -> list[date]:
    current = month_start(local_today(db.tz, now))
    for name, value in (("since", since), ("until", until)):
        if value is not None and (not isinstance(value, date) or value.day != 1):
            raise InvalidValue(name, str(value), "must be the first day of a month")
    until = until or current
    since = since or _months_before(until, DEFAULT_MONTHS - 1)
    if until > current:
        raise InvalidValue("until", str(until),
                           f"is after the current month ({current})")
    if since > until:
        raise InvalidValue("since", str(since), f"is after until ({until})")
    months = [since]
    while months[-1] < until:
        months.append(next_month(months[-1]))
    if len(months) > MAX_MONTHS:
        raise InvalidValue("since", str(since),
                           f"more than {MAX_MONTHS} months to sync")
    return months


# -- running and logging -------------------------------------------------------------

def _logged(db: Database, settings: Settings, source: str, params: dict[str, Any],
            client: OmieClient | None, manual: bool,
            work: Callable[[OmieClient, SyncRun], T]) -> T:
    _refuse_if_blocked(db)
    if manual:
        _refuse_in_cooldown(db, source, settings.omie_sync_cooldown_seconds)
    omie = client or OmieClient.from_settings(settings)
    try:
        with recorded_run(db, source, params) as run:
            try:
                return work(omie, run)
            except OmieBlocked as exc:
                run.resume_after = exc.resume_after
                raise
    finally:
        if client is None:
            omie.close()


def _refuse_if_blocked(db: Database) -> None:
    # Omie blocks the key, so a block met by either sync holds both.
    ends = [end for source in (CLIENTS_SOURCE, REVENUE_SOURCE)
            if (end := blocked_until(db, source))]
    if ends:
        end = max(ends)
        raise OmieBlocked(f"Omie blocked the key until {end:%Y-%m-%d %H:%M:%S} UTC; "
                          "no call is made before then", end)


def _refuse_in_cooldown(db: Database, source: str, seconds: int) -> None:
    if seconds <= 0:
        return
    with db.begin() as conn:
        last = conn.execute(
            select(sync_runs.c.started_at, sync_runs.c.finished_at)
            .where(sync_runs.c.source == source, sync_runs.c.status != "running")
            .order_by(sync_runs.c.started_at.desc()).limit(1)
        ).first()
    if last is None:
        return
    left = (last.finished_at or last.started_at) + timedelta(seconds=seconds) - (
        now_utc())
    if left > timedelta(0):
        raise SyncCooldown(source, seconds, math.ceil(left.total_seconds()))


def _page_done(run: SyncRun, bar: Progress) -> Callable[[Page], None]:
    def done(page: Page) -> None:
        run.heartbeat()
        bar.advance()
    return done


# -- clients -------------------------------------------------------------------------

def _sync_clients(db: Database, settings: Settings, omie: OmieClient, run: SyncRun,
                  show_progress: bool) -> ClientsReport:
    started, calls = time.perf_counter(), omie.calls
    report = ClientsReport()
    with Progress("Omie clients (pages)", show=show_progress) as bar:
        rows, report.duplicates = omie.rows(
            "geral/clientes", "ListarClientes", "clientes_cadastro",
            "codigo_cliente_omie",
            {"apenas_importado_api": "N", "ordenar_por": "CODIGO"},
            on_page=_page_done(run, bar))
    report.fetched = len(rows)
    wanted = [row for row in rows if _has_tag(row, settings.omie_client_tag)]
    report.skipped_by_tag = len(rows) - len(wanted)
    records = [client_record(row) for row in wanted]
    with db.begin(write=True) as conn:
        _upsert_clients(conn, records, report)
    run.records_written = report.inserted + report.updated
    report.calls = omie.calls - calls
    report.seconds = time.perf_counter() - started
    log.info("omie clients: %d fetched, %d new, %d updated, %d unchanged, %d not "
             "tagged, %d duplicates, %d calls in %.1fs", report.fetched,
             report.inserted, report.updated, report.unchanged,
             report.skipped_by_tag, report.duplicates, report.calls, report.seconds)
    return report


def client_record(row: dict[str, Any]) -> dict[str, Any]:
    code = row.get("codigo_cliente_omie")
    if isinstance(code, bool) or not isinstance(code, int):
        raise UpstreamError(f"Omie sent codigo_cliente_omie={code!r}: not a client "
                            "code", source="omie")
    name = (row.get("razao_social") or row.get("nome_fantasia") or "").strip()
    return {
        "omie_codigo": code,
        "name": name or f"Omie client {code}",
        "trade_name": (row.get("nome_fantasia") or "").strip() or None,
        "document": document_digits(row.get("cnpj_cpf")),
        "omie_integration_code": (row.get("codigo_cliente_integracao") or None),
        "active": str(row.get("inativo") or "N").upper() != "S",
    }


def document_digits(value: Any) -> str | None:
    """CNPJ (14 digits) or CPF (11) without punctuation; anything else → None."""
    digits = re.sub(r"\D", "", str(value or ""))
    return digits if len(digits) in (11, 14) else None


def _has_tag(row: dict[str, Any], tag: str | None) -> bool:
    if not tag:
        return True
    tags = {str(t.get("tag", "")).strip().casefold()
            for t in row.get("tags") or [] if isinstance(t, dict)}
    return tag.strip().casefold() in tags


def _upsert_clients(conn: Connection, records: list[dict[str, Any]],
                    report: ClientsReport) -> None:
    c = clients.c
    known = conn.execute(select(c.id, c.omie_codigo, c.name, c.trade_name,
                                c.document, c.omie_integration_code, c.active)
                         .order_by(c.id)).mappings().all()
    by_code = {row["omie_codigo"]: row for row in known if row["omie_codigo"]}
    by_document: dict[str, Any] = {}
    for row in known:
        if row["omie_codigo"] is None and row["document"]:
            by_document.setdefault(row["document"], row)
    now = now_utc()
    for record in records:
        row = by_code.get(record["omie_codigo"]) or by_document.pop(
            record["document"], None)
        if row is None:
            conn.execute(insert(clients).values(**record, created_at=now,
                                                updated_at=now))
            report.inserted += 1
            continue
        changes = {key: value for key, value in record.items()
                   if row[key] != value and not (key == "document" and value is None)}
        if not changes:
            report.unchanged += 1
            continue
        conn.execute(update(clients).where(c.id == row["id"])
                     .values(**changes, updated_at=now))
        report.updated += 1


# -- revenue -------------------------------------------------------------------------

def _sync_revenue(db: Database, omie: OmieClient, run: SyncRun, months: list[date],
                  show_progress: bool) -> RevenueReport:
    started, calls = time.perf_counter(), omie.calls
    report = RevenueReport()
    with Progress("Omie revenue (months)", total=len(months),
                  show=show_progress) as bar:
        for period in months:
            bar.describe(f"Omie revenue {period:%Y-%m}")
            rows, duplicates = omie.rows(
                "financas/contareceber", "ListarContasReceber",
                "conta_receber_cadastro", "codigo_lancamento_omie",
                _titles_param(period), on_page=lambda page: run.heartbeat())
            report.months.append(month_revenue(period, rows))
            report.duplicates += duplicates
            bar.advance()
    with db.begin(write=True) as conn:
        report.rows_written = _replace_months(conn, report.months)
    run.records_written = report.rows_written
    report.calls = omie.calls - calls
    report.seconds = time.perf_counter() - started
    log.info("omie revenue %s..%s: %d months, %d client rows, %d titles, %d "
             "cancelled skipped, %d duplicates, %d calls in %.1fs",
             f"{months[0]:%Y-%m}", f"{months[-1]:%Y-%m}", len(months),
             report.rows_written, sum(m.titles for m in report.months),
             sum(m.cancelled for m in report.months), report.duplicates,
             report.calls, report.seconds)
    return report


def _titles_param(period: date) -> dict[str, Any]:
    last_day = next_month(period) - timedelta(days=1)
    return {"filtrar_por_emissao_de": format_date(period),
            "filtrar_por_emissao_ate": format_date(last_day),
            "apenas_importado_api": "N", "ordenar_por": "CODIGO"}


def month_revenue(period: date, titles: list[dict[str, Any]]) -> MonthRevenue:
    """Sum valor_documento per client over the month's titles, cancelled ones left
    out. The issue date places a title in a month; a title without one is placed
    by its registration date, and one placed outside the month is left out (the
    server filter is not trusted blindly)."""
    month = MonthRevenue(period)
    end = next_month(period)
    for title in titles:
        code = title.get("codigo_lancamento_omie")
        if str(title.get("status_titulo") or "").strip().upper() == CANCELLED:
            month.cancelled += 1
            continue
        issued = parse_date(title.get("data_emissao"), f"title {code} data_emissao")
        issued = issued or parse_date(title.get("data_registro"),
                                      f"title {code} data_registro")
        if issued is not None and not period <= issued < end:
            month.outside_month += 1
            continue
        _add_title(month, title, code)
    return month


def _add_title(month: MonthRevenue, title: dict[str, Any], code: Any) -> None:
    client = title.get("codigo_cliente_fornecedor")
    if isinstance(client, bool) or not isinstance(client, int):
        raise UpstreamError(f"Omie sent title {code} codigo_cliente_fornecedor="
                            f"{client!r}: not a client code", source="omie")
    value = parse_money(title.get("valor_documento"),
                        f"title {code} valor_documento")
    total, count = month.totals.get(client, (Decimal("0.00"), 0))
    month.totals[client] = (total + value, count + 1)
    month.titles += 1


def _replace_months(conn: Connection, months: list[MonthRevenue]) -> int:
    snap = erp_revenue_snapshot
    client_ids = dict(conn.execute(
        select(clients.c.omie_codigo, clients.c.id)
        .where(clients.c.omie_codigo.is_not(None))).all())
    conn.execute(delete(snap).where(snap.c.period.in_([m.period for m in months])))
    now = now_utc()
    rows = [{"period": m.period, "omie_codigo": code,
             "client_id": client_ids.get(code), "valor": total,
             "titles_count": count, "synced_at": now}
            for m in months for code, (total, count) in sorted(m.totals.items())]
    if rows:
        conn.execute(insert(snap), rows)
    return len(rows)


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


# -- reading the snapshot ------------------------------------------------------------

def revenue_snapshot(db: Database, period: date | None = None
                     ) -> list[dict[str, Any]]:
    """The snapshot of one month (default: the latest synced), by client code."""
    snap = erp_revenue_snapshot.c
    with db.begin() as conn:
        if period is None:
            period = conn.execute(select(func.max(snap.period))).scalar()
            if period is None:
                return []
        rows = conn.execute(
            select(snap.period, snap.omie_codigo, snap.client_id, clients.c.name,
                   snap.valor, snap.titles_count, snap.synced_at)
            .select_from(erp_revenue_snapshot.outerjoin(
                clients, clients.c.id == snap.client_id))
            .where(snap.period == period).order_by(snap.omie_codigo)
        ).mappings().all()
    return [{"period": row["period"], "omie_codigo": row["omie_codigo"],
             "valor": Decimal(row["valor"]).quantize(CENT),
             "titles_count": row["titles_count"], "client_id": row["client_id"],
             "client_name": row["name"], "synced_at": row["synced_at"]}
            for row in rows]
