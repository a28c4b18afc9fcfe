from pandera.typing import Series

from schemas._fields import SOURCE_ID_PATTERN, ContractModel, col


class Sources(ContractModel):
    """One row per source document that the dataset cites."""

    source_id: Series[str] = col("Stable id of the source document", unique=True, str_matches=SOURCE_ID_PATTERN)
    title: Series[str] = col("Title of the document")
    organization: Series[str] = col("Organization that published the document")
    published_date: Series[str] = col("Publication date (ISO 8601) of the cited version", nullable=True,
                                      str_matches=r"^\d{4}-\d{2}-\d{2}$")
    kind: Series[str] = col("Kind of document", isin=["paper", "model_card", "technical_report", "web_page",
                                                      "dataset", "hub_card"])
    url: Series[str] = col("Canonical URL of the document", str_matches=r"^https?://")
    license: Series[str] = col("License of the document itself (only facts are taken from it)", nullable=True)
    verified_in: Series[str] = col("Where the figures were read: stored copy and its locator", nullable=True)
    snapshot_sha256: Series[str] = col("sha256 of the stored snapshot of the document, when fetched",
                                       nullable=True, str_matches=r"^[0-9a-f]{64}$")
    figure_count: Series[int] = col("Number of disclosed figures taken from this document", ge=0)
