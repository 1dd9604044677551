"""The ness.DATA web app: the page, the JSON API and the cron endpoints."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ..db import Database
from ..settings import Settings, load_settings
from . import api, cron, errors, pages
from .auth import Sessions
from .cooldown import Cooldowns
from .middleware import BodyLimit, SecurityHeaders

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None,
               db: Database | None = None) -> FastAPI:
    """The ASGI app. `db` defaults to the settings' database (schema checked)."""
    settings = settings or load_settings()
    if db is None:
        db = Database.from_settings(settings)
        db.ensure_schema()
    app = FastAPI(
        title="ness.DATA",
        summary="Events, daily rollups, BCB and Omie snapshots and indices.",
        version=_version(),
        # The interactive docs load their scripts from a CDN: only the schema is
        # served, at /api/openapi.json.
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.db = db
    app.state.sessions = Sessions(settings)
    app.state.cooldowns = Cooldowns(settings.trigger_cooldown_seconds)
    errors.install(app)
    app.include_router(api.router)
    app.include_router(cron.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=settings.web_max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nessdata")
    except PackageNotFoundError:
        return "dev"
