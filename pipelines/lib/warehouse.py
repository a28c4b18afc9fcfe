"""DuckDB warehouse helpers: typed table writes and read-only access."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
}


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse for writing (a refresh is running)."""


class WarehouseMissing(FileNotFoundError):
    """No warehouse yet: run a refresh first."""


def arrow_table(rows: Iterable[Mapping], columns: Mapping[str, str]) -> pa.Table:
    """Rows -> an Arrow table with exactly `columns` (name -> DuckDB type), typed even when empty."""
    schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in columns.items()])
    rows = list(rows)
    extra = set().union(*(r.keys() for r in rows)) - set(columns) if rows else set()
    if extra:
        raise ValueError(f"rows carry columns outside the table definition: {sorted(extra)}")
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows], schema=schema)


def replace_table(con: duckdb.DuckDBPyConnection, name: str, rows: Iterable[Mapping],
                  columns: Mapping[str, str]) -> int:
    """Replace table `name` with `rows` in one transaction; returns the row count."""
    incoming = arrow_table(rows, columns)  # read by name in the SQL below (DuckDB replacement scan)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM incoming')
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return incoming.num_rows


def replace_frame(con: duckdb.DuckDBPyConnection, name: str, frame) -> int:
    """Replace table `name` with a pandas DataFrame (types as DuckDB infers them) in one transaction."""
    incoming = pa.Table.from_pandas(frame, preserve_index=False)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM incoming')
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return incoming.num_rows


def connect_read_only(path: Path, *, attempts: int = 5, wait_s: float = 0.2) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; a clear error when it is missing or a refresh holds the lock."""
    if not path.exists():
        raise WarehouseMissing(f"no warehouse at {path}: run `ai-emissions refresh` first")
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if attempt == attempts - 1:
                raise WarehouseBusy("a refresh is writing the warehouse right now; try again when it ends") from exc
            time.sleep(wait_s)
    raise AssertionError("unreachable")
