"""Commands of the web app: `serve`, `tokens` and `scheduler`."""

from __future__ import annotations

import signal
import threading

import click
from rich.console import Console
from rich.table import Table

from . import echo_json, main, with_db, with_state


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@with_state
def serve(state, host, port):
    """Serve the ness.DATA page, the JSON API and the cron endpoints."""
    import uvicorn

    from ..web import create_app

    app = create_app(state.settings, state.database())
    click.echo(f"ness.DATA on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=state.settings.log_level.lower(),
                server_header=False, proxy_headers=False)


# -- tokens -------------------------------------------------------------------------

@main.group()
def tokens():
    """API tokens of the web app (the page's login and the JSON API)."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses it, e.g. ana or crm.")
@click.option("--role", required=True, type=click.Choice(["admin", "fin", "ops",
                                                          "viewer"]),
              help="viewer/ops read; fin and admin may also run jobs.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["events"]),
              help="Extra rights: events lets it POST /api/events. Repeatable.")
@with_db
def tokens_create(database, name, role, scopes):
    """Create a token and print it: it is shown only this once."""
    from ..tokens import create_token

    token = create_token(database, name, role, scopes)
    click.echo(token)
    click.echo(f"token {name!r} ({role}) created; store it now, it cannot be shown "
               "again", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_db
def tokens_list(database, as_json):
    """List tokens (never the tokens themselves)."""
    from ..tokens import list_tokens

    rows = list_tokens(database)
    if as_json:
        echo_json(rows)
        return
    table = Table("name", "role", "scopes", "created", "last used", "revoked")
    for row in rows:
        table.add_row(row["name"], row["role"], row["scopes"] or "-",
                      *(_when(row[k]) for k in ("created_at", "last_used_at",
                                                "revoked_at")))
    Console().print(table)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@tokens.command("revoke")
@click.argument("name")
@with_db
def tokens_revoke(database, name):
    """Revoke the token NAME: it and its page sessions stop working at once."""
    from ..tokens import revoke_token

    when = revoke_token(database, name)
    click.echo(f"token {name!r} revoked at {_when(when)}")


# -- scheduler ----------------------------------------------------------------------

@main.command()
@click.option("--list", "show", is_flag=True,
              help="Print the schedule, last and next runs, and exit.")
@with_state
def scheduler(state, show):
    """Run the daily job's steps on their cron schedules (business time zone), one
    at a time; a run missed while it was down is made up on start.

    Schedules are the settings NESSDATA_SCHEDULE_ROLLUP, _BCB, _OMIE and _INDICES
    (an empty one turns its job off)."""
    from ..db import now_utc
    from ..scheduler import Scheduler

    runner = Scheduler(state.database(), state.settings)
    if show:
        _print_schedule(runner, now_utc())
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.serve(stop)
    except KeyboardInterrupt:
        pass
    click.echo("scheduler stopped", err=True)


def _local(value, tz) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "-"


def _print_schedule(runner, now) -> None:
    last = runner.last_runs()
    due = set(runner.due(now))
    table = Table("job", "schedule", "last run", "next run",
                  title=f"times in {runner.db.tz.key}")
    for entry in runner.entries:
        upcoming = entry.cron.next_after(now, runner.db.tz)
        table.add_row(entry.job, entry.cron.text,
                      _local(last.get(entry.job), runner.db.tz),
                      "now (missed)" if entry.job in due
                      else _local(upcoming, runner.db.tz))
    Console().print(table)
