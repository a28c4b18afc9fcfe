"""Rows of a user's query written as they arrive (table, CSV or JSON), so memory stays bounded at any size."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
from collections.abc import Iterable, Iterator
from typing import TextIO

import duckdb

BATCH_ROWS = 10_000


class NoStatement(ValueError):
    """The SQL holds no statement (empty, blanks, semicolons or comments only)."""


class SeveralStatements(ValueError):
    """The SQL holds more than one statement."""


def single_statement(sql: str) -> str:
    """The one statement in `sql`; parse errors are DuckDB's own (duckdb.ParserException)."""
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise NoStatement("no SQL statement given")
    if len(statements) > 1:
        raise SeveralStatements(f"{len(statements)} statements given; `query` runs one statement at a time")
    return statements[0].query


class Rows:
    """Column names and batches of rows of an executed cursor, at most `limit` rows (None: all).

    `cut` is True, once the batches are exhausted, if the limit left rows out (one row beyond it is fetched
    to know)."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, limit: int | None):
        self.cursor, self.limit, self.cut = cursor, limit, False
        self.names = [d[0] for d in cursor.description or []]

    def __iter__(self) -> Iterator[list[tuple]]:
        left = self.limit
        while self.names and (left is None or left > 0):
            want = BATCH_ROWS if left is None else min(BATCH_ROWS, left)
            rows = self.cursor.fetchmany(want)
            if rows:
                yield rows
            if len(rows) < want:
                return
            if left is not None:
                left -= len(rows)
        self.cut = bool(self.names) and bool(self.cursor.fetchmany(1))


def write_rows(names: list[str], batches: Iterable[list[tuple]], fmt: str, out: TextIO) -> int:
    """Write the batches in `fmt` (table | csv | json); returns the number of rows written."""
    writer = {"table": _write_table, "csv": _write_csv, "json": _write_json}[fmt]
    return writer(names, batches, out)


def _write_csv(names, batches, out) -> int:
    writer = csv.writer(out, lineterminator="\n")
    if names:
        writer.writerow(names)
    count = 0
    for rows in batches:
        writer.writerows([["" if v is None else _text(v) for v in row] for row in rows])
        count += len(rows)
    return count


def _write_json(names, batches, out) -> int:
    """One JSON array of objects (as before), written an object at a time; NaN and infinities become null."""
    out.write("[")
    count = 0
    for rows in batches:
        for row in rows:
            out.write(", " if count else "")
            out.write(json.dumps(dict(zip(names, map(_json_value, row), strict=True)), ensure_ascii=False,
                                 default=_text))
            count += 1
    out.write("]\n")
    return count


def _write_table(names, batches, out) -> int:
    """Aligned columns; widths are taken from the header and the first batch (later, longer cells overflow)."""
    if not names:
        out.write("(no columns)\n")
        return 0
    count = 0
    widths: list[int] | None = None
    numeric: list[bool] = []
    for rows in batches:
        cells = [[_cell(v) for v in row] for row in rows]
        if widths is None:
            widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
            numeric = [all(isinstance(row[i], int | float | decimal.Decimal) or row[i] is None for row in rows)
                       for i in range(len(names))]
            out.write(_line(names, widths, numeric))
        out.writelines(_line(r, widths, numeric) for r in cells)
        count += len(rows)
    if widths is None:
        out.write(_line(names, [len(n) for n in names], [False] * len(names)))
        out.write("(0 rows)\n")
    return count


def _line(cells: list[str], widths: list[int], numeric: list[bool]) -> str:
    return "  ".join(c.rjust(w) if num else c.ljust(w)
                     for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip() + "\n"


def _cell(value) -> str:
    return "NULL" if value is None else _text(value)


def _text(value) -> str:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value
