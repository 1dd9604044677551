"""Reading business CSV files whose column names the user gives on the command line."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import NessdataError


def read_columns(path: Path, columns: Mapping[str, str | None]
                 ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {role: text}) for each record; `columns` maps a role to the
    header name the user gave (None: the role is not in this file)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise NessdataError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for role, name in columns.items():
            if name is not None and name not in header:
                raise NessdataError(
                    f"{path}: no column {name!r} (given for {role}); the header has "
                    f"{', '.join(header) or 'no columns'}"
                )
        for record in reader:
            line = reader.line_num
            yield line, {role: (record.get(name) or "").strip()
                         for role, name in columns.items() if name is not None}
