import pandas as pd
from pandera.typing import Series

from schemas._fields import BASES, STAGES, ContractModel, col

METRICS = ["emissions", "energy", "chip_hours", "power", "tdp", "pue", "carbon_intensity", "chip_count", "duration",
           "water"]
UNITS = ["tCO2e", "kWh", "hours", "W", "ratio", "kg/kWh", "chips", "L"]


class Disclosures(ContractModel):
    """One row per figure published in a source document, long format, as printed and normalized."""

    disclosure_id: Series[str] = col("Stable id of the figure (source, model, stage, metric, basis, locator)",
                                     unique=True)
    model_id: Series[str] = col("Model id: the Hub repo id where one exists, else developer/model")
    model_name: Series[str] = col("Model name as the source writes it")
    organization: Series[str] = col("Developer of the model")
    stage: Series[str] = col("Lifecycle stage the figure covers", isin=STAGES)
    metric: Series[str] = col("What the figure measures", isin=METRICS)
    basis: Series[str] = col("Accounting basis of an emissions or carbon-intensity figure", nullable=True,
                             isin=BASES)
    value: Series[float] = col("Value normalized to `unit`", ge=0)
    unit: Series[str] = col("Canonical unit of `value` for the metric", isin=UNITS)
    value_qualifier: Series[str] = col("Qualifier printed with the value", nullable=True,
                                       isin=["approximately", "less_than", "more_than"])
    functional_unit: Series[str] = col("For per-use figures, what one value is per (e.g. query)", nullable=True)
    component: Series[str] = col("Part of the footprint the figure covers (dynamic, idle, infrastructure, "
                                 "embodied); empty when it covers the whole run", nullable=True,
                                 isin=["dynamic", "idle", "infrastructure", "embodied"])
    value_as_printed: Series[str] = col("The value exactly as printed in the source")
    unit_as_printed: Series[str] = col("The unit exactly as printed in the source", nullable=True)
    locator: Series[str] = col("Where in the source: table, row, column, section or YAML key")
    hardware: Series[str] = col("Hardware as printed in the source", nullable=True)
    hardware_id: Series[str] = col("Canonical accelerator id (see ref_accelerators); empty when the printed "
                                   "hardware is unknown", nullable=True)
    location: Series[str] = col("Location as printed in the source", nullable=True)
    location_id: Series[str] = col("ISO 3166 country / subdivision or provider:region; empty when the printed "
                                   "location is unknown", nullable=True)
    year: Series[pd.Int64Dtype] = col("Year of the model's release", nullable=True, ge=1990, le=2100)
    is_pue_included: Series[pd.BooleanDtype] = col("Whether the figure includes data-centre overhead (PUE)",
                                             nullable=True)
    is_idle_included: Series[pd.BooleanDtype] = col("Whether the figure includes idle consumption", nullable=True)
    is_embodied_included: Series[pd.BooleanDtype] = col("Whether the figure includes embodied hardware emissions",
                                                  nullable=True)
    is_restatement: Series[bool] = col("True when the source restates another developer's model")
    is_superseded: Series[bool] = col("True when a later version of the source replaced this figure")
    superseded_on: Series[str] = col("Date (ISO 8601) the figure was replaced", nullable=True)
    extraction_method: Series[str] = col("How the figure was obtained (curated, table extraction, card parser)")
    note: Series[str] = col("Curator's note, in the curator's own words", nullable=True)
    source_id: Series[str] = col("Source document id (see sources)")
    source_url: Series[str] = col("URL of the source document", str_matches=r"^https?://")
    snapshot_sha256: Series[str] = col("sha256 of the stored snapshot the figure was read from", nullable=True,
                                       str_matches=r"^[0-9a-f]{64}$")
