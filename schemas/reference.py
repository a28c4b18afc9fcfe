"""Reference tables used by the lifecycle estimator: every row carries its source.

The CSV files live in `data/reference/`; `pipelines/lib/reference.py` validates them with these models
on load, so a missing citation or an out-of-range figure fails loudly instead of skewing estimates.
"""

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas._fields import col

KINDS = ["gpu", "tpu", "npu", "other"]
LOCATION_KINDS = ["world", "country", "subdivision", "cloud_region"]


class ReferenceModel(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True


class Cited(ReferenceModel):
    """Columns every reference row carries: where its figures were read."""

    source: Series[str] = col("Short citation of the source (author, year, title or dataset and version)")
    source_url: Series[str] = col("URL of the source", str_matches=r"^https?://")
    locator: Series[str] = col("Where in the source: table, row, column, section, file or key")


class Accelerators(Cited):
    """One row per accelerator model: specs used as defaults and embodied-carbon factors."""

    hardware_id: Series[str] = col("Canonical accelerator id", unique=True, str_matches=r"^[a-z0-9][a-z0-9\-]*$")
    name: Series[str] = col("Display name")
    manufacturer: Series[str] = col("Manufacturer")
    kind: Series[str] = col("Accelerator family", isin=KINDS)
    release_year: Series[pd.Int64Dtype] = col("Year of release", nullable=True, ge=2000, le=2100)
    memory_gb: Series[float] = col("Memory per board", unit="GB", nullable=True, ge=0)
    tdp_w: Series[float] = col("Thermal design power per chip", unit="W", nullable=True, gt=0)
    tdp_origin: Series[str] = col("Where tdp_w comes from", isin=["epoch", "reference"])
    chips_per_server: Series[int] = col("Accelerators per server (node)", unit="chips", ge=1)
    embodied_chip_kgco2e: Series[float] = col("Embodied emissions of one chip (board)", unit="kgCO2e", ge=0)
    embodied_chip_low_kgco2e: Series[float] = col("Low end of the chip's embodied emissions", unit="kgCO2e", ge=0)
    embodied_chip_high_kgco2e: Series[float] = col("High end of the chip's embodied emissions", unit="kgCO2e",
                                                   ge=0)
    embodied_server_kgco2e: Series[float] = col("Embodied emissions of one server without its accelerators",
                                                unit="kgCO2e", ge=0)
    embodied_server_low_kgco2e: Series[float] = col("Low end of the server's embodied emissions", unit="kgCO2e",
                                                    ge=0)
    embodied_server_high_kgco2e: Series[float] = col("High end of the server's embodied emissions",
                                                     unit="kgCO2e", ge=0)
    epoch_hardware_name: Series[str] = col("Row name in Epoch AI's Machine Learning Hardware table", nullable=True)
    embodied_source: Series[str] = col("Citation of the embodied factors")

    @pa.dataframe_check
    def ranges_bracket_nominal(cls, df) -> Series[bool]:
        chip = (df.embodied_chip_low_kgco2e <= df.embodied_chip_kgco2e) & (
            df.embodied_chip_kgco2e <= df.embodied_chip_high_kgco2e)
        server = (df.embodied_server_low_kgco2e <= df.embodied_server_kgco2e) & (
            df.embodied_server_kgco2e <= df.embodied_server_high_kgco2e)
        return chip & server


class HardwareAliases(ReferenceModel):
    """A spelling seen in model cards or papers -> canonical accelerator id."""

    alias: Series[str] = col("The spelling as seen", unique=True)
    hardware_id: Series[str] = col("Canonical accelerator id (see accelerators)")
    source: Series[str] = col("Where this spelling was seen")


class PowerMeasurements(Cited):
    """Measured average power per accelerator during training, next to the chip's TDP."""

    hardware_id: Series[str] = col("Canonical accelerator id")
    model_name: Series[str] = col("Model whose training was measured")
    tdp_w: Series[float] = col("Chip thermal design power as printed by the source", unit="W", gt=0)
    measured_w: Series[float] = col("Measured system average power per accelerator", unit="W", gt=0)


class PueDefaults(Cited):
    """Default power usage effectiveness per operator or facility type, with a range."""

    facility: Series[str] = col("Operator or facility type the default applies to", unique=True)
    pue: Series[float] = col("Default PUE", unit="ratio", ge=1)
    pue_low: Series[float] = col("Low end of the PUE range", unit="ratio", ge=1)
    pue_high: Series[float] = col("High end of the PUE range", unit="ratio", ge=1)

    @pa.dataframe_check
    def range_brackets_default(cls, df) -> Series[bool]:
        return (df.pue_low <= df.pue) & (df.pue <= df.pue_high)


class GridIntensity(Cited):
    """Location-based grid carbon intensity per zone (world, country, subdivision, cloud region) and year."""

    zone_id: Series[str] = col("WORLD, ISO 3166-1 alpha-2, ISO 3166-2 subdivision or provider:region")
    zone_kind: Series[str] = col("What the zone is", isin=LOCATION_KINDS)
    year: Series[pd.Int64Dtype] = col("Year the intensity describes", nullable=True, ge=1990, le=2100)
    kg_per_kwh: Series[float] = col("Carbon intensity", unit="kg/kWh", ge=0, le=2)
    value_as_published: Series[str] = col("The value exactly as the source publishes it")
    unit_as_published: Series[str] = col("The unit exactly as the source publishes it")
    license: Series[str] = col("License of the source data")


class CloudRegions(Cited):
    """Cloud regions: provider:region id -> country (and subdivision), with the names seen for them."""

    region_id: Series[str] = col("provider:region", unique=True, str_matches=r"^(aws|gcp|azure):[a-z0-9\-]+$")
    provider: Series[str] = col("Cloud provider", isin=["aws", "gcp", "azure"])
    region: Series[str] = col("Provider's region code")
    country_code: Series[str] = col("ISO 3166-1 alpha-2 country", str_matches=r"^[A-Z]{2}$")
    subdivision_code: Series[str] = col("ISO 3166-2 subdivision", nullable=True, str_matches=r"^[A-Z]{2}-[A-Z0-9]+$")
    display_names: Series[str] = col("Other names of the region, separated by '|'", nullable=True)


class LifecycleParameters(Cited):
    """Scalar parameters of the lifecycle method (lifetimes, utilization, measured idle energy...)."""

    parameter: Series[str] = col("Parameter name", unique=True)
    value: Series[float] = col("Value", ge=0)
    unit: Series[str] = col("Unit of value")


class Datacenters(Cited):
    """Named data centres and supercomputers -> the ISO country or subdivision they stand in."""

    name: Series[str] = col("The site's name as sources write it ('Google Georgia', 'Jean Zay')", unique=True)
    location_id: Series[str] = col("ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision",
                                   str_matches=r"^[A-Z]{2}(-[A-Z0-9]+)?$")
    operator: Series[str] = col("Who runs the site")


REFERENCE_CONTRACTS = {
    "accelerators": Accelerators,
    "hardware_aliases": HardwareAliases,
    "power_measurements": PowerMeasurements,
    "pue_defaults": PueDefaults,
    "grid_intensity": GridIntensity,
    "cloud_regions": CloudRegions,
    "lifecycle_parameters": LifecycleParameters,
    "datacenters": Datacenters,
}
