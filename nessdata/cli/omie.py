"""Commands of the Omie ERP: `nessdata sync omie clients|revenue` and
`nessdata revenue`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import click
from rich.console import Console
from rich.table import Table

from ..omie import revenue_snapshot, sync_clients, sync_revenue
from ..serialize import jsonable
from . import echo_json, main, sync, with_db, with_state

MONTH = click.DateTime(formats=["%Y-%m"])


def _month(value) -> date | None:
    return value.date().replace(day=1) if value is not None else None


@sync.group("omie")
def omie():
    """Omie ERP: clients, and the revenue billed per client and month."""


@omie.command("clients")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_state
def omie_clients(state, as_json):
    """Fetch Omie's clients into `clients` (matched on the Omie code, then on the
    CNPJ/CPF digits)."""
    report = sync_clients(state.database(), state.settings, show_progress=True,
                          manual=True)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.fetched} Omie clients: {report.inserted} new, "
               f"{report.updated} updated, {report.unchanged} unchanged, "
               f"{report.skipped_by_tag} without the tag")


@omie.command("revenue")
@click.option("--period", type=MONTH, help="One month, YYYY-MM.")
@click.option("--since", type=MONTH, help="First month, YYYY-MM.")
@click.option("--until", type=MONTH, help="Last month, YYYY-MM (default: this one).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_state
def omie_revenue(state, period, since, until, as_json):
    """Replace the revenue snapshot of the months with what Omie billed each
    client (titles by issue date, cancelled ones left out).

    With no month: this month and the two before it."""
    if period and (since or until):
        raise click.UsageError("--period cannot be combined with --since/--until")
    first = _month(period or since)
    last = _month(period or until)
    report = sync_revenue(state.database(), state.settings, since=first, until=last,
                          show_progress=True, manual=True)
    if as_json:
        echo_json(report.as_dict())
        return
    for month in report.months:
        click.echo(f"{month.period:%Y-%m}: {len(month.totals)} clients, "
                   f"{month.titles} titles ({month.cancelled} cancelled left out), "
                   f"{month.valor}")


@main.command("revenue")
@click.option("--period", type=MONTH, help="Month, YYYY-MM (default: the latest).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_db
def revenue(database, period, as_json):
    """Show what Omie billed each client in a month (erp_revenue_snapshot)."""
    rows = revenue_snapshot(database, _month(period))
    if as_json:
        echo_json([{"period": r["period"], "omie_codigo": r["omie_codigo"],
                    "valor": r["valor"]} for r in rows])
        return
    table = Table("period", "omie_codigo", "client", "titles", "valor")
    for r in rows:
        table.add_row(r["period"].isoformat(), str(r["omie_codigo"]),
                      r["client_name"] or "—", str(r["titles_count"]),
                      str(jsonable(r["valor"])))
    Console().print(table)
    total = sum((r["valor"] for r in rows), start=Decimal("0.00"))
    click.echo(f"{len(rows)} clients, total {total}")
