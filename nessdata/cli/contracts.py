"""`nessdata contracts import`: contracts from a CSV file."""

from __future__ import annotations

from pathlib import Path

import click

from ..contracts import import_contracts
from . import main, rejects_as_json, show_import_report, with_db


@main.group()
def contracts():
    """Contracts and their MRR."""


@contracts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id-column", required=True, help="Column with the contract's id.")
@click.option("--start-column", required=True, help="Column with its first day.")
@click.option("--end-column", help="Column with its last day in force (empty: open).")
@click.option("--mrr-column", help="Column with its MRR, e.g. 1234.10 (default 0).")
@click.option("--client-column", help="Column naming its client.")
@click.option("--status-column",
              help="Column with active, ended or cancelled (default: from the dates).")
@click.option("--date-format", help="strptime format of the dates, e.g. %d-%m-%Y "
              "(default ISO 8601). A date with a time is dated on its local day.")
@click.option("--skip-invalid", is_flag=True,
              help="Store the valid rows even when some are rejected.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_db
def contracts_import(database, path, id_column, start_column, end_column, mrr_column,
                     client_column, status_column, date_format, skip_invalid,
                     as_json):
    """Upsert contracts from a CSV file; each new one emits fin/contract.signed."""
    with rejects_as_json(as_json):
        report = import_contracts(
            database, path, id_column=id_column, start_column=start_column,
            end_column=end_column, mrr_column=mrr_column, client_column=client_column,
            status_column=status_column, date_format=date_format,
            skip_invalid=skip_invalid, show_progress=True)
    show_import_report(report, "contracts", as_json)
