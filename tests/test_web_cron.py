"""/api/cron/<job>: the secret, the parameters, the reports and 409 while a job
runs."""

import threading
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from helpers import SP, stored_aggregates
from omie_support import APP_KEY, APP_SECRET, title
from sqlalchemy import func, select
from web_support import (
    CRON_SECRET,
    app_client,
    auth,
    client_for,
    cron_auth,
    settings_for,
    token,
)

from nessdata import triggers
from nessdata.bcb.demo import DEMO_DATA
from nessdata.bcb.stub import BcbStub
from nessdata.errors import UpstreamError
from nessdata.events import emit_many
from nessdata.omie.stub import OmieStub
from nessdata.schema import (
    bcb_rates_snapshot,
    data_indices,
    erp_revenue_snapshot,
    event_aggregates,
)

JOBS = ["aggregate-events", "sync-bcb-rates", "sync-omie-revenue",
        "compute-data-indices"]


def _events(day: date, count: int, module: str = "growth"):
    return [{"event_id": str(uuid.uuid4()), "module": module,
             "event_type": "lead.created",
             "occurred_at": datetime(day.year, day.month, day.day, 12, tzinfo=SP)}
            for _ in range(count)]


# -- the secret -----------------------------------------------------------------------

@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_without_a_configured_secret_every_call_is_refused(db, job, method):
    client = client_for(db, cron_secret=None)
    for headers in ({}, cron_auth(), cron_auth("")):
        response = client.request(method, f"/api/cron/{job}", headers=headers)
        assert response.status_code == 503
        assert response.json()["message"] == (
            "the cron endpoints are disabled: NESSDATA_CRON_SECRET is not set on "
            "the server")


@pytest.mark.parametrize("job", JOBS)
def test_a_missing_or_wrong_secret_is_401(db, job):
    client = client_for(db)
    missing = client.post(f"/api/cron/{job}")
    assert missing.status_code == 401 and missing.json()["field"] == "authorization"
    wrong = client.get(f"/api/cron/{job}", headers=cron_auth(CRON_SECRET + "x"))
    assert wrong.status_code == 401 and wrong.json()["message"] == "wrong cron secret"
    # An API token, even an admin's, is not the cron secret.
    admin = client.get(f"/api/cron/{job}", headers=auth(token(db, "admin")))
    assert admin.status_code == 401


# -- the jobs -------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_aggregate_events_for_a_day_and_a_range(db, method):
    emit_many(db, _events(date(2025, 3, 4), 3) + _events(date(2025, 3, 6), 2, "fin"))
    client = client_for(db)
    one = client.request(method, "/api/cron/aggregate-events?date=2025-03-04",
                         headers=cron_auth())
    assert one.status_code == 200, one.text
    assert one.json()["job"] == "aggregate-events"
    assert one.json()["params"] == {"since": "2025-03-04", "until": "2025-03-04"}
    assert one.json()["report"]["events"] == 3
    assert stored_aggregates(db) == {(date(2025, 3, 4), "growth", "lead.created"): 3}
    backfill = client.request(
        method, "/api/cron/aggregate-events?since=2025-03-01&until=2025-03-10",
        headers=cron_auth())
    assert backfill.json()["report"]["days"] == 10
    assert backfill.json()["report"]["events"] == 5
    assert stored_aggregates(db)[(date(2025, 3, 6), "fin", "lead.created")] == 2


@pytest.mark.parametrize("query, field", [
    ("date=2025-02-30", "date"), ("since=2025-03-04&until=2025-03-01", "until"),
    ("until=2025-03-01", "until"), ("date=2025-03-01&since=2025-03-01", "date"),
    ("days=3", "days"),
])
def test_bad_parameters_are_400_naming_the_field(db, query, field):
    response = client_for(db).get(f"/api/cron/aggregate-events?{query}",
                                  headers=cron_auth())
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_an_unknown_rate_is_400_before_any_request(db):
    response = client_for(db).get("/api/cron/sync-bcb-rates?rates=ipca,euro",
                                  headers=cron_auth())
    assert response.status_code == 400
    assert response.json()["field"] == "rates"
    assert response.json()["message"].startswith("rates='euro': unknown rate type")


