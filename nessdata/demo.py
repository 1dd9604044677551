"""`nessdata demo`: a realistic generated history in a local database, rolled up by
the daily job, with late events that heal their days. No network.

Event ids are derived from what they describe, so running the demo twice on the same
day stores nothing twice."""

from __future__ import annotations

import logging
import math
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from .db import Database, now_utc
from .events import EventWriter
from .localtime import days, local_today
from .schema import clients, contracts

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("5c0d4f0e-2b7a-4d8e-9e61-64656d6f0001")
SEED = 20260101

# (module, event_type, mean per business day); weekends get a fifth of it.
VOLUMES = [
    ("growth", "lead.created", 38.0),
    ("growth", "lead.qualified", 11.0),
    ("growth", "lead.lost", 6.0),
    ("fin", "contract.signed", 1.4),
    ("fin", "invoice.issued", 9.0),
    ("fin", "invoice.paid", 8.0),
    ("ops", "ticket.opened", 14.0),
    ("ops", "ticket.closed", 13.0),
    ("people", "employee.hired", 0.15),
]

DEMO_CLIENTS = [
    ("Padaria Pão Quente Ltda", "Pão Quente", 1201),
    ("Construtora Horizonte S.A.", "Horizonte", 1202),
    ("Clínica Vida Plena Ltda", "Vida Plena", None),
    ("Transportes Rápido Sul Ltda", "Rápido Sul", 1204),
    ("Escola Aprender Mais Ltda", "Aprender Mais", 1205),
    ("Agro Cerrado Comércio Ltda", "Agro Cerrado", None),
    ("Ótica Visão Clara ME", "Visão Clara", 1207),
    ("Restaurante Sabor Mineiro Ltda", "Sabor Mineiro", 1208),
]


@dataclass
class DemoReport:
    events: int
    late_events: int
    late_days: int
    clients: int
    contracts: int
    omie: dict[str, Any] | None = None
    bcb_rates: int = 0


def generate_events(first: date, last: date, tz, seed: int = SEED
                    ) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = []
    for day in days(first, last):
        weekend = day.weekday() >= 5
        for module, event_type, mean in VOLUMES:
            count = _poisson(rng, mean / 5 if weekend else mean)
            for n in range(count):
                events.append({
                    "event_id": str(uuid.uuid5(NAMESPACE,
                                               f"{day}:{module}:{event_type}:{n}")),
                    "module": module,
                    "event_type": event_type,
                    "entity_id": f"{module}-{day:%Y%m%d}-{n}",
                    "payload": {"demo": True},
                    "occurred_at": _business_moment(rng, day, tz),
                })
    return events


def run_demo(db: Database, months: int = 6, now: datetime | None = None) -> DemoReport:
    now = now or now_utc()
    yesterday = local_today(db.tz, now) - timedelta(days=1)
    first = yesterday - timedelta(days=30 * months)
    events = generate_events(first, yesterday, db.tz)
    # Hold back some events of old days: they arrive after those days were rolled
    # up, as late events do, and make their days pending.
    rng = random.Random(SEED + 1)
    late = rng.sample(events[: len(events) // 2], k=min(40, len(events) // 2))
    late_ids = {e["event_id"] for e in late}
    on_time = [e for e in events if e["event_id"] not in late_ids]

    from .bcb.demo import demo_settings, start_demo_stub, sync_demo_rates
    from .jobs import run_daily
    from .omie.demo import demo_omie
    from .settings import load_settings

    settings = load_settings(database_url=db.url, timezone=db.tz.key)
    # Omie data comes from the local stub (demo_omie): the daily job must not ask
    # the real API even when the keys are in the environment.
    settings = settings.model_copy(update={"omie_app_key": None,
                                           "omie_app_secret": None})
    # BCB rates come from a local stub serving recorded bodies, for the demo's own
    # sync and for the daily job's sync_bcb step alike: no network.
    bcb_stub = start_demo_stub()
    try:
        settings = demo_settings(bcb_stub, settings)
        bcb_rates = sync_demo_rates(db, settings).written
        writer = EventWriter(db)
        stored = writer.emit_many(on_time).inserted
        new_clients, new_contracts = _business_tables(db, first)
        omie = demo_omie(db, now)
        run_daily(db, settings)
        late_report = writer.emit_many(late)
        run_daily(db, settings)
    finally:
        bcb_stub.stop()
    late_days = (len({_local_date(e["occurred_at"], db.tz) for e in late})
                 if late_report.inserted else 0)
    log.info("demo: %d events, %d late over %d days, %d clients, %d contracts",
             stored + late_report.inserted, late_report.inserted, late_days,
             new_clients, new_contracts)
    return DemoReport(stored + late_report.inserted, late_report.inserted, late_days,
                      new_clients, new_contracts, omie, bcb_rates)


def _business_tables(db: Database, first: date) -> tuple[int, int]:
    """A few clients and contracts, so the summary and the indices have data."""
    rng = random.Random(SEED + 2)
    now = now_utc()
    with db.begin(write=True) as conn:
        known = set(conn.execute(select(clients.c.document)).scalars())
        new_clients = 0
        for n, (name, trade_name, omie) in enumerate(DEMO_CLIENTS, start=1):
            document = f"{n:08d}000199"
            if document in known:
                continue
            conn.execute(insert(clients).values(
                name=name, trade_name=trade_name, document=document,
                omie_codigo=omie, active=True, created_at=now, updated_at=now))
            new_clients += 1
        ids = dict(conn.execute(select(clients.c.document, clients.c.id)).all())
        stored = set(conn.execute(select(contracts.c.external_id)).scalars())
        new_contracts = 0
        for n in range(1, len(DEMO_CLIENTS) * 2 + 1):
            external_id = f"demo-{n:03d}"
            start = first + timedelta(days=rng.randrange(0, 150))
            ended = rng.random() < 0.25
            end = start + timedelta(days=rng.randrange(30, 90)) if ended else None
            if external_id in stored:
                continue
            client = (n - 1) % len(DEMO_CLIENTS) + 1
            conn.execute(insert(contracts).values(
                external_id=external_id, client_id=ids.get(f"{client:08d}000199"),
                client_ref=DEMO_CLIENTS[client - 1][1],
                mrr=Decimal(rng.randrange(90_000, 1_200_000)) / 100,
                start_date=start, end_date=end,
                status="ended" if ended else "active", created_at=now,
                updated_at=now))
            new_contracts += 1
    return new_clients, new_contracts


def _business_moment(rng: random.Random, day: date, tz) -> datetime:
    # Mostly office hours, a tail into the evening and a few after midnight.
    minute = int(min(max(rng.gauss(14 * 60, 3 * 60), 0), 24 * 60 - 1))
    local = datetime.combine(day, time(minute // 60, minute % 60, rng.randrange(60)))
    return local.replace(tzinfo=tz)


def _local_date(instant: datetime, tz) -> date:
    return instant.astimezone(tz).date()


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact and quick for the small means used here.
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
