import pandas as pd
from pandera.typing import Series

from schemas._fields import STAGES, ContractModel, col

VARIANTS = ["defaults", "disclosed"]
SUBSETS = ["all", "tdp-convention", "measured-power"]
CONVENTIONS = ["tdp", "measured", "calculator", "unstated"]
_LEVEL = "Level of the central interval [low_tco2e, high_tco2e] (0.9: 90 % of outcomes expected inside)"
_VARIANT = ("Inputs used: 'defaults' = hardware, chip-hours, location and year only; 'disclosed' = also the "
            "power, PUE and grid intensity the source disclosed")


class Backtest(ContractModel):
    """One row per disclosed run and variant: the estimator's figure from the run's own inputs vs the disclosure."""

    backtest_id: Series[str] = col("variant:model_id@stage:source_id", unique=True)
    variant: Series[str] = col(_VARIANT, isin=VARIANTS)
    source_id: Series[str] = col("Source of the disclosed figure")
    model_id: Series[str] = col("Model id")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    power_convention: Series[str] = col("How the source obtained its power (data/reference/power_conventions.csv); "
                                        "not an input of the estimate", isin=CONVENTIONS)
    disclosed_tco2e: Series[float] = col("Disclosed emissions", unit="tCO2e", ge=0)
    estimate_tco2e: Series[float] = col("Estimate from the run's inputs, same scope as the disclosure",
                                        unit="tCO2e", nullable=True, ge=0)
    low_tco2e: Series[float] = col("Low end of the central 90 % interval of the estimate (default power spread "
                                   "calibrated without this source)", unit="tCO2e", nullable=True, ge=0)
    high_tco2e: Series[float] = col("High end of the central 90 % interval of the estimate", unit="tCO2e",
                                    nullable=True, ge=0)
    interval_level: Series[float] = col(_LEVEL, unit="ratio", gt=0, lt=1)
    error_tco2e: Series[float] = col("estimate - disclosed", unit="tCO2e", nullable=True)
    error_factor: Series[float] = col("max(estimate/disclosed, disclosed/estimate)", unit="ratio", nullable=True,
                                      ge=1)
    is_inside_bounds: Series[pd.BooleanDtype] = col("Whether the disclosed value (plus or minus half its last "
                                                    "printed digit) lies inside the 90 % interval", nullable=True)
    power_spread: Series[float] = col("Spread (sigma of the log) of the TDP default power, calibrated on the other "
                                      "sources' runs (leave one source out)", unit="ratio", nullable=True, ge=0)
    width_drivers: Series[str] = col("Inputs that make the interval wide, with their share of its variance",
                                     nullable=True)
    method: Series[str] = col("Estimation method version")


class BacktestSummary(ContractModel):
    """The backtest per variant and subset of sources: error, coverage and width of the 90 % interval."""

    variant: Series[str] = col(_VARIANT, isin=VARIANTS)
    subset: Series[str] = col("Scored runs summarized: 'all', or the sources whose method uses the TDP convention "
                              "('tdp-convention') or measured power ('measured-power')", isin=SUBSETS)
    interval_level: Series[float] = col(_LEVEL, unit="ratio", gt=0, lt=1)
    runs: Series[int] = col("Disclosed runs considered", ge=0)
    scored_runs: Series[int] = col("Runs with enough inputs to estimate", ge=0)
    median_error_factor: Series[float] = col("Median of error_factor", unit="ratio", nullable=True)
    share_within_1_25: Series[float] = col("Share of scored runs with error_factor <= 1.25", unit="ratio",
                                           nullable=True, ge=0, le=1)
    share_inside_bounds: Series[float] = col("Coverage of the stated interval: share of scored runs whose disclosed "
                                             "value is inside it", unit="ratio", nullable=True, ge=0, le=1)
    median_high_low_ratio: Series[float] = col("Median of high_tco2e / low_tco2e: the interval's width",
                                               unit="ratio", nullable=True, ge=1)
    meets_targets: Series[pd.BooleanDtype] = col("Whether the subset's targets (METHODOLOGY.md) are met; empty for "
                                                 "a subset without targets", nullable=True)

    class Config:
        unique = ["variant", "subset"]


class BacktestExclusions(ContractModel):
    """Every disclosed emissions figure left out of the backtest, with the rule that left it out."""

    source_id: Series[str] = col("Source of the figure")
    model_id: Series[str] = col("Model id")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    disclosure_id: Series[str] = col("The figure (see disclosures)", unique=True)
    value_as_printed: Series[str] = col("The value exactly as printed")
    unit_as_printed: Series[str] = col("The unit exactly as printed", nullable=True)
    locator: Series[str] = col("Where in the source")
    rule: Series[str] = col("The exclusion rule (METHODOLOGY.md, backtest population)",
                            isin=["per-use", "component", "superseded", "market-based", "bound"])
    reason: Series[str] = col("What the rule means")


class PowerConventions(ContractModel):
    """How each scored source obtained the power behind its figure (data/reference/power_conventions.csv)."""

    source_id: Series[str] = col("Source (data/sources/registry.yaml)", unique=True)
    convention: Series[str] = col("'tdp' (the chip's rated power), 'measured' (metered draw), 'calculator' (an "
                                  "online calculator's table), 'unstated'", isin=CONVENTIONS)
    locator: Series[str] = col("Where in the source the power basis is given")
    note: Series[str] = col("What the source does, in our words")
