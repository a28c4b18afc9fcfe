"""The one Dagster entry point: every asset, check and resource of the pipeline."""

import dagster as dg

from pipelines.defs import estimate, export, extract, ingest, normalize, reference, schedules
from pipelines.defs.resources import build_resources
from pipelines.defs.transform import contract_checks, sql_definitions
from pipelines.lib.settings import Paths


def build_definitions(paths: Paths | None = None) -> dg.Definitions:
    paths = paths or Paths.from_env()
    python_assets = [
        *dg.load_assets_from_modules([ingest, extract, normalize, reference, estimate]),
    ]
    python_tables = {key.to_user_string() for a in python_assets for key in a.keys}
    sql_assets, checks = sql_definitions(paths.sql_dir, python_tables)
    return dg.Definitions(
        assets=[*python_assets, *sql_assets, *dg.load_assets_from_modules([export])],
        asset_checks=[*checks, *contract_checks(), *dg.load_asset_checks_from_modules([estimate])],
        jobs=[schedules.full_refresh, schedules.hub_refresh],
        schedules=schedules.schedules,
        resources=build_resources(paths),
    )


defs = build_definitions()
