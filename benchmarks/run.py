"""The benchmark run: throw-away databases, the data set, each step in its own
process, and one JSON line per measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nessdata import migrations
from nessdata.db import Database
from nessdata.events import emit_many

from . import data, steps

ROOT = Path(__file__).resolve().parent.parent
TIMEZONE = "America/Sao_Paulo"
LATE_PER_DAY = 50


@dataclass
class Options:
    db: str
    events: int
    days: int
    ingest_events: int
    repeat: int
    pg_url: str
    out: object = field(default=sys.stdout)


@dataclass
class Databases:
    """The three databases of one backend: the data set, one 100 times smaller,
    and an empty one for ingest."""

    backend: str
    main: str
    small: str
    ingest: str


def run(options: Options) -> None:
    backends = ["sqlite", "postgres"] if options.db == "both" else [options.db]
    for backend in backends:
        with _databases(backend, options) as urls:
            Bench(options, urls).all()


class Bench:
    def __init__(self, options: Options, urls: Databases):
        self.options = options
        self.urls = urls
        self.db_name = "postgresql" if urls.backend == "postgres" else "sqlite"

    def all(self) -> None:
        opts = self.options
        _note(f"{self.db_name}: loading {opts.events} events over {opts.days} days")
        self._load(self.urls.main, opts.events, seed=7)
        self._load(self.urls.small, max(opts.events // 100, 1), seed=8)
        self.rollups()
        self.pending()
        self.summary()
        self.ingest()

    def _load(self, url: str, events: int, seed: int) -> None:
        db = Database(url, TIMEZONE)
        data.load(db, events, self.options.days, seed)
        db.dispose()

    def rollups(self) -> None:
        floor = self.step("rollup_floor", self.urls.main)
        rollup = self.step("rollup", self.urls.main)
        self.emit("rollup_backfill", self.options.events, rollup, floor)
        naive = self.step("rollup_naive", self.urls.main, repeat=1)
        self.emit("rollup_vs_naive", self.options.events, rollup, naive)

    def pending(self) -> None:
        late_days = _late_days(self.options.days)
        best = best_floor = None
        for round_ in range(self.options.repeat):
            self._insert_late(late_days, round_)
            floor = self.step("pending_floor", self.urls.main, repeat=1,
                              late_days=late_days)
            measured = self.step("pending", self.urls.main, repeat=1,
                                 late_days=late_days)
            best = _better(best, measured)
            best_floor = _better(best_floor, floor)
        self.emit("rollup_pending", self.options.events, best, best_floor)

    def _insert_late(self, late_days: list[str], round_: int) -> None:
        db = Database(self.urls.main, TIMEZONE)
        events = [
            {"module": "growth", "event_type": "lead.created",
             "entity_id": f"late-{round_}-{n}",
             "occurred_at": datetime.combine(datetime.fromisoformat(day).date(),
                                             time(9 + n % 8), tzinfo=db.tz)}
            for day in late_days for n in range(LATE_PER_DAY)
        ]
        emit_many(db, events)
        db.dispose()

    def summary(self) -> None:
        self.step("rollup", self.urls.small, repeat=1)  # its rollups in place
        at_small = self.step("read_summary", self.urls.small, repeat=20)
        at_n = self.step("read_summary", self.urls.main, repeat=20)
        self.emit("summary", self.options.events, at_n, at_small)

    def ingest(self) -> None:
        count = self.options.ingest_events
        url = self.urls.ingest
        # One run of a big batch is long enough to time; more make small ones steady.
        repeat = self.options.repeat if count <= 100_000 else 1
        rows = {"events": count, "seed": 9, "repeat": repeat}
        floor = self.step("ingest_floor", url, reset="module_events", **rows)
        measured = self.step("ingest", url, reset="module_events", **rows)
        self.emit("ingest", count, measured, floor)
        db = Database(url, TIMEZONE)
        steps.plain_table(db)
        db.dispose()
        plain = self.step("ingest_floor", url, reset=steps.PLAIN_TABLE,
                          table=steps.PLAIN_TABLE, **rows)
        self.emit("ingest_triggers", count, floor, plain)

    def step(self, name: str, url: str, repeat: int | None = None, **extra) -> dict:
        spec = {"step": name, "url": url, "timezone": TIMEZONE,
                "days": self.options.days,
                "repeat": self.options.repeat if repeat is None else repeat, **extra}
        return _subprocess(spec)

    def emit(self, name: str, events: int, measured: dict, baseline: dict) -> None:
        seconds = round(measured["seconds"], 6)
        baseline_seconds = round(baseline["seconds"], 6)
        line = {
            "name": name, "db": self.db_name, "events": events,
            "seconds": seconds, "baseline_seconds": baseline_seconds,
            "ratio": seconds / baseline_seconds,
            "peak_rss_mb": round(measured["peak_rss_mb"], 1),
        }
        print(json.dumps(line), file=self.options.out, flush=True)


def _better(best: dict | None, new: dict) -> dict:
    if best is None or new["seconds"] < best["seconds"]:
        return new
    return best


def _late_days(days: int) -> list[str]:
    first = data.first_day(days)
    return [str(first + timedelta(days=days * k // 4)) for k in (1, 2, 3)]


def _subprocess(spec: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.steps", json.dumps(spec)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {spec['step']} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _note(message: str) -> None:
    print(f"benchmarks: {message}", file=sys.stderr, flush=True)


# -- throw-away databases ----------------------------------------------------------

@contextmanager
def _databases(backend: str, options: Options):
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="nessdata-bench-") as folder:
            urls = [f"sqlite:///{Path(folder) / name}.db"
                    for name in ("main", "small", "ingest")]
            _migrate(urls)
            yield Databases(backend, *urls)
        return
    admin_url = make_url(options.pg_url).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    tag = uuid.uuid4().hex[:8]
    names = [f"nessdata_bench_{tag}_{name}" for name in ("main", "small", "ingest")]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        urls = [admin_url.set(database=n).render_as_string(hide_password=False)
                for n in names]
        _migrate(urls)
        yield Databases(backend, *urls)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(urls: list[str]) -> None:
    for url in urls:
        db = Database(url, TIMEZONE)
        migrations.upgrade(db)
        db.dispose()
