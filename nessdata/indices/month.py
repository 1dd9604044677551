"""The month being computed, and the run it belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection

from ..db import Database
from ..localtime import day_bounds, month_start, next_month
from .registry import REGISTRY, Outcome


@dataclass
class Run:
    """One computation over a range of months: what its months share."""

    db: Database
    base_month: date | None
    conn: Connection | None = None
    # (index_key, period) -> Outcome: a month may use its predecessor's values.
    memo: dict[tuple[str, date], Outcome] = field(default_factory=dict)
    # Inputs read once per run (the modules that have events, the sync runs).
    cache: dict[str, Any] = field(default_factory=dict)


class Month:
    """A local calendar month: its days, its UTC instants, and its indices."""

    def __init__(self, run: Run, period: date):
        self.run = run
        self.period = month_start(period)
        self.last = next_month(self.period) - timedelta(days=1)
        self.start, self.end = day_bounds(self.period, self.last, run.db.tz)

    @property
    def db(self) -> Database:
        return self.run.db

    @property
    def conn(self) -> Connection:
        return self.run.conn

    def previous(self) -> Month:
        return Month(self.run, self.period - timedelta(days=1))

    def get(self, key: str) -> Outcome:
        """The month's value of a (non-family) index, computed once per run."""
        memo = self.run.memo
        if (key, self.period) not in memo:
            for found, outcome in REGISTRY[key].compute(self).items():
                memo[(found, self.period)] = outcome
        return memo[(key, self.period)]

    def all(self) -> dict[str, Outcome]:
        """Every index of the month, family members included."""
        outcomes = {}
        for definition in REGISTRY.values():
            if definition.family:
                outcomes.update(definition.compute(self))
            else:
                outcomes[definition.key] = self.get(definition.key)
        return outcomes
