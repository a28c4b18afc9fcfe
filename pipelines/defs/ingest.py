"""Ingest: the source registry (and, later, fetched documents and Hub cards)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import PathsResource
from pipelines.lib import curated, warehouse

SOURCE_REGISTRY_COLUMNS = {
    "source_id": "VARCHAR", "title": "VARCHAR", "organization": "VARCHAR", "published_date": "VARCHAR",
    "kind": "VARCHAR", "url": "VARCHAR", "fetch_url": "VARCHAR", "license": "VARCHAR", "verified_in": "VARCHAR",
}


@dg.asset(group_name="ingest", compute_kind="yaml")
def source_registry(paths: PathsResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every source document the dataset cites, from data/sources/registry.yaml (validated on load)."""
    registry = curated.load_registry(paths.paths.data_dir / "sources" / "registry.yaml")
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "source_registry", curated.source_rows(registry), SOURCE_REGISTRY_COLUMNS)
    return dg.MaterializeResult(metadata={"row_count": n})
