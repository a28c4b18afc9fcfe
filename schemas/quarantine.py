from pandera.typing import Series

from schemas._fields import ContractModel, col


class Quarantine(ContractModel):
    """Input that could not be used, with the reason: nothing is dropped silently."""

    quarantine_id: Series[str] = col("Stable id of the quarantined item", unique=True)
    pipeline_stage: Series[str] = col("Stage that rejected the item", isin=["extract", "normalize"])
    source_id: Series[str] = col("Source document or repo the item came from", nullable=True)
    locator: Series[str] = col("Where in the source", nullable=True)
    item: Series[str] = col("The rejected value or a short excerpt of it", nullable=True)
    reason: Series[str] = col("Why it was rejected")
