"""Immutable, versioned releases of the published tables: Parquet + CSV + data package.

A release is built in a temporary folder next to the releases and renamed into place, so a crash never
leaves half a release; an existing version folder is never written again. A new version is cut only
when the published tables changed (their content digest differs from the latest release's).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from pipelines.lib.locking import FolderBusy, folder_lock
from schemas import PublishedTable

LATEST = "LATEST"
WITHDRAWN = "WITHDRAWN.yaml"
STAGING_PREFIX = ".release-"  # a release being written; renamed to its version when complete
RELEASE_LOCK_WAIT_S = 600.0  # how long a release waits for another writer into the same exports folder
DATA_LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
                "path": "https://creativecommons.org/licenses/by/4.0/"}

# frictionless type -> Arrow type
_ARROW_TYPES = {"string": pa.string(), "number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_()}


class ReleaseError(RuntimeError):
    """A release cannot be written as asked (for example, the version exists already)."""


@dataclass
class ReleaseResult:
    version: str
    path: Path
    is_new: bool
    content_sha256: str
    changes: dict[str, dict[str, int]] = field(default_factory=dict)


def _kind(column) -> str:
    """The frictionless type of a pandera column (pandas spells dtypes many ways: str, string[pyarrow]...)."""
    name = str(column.dtype).lower()
    for marker, kind in (("bool", "boolean"), ("int", "integer"), ("float", "number"), ("str", "string")):
        if marker in name:
            return kind
    raise TypeError(f"no release type for dtype {column.dtype!r}")


def arrow_schema(table: PublishedTable) -> pa.Schema:
    columns = table.model.to_schema().columns
    return pa.schema([pa.field(name, _ARROW_TYPES[_kind(c)], nullable=bool(c.nullable))
                      for name, c in columns.items()])


def frictionless_schema(table: PublishedTable) -> dict:
    fields = []
    for name, column in table.model.to_schema().columns.items():
        spec = {"name": name, "type": _kind(column),
                "description": column.description or ""}
        unit = (column.metadata or {}).get("unit")
        if unit:
            spec["unit"] = unit
        if not column.nullable:
            spec["constraints"] = {"required": True}
        fields.append(spec)
    return {"fields": fields, "primaryKey": list(table.primary_key)}


def conform(table: PublishedTable, data: pa.Table) -> pa.Table:
    """Order rows by the primary key and cast to the contract's Arrow schema."""
    schema = arrow_schema(table)
    data = data.select(schema.names).sort_by([(k, "ascending") for k in table.primary_key])
    return data.cast(schema)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_tables(folder: Path, tables: Mapping[str, pa.Table]) -> dict[str, str]:
    """Write each table as Parquet and CSV; returns file name -> sha256."""
    hashes = {}
    for name, data in sorted(tables.items()):
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        pq.write_table(data, parquet, compression="zstd", write_statistics=False, store_schema=True)
        pacsv.write_csv(data, csv, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
        hashes[parquet.name], hashes[csv.name] = _sha256(parquet), _sha256(csv)
    return hashes


def content_digest(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}\t{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()


def latest_version(exports_dir: Path) -> str | None:
    marker = exports_dir / LATEST
    if not marker.exists():
        return None
    version = marker.read_text().strip()
    return version if version and (exports_dir / version).is_dir() else None


def _previous_digest(exports_dir: Path, version: str | None) -> str | None:
    if version is None:
        return None
    package = exports_dir / version / "datapackage.json"
    try:
        return json.loads(package.read_text())["content_sha256"]
    except (OSError, ValueError, KeyError):
        return None


def next_version(exports_dir: Path, release_date: dt.date) -> str:
    """CalVer: YYYY.MM.DD, then YYYY.MM.DD.2, .3... for further releases on the same day."""
    withdrawn = {str(e["version"]) for e in withdrawn_since(exports_dir, None)}

    def taken(v: str) -> bool:  # a withdrawn version is never reused
        return (exports_dir / v).exists() or v in withdrawn

    base = release_date.strftime("%Y.%m.%d")
    if not taken(base):
        return base
    n = 2
    while taken(f"{base}.{n}"):
        n += 1
    return f"{base}.{n}"


def release_date_from_env() -> dt.date:
    """Today (UTC), or SOURCE_DATE_EPOCH when set, for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
    return dt.datetime.now(tz=dt.UTC).date()


def _row_id_sql(key: tuple[str, ...], alias: str) -> str:
    """A table's stable row id as SQL (a composite key becomes 'a | b')."""
    return " || ' | ' || ".join(f"coalesce(cast({alias}.\"{k}\" as varchar), 'None')" for k in key)


def diff_tables(previous: pa.Table | None, current: pa.Table, key: tuple[str, ...]) -> dict:
    """Rows added, removed and changed (with old and new values per field) between two versions.

    DuckDB finds the added, removed and differing rows over the Arrow tables; only the differing rows
    are compared field by field in Python, so a release of many rows with few changes stays cheap."""
    con = duckdb.connect()
    con.register("cur", current)
    cur_ids = _row_id_sql(key, "c")
    if previous is None:
        added = [r for (r,) in con.execute(f"select {cur_ids} from cur c order by 1").fetchall()]
        return {"added": added, "removed": [], "changed": {}, "columns_added": [], "columns_removed": []}
    con.register("prev", previous)
    prev_ids = _row_id_sql(key, "p")
    on = " and ".join(f'c."{k}" is not distinct from p."{k}"' for k in key)
    common = [c for c in current.column_names if c in previous.column_names and c not in key]
    differs = " or ".join(f'c."{c}" is distinct from p."{c}"' for c in common) or "false"
    added = [r for (r,) in con.execute(f"select {cur_ids} from cur c anti join prev p on {on} order by 1").fetchall()]
    removed = [r for (r,) in con.execute(f"select {prev_ids} from prev p anti join cur c on {on} order by 1")
               .fetchall()]
    columns = ", ".join(f'p."{c}", c."{c}"' for c in common)
    changed: dict[str, dict] = {}
    rows = con.execute(f"select {cur_ids}, {columns} from cur c join prev p on {on} where {differs} order by 1")
    for row_id, *values in rows.fetchall():
        fields = {}
        for i, column in enumerate(common):
            was, now = values[2 * i], values[2 * i + 1]
            if was != now and not (_missing(was) and _missing(now)):
                fields[column] = (None if _missing(was) else was, None if _missing(now) else now)
        if fields:
            changed[row_id] = fields
    con.close()
    return {"added": added, "removed": removed, "changed": changed,
            "columns_added": [c for c in current.column_names if c not in previous.column_names],
            "columns_removed": [c for c in previous.column_names if c not in current.column_names]}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def withdrawn_since(exports_dir: Path, previous: str | None) -> list[dict]:
    """Releases withdrawn after `previous` was published (exports/WITHDRAWN.yaml: version, withdrawn_on,
    reason): the next CHANGELOG says so once. A withdrawn folder is removed; its version is never reused."""
    path = exports_dir / WITHDRAWN
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text()) or []
    return [e for e in entries if previous is None or _version_key(str(e["version"])) > _version_key(previous)]


def changelog_markdown(version: str, previous: str | None, diffs: Mapping[str, dict],
                       withdrawn: list[dict] | None = None) -> str:
    lines = [f"# Changes in {version}", ""]
    if withdrawn:
        lines += ["## Withdrawn releases", "",
                  *[f"- {e['version']} (withdrawn {e['withdrawn_on']}): {e['reason']}" for e in withdrawn], ""]
    if previous is None:
        lines += ["Every row is new: " + ("the releases before this one were withdrawn." if withdrawn
                                           else "this is the first release."), ""]
    else:
        lines += [f"Compared with the previous release, {previous}. Rows are named by their stable id.", ""]
    for name, diff in diffs.items():
        lines += [f"## {name}", "",
                  f"{len(diff['added'])} added, {len(diff['removed'])} removed, {len(diff['changed'])} changed.", ""]
        if diff.get("columns_added") or diff.get("columns_removed"):
            lines += [f"Columns added: {', '.join(diff['columns_added']) or 'none'}; columns removed: "
                      f"{', '.join(diff['columns_removed']) or 'none'}.", ""]
        if previous is None:
            continue
        lines += [f"- added `{row_id}`" for row_id in diff["added"]]
        lines += [f"- removed `{row_id}`" for row_id in diff["removed"]]
        for row_id, fields in diff["changed"].items():
            for column, (old, new) in fields.items():
                lines.append(f"- changed `{row_id}` {column}: `{old}` -> `{new}`")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _remove_stale_staging(exports_dir: Path) -> None:
    """Half-written releases of a refresh that was killed (the exports lock says no other writer is running)."""
    for stale in exports_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in exports_dir.glob(f".{LATEST}.tmp"):
        stale.unlink(missing_ok=True)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as fh:
            os.fsync(fh.fileno())


def write_release(
    exports_dir: Path,
    published: Mapping[str, PublishedTable],
    tables: Mapping[str, pa.Table],
    *,
    release_date: dt.date,
    datapackage_extra: Mapping,
    data_card,  # (version, release_date, tables, diffs) -> markdown text
    extra_files=None,  # (folder, version, tables) -> None: plots, explorer; written before hashing
    version: str | None = None,
) -> ReleaseResult:
    """Write the release into `exports_dir` holding its lock: a refresh with another state folder writing into the
    same folder waits (up to RELEASE_LOCK_WAIT_S) and then compares with what that one published."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(exports_dir, wait_s=RELEASE_LOCK_WAIT_S):
            return _write_release(exports_dir, published, tables, release_date=release_date,
                                  datapackage_extra=datapackage_extra, data_card=data_card,
                                  extra_files=extra_files, version=version)
    except FolderBusy as exc:
        raise ReleaseError(f"another refresh is writing a release into {exports_dir} ({exc}); "
                           "try again when it ends") from exc


def _write_release(exports_dir: Path, published: Mapping[str, PublishedTable], tables: Mapping[str, pa.Table], *,
                   release_date: dt.date, datapackage_extra: Mapping, data_card, extra_files,
                   version: str | None) -> ReleaseResult:
    if version is not None and (exports_dir / version).exists():
        raise ReleaseError(f"release {version} exists already in {exports_dir}; published versions are "
                           "never rewritten")
    _remove_stale_staging(exports_dir)
    tables = {name: conform(published[name], data) for name, data in tables.items()}
    previous = latest_version(exports_dir)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=exports_dir))
    try:
        hashes = _write_tables(staging, tables)
        digest = content_digest(hashes)
        if version is None and digest == _previous_digest(exports_dir, previous):
            return ReleaseResult(previous, exports_dir / previous, False, digest)
        version = version or next_version(exports_dir, release_date)

        def prior(name: str) -> pa.Table | None:  # read one at a time: only one previous table in memory
            path = exports_dir / previous / f"{name}.parquet" if previous else None
            return pq.read_table(path) if path is not None and path.exists() else None

        diffs = {name: diff_tables(prior(name), data, published[name].primary_key) for name, data in tables.items()}
        (staging / "CHANGELOG.md").write_text(changelog_markdown(version, previous, diffs,
                                                                 withdrawn_since(exports_dir, previous)))
        (staging / "README.md").write_text(data_card(version, release_date, tables, diffs))
        if extra_files:
            extra_files(staging, version, tables)
        package = {
            "name": "ai-emissions-disclosures",
            "title": "Open dataset of AI emissions disclosures",
            "version": version,
            "created": f"{release_date.isoformat()}T00:00:00Z",
            "licenses": [DATA_LICENSE],
            "content_sha256": digest,
            **datapackage_extra,
            "resources": _resources(staging, published, tables),
        }
        (staging / "datapackage.json").write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n")
        sums = sorted((p.name, _sha256(p)) for p in staging.iterdir() if p.is_file())
        (staging / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sums))
        _fsync_tree(staging)
        os.chmod(staging, 0o755)
        os.rename(staging, exports_dir / version)  # atomic: the version appears whole or not at all
        _atomic_write_text(exports_dir / LATEST, version + "\n")
        changes = {name: {k: len(d[k]) for k in ("added", "removed", "changed")} for name, d in diffs.items()}
        return ReleaseResult(version, exports_dir / version, True, digest, changes)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _resources(folder: Path, published: Mapping[str, PublishedTable], tables: Mapping[str, pa.Table]) -> list:
    resources = []
    for name in tables:
        table = published[name]
        for fmt, mediatype in (("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")):
            path = folder / f"{name}.{fmt}"
            resource = {
                "name": name if fmt == "csv" else f"{name}_parquet",
                "path": path.name,
                "title": f"{name} ({fmt.upper()})",
                "description": table.description,
                "format": fmt,
                "mediatype": mediatype,
                "bytes": path.stat().st_size,
                "hash": f"sha256:{_sha256(path)}",
                "schema": frictionless_schema(table),
            }
            if fmt == "csv":
                resource["encoding"] = "utf-8"
            else:
                resource["type"] = "file"  # same rows and schema as the CSV resource; checked by hash and size
            resources.append(resource)
    return resources
