"""Benchmarks of nessdata against the best each database does on the same data.

`python -m benchmarks [--db sqlite|postgres|both] [--events N] [--days D]` prints
one JSON line per measurement: name, db, events, seconds, baseline_seconds, ratio
(seconds / baseline_seconds, lower is better) and peak_rss_mb (the peak resident
memory of the process that ran the measured step, each step in a fresh process).
"""
