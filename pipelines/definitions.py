"""The one Dagster entry point: every asset, check and resource of the pipeline."""

import dagster as dg

from pipelines.defs import estimate, export, extract, inference, ingest, normalize, reference, schedules
from pipelines.defs.resources import build_resources
from pipelines.defs.transform import check_steps, contract_checks, sql_definitions
from pipelines.lib.settings import Paths


def build_definitions(paths: Paths | None = None) -> dg.Definitions:
    paths = paths or Paths.from_env()
    python_assets = [
        *dg.load_assets_from_modules([ingest, inference, extract, normalize, reference, estimate]),
    ]
    python_deps = {key.to_user_string(): {d.to_user_string() for d in a.asset_deps[key]}
                   for a in python_assets for key in a.keys}
    sql_assets, sql_tests = sql_definitions(paths.sql_dir, python_deps)
    assets = [*python_assets, *sql_assets, *dg.load_assets_from_modules([export])]
    step_of = {key.to_user_string(): a.node_def.name for a in assets for key in a.keys}
    return dg.Definitions(
        assets=assets,
        asset_checks=[*check_steps([*sql_tests, *contract_checks()], step_of),
                      *dg.load_asset_checks_from_modules([estimate])],
        jobs=[schedules.full_refresh, schedules.hub_refresh],
        schedules=schedules.schedules,
        resources=build_resources(paths),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Built when Dagster loads the code location (`dagster dev`), not when this module is imported."""
    return build_definitions()
