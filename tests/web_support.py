"""Helpers of the web app's tests: an app over the test database, tokens, and a
logged-in page client."""

from __future__ import annotations

import re
import warnings

from nessdata.settings import Settings
from nessdata.tokens import create_token
from nessdata.web import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's notice about its httpx backend
    from starlette.testclient import TestClient

CRON_SECRET = "cron-secret-for-tests-0123456789"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def settings_for(db, **overrides) -> Settings:
    values = {"database_url": db.url, "timezone": db.tz.key,
              "cron_secret": CRON_SECRET, "session_secret": "session-key-for-tests",
              "trigger_cooldown_seconds": 0}
    values.update(overrides)
    return Settings(**values)


def client_for(db, base_url: str = "http://testserver", **overrides) -> TestClient:
    return app_client(settings_for(db, **overrides), db, base_url)


def app_client(settings: Settings, db, base_url: str = "http://testserver"
               ) -> TestClient:
    app = create_app(settings, db)
    return TestClient(app, raise_server_exceptions=False, base_url=base_url)


def token(db, role: str = "admin", *scopes: str, name: str | None = None) -> str:
    return create_token(db, name or f"{role}-{'-'.join(scopes) or 'plain'}", role,
                        scopes)


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def cron_auth(secret: str = CRON_SECRET) -> dict[str, str]:
    return auth(secret)


def csrf_of(html: str) -> str:
    return CSRF_RE.search(html).group(1)


def login(client: TestClient, value: str) -> str:
    """Log in through the form; returns the dashboard's CSRF token."""
    form = client.get("/login")
    response = client.post("/login", data={"csrf": csrf_of(form.text), "token": value},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200
    return csrf_of(page.text)
