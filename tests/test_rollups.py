import random
import threading
import uuid
from datetime import date, timedelta

import pytest

from nessdata.db import Database
from nessdata.errors import ConfigError
from nessdata.events import emit, emit_many
from nessdata.rollups import (
    aggregate_default,
    aggregate_pending,
    aggregate_range,
    pending_days,
    rebuild,
)
from nessdata.summary import summary

from helpers import python_counts, sql, stored_aggregates, utc

MODULES = [("growth", "lead.created"), ("growth", "lead.lost"),
           ("fin", "invoice.paid"), ("ops", "ticket.opened")]


def random_events(n: int, first: str, days: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = utc(first)
    events = []
    for _ in range(n):
        module, event_type = rng.choice(MODULES)
        events.append({"event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                       "module": module, "event_type": event_type,
                       "occurred_at": start + timedelta(
                           seconds=rng.randrange(days * 86400))})
    return events


def test_counts_match_an_independent_count(db):
    events = random_events(3000, "2025-01-01 00:00:00", 40)
    emit_many(db, events)
    report = aggregate_range(db, date(2024, 12, 31), date(2025, 2, 10))
    expected = python_counts(events)
    assert stored_aggregates(db) == dict(expected)
    assert report.events == 3000
    assert report.groups == len(expected)
    assert report.days == 42


def test_rerunning_a_day_replaces_it_exactly(db):
    events = random_events(500, "2025-03-01 00:00:00", 5)
    emit_many(db, events)
    aggregate_range(db, date(2025, 2, 28), date(2025, 3, 6))
    first = stored_aggregates(db)
    aggregate_range(db, date(2025, 2, 28), date(2025, 3, 6))
    aggregate_range(db, date(2025, 3, 2), date(2025, 3, 2))
    assert stored_aggregates(db) == first == dict(python_counts(events))


def test_a_deleted_group_disappears_on_rerun(db):
    emit(db, "fin", "invoice.paid", occurred_at="2025-04-10T15:00:00Z")
    emit(db, "ops", "ticket.opened", occurred_at="2025-04-10T16:00:00Z")
    aggregate_range(db, date(2025, 4, 10), date(2025, 4, 10))
    assert len(stored_aggregates(db)) == 2
    sql(db, "DELETE FROM module_events WHERE module = 'ops'")
    assert pending_days(db) == [date(2025, 4, 10)]
    aggregate_pending(db)
    assert stored_aggregates(db) == {(date(2025, 4, 10), "fin", "invoice.paid"): 1}


def test_a_late_event_heals_only_its_day(db):
    events = random_events(300, "2025-06-01 03:00:00", 10)
    emit_many(db, events)
    aggregate_range(db, date(2025, 6, 1), date(2025, 6, 10))
    assert pending_days(db) == []
    late = {"module": "growth", "event_type": "lead.created",
            "occurred_at": utc("2025-06-04 12:00:00")}
    emit_many(db, [late])
    assert pending_days(db) == [date(2025, 6, 4)]
    report = aggregate_pending(db)
    assert report.days == 1
    assert pending_days(db) == []
    assert stored_aggregates(db) == dict(python_counts(events + [late]))


def test_the_daily_job_counts_yesterday_and_pending_days(db):
    emit(db, "growth", "lead.created", occurred_at="2025-01-05T12:00:00Z")
    now = utc("2025-02-01 10:00:00")
    emit(db, "growth", "lead.created", occurred_at="2025-01-31T12:00:00Z")
    report = aggregate_default(db, now=now)
    assert report.days == 2
    assert set(stored_aggregates(db)) == {
        (date(2025, 1, 5), "growth", "lead.created"),
        (date(2025, 1, 31), "growth", "lead.created"),
    }


@pytest.mark.parametrize("instant, day", [
    # A normal day: São Paulo is UTC-3.
    ("2025-03-04 02:59:59", date(2025, 3, 3)),
    ("2025-03-04 03:00:00", date(2025, 3, 4)),
    # 2017-10-15 has 23 hours: midnight jumps to 01:00 (-02).
    ("2017-10-15 02:59:59", date(2017, 10, 14)),
    ("2017-10-15 03:00:00", date(2017, 10, 15)),
    ("2017-10-16 01:59:59", date(2017, 10, 15)),
    ("2017-10-16 02:00:00", date(2017, 10, 16)),
    # 2018-02-17 has 25 hours: 23:00-23:59 happens twice.
    ("2018-02-17 01:59:59", date(2018, 2, 16)),
    ("2018-02-17 02:00:00", date(2018, 2, 17)),
    ("2018-02-18 01:30:00", date(2018, 2, 17)),
    ("2018-02-18 02:30:00", date(2018, 2, 17)),
    ("2018-02-18 02:59:59", date(2018, 2, 17)),
    ("2018-02-18 03:00:00", date(2018, 2, 18)),
])
def test_local_day_boundaries(db, instant, day):
    emit(db, "growth", "lead.created", occurred_at=utc(instant))
    # One range across both daylight-saving changes, and the day on its own.
    aggregate_range(db, date(2017, 10, 1), date(2018, 3, 10))
    aggregate_range(db, date(2025, 3, 1), date(2025, 3, 10))
    assert stored_aggregates(db) == {(day, "growth", "lead.created"): 1}
    aggregate_range(db, day, day)
    assert stored_aggregates(db) == {(day, "growth", "lead.created"): 1}


def test_a_dst_season_counts_exactly(db):
    events = random_events(4000, "2017-10-01 00:00:00", 150, seed=11)
    emit_many(db, events)
    aggregate_range(db, date(2017, 9, 30), date(2018, 3, 1))
    assert stored_aggregates(db) == dict(python_counts(events))


def test_two_concurrent_runs_give_exact_counts(db):
    events = random_events(2000, "2025-08-01 03:00:00", 20, seed=3)
    emit_many(db, events[:1000])
    errors = []

    def worker(job):
        database = Database(db.url, db.tz.key)
        try:
            job(database)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            database.dispose()

    jobs = [
        lambda d: aggregate_range(d, date(2025, 8, 1), date(2025, 8, 20)),
        lambda d: aggregate_range(d, date(2025, 8, 1), date(2025, 8, 20)),
        lambda d: emit_many(d, events[1000:]),
        lambda d: aggregate_pending(d),
    ]
    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    aggregate_pending(db)
    assert stored_aggregates(db) == dict(python_counts(events))
    assert pending_days(db) == []


def test_a_changed_time_zone_is_refused_until_rebuild(db):
    emit(db, "growth", "lead.created", occurred_at="2025-01-01T02:30:00Z")
    aggregate_range(db, date(2024, 12, 31), date(2025, 1, 1))
    assert stored_aggregates(db) == {(date(2024, 12, 31), "growth", "lead.created"): 1}
    utc_db = Database(db.url, "UTC")
    try:
        with pytest.raises(ConfigError, match="aggregate --rebuild"):
            aggregate_range(utc_db, date(2025, 1, 1), date(2025, 1, 1))
        rebuild(utc_db)
        assert stored_aggregates(utc_db) == {
            (date(2025, 1, 1), "growth", "lead.created"): 1}
    finally:
        utc_db.dispose()


def test_summary_reads_counts_without_scanning(db):
    emit_many(db, random_events(120, "2025-01-01 00:00:00", 3))
    aggregate_range(db, date(2024, 12, 31), date(2025, 1, 4))
    data = summary(db)
    assert data["events_total"] == 120
    assert data["event_aggregates_count"] == len(stored_aggregates(db))
    assert len(data["recent_event_aggregates"]) == min(10, len(stored_aggregates(db)))
    assert data["recent_event_aggregates"][0]["period"] == max(
        day for day, _, _ in stored_aggregates(db))


def test_cli_aggregate_and_aggregates_json(cli, db):
    emit(db, "growth", "lead.created", occurred_at="2025-03-04T12:00:00Z")
    emit(db, "growth", "lead.created", occurred_at="2025-03-04T13:00:00Z")
    result = cli("aggregate", "--date", "2025-03-04")
    assert result.exit_code == 0, result.output
    assert "1 days recounted: 1 groups, 2 events" in result.stdout
    result = cli("aggregates", "--since", "2025-03-01", "--until", "2025-03-31",
                 "--json")
    import json
    assert json.loads(result.stdout) == [{"period": "2025-03-04", "module": "growth",
                                          "event_type": "lead.created", "count": 2}]
    bad = cli("aggregate", "--since", "2025-03-05", "--until", "2025-03-01")
    assert bad.exit_code == 1
    assert "--until 2025-03-01 is before --since 2025-03-05" in bad.output


def test_the_last_instant_of_a_day_stays_on_it(db):
    for instant in ("2018-03-11 02:59:59.999600", "2018-03-11 02:59:59.999999",
                    "2018-03-11 03:00:00.000000"):
        emit(db, "growth", "lead.created", occurred_at=utc(instant))
    aggregate_range(db, date(2018, 3, 10), date(2018, 3, 10))
    aggregate_range(db, date(2018, 3, 11), date(2018, 3, 11))
    assert stored_aggregates(db) == {
        (date(2018, 3, 10), "growth", "lead.created"): 2,
        (date(2018, 3, 11), "growth", "lead.created"): 1}


def test_a_rebuild_cut_short_is_finished_by_the_pending_run(db, monkeypatch):
    events = random_events(600, "2025-01-01 00:00:00", 90, seed=5)
    emit_many(db, events)
    aggregate_range(db, date(2024, 12, 31), date(2025, 4, 1))
    import nessdata.rollups as rollups

    real = rollups._replace_days
    calls = []

    def dies_on_the_second_chunk(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(rollups, "_replace_days", dies_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        rebuild(db)
    monkeypatch.setattr(rollups, "_replace_days", real)
    assert len(pending_days(db)) > 31
    aggregate_pending(db)
    assert stored_aggregates(db) == dict(python_counts(events))
    assert pending_days(db) == []


def test_a_plain_sql_event_in_year_9999_does_not_stop_the_rollup(db):
    emit(db, "growth", "lead.created", occurred_at="2025-01-02T12:00:00Z")
    far = ("'9999-12-31 23:00:00+00'" if db.dialect == "postgresql"
           else "'9999-12-31 23:00:00.000000'")
    sql(db, "INSERT INTO module_events (module, event_type, occurred_at) "
            f"VALUES ('growth', 'lead.created', {far})")
    report = aggregate_pending(db)
    assert report.days == 1
    assert stored_aggregates(db) == {(date(2025, 1, 2), "growth", "lead.created"): 1}
    rebuild(db)
    assert stored_aggregates(db) == {(date(2025, 1, 2), "growth", "lead.created"): 1}


def test_emptying_the_events_drops_their_counts(db, backend):
    emit(db, "growth", "lead.created", occurred_at="2025-01-02T12:00:00Z")
    aggregate_pending(db)
    if backend == "postgres":
        sql(db, "TRUNCATE module_events")  # runs no row trigger: its own clears all
    else:
        sql(db, "DELETE FROM module_events")  # SQLite has no TRUNCATE
        aggregate_pending(db)
    assert stored_aggregates(db) == {}
    assert pending_days(db) == []
    assert summary(db)["events_total"] == 0


def test_days_outside_the_counted_years_are_refused(cli):
    result = cli("aggregate", "--since", "9999-12-30", "--until", "9999-12-31")
    assert result.exit_code == 1
    assert "since='9999-12-30': outside the years 1900 to 2199" in result.output
