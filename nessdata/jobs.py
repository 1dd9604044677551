"""The daily job, `nessdata run`: a list of steps run in order. A failing step is
reported and the next ones still run (a BCB outage must not stop the rollup)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .bcb.sync import daily_step as bcb_step
from .db import Database
from .errors import NessdataError
from .indices import compute_indices, parse_month
from .omie import steps as omie_steps
from .rollups import aggregate_default
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Step:
    name: str
    run: Callable[[Database, Settings, bool], Any]
    # A reason to skip the step under these settings (e.g. no Omie keys), or None.
    skip_reason: Callable[[Settings], str | None] = lambda settings: None


@dataclass
class StepResult:
    name: str
    status: str  # ok, failed or skipped
    report: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.name, "status": self.status, "report": self.report,
                "error": self.error, "seconds": round(self.seconds, 3)}


def _aggregate(db: Database, settings: Settings, show_progress: bool):
    return aggregate_default(db, show_progress=show_progress)


def _compute_indices(db: Database, settings: Settings, show_progress: bool):
    base = settings.indices_base_month
    return compute_indices(db, show_progress=show_progress,
                           base_month=parse_month(base) if base else None)


def daily_steps() -> list[Step]:
    """The steps of the daily job, in the order they run: outside data first, then
    the rollup, then what is derived from both."""
    return [
        Step("sync_bcb", bcb_step),
        Step("sync_omie_clients", omie_steps.clients_step, omie_steps.skip_reason),
        Step("sync_omie_revenue", omie_steps.revenue_step, omie_steps.skip_reason),
        Step("aggregate", _aggregate),
        Step("compute_indices", _compute_indices),
    ]


def run_daily(db: Database, settings: Settings, *, show_progress: bool = False,
              steps: list[Step] | None = None) -> list[StepResult]:
    results = []
    for step in steps or daily_steps():
        results.append(_run_step(step, db, settings, show_progress))
    failed = [r.name for r in results if r.status == "failed"]
    log.info("daily job: %d steps, %d failed%s", len(results), len(failed),
             f" ({', '.join(failed)})" if failed else "")
    return results


def _run_step(step: Step, db: Database, settings: Settings,
              show_progress: bool) -> StepResult:
    reason = step.skip_reason(settings)
    if reason:
        log.info("step %s skipped: %s", step.name, reason)
        return StepResult(step.name, "skipped", error=reason)
    started = time.perf_counter()
    try:
        outcome = step.run(db, settings, show_progress)
    except NessdataError as exc:
        log.error("step %s failed: %s", step.name, exc)
        return StepResult(step.name, "failed", error=str(exc),
                          seconds=time.perf_counter() - started)
    report = outcome.as_dict() if hasattr(outcome, "as_dict") else dict(outcome or {})
    return StepResult(step.name, "ok", report, seconds=time.perf_counter() - started)
