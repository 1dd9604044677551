"""Commands of the BCB rates: `sync bcb`, `rates get` and `rates list`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from ..bcb import RATES, rate_on, rates_between, sync_rates
from . import echo_json, main, sync, with_state

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])
RATE_TYPE = click.Choice(list(RATES))


def _day(value):
    return value.date() if value is not None else None


@sync.command("bcb")
@click.option("--since", type=ISO_DATE,
              help="First date (default: the first of the month 3 months back; "
              "NESSDATA_BCB_TRAILING_MONTHS).")
@click.option("--until", type=ISO_DATE, help="Last date (default: today).")
@click.option("--rate", "rates", type=RATE_TYPE, multiple=True,
              help="Only this rate type (repeatable; default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_state
def sync_bcb(state, since, until, rates, as_json):
    """Fetch BCB rates (PTAX, IPCA, IGP-M, SELIC, CDI) into bcb_rates_snapshot.

    Upserts: running it again changes nothing. Long ranges are asked in windows
    of at most 5 years. A failure writes nothing and is logged in sync_runs."""
    report = sync_rates(state.database(), state.settings, since=_day(since),
                        until=_day(until), rates=rates or None, show_progress=True)
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.since}..{report.until}: {report.requests} requests, "
               f"{report.fetched} rows, {report.inserted} new, {report.updated} "
               f"changed, {report.unchanged} unchanged")
    for key, last in report.last_dates.items():
        click.echo(f"  {key:<12} latest {last or '—'}")


@main.group()
def rates():
    """Read BCB rates back from bcb_rates_snapshot."""


@rates.command("get")
@click.argument("rate_type", metavar="TYPE", type=RATE_TYPE)
@click.argument("day", metavar="DATE", type=ISO_DATE)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_state
def rates_get(state, rate_type, day, as_json):
    """The value of rate TYPE in force on DATE (YYYY-MM-DD).

    On a day without a quote (weekend, holiday) it is the last one before, and
    says so; a monthly rate takes DATE's month. Exit status 1 when there is no
    value yet."""
    found = rate_on(state.database(), rate_type, _day(day))
    if as_json:
        echo_json(found.as_dict())
        return
    click.echo(f"{found.rate_type} {found.date}: {_describe(found)}")
    if found.carried:
        click.echo(f"  no quote on {found.date}: this is the closing of "
                   f"{found.ref_date}")


@rates.command("list")
@click.argument("rate_type", metavar="TYPE", type=RATE_TYPE)
@click.option("--since", type=ISO_DATE, help="First date (default: the first held).")
@click.option("--until", type=ISO_DATE, help="Last date (default: the last held).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_state
def rates_list(state, rate_type, since, until, as_json):
    """Every stored value of rate TYPE between --since and --until."""
    found = rates_between(state.database(), rate_type, _day(since), _day(until))
    if as_json:
        echo_json([value.as_dict() for value in found])
        return
    series = RATES[rate_type]
    table = Table("ref_date", "value", "buy", "sell",
                  title=f"{series.title} ({series.unit})")
    for value in found:
        table.add_row(value.ref_date.isoformat(), str(value.value),
                      _plain(value.value_buy), _plain(value.value_sell))
    Console().print(table)


def _describe(found) -> str:
    unit = RATES[found.rate_type].unit
    if found.value_buy is None:
        return f"{found.value} {unit} (ref_date {found.ref_date})"
    return (f"sell {found.value_sell}, buy {found.value_buy} {unit} (ref_date "
            f"{found.ref_date})")


def _plain(value) -> str:
    return "—" if value is None else str(value)
