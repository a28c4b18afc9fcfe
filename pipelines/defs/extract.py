"""Extract: curated disclosure files -> figure rows, values still as printed."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import PathsResource
from pipelines.lib import curated, warehouse
from pipelines.lib.normalize import FIGURE_COLUMNS


@dg.asset(group_name="extract", compute_kind="yaml", deps=["source_registry"])
def curated_figures(paths: PathsResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Figures read by a person in each source document (data/curated/*.yaml), exactly as printed."""
    data = paths.paths.data_dir
    registry = curated.load_registry(data / "sources" / "registry.yaml")
    rows = curated.curated_figure_rows(data / "curated", registry)
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "curated_figures", rows, FIGURE_COLUMNS)
    return dg.MaterializeResult(metadata={"row_count": n, "sources": len({r["source_id"] for r in rows})})
