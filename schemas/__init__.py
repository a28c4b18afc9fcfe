"""Table contracts: one pandera DataFrameModel per published table (column names, types, units, docs).

The contract is the single source for validation (blocking asset checks), the Parquet schema of a
release and its `datapackage.json`.
"""

from dataclasses import dataclass

import pandera.pandas as pa

from schemas.backtest import Backtest, BacktestExclusions, BacktestSummary
from schemas.conflicts import Conflicts
from schemas.disclosure_scorecard import DisclosureScorecard
from schemas.disclosures import Disclosures
from schemas.inference_measurements import InferenceMeasurements
from schemas.models import Models
from schemas.quarantine import Quarantine
from schemas.reference import (
    Accelerators,
    CloudRegions,
    Datacenters,
    GridIntensity,
    HardwareAliases,
    LifecycleParameters,
    PowerMeasurements,
    PueDefaults,
)
from schemas.sources import Sources
from schemas.training_runs import TrainingRuns


@dataclass(frozen=True)
class PublishedTable:
    name: str  # asset key = DuckDB table = export file name
    model: type[pa.DataFrameModel]
    primary_key: tuple[str, ...]

    @property
    def description(self) -> str:
        return " ".join((self.model.__doc__ or "").split())

    @property
    def columns(self) -> list[str]:
        return list(self.model.to_schema().columns)


PUBLISHED_TABLES: dict[str, PublishedTable] = {
    t.name: t
    for t in [
        PublishedTable("models", Models, ("model_id",)),
        PublishedTable("training_runs", TrainingRuns, ("run_id",)),
        PublishedTable("disclosures", Disclosures, ("disclosure_id",)),
        PublishedTable("sources", Sources, ("source_id",)),
        PublishedTable("conflicts", Conflicts, ("conflict_id",)),
        PublishedTable("inference_measurements", InferenceMeasurements, ("measurement_id",)),
        PublishedTable("disclosure_scorecard", DisclosureScorecard, ("scorecard_id",)),
        PublishedTable("quarantine", Quarantine, ("quarantine_id",)),
        PublishedTable("backtest", Backtest, ("backtest_id",)),
        PublishedTable("backtest_summary", BacktestSummary, ("variant", "subset")),
        PublishedTable("backtest_exclusions", BacktestExclusions, ("disclosure_id",)),
        # the reference tables the estimates used, as loaded
        PublishedTable("ref_accelerators", Accelerators, ("hardware_id",)),
        PublishedTable("ref_hardware_aliases", HardwareAliases, ("alias",)),
        PublishedTable("ref_power_measurements", PowerMeasurements, ("hardware_id", "model_name")),
        PublishedTable("ref_pue_defaults", PueDefaults, ("facility",)),
        PublishedTable("ref_grid_intensity", GridIntensity, ("zone_id", "year", "source")),
        PublishedTable("ref_cloud_regions", CloudRegions, ("region_id",)),
        PublishedTable("ref_lifecycle_parameters", LifecycleParameters, ("parameter",)),
        PublishedTable("ref_datacenters", Datacenters, ("name",)),
    ]
}
