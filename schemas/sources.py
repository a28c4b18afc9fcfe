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
    verified_in: Series[str] = col("Public text the figures were read in: the document itself (commit-pinned or "
                                   "versioned URL) or, for a secondary copy, the copy's URL; or a DOI",
                                   str_matches=r"^(https?://|doi:10\.)\S+$")
    verification: Series[str] = col("primary: figures read in the document itself or an exact copy of it pinned "
                                    "at a commit; secondary copy: read only where a third party reproduces the "
                                    "document (reading notes, news article, blog post), so not a first-party "
                                    "reading", isin=["primary", "secondary copy"])
    verification_note: Series[str] = col("Where in that text the figures are (section, table, page) and, for a "
                                         "secondary copy, who published it", nullable=True)
    snapshot_sha256: Series[str] = col("sha256 of the stored snapshot of the document, when fetched",
                                       nullable=True, str_matches=r"^[0-9a-f]{64}$")
    figure_count: Series[int] = col("Number of disclosed figures taken from this document", ge=0)
