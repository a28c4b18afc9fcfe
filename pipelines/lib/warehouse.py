"""DuckDB warehouse helpers: typed table writes and read-only access."""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR[]": pa.list_(pa.string()),
}


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse for writing (a refresh is running)."""


class WarehouseMissing(FileNotFoundError):
    """No warehouse yet: run a refresh first."""


class WarehouseUnreadable(RuntimeError):
    """The warehouse file exists but DuckDB cannot open it."""


class WarehouseFull(RuntimeError):
    """The disk holding the warehouse is full: a table could not be written (the previous one stands)."""


# DuckDB creates a database file in place, then writes a main header and two database headers (4 KiB each)
# and syncs them before anything else: a shorter file is a creation cut short (a killed process) and holds
# no data, yet every later open refuses it.
_DUCKDB_HEADER_BYTES = 3 * 4096
_LEFTOVER_AGE_S = 3600  # a temporary database this old is no creation in progress


def _is_torn(path: Path) -> bool:
    return path.is_file() and path.stat().st_size < _DUCKDB_HEADER_BYTES


def ensure_created(path: Path) -> None:
    """Create the warehouse file if it is missing (or torn at creation) so that it appears whole or not at all.

    The new database is made under a temporary name and linked into place (link, unlike rename, never
    replaces a file another process created meanwhile); a file torn by an interrupted in-place creation is
    replaced, with its write-ahead log, since it holds nothing.
    """
    if path.exists() and not _is_torn(path):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.new"):  # of a process killed while creating
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < time.time() - _LEFTOVER_AGE_S:
                leftover.unlink()
    fresh = path.with_name(f".{path.name}.{uuid.uuid4().hex}.new")
    try:
        duckdb.connect(str(fresh)).close()
        if _is_torn(path):
            path.with_name(f"{path.name}.wal").unlink(missing_ok=True)
            os.replace(fresh, path)
        else:
            try:
                os.link(fresh, path)
            except FileExistsError:
                pass  # another process created it first: theirs stands
    finally:
        fresh.unlink(missing_ok=True)


def arrow_table(rows: Iterable[Mapping], columns: Mapping[str, str]) -> pa.Table:
    """Rows -> an Arrow table with exactly `columns` (name -> DuckDB type), typed even when empty."""
    schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in columns.items()])
    rows = list(rows)
    names: set[str] = set()
    for row in rows:
        names.update(row)
    extra = names - set(columns)
    if extra:
        raise ValueError(f"rows carry columns outside the table definition: {sorted(extra)}")
    # built a column at a time: 7 times faster than a dict per row for the 10,000-row tables of a Hub refresh
    return pa.Table.from_pydict({c: [row.get(c) for row in rows] for c in columns}, schema=schema)


def replace_table(con: duckdb.DuckDBPyConnection, name: str, rows: Iterable[Mapping],
                  columns: Mapping[str, str]) -> int:
    """Replace table `name` with `rows` in one transaction; returns the row count."""
    return _replace(con, name, arrow_table(rows, columns))


def replace_frame(con: duckdb.DuckDBPyConnection, name: str, frame) -> int:
    """Replace table `name` with a pandas DataFrame (types as DuckDB infers them) in one transaction."""
    return _replace(con, name, pa.Table.from_pandas(frame, preserve_index=False))


def _replace(con: duckdb.DuckDBPyConnection, name: str, incoming: pa.Table) -> int:
    """Swap the table's content in one transaction: a reader sees the old table or the new one.
    (`incoming` is read by name in the SQL: DuckDB's replacement scan of this frame's variables.)"""
    with transaction(con, f"table {name}"):
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM incoming')
    return incoming.num_rows


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection, what: str) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on failure keeping the real cause: a failed COMMIT has rolled back already,
    and DuckDB's "cannot rollback - no transaction is active" would hide why. A full disk is named as such."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except Exception as exc:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        if _is_disk_full(exc):
            raise WarehouseFull(f"cannot write {what} into the warehouse: the disk is full "
                                f"({str(exc).strip()}); the warehouse keeps its previous tables") from exc
        raise


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "no space left on device" in str(exc).lower()


# A session for SQL typed by a user: it reads the warehouse and nothing else. DuckDB itself enforces it:
# no file opened but the database (COPY TO, EXPORT DATABASE, ATTACH, read_csv/read_text/glob of any path, URLs),
# no extension installed or loaded (nor auto-installed / auto-loaded), no spilling to a temporary folder (a query
# needing more than the memory limit fails with a message instead), no Python variables scanned as tables; and
# the configuration locked, so that no SET / RESET / PRAGMA in the query can give any of it back.
QUERY_MEMORY_LIMIT = "2GB"
_QUERY_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
    "temp_directory": "",
}


def connect_for_query(path: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse read-only in the locked-down session above (errors as `connect_read_only`)."""
    con = connect_read_only(path, config={**_QUERY_CONFIG, "memory_limit": QUERY_MEMORY_LIMIT})
    con.execute("SET enable_progress_bar = false")  # a session option (not accepted at connect): it prints to stdout
    con.execute("SET lock_configuration = true")
    return con


def connect_read_only(path: Path, *, attempts: int = 5, wait_s: float = 0.2,
                      config: dict[str, object] | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only (with DuckDB `config`); a clear error when it is missing, unreadable or a
    refresh holds the lock."""
    if not path.exists():
        raise WarehouseMissing(f"no warehouse at {path}: run `ai-emissions refresh` first")
    if _is_torn(path):
        raise WarehouseUnreadable(f"the warehouse at {path} is unfinished (a refresh was stopped while creating it): "
                                  "run `ai-emissions refresh`")
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=True, config=config or {})
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower():
                raise WarehouseUnreadable(f"cannot open the warehouse at {path}: {str(exc).strip()}") from exc
            if attempt == attempts - 1:
                raise WarehouseBusy("a refresh is writing the warehouse right now; try again when it ends") from exc
            time.sleep(wait_s)
    raise AssertionError("unreachable")
