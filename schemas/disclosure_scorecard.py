from pandera.typing import Series

from schemas._fields import ContractModel, col


def _has(what: str):
    return col(f"Whether the developer disclosed {what} (first-party figures only)")


class DisclosureScorecard(ContractModel):
    """What each developer disclosed, per model and per organization (first-party figures only)."""

    scorecard_id: Series[str] = col("model:<model_id> or organization:<organization>", unique=True)
    level: Series[str] = col("Row level", isin=["model", "organization"])
    organization: Series[str] = col("Developer")
    model_id: Series[str] = col("Model id (model rows)", nullable=True)
    model_name: Series[str] = col("Model name (model rows)", nullable=True)
    has_hardware: Series[bool] = _has("the training hardware")
    has_chip_hours: Series[bool] = _has("accelerator-hours")
    has_energy: Series[bool] = _has("training energy")
    has_location_or_intensity: Series[bool] = _has("the location or grid carbon intensity")
    has_pue: Series[bool] = _has("the data-centre PUE")
    has_emissions: Series[bool] = _has("emissions")
    has_market_based_emissions: Series[bool] = _has("market-based emissions")
    has_embodied_emissions: Series[bool] = _has("embodied (hardware manufacturing) emissions")
    has_inference_figures: Series[bool] = _has("inference or deployment figures")
    disclosed_item_count: Series[int] = col("How many of the nine items above were disclosed", ge=0, le=9)
    figure_count: Series[int] = col("Number of first-party figures", ge=0)
    source_count: Series[int] = col("Number of first-party source documents", ge=0)
    model_count: Series[int] = col("Number of models (1 on model rows)", ge=1)
