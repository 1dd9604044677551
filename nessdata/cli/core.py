"""Commands of the foundation: the schema, events, leads, rollups, the summary, the
daily job and the demo."""

from __future__ import annotations

import sys
import uuid
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .. import migrations
from ..errors import ConfigError
from ..events import EventWriter, import_events
from ..jobs import run_daily
from ..leads import import_leads
from ..queries import event_aggregates_between
from ..rollups import aggregate_default, aggregate_pending, aggregate_range, rebuild
from ..summary import summary as read_summary
from . import (
    echo_json,
    main,
    parse_json_option,
    rejects_as_json,
    show_import_report,
    with_db,
    with_existing_db,
    with_state,
)

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _day(value) -> date | None:
    return value.date() if value is not None else None


# -- schema ------------------------------------------------------------------------

@main.group()
def db():
    """Create, upgrade or roll back the database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_state
def db_upgrade(state, revision):
    """Upgrade the schema to REVISION (default: the newest)."""
    database = state.database(check_schema=False)
    migrations.upgrade(database, revision)
    click.echo(f"schema at {migrations.current_revision(database)}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@with_state
def db_downgrade(state, revision):
    """Roll the schema back to REVISION (default: one step; `base` drops all).

    A downgrade drops the tables the rolled-back migrations created, with their
    data."""
    database = state.database(check_schema=False)
    migrations.downgrade(database, revision)
    click.echo(f"schema at {migrations.current_revision(database) or 'base (empty)'}")


@db.command("current")
@with_state
def db_current(state):
    """Print the schema revision of the database."""
    current = migrations.current_revision(state.database(check_schema=False))
    click.echo(f"{current or 'base (empty)'} (newest: {migrations.head_revision()})")


# -- events --------------------------------------------------------------------------

@main.group()
def events():
    """Store events (one, or a file of them)."""


@events.command("emit")
@click.option("--module", required=True, help="Emitting module, e.g. growth.")
@click.option("--type", "event_type", required=True, help="Event type, e.g. lead.created.")
@click.option("--entity-id", help="Id of the thing the event is about.")
@click.option("--payload", help="A JSON object.")
@click.option("--occurred-at", help="ISO 8601; naive is local time; default now.")
@click.option("--event-id", help="A UUID; default a new one. Repeating one is a no-op.")
@with_state
def events_emit(state, module, event_type, entity_id, payload, occurred_at, event_id):
    """Store one event and print its event_id."""
    writer = EventWriter(state.database(), state.settings.max_payload_bytes)
    event_id = event_id or str(uuid.uuid4())
    report = writer.emit_many([{
        "event_id": event_id, "module": module, "event_type": event_type,
        "entity_id": entity_id, "payload": parse_json_option(payload, "--payload"),
        "occurred_at": occurred_at,
    }], source="event")
    click.echo(event_id)
    if report.duplicates:
        click.echo("already stored (duplicate event_id): nothing written", err=True)


@events.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True,
              help="Store the valid rows even when some are rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_db
def events_import(database, path, skip_invalid, as_json):
    """Import events from JSON Lines (.jsonl) or CSV (.csv), in one transaction."""
    with rejects_as_json(as_json):
        report = import_events(database, path, skip_invalid=skip_invalid,
                               show_progress=True)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.inserted} stored, {report.duplicates} duplicates skipped, "
               f"{len(report.rejected)} rejected")
    for reject in report.rejected:
        click.echo(f"  skipped {reject}", err=True)


# -- leads ---------------------------------------------------------------------------

@main.group()
def leads():
    """Inbound leads."""


@leads.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id-column", required=True, help="Column with the lead's id.")
@click.option("--created-at-column", required=True,
              help="Column with the lead's creation date or time.")
@click.option("--source-column", help="Column with the lead's origin.")
@click.option("--date-format", help="strptime format of the dates, e.g. %d-%m-%Y "
              "(default ISO 8601). Naive values are local time.")
@click.option("--skip-invalid", is_flag=True,
              help="Store the valid rows even when some are rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_db
def leads_import(database, path, id_column, created_at_column, source_column,
                 date_format, skip_invalid, as_json):
    """Upsert leads from a CSV file; each new lead emits growth/lead.created."""
    with rejects_as_json(as_json):
        report = import_leads(database, path, id_column=id_column,
                              created_at_column=created_at_column,
                              source_column=source_column, date_format=date_format,
                              skip_invalid=skip_invalid, show_progress=True)
    show_import_report(report, "leads", as_json)


# -- rollups -------------------------------------------------------------------------

@main.command()
@click.option("--date", "day", type=ISO_DATE, help="Recount one local day.")
@click.option("--since", type=ISO_DATE, help="First day of a range to recount.")
@click.option("--until", type=ISO_DATE, help="Last day of the range (default: --since).")
@click.option("--pending", is_flag=True,
              help="Recount only the days whose events changed since their rollup.")
@click.option("--rebuild", "full", is_flag=True,
              help="Drop every rollup and recount the whole history.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_db
def aggregate(database, day, since, until, pending, full, as_json):
    """Count events per local day, module and type into event_aggregates.

    With no option: yesterday plus every pending day (the daily job)."""
    chosen = [name for name, given in (("--date", day), ("--since", since),
                                       ("--pending", pending), ("--rebuild", full))
              if given]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be combined")
    if until and not since:
        raise click.UsageError("--until needs --since")
    if day:
        report = aggregate_range(database, _day(day), _day(day), show_progress=True)
    elif since:
        report = aggregate_range(database, _day(since), _day(until or since),
                                 show_progress=True)
    elif pending:
        report = aggregate_pending(database, show_progress=True)
    elif full:
        report = rebuild(database, show_progress=True)
    else:
        report = aggregate_default(database, show_progress=True)
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(f"{report.days} days recounted: {report.groups} groups, "
                   f"{report.events} events, {report.seconds:.2f}s")


@main.command()
@click.option("--since", type=ISO_DATE, help="First day (default: 30 days ago).")
@click.option("--until", type=ISO_DATE, help="Last day (default: today).")
@click.option("--module", help="Only this module.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_existing_db
def aggregates(database, since, until, module, as_json):
    """Show daily counts from event_aggregates."""
    rows = event_aggregates_between(database, _day(since), _day(until), module)
    if as_json:
        echo_json(rows)
        return
    table = Table("period", "module", "event_type", "count")
    for row in rows:
        table.add_row(row["period"].isoformat(), row["module"], row["event_type"],
                      f"{row['count']:,}".replace(",", "."))
    Console().print(table)


# -- summary, daily job, demo -----------------------------------------------------------

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_existing_db
def summary(database, as_json):
    """Where the data stands: counts, last syncs, recent rollups and indices."""
    data = read_summary(database)
    if as_json:
        echo_json(data)
    else:
        print_summary(data)


def print_summary(data: dict) -> None:
    console = Console()
    table = Table("field", "value", title="nessdata summary", show_lines=False)
    for key, value in data.items():
        if key.startswith("recent_"):
            continue
        table.add_row(key, _plain(value))
    console.print(table)
    for key in ("recent_event_aggregates", "recent_data_indices"):
        rows = data.get(key)
        if rows:
            recent = Table(*rows[0].keys(), title=key)
            for row in rows:
                recent.add_row(*(_plain(v) for v in row.values()))
            console.print(recent)


def _plain(value) -> str:
    from ..serialize import jsonable

    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(jsonable(value))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the step reports as JSON.")
@with_state
def run(state, as_json):
    """The daily job: sync BCB rates, sync Omie clients and revenue (when its keys
    are set), roll up yesterday plus pending days, compute this and last month's
    indices. A failing step does not stop the next ones; the exit status is 1 if
    any failed."""
    results = run_daily(state.database(), state.settings, show_progress=True)
    if as_json:
        echo_json([r.as_dict() for r in results])
    else:
        for r in results:
            detail = r.error or ", ".join(f"{k}={_plain(v)}"
                                          for k, v in r.report.items())
            click.echo(f"{r.name:<24} {r.status:<8} {detail}")
    if any(r.status == "failed" for r in results):
        sys.exit(1)


@main.command()
@click.option("--months", default=6, show_default=True, help="Months of history.")
@click.option("--allow-postgres", is_flag=True,
              help="Also write the generated data into a PostgreSQL database.")
@with_state
def demo(state, months, allow_postgres):
    """Fill the database with a generated history, run the daily job, show the
    summary. Needs no network; safe to run twice."""
    from ..demo import run_demo

    database = state.database(check_schema=False)
    if not database.is_sqlite and not allow_postgres:
        raise ConfigError(
            f"the demo writes generated data; {database.engine.url.render_as_string()}"
            " is not SQLite: pass --allow-postgres if that is really wanted"
        )
    database.ensure_schema()
    report = run_demo(database, months=months)
    click.echo(f"demo: {report.events} new events ({report.late_events} arrived late "
               f"for {report.late_days} days), {report.clients} new clients, "
               f"{report.contracts} new contracts in {database.url}")
    print_summary(read_summary(database))
