"""Content-addressed snapshot store for fetched documents, with a crash-safe fetch manifest.

Layout under ``root``::

    objects/ab/cdef...    raw bytes exactly as fetched, named by their sha256 (2 + 62 hex chars)
    tmp/                  partial writes; an object only appears under objects/ once complete
    manifest.sqlite       one row per fetch attempt (SQLite, WAL journal)

Only the sha256 of the content ever chooses a path: URLs, repo ids and other remote data are
stored as manifest values and never touch the file system layout.

Crash safety: an object is written to ``tmp/``, fsynced, then renamed into place (rename is
atomic), so a SIGKILL leaves either no object or a complete one. Manifest rows are committed
SQLite transactions in WAL mode, which survive a killed process; with ``synchronous=NORMAL`` a
power loss may drop the last few rows (never corrupt the file), which only means those documents
are fetched again on the next refresh. An object is always durable before the row that names it.
``put_and_record`` does the same for a batch of documents with two file-system syncs in all instead of
two fsyncs per object (and one transaction for the rows).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# Fetch outcomes recorded in the manifest.
STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_MISSING = "missing"  # the server answered definitively that the document does not exist
STATUSES = (STATUS_OK, STATUS_ERROR, STATUS_MISSING)

# Leftover partial writes older than this are removed when a store is opened.
_STALE_TMP_SECONDS = 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fetches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    repo_id     TEXT,
    revision    TEXT,
    fetched_at  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'error', 'missing')),
    http_status INTEGER,
    bytes       INTEGER,
    sha256      TEXT,
    error       TEXT,
    metadata    TEXT
);
CREATE INDEX IF NOT EXISTS fetches_by_repo ON fetches (kind, repo_id, status, id);
"""
_INSERT = ("INSERT INTO fetches (kind, url, repo_id, revision, fetched_at, status, http_status, bytes, sha256, error,"
           " metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _find_syncfs():
    """Linux's syncfs(2): flushes one file system (all its dirty data and metadata) in a single call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    return function


_syncfs = _find_syncfs()


class SnapshotError(Exception):
    """Base class for snapshot store errors."""


class CorruptSnapshotError(SnapshotError):
    """A stored object's bytes no longer hash to its name."""


class SnapshotNotFoundError(SnapshotError, KeyError):
    """No object with that sha256 is stored."""


@dataclass(frozen=True)
class ManifestRow:
    """One fetch attempt, as recorded in the manifest."""

    id: int
    kind: str
    url: str
    repo_id: str | None
    revision: str | None
    fetched_at: str
    status: str
    http_status: int | None
    bytes: int | None
    sha256: str | None
    error: str | None
    metadata: dict[str, Any] | None


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha256(value: str) -> str:
    """Return ``value`` if it is a lowercase hex sha256, else raise ValueError."""
    if not isinstance(value, str) or not SHA256_RE.fullmatch(value):
        raise ValueError(f"not a sha256 hex digest: {value!r}")
    return value


class SnapshotStore:
    """Immutable, content-addressed byte store plus an append-only fetch manifest.

    Thread-safe: objects are written with unique temporary names and the manifest connection
    is guarded by a lock, so worker threads may call ``put`` and ``record`` concurrently.
    """

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.root = Path(root)
        self.objects_dir = self.root / "objects"
        self.tmp_dir = self.root / "tmp"
        self.manifest_path = self.root / "manifest.sqlite"
        self._durable = durable
        self.objects_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_stale_tmp()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.manifest_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    @property
    def durable(self) -> bool:
        """Whether writes are synced to disk before they count (tests may turn it off)."""
        return self._durable

    # -- objects ---------------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        """Where the object named ``sha256`` lives (validated: only hex digests make paths)."""
        digest = check_sha256(sha256)
        return self.objects_dir / digest[:2] / digest[2:]

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data`` exactly and return its sha256. Idempotent."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"put() takes bytes, not {type(data).__name__}")
        data = bytes(data)
        digest = sha256_hex(data)
        final = self.path_for(digest)
        if final.is_file() and final.stat().st_size == len(data):
            return digest
        final.parent.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix=digest[:12] + ".")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if self._durable:
                    os.fsync(handle.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        if self._durable:
            _fsync_path(final.parent)
        return digest

    def get(self, sha256: str) -> bytes:
        """The stored bytes for ``sha256``; verifies them against their name."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SnapshotNotFoundError(sha256) from None
        if sha256_hex(data) != sha256:
            raise CorruptSnapshotError(f"object {sha256} does not match its content hash")
        return data

    def iter_objects(self) -> Iterable[str]:
        """The sha256 of every stored object."""
        for bucket in sorted(self.objects_dir.iterdir()):
            if bucket.is_dir() and len(bucket.name) == 2:
                for item in sorted(bucket.iterdir()):
                    name = bucket.name + item.name
                    if SHA256_RE.fullmatch(name):
                        yield name

    def _sweep_stale_tmp(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        for leftover in self.tmp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    # -- manifest --------------------------------------------------------------------------

    def record(
        self,
        *,
        kind: str,
        url: str,
        status: str,
        repo_id: str | None = None,
        revision: str | None = None,
        http_status: int | None = None,
        bytes: int | None = None,  # noqa: A002 - the manifest column's name
        sha256: str | None = None,
        error: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        fetched_at: str | None = None,
    ) -> int:
        """Append one fetch to the manifest; returns the row id."""
        row = self._row_values(kind=kind, url=url, status=status, repo_id=repo_id, revision=revision,
                               http_status=http_status, bytes=bytes, sha256=sha256, error=error,
                               metadata=metadata, fetched_at=fetched_at)
        with self._lock:
            cursor = self._db.execute(_INSERT, row)
            return int(cursor.lastrowid)

    def put_and_record(self, documents: Sequence[tuple[bytes, Mapping[str, Any]]]) -> list[str]:
        """Store each document's bytes and append its manifest row (``record``'s keywords, ``sha256`` filled in).

        The same guarantees as ``put`` then ``record`` for each document, for a whole batch at once: every body is
        written to tmp/, the writes are made durable together, renamed into objects/, the renames made durable,
        and only then are the rows inserted, in one transaction. Returns the sha256 of each body, in order.
        """
        if not documents:
            return []
        digests, written, existing = [], [], []
        try:
            for data, _ in documents:
                data = bytes(data)
                digest = sha256_hex(data)
                digests.append(digest)
                final = self.path_for(digest)
                if final.is_file() and final.stat().st_size == len(data):
                    existing.append(final)
                    continue
                fd, tmp_name = tempfile.mkstemp(dir=self.tmp_dir, prefix=digest[:12] + ".")
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                written.append((tmp_name, final))
            if self._durable:
                self._sync([Path(tmp) for tmp, _ in written] + existing)
            for tmp_name, final in written:
                final.parent.mkdir(exist_ok=True)
                os.replace(tmp_name, final)
        except BaseException:
            for tmp_name, _ in written:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
            raise
        if self._durable:
            self._sync(sorted({final.parent for _, final in written} | {final.parent for final in existing}))
        rows = [self._row_values(**{**fields, "sha256": digest}) for (_, fields), digest in zip(documents, digests,
                                                                                               strict=True)]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return digests

    def _sync(self, paths: Sequence[Path]) -> None:
        """Make these files or directories durable: one sync of the store's file system where the OS offers it
        (Linux syncfs), else an fsync of each."""
        if not paths:
            return
        if _syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _syncfs(fd) != 0:
                    raise OSError(ctypes.get_errno(), f"syncfs failed on {self.root}")
            finally:
                os.close(fd)
            return
        for path in paths:
            _fsync_path(path)

    def _row_values(self, *, kind: str, url: str, status: str, repo_id: str | None = None,
                    revision: str | None = None, http_status: int | None = None,
                    bytes: int | None = None,  # noqa: A002 - the manifest column's name
                    sha256: str | None = None, error: str | None = None,
                    metadata: Mapping[str, Any] | None = None, fetched_at: str | None = None) -> tuple:
        """A manifest row, checked: a known status, and any object it names stored."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        if sha256 is not None:
            check_sha256(sha256)
            if not self.has(sha256):
                raise SnapshotError(f"refusing to record {sha256}: object is not stored")
        if status == STATUS_OK and kind == "card" and sha256 is None:
            raise ValueError("a successful card fetch must name its stored object")
        return (
            kind,
            url,
            repo_id,
            revision,
            fetched_at or utc_now_iso(),
            status,
            http_status,
            bytes,
            sha256,
            error,
            json.dumps(metadata, sort_keys=True, default=str) if metadata is not None else None,
        )

    def latest(self, kind: str, statuses: Iterable[str] = (STATUS_OK,)) -> dict[str, ManifestRow]:
        """The newest row per repo_id among rows of ``kind`` with one of ``statuses``."""
        wanted = tuple(statuses)
        marks = ",".join("?" * len(wanted))
        query = (
            "SELECT f.* FROM fetches f JOIN (SELECT repo_id, MAX(id) AS id FROM fetches"
            f" WHERE kind = ? AND repo_id IS NOT NULL AND status IN ({marks}) GROUP BY repo_id) newest"
            " ON f.id = newest.id ORDER BY f.repo_id"
        )
        with self._lock:
            rows = self._db.execute(query, (kind, *wanted)).fetchall()
        return {row[3]: _row(row) for row in rows}

    def latest_ok(self, kind: str = "card") -> dict[str, ManifestRow]:
        """The latest successful snapshot per repo."""
        return self.latest(kind, (STATUS_OK,))

    def rows(self, kind: str | None = None, since_id: int = 0) -> list[ManifestRow]:
        """Manifest rows in fetch order, optionally of one kind and after a given row id."""
        query = "SELECT * FROM fetches WHERE id > ?"
        params: list[Any] = [since_id]
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind)
        with self._lock:
            fetched = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [_row(row) for row in fetched]

    def last_row_id(self) -> int:
        with self._lock:
            (value,) = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM fetches").fetchone()
        return int(value)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _row(values: tuple[Any, ...]) -> ManifestRow:
    row_id, kind, url, repo_id, revision, fetched_at, status, http_status, size, digest, error, meta = values
    return ManifestRow(
        id=row_id,
        kind=kind,
        url=url,
        repo_id=repo_id,
        revision=revision,
        fetched_at=fetched_at,
        status=status,
        http_status=http_status,
        bytes=size,
        sha256=digest,
        error=error,
        metadata=json.loads(meta) if meta else None,
    )


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
