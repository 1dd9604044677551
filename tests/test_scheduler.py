"""`nessdata scheduler`: cron expressions in the business time zone, catch-up of
missed runs, one job at a time."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from nessdata.errors import InvalidValue, JobBusy, UpstreamError
from nessdata.scheduler import Cron, Scheduler, entries
from nessdata.settings import Settings
from nessdata.triggers import run_job

SP = ZoneInfo("America/Sao_Paulo")


def sp(*parts) -> datetime:
    return datetime(*parts, tzinfo=SP)


def test_weekday_schedule_in_the_business_time_zone():
    bcb = Cron.parse("0 14 * * 1-5")
    # Friday 2025-03-07 15:00 local: next is Monday 14:00 local = 17:00 UTC.
    assert bcb.next_after(sp(2025, 3, 7, 15, 0), SP) == datetime(2025, 3, 10, 17,
                                                                  tzinfo=UTC)
    assert bcb.last_at_or_before(sp(2025, 3, 9, 10, 0), SP) == sp(2025, 3, 7, 14, 0)
    assert bcb.last_at_or_before(sp(2025, 3, 7, 14, 0), SP) == sp(2025, 3, 7, 14, 0)


def test_lists_ranges_steps_and_sunday_as_0_or_7():
    cron = Cron.parse("*/15 3,5 1 * *")
    assert cron.next_after(sp(2025, 3, 1, 3, 44), SP) == sp(2025, 3, 1, 3, 45)
    assert cron.next_after(sp(2025, 3, 1, 5, 45), SP) == sp(2025, 4, 1, 3, 0)
    assert Cron.parse("0 9 * * 7").fields == Cron.parse("0 9 * * 0").fields
    # Day and weekday both restricted: either matches, as in cron.
    either = Cron.parse("0 0 13 * 5")
    assert either.next_after(sp(2025, 6, 1), SP) == sp(2025, 6, 6, 0, 0)  # a Friday


def test_across_the_old_daylight_saving_change():
    # São Paulo kept DST until 2019: 2018-11-04 had no 00:00-00:59.
    daily = Cron.parse("0 3 * * *")
    assert daily.next_after(sp(2018, 11, 3, 12), SP) == datetime(2018, 11, 4, 5,
                                                                  tzinfo=UTC)


@pytest.mark.parametrize("text", ["0 14 * *", "60 * * * *", "0 24 * * *",
                                  "x * * * *", "0 0 0 * *", "5-1 * * * *",
                                  "*/0 * * * *"])
def test_bad_schedules_name_the_setting(text):
    with pytest.raises(InvalidValue) as error:
        entries(Settings(schedule_bcb=text))
    assert error.value.field == "NESSDATA_SCHEDULE_BCB"


def test_an_empty_schedule_turns_its_job_off():
    assert [e.job for e in entries(Settings(schedule_omie=""))] == [
        "sync-bcb-rates", "aggregate-events", "compute-data-indices"]


class Recorder:
    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail or {}

    def __call__(self, db, settings, name):
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]
        return {"report": {"ran": name}}


def _scheduler(db, clock, run=run_job, **settings):
    values = {"database_url": db.url, "timezone": db.tz.key}
    values.update(settings)
    return Scheduler(db, Settings(**values), run=run, clock=lambda: clock[0])


def test_missed_runs_are_caught_up_once_on_start_then_run_on_time(db):
    clock = [sp(2025, 3, 10, 9, 0)]  # a Monday morning
    run = Recorder()
    scheduler = _scheduler(db, clock, run)
    # Nothing ever ran: each job's latest scheduled time is missed, made up once,
    # in the order the daily job runs them.
    scheduler.run_due()
    assert run.calls == ["sync-bcb-rates", "sync-omie-revenue", "aggregate-events",
                         "compute-data-indices"]
    scheduler.run_due()
    assert len(run.calls) == 4  # nothing due twice

    clock[0] = sp(2025, 3, 10, 14, 0)
    assert scheduler.run_due() == [("sync-bcb-rates", "ok")]
    assert scheduler.next_wake(clock[0]) == sp(2025, 3, 11, 3, 0)

    # Down from Monday 15:00 to Wednesday 10:00: each job runs once on start.
    clock[0] = sp(2025, 3, 12, 10, 0)
    restarted = _scheduler(db, clock, run)
    assert [name for name, _ in restarted.run_due()] == [
        "sync-bcb-rates", "sync-omie-revenue", "aggregate-events",
        "compute-data-indices"]
    assert restarted.last_runs()["aggregate-events"] == sp(2025, 3, 12, 10, 0)


def test_a_failing_or_busy_job_does_not_stop_the_others(db, caplog):
    clock = [sp(2025, 3, 10, 9, 0)]
    run = Recorder(fail={"sync-bcb-rates": UpstreamError("BCB answered 504"),
                         "aggregate-events": JobBusy("already running")})
    outcomes = dict(_scheduler(db, clock, run).run_due())
    assert outcomes == {"sync-bcb-rates": "failed: BCB answered 504",
                        "sync-omie-revenue": "ok",
                        "aggregate-events": "busy: already running",
                        "compute-data-indices": "ok"}
    assert "scheduler: sync-bcb-rates failed: BCB answered 504" in caplog.text


def test_the_scheduler_runs_the_real_jobs(db):
    clock = [sp(2025, 3, 10, 9, 0)]
    scheduler = _scheduler(db, clock, schedule_bcb="", schedule_omie="")
    outcomes = dict(scheduler.run_due())
    assert outcomes == {"aggregate-events": "ok", "compute-data-indices": "ok"}


def test_scheduler_list_shows_the_schedule(cli):
    result = cli("scheduler", "--list")
    assert result.exit_code == 0, result.output
    for expected in ("sync-bcb-rates", "0 14 * * 1-5", "aggregate-events",
                     "0 3 * * *", "now (missed)"):
        assert expected in result.stdout
