"""The JSON API against the database, and its errors."""

import re
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from helpers import SP, event_count
from sqlalchemy import insert
from web_support import auth, client_for, token

from nessdata.db import now_utc
from nessdata.errors import UpstreamError
from nessdata.events import emit_many
from nessdata.localtime import local_today
from nessdata.rollups import aggregate_range
from nessdata.schema import bcb_rates_snapshot, clients, erp_revenue_snapshot
from nessdata.serialize import jsonable
from nessdata.summary import summary
from nessdata.syncruns import recorded_run


@pytest.fixture
def api(db):
    client = client_for(db)
    headers = auth(token(db, "viewer"))

    def get(path, **params):
        return client.get(path, params=params, headers=headers)

    return get


@pytest.fixture
def writer(db):
    client = client_for(db)
    headers = auth(token(db, "ops", "events", name="writer"))

    def post(body=None, **options):
        return client.post("/api/events", headers={**headers,
                                                   **options.pop("headers", {})},
                           json=body, **options)

    return post


def _events(first: date, days: int):
    moments = []
    for n in range(days * 3):
        local = datetime.combine(first + timedelta(days=n % days), datetime.min.time())
        moments.append(local.replace(hour=(5 * n) % 24, tzinfo=SP))
    return [{"event_id": str(uuid.uuid4()), "module": ("growth", "fin")[n % 2],
             "event_type": "lead.created" if n % 2 == 0 else "invoice.paid",
             "occurred_at": moment} for n, moment in enumerate(moments)]


# -- reads ----------------------------------------------------------------------------

def test_summary_is_the_python_summary(db, api):
    emit_many(db, _events(date(2025, 3, 1), 3))
    response = api("/api/summary")
    assert response.status_code == 200
    assert response.json() == jsonable(summary(db))
    assert response.json()["events_total"] == 9


def test_event_aggregates_match_an_independent_count(db, api):
    events = _events(date(2025, 2, 27), 4)
    emit_many(db, events)
    aggregate_range(db, date(2025, 2, 26), date(2025, 3, 3))
    expected = Counter((e["occurred_at"].date().isoformat(), e["module"],
                        e["event_type"]) for e in events)
    rows = api("/api/event-aggregates", since="2025-02-26", until="2025-03-03").json()
    assert {(r["period"], r["module"], r["event_type"]): r["count"]
            for r in rows} == dict(expected)
    only_fin = api("/api/event-aggregates", since="2025-02-26", until="2025-03-03",
                   module="fin").json()
    assert {r["module"] for r in only_fin} == {"fin"}
    assert sum(r["count"] for r in only_fin) == sum(
        n for (_, module, _), n in expected.items() if module == "fin")


@pytest.mark.parametrize("params, field", [
    ({"since": "2025-13-01"}, "since"),
    ({"since": "04/03/2025"}, "since"),
    ({"since": "2025-03-04", "until": "2025-03-01"}, "until"),
    ({"since": "2000-01-01", "until": "2025-01-01"}, "since"),
])
def test_bad_dates_are_400_naming_the_field(api, params, field):
    response = api("/api/event-aggregates", **params)
    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["field"]) == (400, field)
    assert field in body["message"]


def test_rates_come_from_the_snapshot_exactly(db, api):
    today = local_today(db.tz)
    rows = [("dollar_ptax", today - timedelta(days=3), "5.4272"),
            ("dollar_ptax", today - timedelta(days=2), "5.43105"),
            ("dollar_ptax", today - timedelta(days=800), "3.1"),
            ("ipca", today.replace(day=1), "0.56")]
    with db.begin(write=True) as conn:
        conn.execute(insert(bcb_rates_snapshot), [
            {"rate_type": t, "ref_date": d, "value": Decimal(v), "source": "test",
             "synced_at": now_utc()} for t, d, v in rows])
    ptax = api("/api/rates", type="dollar_ptax").json()
    assert [(r["ref_date"], Decimal(r["value"])) for r in ptax] == [
        ((today - timedelta(days=3)).isoformat(), Decimal("5.4272")),
        ((today - timedelta(days=2)).isoformat(), Decimal("5.43105"))]
    assert all(isinstance(r["value"], str) for r in ptax)  # never a float
    old = api("/api/rates", type="dollar_ptax",
              since=(today - timedelta(days=900)).isoformat(),
              until=(today - timedelta(days=700)).isoformat()).json()
    assert [Decimal(r["value"]) for r in old] == [Decimal("3.1")]
    assert {r["rate_type"] for r in api("/api/rates").json()} == {"dollar_ptax", "ipca"}


