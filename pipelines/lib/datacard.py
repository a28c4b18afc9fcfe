"""The data card (README.md) of a release and its attribution, written from the release's own tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from schemas import PUBLISHED_TABLES

# Third-party data a release carries (beyond the figures of its cited documents), with what its license asks:
# who made it, its title and address, the license, the snapshot used and what was changed.
CC_BY_4 = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0 International",
           "path": "https://creativecommons.org/licenses/by/4.0/"}
EPOCH_NOTABLE_COLUMNS = ("Model", "Organization", "Publication date", "Training hardware", "Hardware quantity",
                         "Training time (hours)", "Training power draw (W)", "Country (from Organization)")
EPOCH_HARDWARE_COLUMNS = ("Hardware name", "Manufacturer", "Type", "Release date", "Memory size per board (Byte)",
                          "TDP (W)")
ATTRIBUTION = [
    {"title": "Notable AI Models", "authors": "Epoch AI", "path": "https://epoch.ai/data/notable_ai_models.csv",
     "license": CC_BY_4, "snapshot": "2025-04-18", "file": "data/reference/epoch_notable_ai_models.csv",
     "changes": "a selection of columns (" + ", ".join(EPOCH_NOTABLE_COLUMNS) + "); values as published",
     "used_for": "training hardware, chip counts and training time of estimated runs"},
    {"title": "Machine Learning Hardware", "authors": "Epoch AI", "path": "https://epoch.ai/data/ml_hardware.csv",
     "license": CC_BY_4, "snapshot": "2025-12-14", "file": "data/reference/epoch_ml_hardware.csv",
     "changes": "a selection of columns (" + ", ".join(EPOCH_HARDWARE_COLUMNS) + "); values as published",
     "used_for": "accelerator TDP and memory (ref_accelerators)"},
    {"title": "codecarbon 3.3.2 offline data (country energy mix from Our World in Data / Ember, US states from "
              "EPA eGRID2023, GCP regions)", "authors": "codecarbon contributors",
     "path": "https://github.com/mlco2/codecarbon",
     "license": {"name": "MIT", "path": "https://github.com/mlco2/codecarbon/blob/master/LICENSE"},
     "snapshot": "package version 3.3.2", "file": "data/reference/grid_intensity.csv",
     "changes": "carbon intensity derived per country, US state and cloud region",
     "used_for": "grid carbon intensity per country, US state and cloud region (ref_grid_intensity)"},
    {"title": "ML.ENERGY Leaderboard v3 (task result files)", "authors": "The ML.ENERGY initiative",
     "path": "https://ml.energy/leaderboard",
     "license": {"name": "Apache-2.0", "path": "https://www.apache.org/licenses/LICENSE-2.0"},
     "snapshot": "2026-02-27", "file": "data/reference/mlenergy_leaderboard_v3.csv",
     "changes": "energy figures and configuration columns only, one row per configuration (long form), from "
                "https://github.com/ml-energy/leaderboard/tree/0cd52dab897c5d91a45f4d413038f3b8b4251b0f/public/data/tasks",
     "used_for": "measured inference energy (inference_measurements)"},
    {"title": "AI Energy Score leaderboard v1 (February 2025 result files, read in a copy by a GitHub user)",
     "authors": "AI Energy Score project (Hugging Face)",
     "path": "https://huggingface.co/spaces/AIEnergyScore/Leaderboard",
     "license": {"name": "Apache-2.0", "path": "https://www.apache.org/licenses/LICENSE-2.0"},
     "snapshot": "2025-07-03", "file": "data/reference/aienergyscore_leaderboard_v1.csv",
     "changes": "energy figures and configuration columns only, one row per configuration (long form), read in "
                "https://github.com/ebbalg/AI-climate-overview/tree/5a804d3bc20984ed22fd8260a5a447e787217e62/data/"
                "AI-energy-leaderboard",
     "used_for": "measured inference energy (inference_measurements)"},
]


def attribution_line(a: Mapping) -> str:
    """One sentence naming a third-party dataset the way its license asks to be credited."""
    return (f"{a['authors']}, \"{a['title']}\", {a['path']}, licensed {a['license']['name']} "
            f"({a['license']['path']}); snapshot {a['snapshot']}; changes: {a['changes']}. "
            f"Used for {a['used_for']}.")


def with_attribution(sources: list[dict]) -> list[dict]:
    """The data package's `sources`: the cited documents plus the third-party datasets, credited in full."""
    by_path = {s["path"]: s for s in sources}
    out = list(sources)
    for a in ATTRIBUTION:
        credit = {"title": f"{a['authors']}, {a['title']}", "path": a["path"], "authors": a["authors"],
                  "licenses": [a["license"]], "snapshot": a["snapshot"], "changes": a["changes"]}
        if a["path"] in by_path:
            by_path[a["path"]].update(credit)
        else:
            out.append(credit)
    return out


