"""Who is asking: Bearer API tokens, the page's signed session cookie, CSRF tokens
and the cron secret."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, insert, select

from ..db import Database, now_utc
from ..schema import nessdata_meta

from ..settings import Settings
from ..tokens import Principal, authenticate, principal_by_id
from .errors import Forbidden, Unauthorized, WebError

log = logging.getLogger(__name__)

SESSION_COOKIE = "nessdata_session"
# nessdata_meta keys of sessions logged out before their cookie expired.
ENDED_PREFIX = "session_ended:"
LOGIN_COOKIE = "nessdata_login"
BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str


class Sessions:
    """Signs and reads session cookies: the token's id and a CSRF secret."""

    def __init__(self, settings: Settings):
        secret = settings.session_secret
        if secret is None:
            log.warning("NESSDATA_SESSION_SECRET is not set: a random key signs the "
                        "sessions, so they end when this process restarts")
            key = secrets.token_urlsafe(32)
        else:
            key = secret.get_secret_value()
        self.serializer = URLSafeTimedSerializer(key, salt="nessdata-session")
        self.max_age = settings.session_hours * 3600
        self.secure = settings.cookie_secure
        self.samesite = settings.cookie_samesite

    def dumps(self, token_id: int) -> str:
        return self.serializer.dumps({"t": token_id, "c": secrets.token_urlsafe(24)})

    def read(self, request: Request) -> Session | None:
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            data = self.serializer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None
        db = request.app.state.db
        if _ended(db, data["c"]):
            return None
        principal = principal_by_id(db, int(data["t"]))
        return Session(principal, data["c"]) if principal else None

    def end(self, db: Database, session: Session) -> None:
        """Log a session out on the server too: a copy of its cookie is refused
        from now on. The record is kept until the cookie would have expired."""
        now = now_utc()
        meta = nessdata_meta.c
        with db.begin(write=True) as conn:
            conn.execute(delete(nessdata_meta).where(
                meta.key.like(f"{ENDED_PREFIX}%"), meta.value < now.isoformat()))
            conn.execute(insert(nessdata_meta).values(
                key=_ended_key(session.csrf),
                value=(now + timedelta(seconds=self.max_age)).isoformat()))

    def cookie_options(self) -> dict:
        return {"httponly": True, "secure": self.secure, "samesite": self.samesite,
                "path": "/"}


def _ended_key(session_secret: str) -> str:
    return ENDED_PREFIX + hashlib.sha256(session_secret.encode()).hexdigest()[:40]


def _ended(db: Database, session_secret: str) -> bool:
    with db.begin() as conn:
        return conn.execute(select(nessdata_meta.c.key).where(
            nessdata_meta.c.key == _ended_key(session_secret))).first() is not None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def api_principal(request: Request) -> Principal:
    """A Bearer token, or for reads the page's session cookie."""
    token = bearer(request)
    if token is not None:
        principal = authenticate(request.app.state.db, token)
        if principal is None:
            raise Unauthorized("the token is unknown or revoked", field="authorization",
                               headers=BEARER)
        return principal
    if request.method in ("GET", "HEAD"):
        session = request.app.state.sessions.read(request)
        if session:
            return session.principal
    raise Unauthorized("a token is required: send Authorization: Bearer <token> "
                       "(create one with `nessdata tokens create`)",
                       field="authorization", headers=BEARER)


def reader(request: Request) -> Principal:
    return api_principal(request)


def trigger(request: Request) -> Principal:
    principal = api_principal(request)
    if not principal.can_trigger:
        raise Forbidden(f"role {principal.role} may read but not run jobs; "
                        "admin or fin may", field="authorization")
    return principal


def emitter(request: Request) -> Principal:
    principal = api_principal(request)
    if not principal.can_emit:
        raise Forbidden("emitting events needs a token with the events scope "
                        "(or the admin role)", field="authorization")
    return principal


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(
        expected.encode(), given.encode()
    ):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page "
                        "and try again", field="csrf")


def check_cron_secret(request: Request) -> None:
    """Fail closed: no secret configured refuses every call, saying why."""
    secret = request.app.state.settings.cron_secret
    if secret is None or not secret.get_secret_value():
        raise WebError("the cron endpoints are disabled: NESSDATA_CRON_SECRET is not "
                       "set on the server", status=503, field="authorization")
    given = bearer(request)
    if given is None:
        raise Unauthorized("send Authorization: Bearer <NESSDATA_CRON_SECRET>",
                           field="authorization", headers=BEARER)
    if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
        raise Unauthorized("wrong cron secret", field="authorization", headers=BEARER)
