"""`nessdata indices …`: the derived monthly indices."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ..indices import REGISTRY, compute_indices, parse_month, read_indices
from ..serialize import jsonable
from . import echo_json, main, with_db, with_state


def _month_option(name: str, help_text: str):
    return click.option(name, metavar="YYYY-MM", help=help_text,
                        callback=lambda ctx, param, value: (
                            parse_month(value, name) if value else None))


@main.group()
def indices():
    """Monthly business indices (data_indices), computed from the other tables."""


@indices.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def indices_list(as_json):
    """Show every index: key, title, unit and definition."""
    rows = [{"key": d.key, "title": d.title, "unit": d.unit,
             "definition": d.definition} for d in REGISTRY.values()]
    if as_json:
        echo_json(rows)
        return
    table = Table("key", "title", "unit", "definition")
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


@indices.command("compute")
@_month_option("--period", "Compute this one month.")
@_month_option("--since", "First month of a range.")
@_month_option("--until", "Last month of the range (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_state
def indices_compute(state, period, since, until, as_json):
    """Recompute the indices of some months, replacing their stored values.

    With no option: the previous and the current local month (the daily job)."""
    if period and (since or until):
        raise click.UsageError("--period cannot be combined with --since/--until")
    if until and not since:
        raise click.UsageError("--until needs --since")
    base = state.settings.indices_base_month
    report = compute_indices(
        state.database(), since=period or since, until=period or until,
        show_progress=True, base_month=parse_month(base) if base else None)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.months} months from {report.since:%Y-%m} to "
               f"{report.until:%Y-%m}: {report.values} values, {report.missing} "
               f"missing, {report.seconds:.2f}s")


@indices.command("show")
@click.option("--key", help="Only this index.")
@_month_option("--since", "First month.")
@_month_option("--until", "Last month.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array of {period, index_key, value, metadata}.")
@with_db
def indices_show(database, key, since, until, as_json):
    """Show stored index values, oldest month first."""
    rows = read_indices(database, key=key, since=since, until=until)
    if as_json:
        echo_json(rows)
        return
    table = Table("period", "index", "value", "note")
    for row in rows:
        note = row["metadata"].get("missing", "")
        value = "—" if row["value"] is None else str(jsonable(row["value"]))
        table.add_row(row["period"].strftime("%Y-%m"), row["index_key"], value, note)
    Console().print(table)