def test_revenue_sums_exactly_and_defaults_to_the_newest_month(db, api):
    now = now_utc()
    with db.begin(write=True) as conn:
        client_id = conn.execute(insert(clients).values(
            name="Padaria Pão Quente Ltda", omie_codigo=11, active=True,
            created_at=now, updated_at=now).returning(clients.c.id)).scalar_one()
        conn.execute(insert(erp_revenue_snapshot), [
            {"period": date(2025, 3, 1), "omie_codigo": 11, "client_id": client_id,
             "valor": Decimal("1234.10"), "titles_count": 2, "synced_at": now},
            {"period": date(2025, 3, 1), "omie_codigo": 12, "client_id": None,
             "valor": Decimal("1234.20"), "titles_count": 1, "synced_at": now},
            {"period": date(2025, 2, 1), "omie_codigo": 11, "client_id": client_id,
             "valor": Decimal("99.99"), "titles_count": 1, "synced_at": now}])
    march = api("/api/revenue", period="2025-03").json()
    assert march["period"] == "2025-03-01"
    assert march["total"] == "2468.30"
    assert [(c["omie_codigo"], c["valor"], c["client_name"])
            for c in march["clients"]] == [(12, "1234.20", None),
                                           (11, "1234.10", "Padaria Pão Quente Ltda")]
    assert api("/api/revenue").json()["period"] == "2025-03-01"
    assert api("/api/revenue", period="2025-02").json()["total"] == "99.99"
    bad = api("/api/revenue", period="março")
    assert bad.status_code == 400 and bad.json()["field"] == "period"


def test_indices_are_read_indices(db, api):
    from nessdata.indices import compute_indices, read_indices

    emit_many(db, _events(date(2025, 3, 1), 5))
    aggregate_range(db, date(2025, 3, 1), date(2025, 3, 5))
    compute_indices(db, since=date(2025, 3, 1), until=date(2025, 3, 1))
    everything = api("/api/indices", since="2025-03", until="2025-03").json()
    assert everything == jsonable(read_indices(db, since=date(2025, 3, 1),
                                               until=date(2025, 3, 1)))
    growth = api("/api/indices", key="eventos_growth", since="2025-03").json()
    assert [(r["period"], Decimal(r["value"])) for r in growth] == [
        ("2025-03-01", Decimal(8))]
    assert api("/api/indices", since="2025-3").json()["field"] == "since"


def test_sync_runs_are_listed_newest_first(db, api):
    with recorded_run(db, "bcb", {"since": "2025-01-01"}) as run:
        run.heartbeat(7)
    with pytest.raises(UpstreamError), recorded_run(db, "omie_revenue", {}):
        raise UpstreamError("Omie answered 500")
    runs = api("/api/sync-runs").json()
    assert [(r["source"], r["status"], r["records_written"]) for r in runs] == [
        ("omie_revenue", "failed", 0), ("bcb", "ok", 7)]
    assert "Omie answered 500" in runs[0]["error"]
    assert len(api("/api/sync-runs", limit=1).json()) == 1
    bad = api("/api/sync-runs", limit=0)
    assert bad.status_code == 400 and bad.json()["field"] == "limit"


# -- events ---------------------------------------------------------------------------

def test_one_event_or_a_batch_idempotent_on_event_id(db, writer):
    one = {"event_id": str(uuid.uuid4()), "module": "growth",
           "event_type": "lead.created", "payload": {"source": "site"},
           "occurred_at": "2025-03-04T10:00:00-03:00"}
    first = writer(one)
    assert first.status_code == 201
    assert first.json() == {"inserted": 1, "duplicates": 0, "rejected": 0,
                            "rejects": []}
    again = writer(one)
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    batch = [{"module": "fin", "event_type": "invoice.paid"} for _ in range(5)]
    assert writer(batch + [one]).json() == {"inserted": 5, "duplicates": 1,
                                            "rejected": 0, "rejects": []}
    assert event_count(db) == 6


