"""The JSON API: thin routes over the Python API."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidValue
from ..serialize import jsonable
from ..tokens import Principal
from ..triggers import get_job, parse_day, parse_month, run_job
from .auth import emitter, reader, trigger
from .cooldown import claim

router = APIRouter(prefix="/api", tags=["api"])
Reader = Annotated[Principal, Depends(reader)]
Trigger = Annotated[Principal, Depends(trigger)]
Emitter = Annotated[Principal, Depends(emitter)]
MAX_RANGE_DAYS = 3660


def ok(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable(value), status_code=status)


def _range(since: date | None, until: date | None) -> None:
    if since and until and until < since:
        raise InvalidValue("until", until.isoformat(), f"is before since {since}")
    if since and until and (until - since).days > MAX_RANGE_DAYS:
        raise InvalidValue("since", since.isoformat(),
                           f"the range is longer than {MAX_RANGE_DAYS} days")


@router.get("/health", summary="Liveness check; needs no token.")
def health():
    return {"status": "ok"}


@router.get("/summary", summary="Where the data stands (as `nessdata summary`).")
def get_summary(request: Request, who: Reader):
    from ..summary import summary

    return ok(summary(request.app.state.db))


@router.get("/event-aggregates", summary="Daily event counts (default: 30 days).")
def get_event_aggregates(request: Request, who: Reader,
                         since: str | None = Query(None, description="YYYY-MM-DD"),
                         until: str | None = Query(None, description="YYYY-MM-DD"),
                         module: str | None = None):
    from ..queries import event_aggregates_between

    first, last = parse_day(since, "since"), parse_day(until, "until")
    _range(first, last)
    return ok(event_aggregates_between(request.app.state.db, first, last, module))


@router.get("/indices", summary="Monthly indices, as `nessdata indices show`.")
def get_indices(request: Request, who: Reader,
                key: str | None = None,
                since: str | None = Query(None, description="YYYY-MM"),
                until: str | None = Query(None, description="YYYY-MM")):
    from ..indices import read_indices

    first, last = parse_month(since, "since"), parse_month(until, "until")
    _range(first, last)
    return ok(read_indices(request.app.state.db, key=key, since=first, until=last))


@router.get("/rates", summary="Stored BCB rates (default: the last 366 days).")
def get_rates(request: Request, who: Reader,
              type: str | None = Query(None, description="e.g. dollar_ptax, ipca"),
              since: str | None = Query(None, description="YYYY-MM-DD"),
              until: str | None = Query(None, description="YYYY-MM-DD")):
    from ..queries import rates_between

    first, last = parse_day(since, "since"), parse_day(until, "until")
    _range(first, last)
    return ok(rates_between(request.app.state.db, type, first, last))


@router.get("/revenue", summary="Omie revenue per client of a month (default: "
            "the newest month held).")
def get_revenue(request: Request, who: Reader,
                period: str | None = Query(None, description="YYYY-MM")):
    from ..queries import revenue_for_period

    return ok(revenue_for_period(request.app.state.db, parse_month(period, "period")))


@router.get("/sync-runs", summary="The most recent sync runs, newest first.")
def get_sync_runs(request: Request, who: Reader,
                  limit: int = Query(20, ge=1, le=500)):
    from ..syncruns import recent_runs

    return ok(recent_runs(request.app.state.db, limit))


EVENTS_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"oneOf": [{"type": "object"}, {"type": "array",
                                              "items": {"type": "object"}}]}}}}}


@router.post("/events", summary="Store one event or a batch; idempotent on event_id.",
             openapi_extra=EVENTS_BODY)
async def post_events(request: Request, who: Emitter):
    events = await _json_body(request)
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not events:
        raise InvalidValue("body", events, "must be an event object or a non-empty "
                           "array of them")
    return await run_in_threadpool(_store_events, request, events)


def _store_events(request: Request, events: list) -> JSONResponse:
    from ..events import EventWriter

    state = request.app.state
    writer = EventWriter(state.db, state.settings.max_payload_bytes)
    report = writer.emit_many(events, source="request")
    return ok(report.as_dict(), 201 if report.inserted else 200)


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip() not in ("application/json", ""):
        raise InvalidValue("content-type", content_type, "must be application/json")
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidValue("body", raw[:80].decode(errors="replace"),
                           f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidValue("body", raw[:80].decode(errors="replace"),
                           "nested too deeply") from None


@router.post("/jobs/{name}", summary="Run a job now (admin or fin; with the "
             "cooldown). Names and parameters as the cron endpoints.")
def post_job(name: str, request: Request, who: Trigger):
    job = get_job(name)
    params = job.parse(dict(request.query_params))
    state = request.app.state
    with claim(state.cooldowns, name):
        return ok(run_job(state.db, state.settings, name, params, manual=True))
