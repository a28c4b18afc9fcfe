"""Shared field builders: every column carries a description and, for quantities, its unit."""

from __future__ import annotations

import pandera.pandas as pa

STAGES = ["pretraining", "fine-tuning", "development", "inference", "total"]
BASES = ["location-based", "market-based", "operational", "lifecycle", "unspecified"]
ORIGINS = ["disclosed", "estimated"]
DISCLOSURE_TYPES = ["first-party", "third-party", "estimate"]
BOUNDARIES = ["final run only", "includes development and experiments", "includes idle and infrastructure",
              "includes embodied hardware", "includes use"]
# curated documents have a slug; a Hub model card is `hub:<repo_id>`
SOURCE_ID_PATTERN = r"^([a-z0-9][a-z0-9_]*|hub:[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+)$"


def col(description: str, *, unit: str | None = None, nullable: bool = False, **checks):
    """A pandera Field with the description and unit that the data package publishes."""
    metadata = {"unit": unit} if unit else {}
    return pa.Field(description=description, nullable=nullable, coerce=True, metadata=metadata, **checks)


class ContractModel(pa.DataFrameModel):
    class Config:
        strict = True  # the published columns are exactly these, in this order
        ordered = True
        coerce = True
