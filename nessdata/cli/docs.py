"""`nessdata docs build`: regenerate the documents made from the code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import docs
from . import main


@main.group("docs")
def docs_group():
    """Documents generated from the code (data dictionary, settings)."""


@docs_group.command("build")
@click.option("--check", is_flag=True,
              help="Change nothing; exit 1 if a document is out of date.")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=docs.DOCS, show_default=True, help="The docs folder.")
def build(check, folder):
    """Write docs/data-dictionary.md and the settings table of
    docs/operations.md from the schema, the registries and the settings."""
    if check:
        stale = docs.stale(folder)
        for path in stale:
            click.echo(f"out of date: {path} (run `nessdata docs build`)", err=True)
        sys.exit(1 if stale else 0)
    for path, text in docs.build(folder).items():
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")
