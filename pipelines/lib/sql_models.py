"""The SQL models under `dbt_like_sql/`: discovery, dependency parsing and ordering.

Each file is one model named after its file stem; its dependencies are the tables it reads, parsed
with sqlglot (CTE names are not dependencies; file and table-function sources are ignored). Nobody
lists dependencies by hand. The sha256 of the file is the model's code version.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import sqlglot
from sqlglot import exp

LAYERS = ("staging", "intermediate", "marts")
_FILE_SOURCE = re.compile(r"[/*]|\.(csv|tsv|parquet|json|jsonl|ndjson|gz|zst)$", re.IGNORECASE)


class SqlModelError(ValueError):
    """A SQL model that cannot be loaded: the message names the file."""


@dataclass(frozen=True)
class SqlModel:
    name: str
    path: Path
    layer: str  # staging | intermediate | marts | tests
    sql: str
    code_version: str  # sha256 of the file
    deps: tuple[str, ...]


def table_references(sql: str, path: Path | str = "<sql>") -> set[str]:
    """Names of the tables a query reads, without CTEs, files and table functions."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise SqlModelError(f"{path}: cannot parse SQL: {exc}") from exc
    if len(statements) != 1:
        raise SqlModelError(f"{path}: expected exactly one SELECT statement, found {len(statements)}")
    tree = statements[0]
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # read_csv(...), range(...), unnest(...): not a table
        if table.this.quoted and _FILE_SOURCE.search(table.name):
            continue  # 'data/file.csv' read directly
        if table.name in ctes and not table.db:
            continue
        names.add(table.name)
    return names


def _load(path: Path, layer: str) -> SqlModel:
    raw = path.read_bytes()
    try:
        sql = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SqlModelError(f"{path}: not UTF-8: {exc}") from exc
    deps = tuple(sorted(table_references(sql, path)))
    return SqlModel(path.stem, path, layer, sql, hashlib.sha256(raw).hexdigest(), deps)


def load_models(root: Path, external_tables: set[str]) -> list[SqlModel]:
    """Every model under root/{staging,intermediate,marts}, in dependency order.

    `external_tables` are the tables other (Python) assets provide. A reference to anything else
    than a model or an external table, or a dependency cycle, is an error naming the files.
    """
    models: dict[str, SqlModel] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            model = _load(path, layer)
            if model.name in models or model.name in external_tables:
                other = models[model.name].path if model.name in models else "a Python asset"
                raise SqlModelError(f"{path}: model name {model.name!r} already defined by {other}")
            models[model.name] = model
    for model in models.values():
        unknown = [d for d in model.deps if d not in models and d not in external_tables]
        if unknown:
            raise SqlModelError(f"{model.path}: references unknown table(s) {', '.join(unknown)} "
                                "(not a SQL model nor a Python asset)")
    graph = {m.name: {d for d in m.deps if d in models} for m in models.values()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        files = " -> ".join(str(models[n].path) for n in cycle)
        raise SqlModelError(f"dependency cycle between SQL models: {files}") from exc
    return [models[n] for n in order]


def load_tests(root: Path, known_tables: set[str]) -> list[SqlModel]:
    """`tests/assert_*.sql`: queries that return failing rows."""
    tests = []
    for path in sorted((root / "tests").glob("assert_*.sql")):
        test = _load(path, "tests")
        unknown = [d for d in test.deps if d not in known_tables]
        if unknown:
            raise SqlModelError(f"{path}: references unknown table(s) {', '.join(unknown)}")
        if not test.deps:
            raise SqlModelError(f"{path}: a test must read at least one table")
        tests.append(test)
    return tests
