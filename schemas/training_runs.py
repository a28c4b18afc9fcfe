import pandas as pd
from pandera.typing import Series

from schemas._fields import BASES, ORIGINS, STAGES, ContractModel, col


class TrainingRuns(ContractModel):
    """One row per model and lifecycle stage: the headline figures, disclosed or estimated."""

    run_id: Series[str] = col("Stable id of the run: model_id@stage", unique=True)
    model_id: Series[str] = col("Model id: the Hub repo id where one exists, else developer/model")
    model_name: Series[str] = col("Model name")
    organization: Series[str] = col("Developer of the model")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    year: Series[pd.Int64Dtype] = col("Year of the model's release", nullable=True, ge=1990, le=2100)
    hardware: Series[str] = col("Accelerator, as printed by the headline source", nullable=True)
    chip_count: Series[float] = col("Number of accelerators", unit="chips", nullable=True, ge=0)
    chip_hours: Series[float] = col("Accelerator-hours", unit="hours", nullable=True, ge=0)
    energy_kwh: Series[float] = col("Energy used by the run", unit="kWh", nullable=True, ge=0)
    location: Series[str] = col("Location as printed by the headline source", nullable=True)
    pue: Series[float] = col("Power usage effectiveness", unit="ratio", nullable=True, ge=1)
    carbon_intensity_kg_per_kwh: Series[float] = col("Grid carbon intensity used", unit="kg/kWh", nullable=True,
                                                     ge=0)
    emissions_tco2e: Series[float] = col("Headline emissions", unit="tCO2e", nullable=True, ge=0)
    emissions_basis: Series[str] = col("Accounting basis of emissions_tco2e", nullable=True, isin=BASES)
    emissions_origin: Series[str] = col("Whether emissions_tco2e is disclosed or estimated", nullable=True,
                                        isin=ORIGINS)
    market_based_emissions_tco2e: Series[float] = col("Disclosed market-based emissions", unit="tCO2e",
                                                      nullable=True, ge=0)
    estimate_low_tco2e: Series[float] = col("Low bound of the estimate", unit="tCO2e", nullable=True, ge=0)
    estimate_high_tco2e: Series[float] = col("High bound of the estimate", unit="tCO2e", nullable=True, ge=0)
    embodied_tco2e: Series[float] = col("Embodied hardware emissions (disclosed or estimated)", unit="tCO2e",
                                        nullable=True, ge=0)
    is_restatement: Series[bool] = col("True when the headline comes from a restating source, not the developer")
    source_id: Series[str] = col("Source of the headline figure", nullable=True)
    source_url: Series[str] = col("URL of the headline source", nullable=True, str_matches=r"^https?://")