def _count(table: pa.Table, column: str, value) -> int:
    return int(pc.sum(pc.equal(table[column], value)).as_py() or 0)


def _backtest_lines(tables: Mapping[str, pa.Table]) -> list[str]:
    if "backtest_summary" not in tables or tables["backtest_summary"].num_rows == 0:
        return ["No backtest in this release."]
    rows = tables["backtest_summary"].to_pylist()
    level = rows[0].get("interval_level")
    lines = ["| inputs | sources | runs scored | median error factor | within 1.25x | disclosed value inside the "
             "interval | median high/low | meets the targets |", "|---|---|---:|---:|---:|---:|---:|---|"]

    def pct(x):
        return "-" if x is None else f"{x:.0%}"

    def num(x):
        return "-" if x is None else f"{x:.3f}" if x < 1.1 else f"{x:.2f}"
    for row in rows:
        met = {True: "yes", False: "no"}.get(row.get("meets_targets"), "no targets")
        lines.append(f"| {row['variant']} | {row.get('subset', 'all')} | {row['scored_runs']} of {row['runs']} | "
                     f"{num(row['median_error_factor'])} | {pct(row['share_within_1_25'])} | "
                     f"{pct(row['share_inside_bounds'])} | {num(row.get('median_high_low_ratio'))} | {met} |")
    lines += ["", f"Bounds are the central {pct(level)} interval of each estimate; every run's interval is "
              "calibrated without its own source. The targets (all runs: coverage within 0.07 of the level, median",
              "high/low at most 2.5, median error factor at most 1.05; sources using the TDP convention: at least",
              "90% within 1.25x) and the runs that miss, with the reason, are in METHODOLOGY.md.",
              "`backtest_exclusions` lists the figures left out, with the rule."]
    return lines


