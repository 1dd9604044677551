"""API tokens of the web app: created once, stored only as a SHA-256 hash.

A token is shown when it is made and never again; a revoked token stops working at
once, and so do the page sessions opened with it."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from .db import Database, now_utc
from .errors import InvalidValue, NotFound
from .schema import api_tokens

log = logging.getLogger(__name__)

ROLES = ("admin", "fin", "ops", "viewer")
TRIGGER_ROLES = frozenset({"admin", "fin"})
SCOPES = ("events",)
PREFIX = "nd_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
# last_used_at is refreshed at most this often, so reading pages is not a write each.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who a request is: the token's row, without its hash."""

    id: int
    name: str
    role: str
    scopes: frozenset[str]

    @property
    def can_trigger(self) -> bool:
        return self.role in TRIGGER_ROLES

    @property
    def can_emit(self) -> bool:
        return self.role == "admin" or "events" in self.scopes


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, name: str, role: str,
                 scopes: tuple[str, ...] | list[str] = ()) -> str:
    """Store a new token's hash and return the token (the only time it is seen)."""
    _check(name, role, scopes)
    token = PREFIX + secrets.token_urlsafe(32)
    row = {"name": name, "role": role, "scopes": " ".join(sorted(set(scopes))),
           "token_hash": hash_token(token), "created_at": now_utc()}
    try:
        with db.begin(write=True) as conn:
            conn.execute(insert(api_tokens).values(**row))
    except IntegrityError:
        with db.begin() as conn:
            revoked = conn.execute(select(api_tokens.c.revoked_at)
                                   .where(api_tokens.c.name == name)).scalar()
        reason = ("was the name of a revoked token, kept for the record; choose "
                  f"another name, e.g. {name}-2" if revoked else
                  "a token with this name exists; revoke it or choose another name")
        raise InvalidValue("name", name, reason) from None
    log.info("token %s created (role %s, scopes %s)", name, role, row["scopes"] or "-")
    return token


def _check(name: str, role: str, scopes) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidValue("name", name, "must be 1-64 letters, digits or _.@- "
                           "starting with a letter or digit")
    if role not in ROLES:
        raise InvalidValue("role", role, f"must be one of {', '.join(ROLES)}")
    for scope in scopes:
        if scope not in SCOPES:
            raise InvalidValue("scope", scope, f"must be one of {', '.join(SCOPES)}")


def list_tokens(db: Database) -> list[dict[str, Any]]:
    t = api_tokens.c
    with db.begin() as conn:
        rows = conn.execute(
            select(t.id, t.name, t.role, t.scopes, t.created_at, t.last_used_at,
                   t.revoked_at).order_by(t.name)
        ).mappings()
        return [dict(row) for row in rows]


def revoke_token(db: Database, name: str) -> datetime:
    """Revoke the token called `name`; revoking twice keeps the first time."""
    t = api_tokens.c
    with db.begin(write=True) as conn:
        row = conn.execute(select(t.id, t.revoked_at).where(t.name == name)).first()
        if row is None:
            raise NotFound(f"no token named {name!r}: see `nessdata tokens list`")
        if row.revoked_at is not None:
            return row.revoked_at
        when = now_utc()
        conn.execute(update(api_tokens).where(t.id == row.id).values(revoked_at=when))
    log.info("token %s revoked", name)
    return when


def authenticate(db: Database, token: str) -> Principal | None:
    """The live token's principal, or None for an unknown or revoked token."""
    if not token or not token.startswith(PREFIX) or len(token) > 128:
        return None
    return _principal(db, api_tokens.c.token_hash == hash_token(token))


def principal_by_id(db: Database, token_id: int) -> Principal | None:
    """The principal of a page session: None once its token is revoked."""
    return _principal(db, api_tokens.c.id == token_id)


def _principal(db: Database, condition) -> Principal | None:
    t = api_tokens.c
    with db.begin() as conn:
        row = conn.execute(
            select(t.id, t.name, t.role, t.scopes, t.last_used_at, t.revoked_at)
            .where(condition)
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    _touch(db, row.id, row.last_used_at)
    return Principal(row.id, row.name, row.role, frozenset(row.scopes.split()))


def _touch(db: Database, token_id: int, last_used: datetime | None) -> None:
    now = now_utc()
    if last_used is not None and now - last_used < TOUCH_EVERY:
        return
    with db.begin(write=True) as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                     .values(last_used_at=now))
