"""Measured inference energy: benchmark result files fetched (ingest) and read into `inference_measurements`."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.ingest import DOCUMENT_COLUMNS, DOCUMENT_FRESHNESS
from pipelines.defs.resources import NetworkResource, PathsResource
from pipelines.lib import warehouse
from pipelines.lib.documents import fetch_documents
from pipelines.lib.http import stable_reason
from pipelines.lib.inference_energy import (
    MEASUREMENT_COLUMNS,
    FetchedFile,
    collect_measurements,
    load_projects,
    result_files,
)
from pipelines.lib.model_registry import load_model_registry
from pipelines.lib.normalize import QUARANTINE_COLUMNS, quarantine_row
from pipelines.lib.snapshots import SnapshotStore


def _projects(paths: PathsResource):
    return load_projects(paths.paths.data_dir / "sources" / "inference_energy.yaml")


@dg.multi_asset(
    group_name="ingest",
    compute_kind="httpx",
    specs=[
        dg.AssetSpec("inference_result_snapshots", freshness_policy=DOCUMENT_FRESHNESS,
                     description="Benchmark result files (data/sources/inference_energy.yaml) in the snapshot store"),
        dg.AssetSpec("inference_fetch_errors", description="Benchmark result files that could not be fetched"),
    ],
)
def inference_result_snapshots(paths: PathsResource, network: NetworkResource, duckdb: DuckDBResource):
    report = fetch_documents(SnapshotStore(paths.paths.snapshots), result_files(_projects(paths)),
                             offline=network.offline, deadline_s=network.seconds_left())
    snapshots = [{"source_id": s.source_id, "url": s.url, "snapshot_sha256": s.sha256,
                  "content_type": s.content_type, "fetched_at": s.fetched_at} for s in report.snapshots]
    errors = [quarantine_row("ingest", key.split(":")[0], url, None, f"result file not fetched: {stable_reason(why)}")
              for key, url, why in report.errors]
    errors += [quarantine_row("ingest", key.split(":")[0], url, None, f"result file rejected: {why}")
               for key, url, why in report.rejected]
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "inference_result_snapshots", snapshots, DOCUMENT_COLUMNS)
        warehouse.replace_table(con, "inference_fetch_errors", errors, QUARANTINE_COLUMNS)
    yield dg.MaterializeResult(asset_key="inference_result_snapshots", metadata={
        "row_count": n, "fetched": report.fetched, "unreachable": ", ".join(report.unreachable)})
    yield dg.MaterializeResult(asset_key="inference_fetch_errors", metadata={"row_count": len(errors)})


@dg.multi_asset(
    group_name="extract",
    compute_kind="python",
    specs=[
        dg.AssetSpec("inference_measurements", deps=["inference_result_snapshots", "model_registry"],
                     description="Measured inference energy per model, task and hardware (published)"),
        dg.AssetSpec("inference_quarantine", deps=["inference_result_snapshots"],
                     description="Fetched result files that could not be read (the pinned snapshot stands)"),
    ],
)
def inference_measurements(paths: PathsResource, duckdb: DuckDBResource):
    store = SnapshotStore(paths.paths.snapshots)
    with duckdb.get_connection() as con:
        stored = con.execute("select source_id, url, snapshot_sha256 from inference_result_snapshots").fetchall()
        fetched = {key: FetchedFile(url, sha, store.get(sha)) for key, url, sha in stored}
        rows, issues = collect_measurements(_projects(paths), fetched, paths.paths.data_dir / "reference",
                                            load_model_registry(paths.paths.data_dir).resolve)
        n = warehouse.replace_table(con, "inference_measurements", rows, MEASUREMENT_COLUMNS)
        warehouse.replace_table(con, "inference_quarantine", issues, QUARANTINE_COLUMNS)
    yield dg.MaterializeResult(asset_key="inference_measurements", metadata={
        "row_count": n, "resolved": sum(1 for r in rows if r["model_id"]),
        "from_fetched_files": sum(1 for r in rows if r["snapshot_sha256"])})
    yield dg.MaterializeResult(asset_key="inference_quarantine", metadata={"row_count": len(issues)})
