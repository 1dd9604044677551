"""/api/cron/<job>: for outside schedulers, GET or POST, Bearer NESSDATA_CRON_SECRET.

Query parameters choose a period or a range (a backfill); the answer is the job's
JSON report, 409 while the same job runs. The call waits for the job to end."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..triggers import JOBS, get_job, run_job
from .api import ok
from .auth import check_cron_secret

router = APIRouter(prefix="/api/cron", tags=["cron"],
                   dependencies=[Depends(check_cron_secret)])


def _run(name: str, request: Request):
    job = get_job(name)
    params = job.parse(dict(request.query_params))
    state = request.app.state
    return ok(run_job(state.db, state.settings, name, params))


def _register(name: str) -> None:
    def endpoint(request: Request):
        return _run(name, request)

    summary = f"{JOBS[name].title}. Parameters: {JOBS[name].params_help}."
    for method in ("GET", "POST"):
        router.add_api_route(f"/{name}", endpoint, methods=[method], summary=summary,
                             operation_id=f"cron_{name}_{method}".replace("-", "_"))


for _name in JOBS:
    _register(_name)
