"""Reading business CSV files whose column names the user gives on the command line."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import InvalidValue, NessdataError


def read_columns(path: Path, columns: Mapping[str, str | None]
                 ) -> Iterator[tuple[int, dict[str, str] | InvalidValue]]:
    """(line number, {role: text}) for each record, or (line, InvalidValue) for a
    record with more values than the header; `columns` maps a role to the header
    name the user gave (None: the role is not in this file)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise NessdataError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        try:
            yield from _records(path, csv.DictReader(handle), columns)
        except UnicodeDecodeError as exc:
            raise NessdataError(
                f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8, e.g. "
                "`iconv -f cp1252 -t utf-8 in.csv > out.csv`"
            ) from exc


def _records(path: Path, reader: csv.DictReader, columns: Mapping[str, str | None]):
    header = reader.fieldnames or []
    for role, name in columns.items():
        if name is not None and name not in header:
            raise NessdataError(
                f"{path}: no column {name!r} (given for {role}); the header has "
                f"{', '.join(header) or 'no columns'}"
            )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise NessdataError(f"{path}: the header names {', '.join(repeated)} "
                            "more than once")
    for record in reader:
        line = reader.line_num
        if None in record:
            # A ragged record is a reject of its own, not the end of the file.
            yield line, InvalidValue(
                "line", ",".join(record[None]),
                f"{len(header) + len(record[None])} values under a header of "
                f"{len(header)} columns")
            continue
        given = sum(value is not None for value in record.values())
        if given < len(header):
            # Fewer values than columns: the missing ones would pass for empty.
            yield line, InvalidValue("line", ",".join(
                value for value in record.values() if value is not None),
                f"{given} values under a header of {len(header)} columns")
            continue
        yield line, {role: (record.get(name) or "").strip()
                     for role, name in columns.items() if name is not None}
