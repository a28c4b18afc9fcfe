import pandas as pd
from pandera.typing import Series

from schemas._fields import STAGES, ContractModel, col

VARIANTS = ["defaults", "disclosed"]
_VARIANT = ("Inputs used: 'defaults' = hardware, chip-hours, location and year only; 'disclosed' = also the "
            "power, PUE and grid intensity the source disclosed")


class Backtest(ContractModel):
    """One row per disclosed run and variant: the estimator's figure from the run's own inputs vs the disclosure."""

    backtest_id: Series[str] = col("variant:model_id@stage:source_id", unique=True)
    variant: Series[str] = col(_VARIANT, isin=VARIANTS)
    source_id: Series[str] = col("Source of the disclosed figure")
    model_id: Series[str] = col("Model id")
    stage: Series[str] = col("Lifecycle stage", isin=STAGES)
    disclosed_tco2e: Series[float] = col("Disclosed emissions", unit="tCO2e", ge=0)
    estimate_tco2e: Series[float] = col("Estimate from the run's inputs, same scope as the disclosure",
                                        unit="tCO2e", nullable=True, ge=0)
    low_tco2e: Series[float] = col("Low bound of the estimate", unit="tCO2e", nullable=True, ge=0)
    high_tco2e: Series[float] = col("High bound of the estimate", unit="tCO2e", nullable=True, ge=0)
    error_tco2e: Series[float] = col("estimate - disclosed", unit="tCO2e", nullable=True)
    error_factor: Series[float] = col("max(estimate/disclosed, disclosed/estimate)", unit="ratio", nullable=True,
                                      ge=1)
    is_inside_bounds: Series[pd.BooleanDtype] = col("Whether the disclosed value lies inside [low, high]",
                                                    nullable=True)
    method: Series[str] = col("Estimation method version")


class BacktestSummary(ContractModel):
    """The backtest in three numbers per variant, with the targets the release is held to."""

    variant: Series[str] = col(_VARIANT, unique=True, isin=VARIANTS)
    runs: Series[int] = col("Disclosed runs considered", ge=0)
    scored_runs: Series[int] = col("Runs with enough inputs to estimate", ge=0)
    median_error_factor: Series[float] = col("Median of error_factor", unit="ratio", nullable=True)
    share_within_1_25: Series[float] = col("Share of scored runs with error_factor <= 1.25", unit="ratio",
                                           nullable=True, ge=0, le=1)
    share_inside_bounds: Series[float] = col("Share of scored runs whose disclosed value is inside the bounds",
                                             unit="ratio", nullable=True, ge=0, le=1)
    meets_targets: Series[bool] = col("Whether the three targets of METHODOLOGY.md are met")


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
