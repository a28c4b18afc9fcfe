"""Reference: cited tables the estimator reads (hardware, grid intensity, PUE, lifecycle parameters)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import PathsResource
from pipelines.lib import warehouse
from pipelines.lib.model_registry import ALIAS_COLUMNS, REGISTRY_COLUMNS, load_model_registry
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


@dg.multi_asset(
    group_name="reference",
    compute_kind="yaml",
    specs=[
        dg.AssetSpec("model_registry", description="Every model the dataset reports on under one canonical id "
                     "(data/reference/models.yaml), with family, base model, aggregate members and a citation"),
        dg.AssetSpec("organization_aliases", description="Every spelling of every developer, with its country "
                     "where it is one country (data/reference/models.yaml)"),
    ],
)
def model_registry(paths: PathsResource, duckdb: DuckDBResource):
    registry = load_model_registry(paths.paths.data_dir)
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "model_registry", registry.rows(), REGISTRY_COLUMNS)
        n_orgs = warehouse.replace_table(con, "organization_aliases", registry.organization_alias_rows(),
                                         ALIAS_COLUMNS)
    yield dg.MaterializeResult(asset_key="model_registry", metadata={
        "row_count": n, "aggregates": sum(m.is_aggregate for m in registry.models.values())})
    yield dg.MaterializeResult(asset_key="organization_aliases", metadata={"row_count": n_orgs})