def test_sync_bcb_rates_through_a_local_stub(db):
    with BcbStub.from_directory(DEMO_DATA) as stub:
        client = app_client(stub.point(settings_for(db), bcb_pause=0.0), db)
        response = client.post("/api/cron/sync-bcb-rates?since=2024-01-01"
                               "&until=2024-06-30&rates=ipca", headers=cron_auth())
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert report["rates"] == ["ipca"]
    with db.begin() as conn:
        rows = conn.execute(select(bcb_rates_snapshot.c.ref_date,
                                   bcb_rates_snapshot.c.value)
                            .order_by(bcb_rates_snapshot.c.ref_date)).all()
    assert [r.ref_date for r in rows] == [date(2024, m, 1) for m in range(1, 7)]
    assert report["inserted"] == 6
    assert rows[0].value == Decimal("0.42")  # IPCA of January 2024, as published


def test_sync_omie_revenue_of_a_month_through_a_local_stub(db):
    titles = [title(1, 501, "1234.10", "05/03/2025"),
              title(2, 501, "1234.20", "20/03/2025"),
              title(3, 502, "10.00", "21/03/2025", status="CANCELADO"),
              title(4, 502, "99.00", "02/04/2025")]
    with OmieStub(titles=titles, app_key=APP_KEY, app_secret=APP_SECRET) as stub:
        settings = settings_for(db, omie_url=stub.url, omie_app_key=APP_KEY,
                                omie_app_secret=APP_SECRET, omie_pause_seconds=0)
        client = app_client(settings, db)
        response = client.get("/api/cron/sync-omie-revenue?period=2025-03",
                              headers=cron_auth())
    assert response.status_code == 200, response.text
    assert response.json()["params"] == {"since": "2025-03-01", "until": "2025-03-01"}
    with db.begin() as conn:
        rows = conn.execute(select(erp_revenue_snapshot.c.period,
                                   erp_revenue_snapshot.c.omie_codigo,
                                   erp_revenue_snapshot.c.valor)).all()
    assert [tuple(r) for r in rows] == [(date(2025, 3, 1), 501, Decimal("2468.30"))]


def test_omie_without_keys_is_a_clear_503(db):
    response = client_for(db).post("/api/cron/sync-omie-revenue",
                                   headers=cron_auth())
    assert response.status_code == 503
    assert "NESSDATA_OMIE_APP_KEY" in response.json()["message"]


def test_compute_data_indices_for_a_month(db):
    emit_many(db, _events(date(2025, 3, 4), 4) + _events(date(2025, 4, 2), 1))
    client = client_for(db)
    client.get("/api/cron/aggregate-events?since=2025-03-01&until=2025-04-30",
               headers=cron_auth())
    response = client.get("/api/cron/compute-data-indices?period=2025-03",
                          headers=cron_auth())
    assert response.status_code == 200, response.text
    assert response.json()["params"] == {"since": "2025-03-01", "until": "2025-03-01"}
    with db.begin() as conn:
        growth = conn.execute(select(data_indices.c.period, data_indices.c.value)
                              .where(data_indices.c.index_key == "eventos_growth")
                              ).all()
    assert [(r.period, r.value) for r in growth] == [(date(2025, 3, 1), Decimal(4))]
    bad = client.get("/api/cron/compute-data-indices?period=2025-13",
                     headers=cron_auth())
    assert bad.status_code == 400 and bad.json()["field"] == "period"


def test_an_upstream_failure_is_502_with_its_message(db, monkeypatch):
    import nessdata.bcb

    def failing(db, settings, **options):
        raise UpstreamError("BCB answered 504 Gateway Timeout three times",
                            status=504, source="bcb")

    monkeypatch.setattr(nessdata.bcb, "sync_rates", failing)
    response = client_for(db).post("/api/cron/sync-bcb-rates", headers=cron_auth())
    assert response.status_code == 502
    assert response.json()["message"] == "BCB answered 504 Gateway Timeout three times"


