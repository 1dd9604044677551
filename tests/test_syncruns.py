import socket
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from nessdata.db import now_utc
from nessdata.errors import JobBusy
from nessdata.schema import sync_runs
from nessdata.syncruns import recorded_run


def running_row(db, pid, hostname, minutes_ago=0):
    then = now_utc() - timedelta(minutes=minutes_ago)
    with db.begin(write=True) as conn:
        conn.execute(insert(sync_runs).values(
            source="bcb", params={}, status="running", started_at=then,
            heartbeat_at=then, records_written=0, pid=pid, hostname=hostname))


def rows(db):
    with db.begin() as conn:
        return conn.execute(select(sync_runs).order_by(sync_runs.c.id)).mappings().all()


def test_a_run_whose_process_is_gone_no_longer_blocks(db):
    gone = subprocess.Popen(["true"])
    gone.wait()
    running_row(db, gone.pid, socket.gethostname())
    with recorded_run(db, "bcb", {}) as run:
        run.records_written = 3
    old, new = rows(db)
    assert old["status"] == "failed" and f"process {gone.pid} is gone" in old["error"]
    assert (new["status"], new["records_written"]) == ("ok", 3)


def test_a_live_run_elsewhere_blocks_until_its_heartbeat_is_stale(db):
    running_row(db, 1, "another-machine")
    with pytest.raises(JobBusy, match="already running"):
        with recorded_run(db, "bcb", {}):
            pass
    assert [r["status"] for r in rows(db)] == ["running"]


def test_a_failure_is_logged_with_its_error(db):
    with pytest.raises(KeyboardInterrupt):
        with recorded_run(db, "bcb", {"since": "2025-01-01"}):
            raise KeyboardInterrupt("stopped by signal 15")
    (row,) = rows(db)
    assert row["status"] == "failed"
    assert row["error"] == "KeyboardInterrupt: stopped by signal 15"
