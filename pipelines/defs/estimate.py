"""Estimate: lifecycle estimates for every run, Epoch-fed runs, and the backtest against disclosures."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.reference import REFERENCE_TABLES
from pipelines.defs.resources import PathsResource
from pipelines.lib import epoch, warehouse
from pipelines.lib.backtest import backtest as run_backtest
from pipelines.lib.backtest import backtest_exclusions, backtest_failures, load_blocking_thresholds
from pipelines.lib.gap_filling import (
    EPOCH_SOURCE_ID,
    ESTIMATE_COLUMNS,
    ESTIMATE_RUN_COLUMNS,
    estimate_all,
    load_epoch_models,
)
from pipelines.lib.model_registry import load_model_registry
from pipelines.lib.normalize import QUARANTINE_COLUMNS, quarantine_row
from pipelines.lib.reference import load_reference
from pipelines.lib.snapshots import SnapshotStore


@dg.multi_asset(
    group_name="estimate",
    compute_kind="python",
    specs=[
        dg.AssetSpec("estimate_runs", deps=[*REFERENCE_TABLES, "int_runs_scoped", "document_snapshots",
                                            "model_registry"],
                     description="Runs this project estimates: models and stages without a usable disclosed "
                                 "emissions figure, and Epoch AI notable models no source discloses"),
        dg.AssetSpec("epoch_quarantine", deps=["document_snapshots"],
                     description="A fetched Epoch table that could not be read (the pinned snapshot stands)"),
        dg.AssetSpec("run_estimates", deps=[*REFERENCE_TABLES, "int_runs_scoped", "model_registry"],
                     description="Operational and lifecycle estimates with bounds and input origins, and the "
                                 "arithmetic check of each disclosed figure, per run"),
    ],
)
def run_estimates(paths: PathsResource, duckdb: DuckDBResource):
    reference = load_reference(paths.paths.data_dir / "reference")
    registry = load_model_registry(paths.paths.data_dir)
    with duckdb.get_connection() as con:
        fetched = con.execute("select snapshot_sha256 from document_snapshots where source_id = ?",
                              [EPOCH_SOURCE_ID]).fetchone()
        data = SnapshotStore(paths.paths.snapshots).get(fetched[0]) if fetched else None
        pinned = paths.paths.data_dir / "reference" / epoch.PINNED_SNAPSHOT.name
        models, problem = load_epoch_models(data, pinned, reference)
        issues = [quarantine_row("extract", EPOCH_SOURCE_ID, "whole table", None, problem)] if problem else []
        warehouse.replace_table(con, "epoch_quarantine", issues, QUARANTINE_COLUMNS)
        runs = con.execute("select * from int_runs_scoped order by run_id").df()
        estimates, estimate_runs = estimate_all(runs, models, registry, reference)
        n_runs = warehouse.replace_table(con, "estimate_runs", estimate_runs, ESTIMATE_RUN_COLUMNS)
        n_est = warehouse.replace_table(con, "run_estimates", estimates, ESTIMATE_COLUMNS)
    yield dg.MaterializeResult(asset_key="estimate_runs", metadata={
        "row_count": n_runs, "from_epoch": sum(r["source_id"] == EPOCH_SOURCE_ID for r in estimate_runs),
        "epoch_table": f"fetched snapshot {fetched[0]}" if fetched and not problem else "pinned"})
    yield dg.MaterializeResult(asset_key="epoch_quarantine", metadata={"row_count": len(issues)})
    yield dg.MaterializeResult(asset_key="run_estimates", metadata={
        "row_count": n_est, "estimated": sum(e["estimated_tco2e"] is not None for e in estimates)})


@dg.multi_asset(
    group_name="estimate",
    compute_kind="python",
    specs=[
        dg.AssetSpec("backtest", deps=[*REFERENCE_TABLES, "disclosures"],
                     description="Every run with disclosed emissions, estimated from its own inputs"),
        dg.AssetSpec("backtest_summary", deps=[*REFERENCE_TABLES, "disclosures"],
                     description="Error, coverage and width of the 80 % interval, per variant and subset"),
        dg.AssetSpec("backtest_exclusions", deps=["disclosures"],
                     description="Disclosed emissions figures left out of the backtest, with the rule"),
    ],
)
def backtest(paths: PathsResource, duckdb: DuckDBResource):
    reference = load_reference(paths.paths.data_dir / "reference")
    with duckdb.get_connection() as con:
        # the curated disclosures judge the method (METHODOLOGY.md, "Backtest population")
        disclosures = con.execute("select * from disclosures where extraction_method = 'curated' "
                                  "order by disclosure_id").df()
        per_run, summary = run_backtest(disclosures, reference)
        excluded = backtest_exclusions(disclosures)
        per_run.insert(0, "backtest_id", per_run.variant + ":" + per_run.model_id + "@" + per_run.stage + ":"
                       + per_run.source_id)
        n = warehouse.replace_frame(con, "backtest", per_run)
        warehouse.replace_frame(con, "backtest_summary", summary)
        warehouse.replace_frame(con, "backtest_exclusions", excluded)
    yield dg.MaterializeResult(asset_key="backtest", metadata={"row_count": n})
    yield dg.MaterializeResult(asset_key="backtest_exclusions", metadata={"row_count": len(excluded)})
    yield dg.MaterializeResult(asset_key="backtest_summary", metadata={
        f"{row['variant']} {row['subset']}": dg.MetadataValue.json(
            {k: v for k, v in row.items() if k not in ("variant", "subset")})
        for row in summary.to_dict(orient="records")})


@dg.asset_check(asset="backtest_summary", blocking=True,
                description="The backtest is no worse than the thresholds in data/backtest_thresholds.yaml")
def backtest_within_thresholds(paths: PathsResource, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    thresholds = load_blocking_thresholds(paths.paths.data_dir / "backtest_thresholds.yaml")
    with duckdb.get_connection() as con:
        summary = con.execute("select * from backtest_summary").df()
    failures = backtest_failures(summary, thresholds)
    return dg.AssetCheckResult(passed=not failures, metadata={"failures": "; ".join(failures) or "none",
                                                               **{k: float(v) for k, v in thresholds.items()}})