def test_parameters_reach_the_sync_functions(db, monkeypatch):
    import nessdata.bcb
    import nessdata.omie

    seen = {}

    class Report:
        def as_dict(self):
            return {"fake": True}

    def fake(name):
        def run(db, settings, **options):
            seen[name] = options
            return Report()
        return run

    monkeypatch.setattr(nessdata.bcb, "sync_rates", fake("bcb"))
    monkeypatch.setattr(nessdata.omie, "sync_revenue", fake("omie"))
    client = client_for(db)
    client.get("/api/cron/sync-bcb-rates?since=2005-01-01&until=2024-12-31"
               "&rates=ipca,dollar_ptax", headers=cron_auth())
    assert seen["bcb"] == {"since": date(2005, 1, 1), "until": date(2024, 12, 31),
                           "rates": ["ipca", "dollar_ptax"]}
    client.get("/api/cron/sync-omie-revenue?since=2024-11&until=2025-02-15",
               headers=cron_auth())
    assert seen["omie"] == {"since": date(2024, 11, 1), "until": date(2025, 2, 1),
                            "manual": False}


# -- one run at a time ----------------------------------------------------------------

def test_a_second_call_while_the_job_runs_is_409(db, monkeypatch):
    started, release = threading.Event(), threading.Event()
    runs = []

    def slow(db, settings, params, manual):
        runs.append(params)
        started.set()
        release.wait()
        return {"days": 1}

    job = triggers.JOBS["aggregate-events"]
    monkeypatch.setitem(triggers.JOBS, "aggregate-events",
                        triggers.Job(job.name, job.title, slow, job.parse, ""))
    client = client_for(db)
    answers = []
    first = threading.Thread(target=lambda: answers.append(client.post(
        "/api/cron/aggregate-events", headers=cron_auth())))
    first.start()
    assert started.wait(30)
    second = client.get("/api/cron/aggregate-events", headers=cron_auth())
    release.set()
    first.join()
    assert second.status_code == 409
    assert second.json()["message"] == ("the aggregate-events job is already "
                                        "running; try again when it ends")
    assert answers[0].status_code == 200 and len(runs) == 1
    # Once it ended, the job runs again.
    assert client.get("/api/cron/aggregate-events",
                      headers=cron_auth()).status_code == 200


def test_a_run_held_by_another_process_is_409(db, tmp_path):
    client = client_for(db)
    with _held_elsewhere(db, "job:aggregate-events"):
        response = client.post("/api/cron/aggregate-events", headers=cron_auth())
    assert response.status_code == 409
    assert client.post("/api/cron/aggregate-events",
                       headers=cron_auth()).status_code == 200


# SQLite has no advisory lock to probe: there a CLI rollup and a cron rollup queue
# on the write lock instead, which is harmless as both recount whole days.
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
def test_a_rollup_started_from_the_cli_makes_the_cron_rollup_409(db):
    with _held_elsewhere(db, "rollup"):
        response = client_for(db).post("/api/cron/aggregate-events",
                                       headers=cron_auth())
    assert response.status_code == 409
    assert "a rollup is running" in response.json()["message"]


class _held_elsewhere:
    """Take a job's lock the way another process would."""

    def __init__(self, db, name: str):
        self.db, self.name = db, name

    def __enter__(self):
        if self.db.dialect == "postgresql":
            from nessdata.db import Database

            self.other = Database(self.db.url, self.db.tz.key)
            self.conn = self.other.engine.connect()
            self.tx = self.conn.begin()
            assert self.other.try_lock(self.conn, self.name)
        else:
            import fcntl

            job = self.name.removeprefix("job:")
            self.handle = open(f"{self.db.engine.url.database}.{job}.lock", "a+b")
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self

    def __exit__(self, *exc):
        if self.db.dialect == "postgresql":
            self.tx.rollback()
            self.conn.close()
            self.other.dispose()
        else:
            self.handle.close()


def test_reports_count_what_the_database_holds(db):
    emit_many(db, _events(date(2025, 3, 4), 7))
    report = client_for(db).get("/api/cron/aggregate-events?date=2025-03-04",
                                headers=cron_auth()).json()["report"]
    with db.begin() as conn:
        total = conn.execute(select(func.sum(event_aggregates.c.count))).scalar()
    assert report["events"] == total == 7
