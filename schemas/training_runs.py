import pandas as pd
from pandera.typing import Series

from schemas._fields import BASES, ORIGINS, STAGES, ContractModel, col


def _origin(what: str):
    return col(f"Where {what} comes from: disclosed, derived, epoch, reference default (...), estimated",
               nullable=True)


class TrainingRuns(ContractModel):
    """One row per model and lifecycle stage: the headline figures, disclosed or estimated."""

    run_id: Series[str] = col("Stable id of the run: model_id@stage", unique=True)
    model_id: Series[str] = col("Model id: the Hub repo id where one exists, else developer/model")
    model_name: Series[str] = col("Model name")
    organization: Series[str] = col("Developer of the model")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    year: Series[pd.Int64Dtype] = col("Year of the model's release", nullable=True, ge=1990, le=2100)
    hardware: Series[str] = col("Accelerator, as printed by the headline source", nullable=True)
    hardware_id: Series[str] = col("Canonical accelerator id (see ref_accelerators); empty when unknown",
                                   nullable=True)
    chip_count: Series[float] = col("Number of accelerators", unit="chips", nullable=True, ge=0)
    chip_hours: Series[float] = col("Accelerator-hours", unit="hours", nullable=True, ge=0)
    chip_hours_origin: Series[str] = _origin("chip_hours")
    energy_kwh: Series[float] = col("Energy used by the run", unit="kWh", nullable=True, ge=0)
    energy_origin: Series[str] = _origin("energy_kwh")
    location: Series[str] = col("Location as printed by the headline source", nullable=True)
    location_id: Series[str] = col("ISO 3166 country / subdivision or provider:region; empty when unknown",
                                   nullable=True)
    pue: Series[float] = col("Power usage effectiveness (disclosed, or the default the estimate used)",
                             unit="ratio", nullable=True, ge=1)
    pue_origin: Series[str] = _origin("pue")
    carbon_intensity_kg_per_kwh: Series[float] = col("Grid carbon intensity (disclosed, or the one the estimate "
                                                     "used)", unit="kg/kWh", nullable=True, ge=0)
    carbon_intensity_origin: Series[str] = _origin("carbon_intensity_kg_per_kwh")
    emissions_tco2e: Series[float] = col("Headline emissions: disclosed when any source disclosed them, else "
                                         "the estimate", unit="tCO2e", nullable=True, ge=0)
    emissions_basis: Series[str] = col("Accounting basis of emissions_tco2e", nullable=True, isin=BASES)
    emissions_origin: Series[str] = col("Whether emissions_tco2e is disclosed or estimated", nullable=True,
                                        isin=ORIGINS)
    market_based_emissions_tco2e: Series[float] = col("Disclosed market-based emissions", unit="tCO2e",
                                                      nullable=True, ge=0)
    estimated_tco2e: Series[float] = col("This project's location-based operational estimate (energy x grid "
                                         "intensity), for every run with enough inputs", unit="tCO2e",
                                         nullable=True, ge=0)
    estimate_low_tco2e: Series[float] = col("Low end of the central 80 % interval of estimated_tco2e "
                                            "(METHODOLOGY.md, Bounds)", unit="tCO2e", nullable=True, ge=0)
    estimate_high_tco2e: Series[float] = col("High end of the central 80 % interval of estimated_tco2e", unit="tCO2e",
                                             nullable=True, ge=0)
    lifecycle_tco2e: Series[float] = col("Estimated lifecycle total: operational + idle and infrastructure + "
                                         "embodied share", unit="tCO2e", nullable=True, ge=0)
    lifecycle_low_tco2e: Series[float] = col("Low end of the central 80 % interval of lifecycle_tco2e", unit="tCO2e",
                                             nullable=True, ge=0)
    lifecycle_high_tco2e: Series[float] = col("High end of the central 80 % interval of lifecycle_tco2e", unit="tCO2e",
                                              nullable=True, ge=0)
    embodied_tco2e: Series[float] = col("Embodied hardware emissions (disclosed, else estimated)", unit="tCO2e",
                                        nullable=True, ge=0)
    embodied_origin: Series[str] = _origin("embodied_tco2e")
    estimate_method: Series[str] = col("Version of the estimation method (see METHODOLOGY.md)", nullable=True)
    estimate_message: Series[str] = col("Why an input was defaulted or an estimate could not be made",
                                        nullable=True)
    is_restatement: Series[bool] = col("True when the headline comes from a restating source, not the developer")
    source_id: Series[str] = col("Source of the headline figures (see sources)", nullable=True)
    source_url: Series[str] = col("URL of the headline source", nullable=True, str_matches=r"^https?://")
