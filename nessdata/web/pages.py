"""The page: login, logout, the dashboard and its buttons (forms with CSRF)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature
from starlette.concurrency import run_in_threadpool

from ..errors import JobBusy, NessdataError
from ..serialize import dumps
from ..tokens import authenticate
from ..triggers import JOBS, get_job, run_job
from . import formatting as fmt
from .auth import LOGIN_COOKIE, SESSION_COOKIE, Session, check_csrf
from .cooldown import claim
from .dashboard import dashboard, index_definitions
from .errors import CoolingDown, Forbidden

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
FLASH_COOKIE = "nessdata_flash"
LABELS = {"sync-bcb-rates": "Sincronizar taxas do BCB",
          "sync-omie-revenue": "Sincronizar faturamento do Omie",
          "aggregate-events": "Agregar eventos",
          "compute-data-indices": "Recalcular índices"}

for _name in ("brl", "brl_rate", "number", "percent", "br_date", "br_month",
              "by_unit"):
    templates.env.filters[_name] = getattr(fmt, _name)


def _session(request: Request) -> Session | None:
    return request.app.state.sessions.read(request)


def _check_origin(request: Request) -> None:
    """A browser's cross-site POST names its origin: refuse it outright."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise Forbidden(f"cross-site form post from {origin} refused", field="origin")


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None, status: int = 200):
    nonce = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, "login.html", {"csrf": nonce, "error": error}, status_code=status)
    options = request.app.state.sessions.cookie_options()
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **options)
    return response


@router.post("/login")
async def login(request: Request):
    _check_origin(request)
    form = await request.form()
    check_csrf(request.cookies.get(LOGIN_COOKIE), form.get("csrf"))
    token = str(form.get("token") or "").strip()
    principal = await run_in_threadpool(authenticate, request.app.state.db, token)
    if principal is None:
        return login_form(request, "Token desconhecido ou revogado.", 401)
    sessions = request.app.state.sessions
    response = _redirect("/")
    response.set_cookie(SESSION_COOKIE, sessions.dumps(principal.id),
                        max_age=sessions.max_age, **sessions.cookie_options())
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request):
    _check_origin(request)
    form = await request.form()
    session = await run_in_threadpool(_session, request)
    check_csrf(session.csrf if session else None, form.get("csrf"))
    if session is not None:
        state = request.app.state
        await run_in_threadpool(state.sessions.end, state.db, session)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    session = _session(request)
    if session is None:
        return _redirect("/login")
    state = request.app.state
    data = dashboard(state.db)
    definitions = index_definitions(
        {row["index_key"] for row in data["summary"]["recent_data_indices"] or ()}
        | {series["key"] for series in data["charts"]["indices"]})
    response = templates.TemplateResponse(request, "dashboard.html", {
        "who": session.principal, "csrf": session.csrf, "tz": state.db.tz,
        "data": data, "summary": data["summary"],
        "chart_json": dumps(data["charts"]).replace("</", "<\\/"),
        "jobs": _buttons(state, session), "flash": _flash(request, state),
        "datetime": lambda value: fmt.br_datetime(value, state.db.tz),
        "index_titles": {key: title for key, (title, _) in definitions.items()},
        "index_units": {key: unit for key, (_, unit) in definitions.items()},
        "cooldown_minutes": _minutes(state.settings.trigger_cooldown_seconds),
    })
    response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _minutes(seconds: int) -> str:
    if not seconds:
        return ""
    if seconds % 60:
        return f"{seconds} s"
    return f"{seconds // 60} min"


def _buttons(state, session: Session) -> list[dict]:
    if not session.principal.can_trigger:
        return []
    return [{"name": job.name, "title": LABELS.get(job.name, job.title),
             "ready_at": state.cooldowns.ready_at(job.name)} for job in JOBS.values()]


def _flash(request: Request, state) -> dict | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return None
    try:
        return state.sessions.serializer.loads(value, max_age=300, salt="flash")
    except BadSignature:  # an old or forged note is simply not shown
        return None


@router.post("/actions/{name}")
async def action(name: str, request: Request):
    _check_origin(request)
    form = await request.form()
    session = await run_in_threadpool(_session, request)
    if session is None:
        return _redirect("/login")
    check_csrf(session.csrf, form.get("csrf"))
    if not session.principal.can_trigger:
        raise Forbidden(f"role {session.principal.role} may not run jobs",
                        field="role")
    get_job(name)
    note = await run_in_threadpool(_run_from_page, request.app.state, name)
    response = _redirect("/")
    response.set_cookie(FLASH_COOKIE, request.app.state.sessions.serializer.dumps(
        note, salt="flash"), max_age=300, **request.app.state.sessions.cookie_options())
    return response


def _run_from_page(state, name: str) -> dict:
    title = LABELS.get(name, JOBS[name].title)
    try:
        with claim(state.cooldowns, name):
            result = run_job(state.db, state.settings, name, manual=True)
    except (CoolingDown, JobBusy) as exc:
        return {"level": "warn", "text": f"{title}: {exc}"}
    except NessdataError as exc:
        return {"level": "error", "text": f"{title} falhou: {exc}"}
    flat = json.loads(dumps(result["report"])).items()
    report = ", ".join(f"{k}={v}" for k, v in flat
                       if k != "seconds" and not isinstance(v, (list, dict)))
    return {"level": "ok", "text": f"{title}: ok em {fmt.number(result['seconds'], 1)}s"
            f"{' (' + report + ')' if report else ''}"}