def test_an_invalid_event_stores_nothing_and_names_the_field(db, writer):
    good = {"module": "fin", "event_type": "invoice.paid"}
    response = writer([good, {"module": "fin", "event_type": "Invoice Paid"}])
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "event_type"
    assert "'Invoice Paid'" in body["message"]
    assert body["rejects"][0]["line"] == 2
    assert event_count(db) == 0
    dated = writer({"module": "fin", "event_type": "x", "occurred_at": "04/03/2025"})
    assert dated.status_code == 422 and dated.json()["field"] == "occurred_at"
    unknown = writer({"module": "fin", "event_type": "x", "colour": "red"})
    assert unknown.json()["field"] == "colour"


def test_bad_json_and_bad_shapes_are_400(db, writer):
    broken = writer(content=b'{"module": "fin",', headers={
        "content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["field"] == "body" and "not valid JSON" in broken.json()[
        "message"]
    assert writer([]).json()["field"] == "body"
    assert writer("just text").status_code == 400
    xml = writer(content=b"<event/>", headers={"content-type": "application/xml"})
    assert xml.status_code == 400 and xml.json()["field"] == "content-type"
    assert event_count(db) == 0


def test_a_payload_over_the_event_limit_is_refused(db):
    client = client_for(db, max_payload_bytes=1024)
    response = client.post("/api/events", headers=auth(token(db, "admin")),
                           json={"module": "fin", "event_type": "x",
                                 "payload": {"blob": "x" * 2000}})
    assert response.status_code == 422 and response.json()["field"] == "payload"


def test_an_oversized_body_is_413_before_and_while_reading(db):
    client = client_for(db, web_max_body_bytes=4096)
    headers = auth(token(db, "admin"))
    declared = client.post("/api/events", headers=headers,
                           json=[{"module": "fin", "event_type": "x",
                                  "payload": {"n": n}} for n in range(200)])
    assert declared.status_code == 413
    assert declared.json() == {
        "status": 413, "field": "body",
        "message": "the request body is larger than 4096 bytes "
                   "(NESSDATA_WEB_MAX_BODY_BYTES); send smaller batches"}

    def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(10):
            yield b" " * 1000

    streamed = client.post("/api/events", headers={
        **headers, "content-type": "application/json"}, content=chunks())
    assert streamed.status_code == 413 and streamed.json()["field"] == "body"
    assert event_count(db) == 0


# -- everything else ------------------------------------------------------------------

def test_unknown_paths_and_methods_answer_json(db):
    client = client_for(db)
    missing = client.get("/api/nothing")
    assert missing.status_code == 404
    assert missing.json()["message"] == "no such page or endpoint: /api/nothing"
    wrong = client.delete("/api/summary")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


def test_an_unexpected_failure_shows_no_trace(db, monkeypatch):
    import nessdata.summary

    def broken(database):
        raise RuntimeError("password=hunter2 in a stack frame")

    monkeypatch.setattr(nessdata.summary, "summary", broken)
    response = client_for(db).get("/api/summary", headers=auth(token(db, "viewer")))
    assert response.status_code == 500
    assert response.json() == {"status": 500, "field": None,
                               "message": "internal error; the server log has "
                                          "the details"}
    assert "hunter2" not in response.text and "Traceback" not in response.text


def test_openapi_is_served_and_nothing_loads_from_a_cdn(db):
    client = client_for(db)
    schema = client.get("/api/openapi.json").json()
    for path in ("/api/summary", "/api/event-aggregates", "/api/indices", "/api/rates",
                 "/api/revenue", "/api/sync-runs", "/api/events",
                 "/api/cron/aggregate-events", "/api/cron/sync-bcb-rates",
                 "/api/cron/sync-omie-revenue", "/api/cron/compute-data-indices"):
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/cron/sync-bcb-rates"]) == {"get", "post"}
    assert client.get("/docs").status_code == 404  # Swagger UI would need a CDN
    page = client.get("/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    links = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert links and all(link.startswith(("/", "data:")) and not link.startswith("//")
                         for link in links), links
    assert client.get("/static/charts.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_unknown_rate_types_and_index_keys_are_a_400(db):
    client = client_for(db)
    headers = {"Authorization": f"Bearer {token(db, 'viewer')}"}
    for path, field in (("/api/rates?type=nope", "type"),
                        ("/api/indices?key=nope", "key")):
        response = client.get(path, headers=headers)
        assert response.status_code == 400, path
        assert response.json()["field"] == field


def test_data_is_never_cached_but_static_files_may_be(db):
    client = client_for(db)
    response = client.get("/api/summary", headers=auth(token(db, "viewer")))
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/static/style.css").headers
