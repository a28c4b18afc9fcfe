"""The data card (README.md) of a release, written from the release's own tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from schemas import PUBLISHED_TABLES


def _count(table: pa.Table, column: str, value) -> int:
    return int(pc.sum(pc.equal(table[column], value)).as_py() or 0)


def data_card(version: str, release_date: dt.date, tables: Mapping[str, pa.Table], diffs: Mapping) -> str:
    runs, disclosures, sources = tables["training_runs"], tables["disclosures"], tables["sources"]
    organizations = len(set(disclosures["organization"].to_pylist()))
    lines = [
        f"# AI emissions disclosures - release {version}",
        "",
        f"Released {release_date.isoformat()}. Data license: CC BY 4.0 (cite the dataset and, for each figure,",
        "its source document). Built by the `ai-emissions` pipeline; this folder is never modified after",
        "publication.",
        "",
        "## What is in it",
        "",
        "| table | rows | what one row is |",
        "|---|---:|---|",
    ]
    for name, data in tables.items():
        lines.append(f"| `{name}` | {data.num_rows} | {PUBLISHED_TABLES[name].description} |")
    lines += [
        "",
        f"{disclosures.num_rows} disclosed figures from {sources.num_rows} source documents about models of "
        f"{organizations} organizations; {runs.num_rows} model-stage runs, "
        f"{_count(runs, 'emissions_origin', 'disclosed')} with disclosed emissions, "
        f"{_count(runs, 'emissions_origin', 'estimated')} with estimated emissions.",
        "",
        "## How it was collected",
        "",
        "Each disclosed figure was read in its source document (a paper, a technical report, an official",
        "model card) and is stored exactly as printed (`value_as_printed`, `unit_as_printed`) with a",
        "`locator` (table, row, column, section or YAML key) and the source URL, then normalized to one unit",
        "per metric (`value`, `unit`: tCO2e, kWh, hours, W, kg/kWh). Figures a source gives about another",
        "developer's model are flagged `is_restatement`; figures a later version of a document replaced are",
        "flagged `is_superseded`. Input that could not be used is listed in `quarantine` with the reason.",
        "",
        "## Disclosed and estimated",
        "",
        "`training_runs.emissions_origin` says whether `emissions_tco2e` was published by a source",
        "(`disclosed`, with `source_url`) or computed by this project (`estimated`, with",
        "`estimate_low_tco2e` / `estimate_high_tco2e` bounds). `emissions_basis` says what the figure",
        "accounts for (location-based, market-based, operational, lifecycle, unspecified).",
        "",
        "## Files",
        "",
        "Every table is here as Parquet and CSV with the same rows; `datapackage.json` describes every",
        "column (type, unit, description) and `SHA256SUMS` lets you verify the files",
        "(`sha256sum -c SHA256SUMS`). `CHANGELOG.md` lists what changed since the previous release.",
        "",
        "## Example queries",
        "",
        "```sql",
        "-- duckdb: the largest disclosed training footprints",
        "select model_name, organization, stage, emissions_tco2e, emissions_basis, source_url",
        "from 'training_runs.parquet'",
        "where emissions_origin = 'disclosed'",
        "order by emissions_tco2e desc limit 10;",
        "```",
        "",
        "```python",
        "import pandas as pd",
        "runs = pd.read_parquet('training_runs.parquet')",
        "```",
        "",
    ]
    return "\n".join(lines)
