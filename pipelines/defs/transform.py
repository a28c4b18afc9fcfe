"""Transform: every file under dbt_like_sql/ becomes an asset; tests/ and the contracts become blocking checks.

Each Dagster step costs ~50 ms of bookkeeping and a DuckDB connection, so the SQL models of a layer run in one
step, and the blocking checks of the tables one step writes run in one step after it. Blocking keeps its
meaning: a layer is one step only when none of its models reads a checked model of the same layer (the check
would run after its reader) and no path leaves the layer and comes back; a grouped check step fails, and stops
everything downstream of its tables, when any of its checks fails.
"""

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandera.errors
from dagster_duckdb import DuckDBResource

from pipelines.lib.sql_models import LAYERS, SqlModel, load_models, load_tests
from schemas import PUBLISHED_TABLES

_PREVIEW_ROWS = 20


def _preview(frame) -> dg.MetadataValue:
    return dg.MetadataValue.md("```\n" + frame.head(_PREVIEW_ROWS).to_string(index=False) + "\n```")


def _description(model: SqlModel) -> str:
    lines = [line[2:].strip() for line in model.sql.splitlines() if line.startswith("--")]
    return " ".join(lines) or f"SQL model {model.path.name}"


def _spec(model: SqlModel) -> dg.AssetSpec:
    return dg.AssetSpec(
        model.name,
        group_name="transform",
        deps=[dg.AssetKey(d) for d in model.deps],
        code_version=model.code_version,
        description=_description(model),
        metadata={"path": f"dbt_like_sql/{model.layer}/{model.path.name}", "layer": model.layer},
    )


def _build(con, model: SqlModel) -> int:
    con.execute("BEGIN TRANSACTION")
    con.execute(f'CREATE OR REPLACE TABLE "{model.name}" AS\n{model.sql}')
    (n,) = con.execute(f'SELECT count(*) FROM "{model.name}"').fetchone()
    con.execute("COMMIT")
    return n


def _sql_step(name: str, models: list[SqlModel]) -> dg.AssetsDefinition:
    """One step building `models` in dependency order (only those selected, in a job that selects a subset)."""

    @dg.multi_asset(name=name, specs=[_spec(m) for m in models], compute_kind="duckdb", can_subset=True)
    def _materialize(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
        with duckdb.get_connection() as con:
            for model in models:
                if dg.AssetKey(model.name) in context.selected_asset_keys:
                    yield dg.MaterializeResult(asset_key=model.name, metadata={"row_count": _build(con, model)})

    return _materialize


def _ancestors(name: str, deps: Mapping[str, Collection[str]], seen: set[str]) -> set[str]:
    stack = list(deps.get(name, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(deps.get(node, ()))
    return seen


def _layer_is_one_step(layer: list[SqlModel], deps: Mapping[str, Collection[str]], checked: set[str]) -> bool:
    names = {m.name for m in layer}
    if any(d in names and d in checked for m in layer for d in m.deps):
        return False  # a model would be built before the blocking check of a table it reads
    outside: set[str] = set()
    for model in layer:
        for dep in model.deps:
            if dep not in names:
                _ancestors(dep, deps, outside).add(dep)
    return not outside & names  # a path out of the layer and back in: the step would depend on itself


@dataclass(frozen=True)
class BlockingCheck:
    """A blocking check of one table, evaluated on a warehouse connection."""

    name: str
    asset: str
    description: str
    additional_deps: tuple[str, ...]
    evaluate: Callable[..., dg.AssetCheckResult]  # (DuckDB connection) -> result


def _sql_test(test: SqlModel, target: str) -> BlockingCheck:
    def evaluate(con) -> dg.AssetCheckResult:
        failing = con.execute(test.sql).df()
        return dg.AssetCheckResult(
            asset_key=target, check_name=test.name, passed=failing.empty,
            metadata={"failing_rows": len(failing), "preview": _preview(failing)},
        )

    return BlockingCheck(test.name, target, _description(test), tuple(d for d in test.deps if d != target), evaluate)


def _contract_check(table: str) -> BlockingCheck:
    contract = PUBLISHED_TABLES[table].model
    name = f"{table}_matches_contract"

    def evaluate(con) -> dg.AssetCheckResult:
        frame = con.execute(f'SELECT * FROM "{table}"').df()
        try:
            contract.validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            return dg.AssetCheckResult(asset_key=table, check_name=name, passed=False, metadata={
                "failure_count": len(exc.failure_cases),
                "failures": _preview(exc.failure_cases),
            })
        return dg.AssetCheckResult(asset_key=table, check_name=name, passed=True, metadata={"row_count": len(frame)})

    return BlockingCheck(name, table, f"The {table} table satisfies its pandera contract ({contract.__name__})", (),
                         evaluate)


def sql_definitions(sql_dir: Path, python_deps: Mapping[str, Collection[str]]) -> tuple[list, list[BlockingCheck]]:
    """Assets for the SQL models (a step per layer where that is safe) and blocking checks for the SQL tests.

    `python_deps` maps each table a Python asset provides to the tables it depends on."""
    models = load_models(sql_dir, set(python_deps))
    order = {m.name: i for i, m in enumerate(models)}
    tests = load_tests(sql_dir, set(python_deps) | set(order))
    checks = []
    for test in tests:
        # attach each test to the most downstream table it reads, so it blocks everything after it
        target = max(test.deps, key=lambda d: order.get(d, -1))
        checks.append(_sql_test(test, target))
    checked = {c.asset for c in checks} | set(PUBLISHED_TABLES)
    deps = {**python_deps, **{m.name: m.deps for m in models}}
    assets = []
    for layer in LAYERS:
        members = [m for m in models if m.layer == layer]  # in dependency order
        if len(members) > 1 and _layer_is_one_step(members, deps, checked):
            assets.append(_sql_step(layer, members))
        else:
            assets += [_sql_step(m.name, [m]) for m in members]
    return assets, checks


def contract_checks() -> list[BlockingCheck]:
    """A blocking check per published table, whichever asset produces it."""
    return [_contract_check(t) for t in PUBLISHED_TABLES]


def check_steps(checks: list[BlockingCheck], step_of: Mapping[str, str]) -> list[dg.AssetChecksDefinition]:
    """The checks of the tables one step writes, as one step after it (one DuckDB connection). A check that also
    reads tables of other steps keeps a step of its own, so that grouping never makes a step wait for its own
    downstream."""
    groups: dict[str, list[BlockingCheck]] = defaultdict(list)
    for check in checks:
        step = step_of[check.asset]
        if all(step_of.get(d) == step for d in check.additional_deps):
            groups[f"{step}_checks"].append(check)
        else:
            groups[f"{check.asset}_{check.name}"].append(check)
    return [_check_step(name, group) for name, group in groups.items()]


def _check_step(name: str, checks: list[BlockingCheck]) -> dg.AssetChecksDefinition:
    by_key = {dg.AssetCheckKey(dg.AssetKey(c.asset), c.name): c for c in checks}
    specs = [dg.AssetCheckSpec(c.name, asset=c.asset, additional_deps=list(c.additional_deps), blocking=True,
                               description=c.description) for c in checks]

    @dg.multi_asset_check(name=name, specs=specs, can_subset=True)
    def _check(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
        with duckdb.get_connection() as con:
            for key, check in by_key.items():
                if key in context.selected_asset_check_keys:
                    yield check.evaluate(con)

    return _check
