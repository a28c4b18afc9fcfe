import pandas as pd
from pandera.typing import Series

from schemas._fields import BASES, BOUNDARIES, DISCLOSURE_TYPES, ORIGINS, STAGES, ContractModel, col


def _origin(what: str):
    return col(f"Where {what} comes from: disclosed, derived, epoch, reference default (...), estimated",
               nullable=True)


class TrainingRuns(ContractModel):
    """Every run of every model: one row per model, stage, source and boundary that a source reports, plus this
    project's estimate where no usable disclosed emissions figure exists. Exactly one run per model and stage is
    the headline (is_headline); summing emissions_tco2e over headline runs counts no training twice."""

    run_id: Series[str] = col("Stable id of the run: model_id@stage@source_id (then @boundary when it is not "
                              "the stage's usual one); model_id@stage@estimate for this project's estimate",
                              unique=True)
    model_id: Series[str] = col("Model id (see models): the Hub repo id where one exists, else developer/model")
    model_name: Series[str] = col("Model name as the run's source names it")
    organization: Series[str] = col("Developer of the model (the registry's spelling)")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    year: Series[pd.Int64Dtype] = col("Year of the model's release (model registry)", nullable=True, ge=1990,
                                      le=2100)
    training_year: Series[pd.Int64Dtype] = col("Year of training where a source states it, else the model's "
                                               "release year, else the source's year; the estimate's grid year",
                                               nullable=True, ge=1990, le=2100)
    hardware: Series[str] = col("Accelerator, as printed by the headline source", nullable=True)
    hardware_id: Series[str] = col("Canonical accelerator id (see ref_accelerators); empty when unknown",
                                   nullable=True)
    chip_count: Series[float] = col("Number of accelerators", unit="chips", nullable=True, ge=0)
    chip_hours: Series[float] = col("Accelerator-hours", unit="hours", nullable=True, ge=0)
    chip_hours_origin: Series[str] = _origin("chip_hours")
    energy_kwh: Series[float] = col("Energy used by the run", unit="kWh", nullable=True, ge=0)
    energy_origin: Series[str] = _origin("energy_kwh")
    location: Series[str] = col("Location as printed by the headline source", nullable=True)
    location_id: Series[str] = col("ISO 3166 country / subdivision or provider:region the estimate's grid used; "
                                   "empty when unknown", nullable=True)
    location_origin: Series[str] = col("Where location_id comes from: disclosed by the source, the training "
                                       "location in the model registry, the developer's country; empty: world "
                                       "average grid", nullable=True)
    pue: Series[float] = col("Power usage effectiveness (disclosed, or the default the estimate used)",
                             unit="ratio", nullable=True, ge=1)
    pue_origin: Series[str] = _origin("pue")
    carbon_intensity_kg_per_kwh: Series[float] = col("Grid carbon intensity (disclosed, or the one the estimate "
                                                     "used)", unit="kg/kWh", nullable=True, ge=0)
    carbon_intensity_origin: Series[str] = _origin("carbon_intensity_kg_per_kwh")
    emissions_tco2e: Series[float] = col("The run's emissions: as its source disclosed them, or this project's "
                                         "estimate on estimate runs", unit="tCO2e", nullable=True, ge=0)
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
    width_drivers: Series[str] = col("The inputs that make the estimate's interval wide, with their share of its "
                                     "width", nullable=True)
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
    arithmetic_tco2e: Series[float] = col("What the run's own energy (or hours x power) gives at its grid: "
                                          "the check of a disclosed figure", unit="tCO2e", nullable=True, ge=0)
    arithmetic_factor: Series[float] = col("How many times the disclosed figure is away from arithmetic_tco2e; "
                                           "above 3 it cannot be a headline", unit="ratio", nullable=True, ge=1)
    disclosure_type: Series[str] = col("first-party: published by the model's developer; third-party: by "
                                       "others; estimate: computed by this project", isin=DISCLOSURE_TYPES)
    is_primary: Series[bool] = col("The original publication of the figure (false for restatements, and for "
                                   "copies of an equal figure another source published first)")
    is_restatement: Series[bool] = col("The source re-computes or repeats a figure rather than reporting its own "
                                       "training")
    is_aggregate: Series[bool] = col("The model is a family or a group of runs (see member_model_ids)")
    member_model_ids: Series[str] = col("For aggregates: the member models, comma-separated", nullable=True)
    family_id: Series[str] = col("The model's family (model registry)", nullable=True)
    boundary: Series[str] = col("What the figures cover", nullable=True, isin=BOUNDARIES)
    has_conflict: Series[bool] = col("Another disclosed run of the same model, stage and boundary gives a "
                                     "different emissions figure (see conflicts)")
    n_sources: Series[pd.Int64Dtype] = col("Sources reporting this model and stage", ge=0)
    is_excluded: Series[bool] = col("The run's emissions figure can never be a headline: superseded, flagged by a "
                                    "curator, or more than 3x away from its own document's arithmetic (the reason "
                                    "is in headline_reason)")
    precedence: Series[pd.Int64Dtype] = col("Rank of the run among its model and stage's runs by the headline "
                                            "rules (1 = preferred)", ge=1)
    is_headline: Series[bool] = col("The run a researcher should cite for this model and stage; at most one per "
                                    "model and stage (none for an aggregate whose members have runs, or a run "
                                    "covering stages that have their own headline)")
    headline_reason: Series[str] = col("Why the run is, or is not, the headline")
    source_id: Series[str] = col("Source of the run's figures (see sources)", nullable=True)
    source_url: Series[str] = col("URL of the run's source", nullable=True, str_matches=r"^https?://")