def data_card(version: str, release_date: dt.date, tables: Mapping[str, pa.Table], diffs: Mapping) -> str:
    runs, disclosures, sources = tables["training_runs"], tables["disclosures"], tables["sources"]
    organizations = len(set(disclosures["organization"].to_pylist()))
    methods = sorted({m for m in runs["estimate_method"].to_pylist() if m}) if "estimate_method" in \
        runs.column_names else []
    restated = _count(disclosures, "is_restatement", True)
    lines = [
        f"# AI emissions disclosures - release {version}",
        "",
        f"Released {release_date.isoformat()}. An open dataset of what AI developers have published about the",
        "energy and carbon footprint of their models, every figure with its source, plus clearly marked",
        "estimates where no figure was published. This folder is never modified after publication.",
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
        f"- {disclosures.num_rows} disclosed figures ({restated} of them restatements of another developer's "
        f"model) from {sources.num_rows} source documents, about models of {organizations} organizations.",
        f"- {tables['models'].num_rows if 'models' in tables else 0} models; {runs.num_rows} runs: "
        f"{_count(runs, 'emissions_origin', 'disclosed')} with disclosed emissions, "
        f"{_count(runs, 'emissions_origin', 'estimated')} with estimated emissions.",
        f"- {tables['conflicts'].num_rows if 'conflicts' in tables else 0} disagreements between sources "
        "(`conflicts`); "
        f"{tables['quarantine'].num_rows if 'quarantine' in tables else 0} items that could not be used, each "
        "with its reason (`quarantine`).",
        "",
        "Open `explorer.html` in a browser to search the runs and see every figure behind them.",
        "",
        "## How it was collected",
        "",
        "Each disclosed figure was read in its source document (a paper, a technical report, an official",
        "model card, a Hub model card) and is stored exactly as printed (`value_as_printed`,",
        "`unit_as_printed`) with a `locator` (table, row, column, section or YAML key) and the source URL,",
        "then normalized to one unit per metric (`value`, `unit`: tCO2e, kWh, hours, W, kg/kWh, L). When the",
        "pipeline fetched the document, `snapshot_sha256` names the stored copy. Figures a source gives about",
        "another developer's model are flagged `is_restatement`; figures that a later version of a document",
        "replaced are kept and flagged `is_superseded`.",
        "",
        "## Disclosed and estimated",
        "",
        "Start with `models`: one row per model with its headline training figure (`training_tco2e`), who",
        "published it (`training_disclosure_type`: first-party, third-party or estimate), what it covers",
        "(`training_boundary`), its source and why it was chosen, next to published lifecycle, development,",
        "fine-tuning, total, per-query inference and water figures. `training_runs` holds every run behind",
        "them: one row per model, stage, source and boundary, plus this project's estimate where no usable",
        "published figure exists. Exactly one run per model and stage is `is_headline`, by fixed rules: the",
        "developer's own original figure first, then a third-party figure, then an estimate; a figure the",
        "curators flagged, a superseded one, or one more than 3x away from its own document's arithmetic is",
        "never the headline (`headline_reason` says why for every run). Summing `emissions_tco2e` over",
        "headline runs counts no training twice: a family total is a headline only when its members have no",
        "runs, a total only when its stages have none. `emissions_origin` says whether `emissions_tco2e` was",
        "published (`disclosed`, with `source_url`) or computed here (`estimated`). A disclosed value is never",
        "replaced.",
        "`estimated_tco2e` with `estimate_low_tco2e` / `estimate_high_tco2e` is this project's location-based",
        "operational estimate (energy x grid intensity) for every run with enough inputs; `lifecycle_tco2e`",
        "adds idle and infrastructure energy and the embodied share of the hardware. Each input says where it",
        "came from in its `*_origin` column (disclosed, Epoch AI, a reference default). `emissions_basis` says",
        "what a figure accounts for: location-based, market-based (in `market_based_emissions_tco2e`),",
        "operational, lifecycle or unspecified.",
        "",
        f"Estimation method: {', '.join(methods) or 'none'} (see METHODOLOGY.md in the repository). Backtest",
        "of the method against the disclosed runs (`backtest`, `backtest_summary`):",
        "",
        *_backtest_lines(tables),
        "",
        "## Known gaps and caveats",
        "",
        "- Most developers publish nothing; absence of a row is not absence of emissions.",
        "- Sources use different boundaries (with or without PUE, idle time, embodied emissions, market",
        "  instruments); compare figures only with their `emissions_basis` and scope flags in mind.",
        "- Restatements re-compute other developers' models under the restating author's assumptions and",
        "  often disagree with the developer (see `conflicts`).",
        "- Estimates use rated power (TDP) unless a source gives the measured draw, and the developer's",
        "  country grid when no location is known; the bounds say how far that may be off.",
        "",
        "## Files",
        "",
        "Every table is here as Parquet and CSV with the same rows; `datapackage.json` (Frictionless Data",
        "Package) describes every column with its type, unit and description; `SHA256SUMS` lets you verify the",
        "files (`sha256sum -c SHA256SUMS`); `CHANGELOG.md` lists what changed since the previous release,",
        "row by row. PNG plots show emissions by year, the disclosure scorecard and the backtest.",
        "",
        "## Example queries",
        "",
        "```sql",
        "-- duckdb: how much did a model's training emit, says who, under which boundary",
        "select model_name, training_tco2e, training_disclosure_type, training_boundary, training_source_url",
        "from 'models.parquet' where model_id = 'bigscience/bloom';",
        "",
        "-- the largest training footprints, each training counted once",
        "select model_name, organization, stage, emissions_tco2e, emissions_origin, disclosure_type, source_url",
        "from 'training_runs.parquet'",
        "where is_headline and stage = 'pretraining'",
        "order by emissions_tco2e desc limit 10;",
        "",
        "-- every figure behind one model, as printed",
        "select metric, value_as_printed, unit_as_printed, locator, source_url",
        "from 'disclosures.parquet' where model_id = 'bigscience/bloom';",
        "```",
        "",
        "```python",
        "import pandas as pd",
        "runs = pd.read_parquet('training_runs.parquet')",
        "",
        "import polars as pl",
        "disclosures = pl.read_parquet('disclosures.parquet')",
        "",
        "from datasets import load_dataset  # Hugging Face datasets, Parquet loader",
        "ds = load_dataset('parquet', data_files={'train': 'training_runs.parquet'})",
        "```",
        "",
        "## License and how to cite",
        "",
        "The data is released under the Creative Commons Attribution 4.0 International license (CC BY 4.0,",
        "https://creativecommons.org/licenses/by/4.0/); the pipeline's code is under Apache-2.0. Cite the",
        "dataset and, for any figure you use, its source document (`source_url`). Suggested citation:",
        "",
        f"> AI emissions disclosures (open dataset), release {version}, {release_date.isoformat()}. "
        "CC BY 4.0. See CITATION.cff in the repository.",
        "",
        "Third-party data carried by this release, credited as its license asks (if you reuse these",
        "columns, credit their authors the same way):",
        "",
        *[f"- {attribution_line(a)}" for a in ATTRIBUTION],
        "",
        "Figures taken from cited documents are facts; each document's own license is in `sources.license`.",
        "`sources.verification` says whether a figure was read in the document itself (`primary`) or only in",
        "someone else's reproduction of it (`secondary copy`, with the copy's address in `verified_in`).",
        "",
    ]
    return "\n".join(lines)
