"""The benchmark command runs end to end at a tiny size and prints well-formed lines.

Timings are not asserted: only the shape of each line and that ratio is
seconds / baseline_seconds."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

from conftest import PG_URL, ROOT

NAMES = {"rollup_backfill", "rollup_vs_naive", "rollup_pending", "summary", "ingest",
         "ingest_triggers"}
KEYS = {"name", "db", "events", "seconds", "baseline_seconds", "ratio", "peak_rss_mb"}


def run_benchmarks(*args: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_benchmark_lines(backend, request):
    args = ["--db", backend, "--events", "400", "--days", "10", "--repeat", "1"]
    if backend == "postgres":
        request.getfixturevalue("pg_server")  # skips without a PostgreSQL
        args += ["--pg-url", PG_URL]

    lines = run_benchmarks(*args)

    assert {line["name"] for line in lines} == NAMES
    assert len(lines) == len(NAMES)
    expected_db = "postgresql" if backend == "postgres" else "sqlite"
    for line in lines:
        assert set(line) == KEYS
        assert line["db"] == expected_db
        assert line["events"] == 400
        assert line["seconds"] > 0 and line["baseline_seconds"] > 0
        assert math.isclose(line["ratio"], line["seconds"] / line["baseline_seconds"],
                            rel_tol=1e-12)
        assert line["peak_rss_mb"] > 0
    by_name = {line["name"]: line for line in lines}
    # Both rollup lines time the same rollup; the trigger line's "with triggers"
    # run is the ingest line's floor.
    rollup, naive = by_name["rollup_backfill"], by_name["rollup_vs_naive"]
    assert naive["seconds"] == rollup["seconds"]
    ingest, triggers = by_name["ingest"], by_name["ingest_triggers"]
    assert triggers["seconds"] == ingest["baseline_seconds"]


def test_bad_sizes_are_refused():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--events", "5"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "--events >= 100" in done.stderr
