"""The command line of the benchmarks."""

from __future__ import annotations

import argparse
import logging

from .run import Options, run

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
INGEST_CAP = 1_000_000
# The data ends 2026-06-30; older days would reach São Paulo's daylight-saving
# years, which the hand-written SQLite floor (one fixed offset) does not handle.
MAX_DAYS = 2400


def parse(argv=None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=100_000,
                        help="events in the data set (default 100000)")
    parser.add_argument("--days", type=int, default=90,
                        help="local days they span (default 90)")
    parser.add_argument("--ingest-events", type=int,
                        help="events for the ingest step (default: --events, at most "
                             f"{INGEST_CAP}: one emit_many batch holds them all)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per step; the best counts (default 3)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help="a PostgreSQL server to make throw-away databases on")
    args = parser.parse_args(argv)
    if args.events < 100 or not 8 <= args.days <= MAX_DAYS or args.repeat < 1:
        parser.error(f"need --events >= 100, 8 <= --days <= {MAX_DAYS} and "
                     "--repeat >= 1")
    ingest = args.ingest_events or min(args.events, INGEST_CAP)
    return Options(args.db, args.events, args.days, ingest, args.repeat, args.pg_url)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run(parse())
