"""Reference: cited tables the estimator reads (hardware, grid intensity, PUE, lifecycle parameters)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import PathsResource
from pipelines.lib import warehouse
from pipelines.lib.reference import read_table
from schemas.reference import REFERENCE_CONTRACTS

REFERENCE_TABLES = {f"ref_{name}": name for name in REFERENCE_CONTRACTS}


@dg.multi_asset(
    group_name="reference",
    compute_kind="csv",
    specs=[dg.AssetSpec(table, description=REFERENCE_CONTRACTS[name].__doc__) for table, name in
           REFERENCE_TABLES.items()],
)
def reference_tables(paths: PathsResource, duckdb: DuckDBResource):
    """Each data/reference/<name>.csv, validated by its contract, as table ref_<name>."""
    directory = paths.paths.data_dir / "reference"
    frames = {table: read_table(name, directory) for table, name in REFERENCE_TABLES.items()}
    with duckdb.get_connection() as con:
        for table, frame in frames.items():
            n = warehouse.replace_frame(con, table, frame)
            yield dg.MaterializeResult(asset_key=table, metadata={"row_count": n})
