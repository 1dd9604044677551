"""Tokens, roles and scopes, the page's session cookie and CSRF."""

import hashlib
import json

import pytest
from sqlalchemy import select
from web_support import auth, client_for, csrf_of, login, token

from nessdata.errors import InvalidValue
from nessdata.schema import api_tokens
from nessdata.tokens import authenticate, create_token, revoke_token


def _rows(db):
    with db.begin() as conn:
        return conn.execute(select(api_tokens)).mappings().all()


# -- tokens ---------------------------------------------------------------------------

def test_tokens_create_prints_a_token_once_and_stores_only_its_hash(cli, db):
    result = cli("tokens", "create", "--name", "crm", "--role", "ops",
                 "--scope", "events")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("nd_") and len(secret) > 40
    assert "cannot be shown again" in result.stderr
    (row,) = _rows(db)
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps({k: str(v) for k, v in row.items()})
    assert (row["name"], row["role"], row["scopes"]) == ("crm", "ops", "events")

    listed = json.loads(cli("tokens", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["crm"]
    assert "token_hash" not in listed[0]


def test_tokens_revoke_stops_the_token(cli, db):
    secret = cli("tokens", "create", "--name", "ana", "--role", "viewer").stdout.strip()
    assert authenticate(db, secret).name == "ana"
    result = cli("tokens", "revoke", "ana")
    assert result.exit_code == 0 and "revoked" in result.stdout
    assert authenticate(db, secret) is None
    assert _rows(db)[0]["revoked_at"] is not None
    missing = cli("tokens", "revoke", "nobody")
    assert missing.exit_code == 1 and "no token named 'nobody'" in missing.stderr


def test_bad_token_input_names_the_field(db):
    with pytest.raises(InvalidValue) as bad_role:
        create_token(db, "x", "root")
    assert bad_role.value.field == "role"
    with pytest.raises(InvalidValue) as bad_scope:
        create_token(db, "x", "viewer", ["everything"])
    assert bad_scope.value.field == "scope"
    create_token(db, "twice", "viewer")
    with pytest.raises(InvalidValue, match="a token with this name exists"):
        create_token(db, "twice", "admin")


def test_a_used_token_records_when(db):
    secret = token(db, "viewer")
    assert _rows(db)[0]["last_used_at"] is None
    client_for(db).get("/api/summary", headers=auth(secret))
    assert _rows(db)[0]["last_used_at"] is not None


# -- who may do what ------------------------------------------------------------------

EVENT = {"module": "growth", "event_type": "lead.created"}


@pytest.mark.parametrize("role", ["admin", "fin", "ops", "viewer"])
def test_every_role_reads(db, role):
    response = client_for(db).get("/api/summary", headers=auth(token(db, role)))
    assert response.status_code == 200
    assert response.json()["events_total"] == 0


def test_no_token_unknown_token_and_revoked_token_are_401(db):
    client = client_for(db)
    none = client.get("/api/summary")
    assert none.status_code == 401
    assert none.json()["field"] == "authorization"
    assert none.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/summary", headers=auth("nd_made-up")).status_code == 401
    secret = token(db, "admin", name="gone")
    revoke_token(db, "gone")
    revoked = client.get("/api/summary", headers=auth(secret))
    assert revoked.status_code == 401
    assert revoked.json()["message"] == "the token is unknown or revoked"


@pytest.mark.parametrize("role, allowed", [("viewer", False), ("ops", False),
                                           ("fin", True), ("admin", True)])
def test_only_admin_and_fin_run_jobs(db, role, allowed):
    response = client_for(db).post("/api/jobs/aggregate-events?date=2025-03-04",
                                   headers=auth(token(db, role)))
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["report"]["days"] == 1
    else:
        assert response.status_code == 403
        assert "may read but not run jobs" in response.json()["message"]


@pytest.mark.parametrize("role, scopes, allowed", [
    ("viewer", (), False), ("fin", (), False), ("viewer", ("events",), True),
    ("ops", ("events",), True), ("admin", (), True),
])
def test_emitting_needs_the_events_scope_or_admin(db, role, scopes, allowed):
    response = client_for(db).post("/api/events", json=EVENT,
                                   headers=auth(token(db, role, *scopes)))
    assert response.status_code == (201 if allowed else 403), response.text
    if not allowed:
        assert "events scope" in response.json()["message"]


# -- the page's session ---------------------------------------------------------------

def test_the_page_asks_for_a_login_first(db):
    response = client_for(db).get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_login_sets_a_signed_httponly_samesite_cookie(db):
    client = client_for(db)
    form = client.get("/login")
    response = client.post("/login", data={"csrf": csrf_of(form.text),
                                           "token": token(db, "viewer")},
                           follow_redirects=False)
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith("nessdata_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags
    assert client.get("/").status_code == 200


def test_the_secure_flag_follows_the_setting(db):
    client = client_for(db, "https://testserver", cookie_secure=True,
                        cookie_samesite="strict")
    form = client.get("/login")
    response = client.post("/login", data={"csrf": csrf_of(form.text),
                                           "token": token(db, "viewer")},
                           follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "; secure" in cookie and "samesite=strict" in cookie


def test_a_wrong_token_on_the_form_is_refused(db):
    client = client_for(db)
    form = client.get("/login")
    response = client.post("/login", data={"csrf": csrf_of(form.text),
                                           "token": "nd_wrong"})
    assert response.status_code == 401
    assert "Token desconhecido ou revogado" in response.text
    assert "nessdata_session" not in response.headers.get("set-cookie", "")


def test_a_forged_or_tampered_cookie_is_no_session(db):
    client = client_for(db)
    login(client, token(db, "viewer"))
    value = client.cookies["nessdata_session"]
    client.cookies.set("nessdata_session", value[:-2] + ("AA" if value[-2:] != "AA"
                                                         else "BB"))
    assert client.get("/", follow_redirects=False).status_code == 303
    other = client_for(db, session_secret="another-key")
    other.cookies.set("nessdata_session", value)
    assert other.get("/", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_page_session(db):
    client = client_for(db)
    login(client, token(db, "viewer", name="temp"))
    revoke_token(db, "temp")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_session_cookie_reads_the_api_but_cannot_post_to_it(db):
    client = client_for(db)
    login(client, token(db, "admin"))
    assert client.get("/api/summary").status_code == 200
    # A cookie alone could be sent by another site's form: writes need a Bearer.
    assert client.post("/api/events", json=EVENT).status_code == 401
    assert client.post("/api/jobs/aggregate-events").status_code == 401


def test_login_without_the_form_csrf_is_refused(db):
    client = client_for(db)
    client.get("/login")
    response = client.post("/login", data={"csrf": "guessed",
                                           "token": token(db, "admin")})
    assert response.status_code == 403
    assert response.json()["field"] == "csrf"


def test_a_state_changing_form_without_csrf_is_refused(db):
    client = client_for(db)
    login(client, token(db, "admin"))
    for path in ("/actions/aggregate-events", "/logout"):
        response = client.post(path, data={"csrf": "wrong"})
        assert response.status_code == 403, path
        assert "CSRF" in response.json()["message"]
    assert client.get("/").status_code == 200  # still logged in


def test_a_cross_site_post_is_refused_by_its_origin(db):
    client = client_for(db)
    csrf = login(client, token(db, "admin"))
    response = client.post("/actions/aggregate-events", data={"csrf": csrf},
                           headers={"Origin": "http://evil.example"})
    assert response.status_code == 403
    assert response.json()["field"] == "origin"


def test_logout_clears_the_session(db):
    client = client_for(db)
    csrf = login(client, token(db, "viewer"))
    response = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "nessdata_session=\"\"" in response.headers["set-cookie"]
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_copied_cookie_is_refused_after_logout(db):
    client = client_for(db)
    csrf = login(client, token(db, "fin"))
    copied = client.cookies.get("nessdata_session")
    client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    thief = client_for(db)
    thief.cookies.set("nessdata_session", copied)
    assert thief.get("/", follow_redirects=False).status_code == 303
    assert thief.get("/api/summary").status_code == 401
    response = thief.post("/actions/aggregate-events", data={"csrf": csrf},
                          follow_redirects=False)
    assert (response.status_code, response.headers.get("location")) == (303, "/login")


def test_deeply_nested_json_is_a_400(db):
    client = client_for(db)
    response = client.post("/api/events", content="[" * 5000 + "]" * 5000,
                           headers={"Authorization": f"Bearer {token(db, 'admin')}",
                                    "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["field"] == "body"
