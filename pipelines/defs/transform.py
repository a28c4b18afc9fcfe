"""Transform: every file under dbt_like_sql/ becomes an asset; tests/ and the contracts become blocking checks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandera.errors
from dagster_duckdb import DuckDBResource

from pipelines.lib.sql_models import SqlModel, load_models, load_tests
from schemas import PUBLISHED_TABLES

_PREVIEW_ROWS = 20


def _preview(frame) -> dg.MetadataValue:
    return dg.MetadataValue.md("```\n" + frame.head(_PREVIEW_ROWS).to_string(index=False) + "\n```")


def _description(model: SqlModel) -> str:
    lines = [line[2:].strip() for line in model.sql.splitlines() if line.startswith("--")]
    return " ".join(lines) or f"SQL model {model.path.name}"


def _sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        group_name="transform",
        deps=[dg.AssetKey(d) for d in model.deps],
        code_version=model.code_version,
        compute_kind="duckdb",
        description=_description(model),
        metadata={"path": f"dbt_like_sql/{model.layer}/{model.path.name}", "layer": model.layer},
    )
    def _materialize(duckdb: DuckDBResource) -> dg.MaterializeResult:
        with duckdb.get_connection() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(f'CREATE OR REPLACE TABLE "{model.name}" AS\n{model.sql}')
            (n,) = con.execute(f'SELECT count(*) FROM "{model.name}"').fetchone()
            con.execute("COMMIT")
        return dg.MaterializeResult(metadata={"row_count": n})

    return _materialize


def _sql_test(test: SqlModel, target: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        name=test.name,
        asset=target,
        additional_deps=[d for d in test.deps if d != target],
        blocking=True,
        description=_description(test),
    )
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            failing = con.execute(test.sql).df()
        return dg.AssetCheckResult(
            passed=failing.empty,
            metadata={"failing_rows": len(failing),
                      "preview": _preview(failing)},
        )

    return _check


def _contract_check(table: str) -> dg.AssetChecksDefinition:
    contract = PUBLISHED_TABLES[table].model

    @dg.asset_check(name=f"{table}_matches_contract", asset=table, blocking=True,
                    description=f"The {table} table satisfies its pandera contract ({contract.__name__})")
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            frame = con.execute(f'SELECT * FROM "{table}"').df()
        try:
            contract.validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            return dg.AssetCheckResult(passed=False, metadata={
                "failure_count": len(exc.failure_cases),
                "failures": _preview(exc.failure_cases),
            })
        return dg.AssetCheckResult(passed=True, metadata={"row_count": len(frame)})

    return _check


def sql_definitions(sql_dir: Path, python_tables: set[str]) -> tuple[list, list]:
    """Assets for the SQL models and blocking checks for the SQL tests."""
    models = load_models(sql_dir, python_tables)
    order = {m.name: i for i, m in enumerate(models)}
    tests = load_tests(sql_dir, python_tables | set(order))
    checks = []
    for test in tests:
        # attach each test to the most downstream table it reads, so it blocks everything after it
        target = max(test.deps, key=lambda d: order.get(d, -1))
        checks.append(_sql_test(test, target))
    return [_sql_asset(m) for m in models], checks


def contract_checks() -> list[dg.AssetChecksDefinition]:
    """A blocking check per published table, whichever asset produces it."""
    return [_contract_check(t) for t in PUBLISHED_TABLES]
