"""A dataset explorer page (`explorer.html`) written into each release folder.

One self-contained HTML file: the release's tables are embedded as JSON, the page's own script and styles
are inlined, plots are referenced by relative path. It opens from disk (file://) or from any static host
and makes no network request. The same tables give the same bytes: keys are sorted, rows are ordered by
the primary key, and nothing depends on the clock or on chance.

Wire it into a release through `write_release(..., extra_files=...)`, which calls the hook with the
staging folder, the version and the tables before the checksums are computed:

    extra_files=lambda folder, version, tables: write_explorer(
        folder, version, tables, release_date=release_date.isoformat(), plots=plot_names)
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from string import Template
from urllib.parse import quote

import pyarrow as pa

from schemas import PUBLISHED_TABLES

EXPLORER_FILE = "explorer.html"
ASSETS = Path(__file__).with_name("explorer_assets")
DATASET_TITLE = "Open dataset of AI emissions disclosures"
LICENSE_NAME = "CC BY 4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"

# Tables the page reads, and the columns it cannot do without.
REQUIRED_COLUMNS = {
    "training_runs": ["run_id", "model_id", "model_name", "organization", "stage", "emissions_tco2e",
                      "emissions_origin", "source_url"],
    "disclosures": ["model_id", "stage", "metric", "value", "unit", "value_as_printed", "unit_as_printed",
                    "locator", "source_id", "source_url"],
    "sources": ["source_id", "title", "url"],
}
OPTIONAL_TABLES = ["conflicts", "models"]
# Columns left out of the embedded data: long ids nobody reads on the page (they stay in the files).
OMITTED_COLUMNS = {"disclosures": {"disclosure_id"}, "conflicts": {"disclosure_id_a", "disclosure_id_b"}}
# Files every release folder holds besides the tables (see pipelines/lib/release.py).
RELEASE_FILES = ["README.md", "CHANGELOG.md", "datapackage.json", "SHA256SUMS"]
# Unit of a column not described by a contract, read off its name's suffix (see DESIGN.md, Naming).
UNIT_SUFFIXES = {"_tco2e": "tCO2e", "_kgco2e": "kgCO2e", "_kwh": "kWh", "_mwh": "MWh", "_hours": "hours",
                 "_kg_per_kwh": "kg/kWh", "_w": "W"}
# Above this size the embedded JSON is gzipped (and base64-encoded): a release of 20,000 figures then
# stays well under 2 MB; the current releases, far smaller, keep plain readable JSON.
PLAIN_JSON_LIMIT = 1_000_000
# A low-cardinality column is written once per distinct value plus a small code per row.
_DICTIONARY_MIN_ROWS = 8


class ExplorerError(ValueError):
    """The tables cannot be shown as given (a required table or column is missing, a plot path escapes)."""


def write_explorer(folder: Path, version: str, tables: Mapping[str, pa.Table], *, release_date: str,
                   plots: list[str] | None = None, wait_for_plots: Callable[[], object] | None = None) -> Path:
    """Write `explorer.html` into the release folder and return its path.

    `plots` names PNG files inside `folder` (relative paths); those present are shown, the others are left
    out (the page never points at a missing file). `wait_for_plots`, when the plots are still being drawn, is
    called once the page is rendered, before the files are looked for.
    """
    folder = Path(folder)
    names = _checked_plot_names(plots or [])
    page = render_explorer(version, tables, release_date=release_date, plots=names)
    if wait_for_plots is not None:
        wait_for_plots()
    present = [name for name in names if (folder / name).is_file()]
    if present != names:
        page = render_explorer(version, tables, release_date=release_date, plots=present)
    path = folder / EXPLORER_FILE
    path.write_bytes(page.encode("utf-8"))
    return path


def render_explorer(version: str, tables: Mapping[str, pa.Table], *, release_date: str,
                    plots: Iterable[str] = ()) -> str:
    """The page as text (see `write_explorer`)."""
    _check_tables(tables)
    shown = [*REQUIRED_COLUMNS, *OPTIONAL_TABLES]
    # the JSON text of {"fields", "release", "tables"} (keys sorted), built a table and a column at a time: the
    # same text as dumping the whole mapping at once, without holding every table's Python values together
    encoded_tables = ",".join(f"{_json(name)}:{_encode_table(name, tables[name]) if name in tables else 'null'}"
                              for name in sorted(shown))
    fields = {name: _field_meta(name, tables[name]) for name in shown if name in tables}
    release = {"version": version, "date": release_date, "license": LICENSE_NAME, "license_url": LICENSE_URL,
               "title": DATASET_TITLE}
    payload = f'{{"fields":{_json(fields)},"release":{_json(release)},"tables":{{{encoded_tables}}}}}'
    template = Template((ASSETS / "explorer.html").read_text(encoding="utf-8"))
    return template.substitute(
        title=html.escape(f"{DATASET_TITLE} - release {version}"),
        version=html.escape(version),
        release_date=html.escape(release_date),
        license_name=html.escape(LICENSE_NAME),
        license_url=html.escape(LICENSE_URL),
        citation=html.escape(_citation(version, release_date)),
        bibtex=html.escape(_bibtex(version, release_date)),
        downloads=_downloads_html(tables),
        plots=_plots_html(list(plots)),
        styles=_asset("explorer.css", "</style"),
        script=_asset("explorer.js", "</script"),
        data=_json_for_script(payload),
    )


def _check_tables(tables: Mapping[str, pa.Table]) -> None:
    for name, columns in REQUIRED_COLUMNS.items():
        if name not in tables:
            raise ExplorerError(f"the explorer needs the table {name!r}; got {sorted(tables)}")
        missing = [c for c in columns if c not in tables[name].column_names]
        if missing:
            raise ExplorerError(f"table {name!r} lacks the columns the explorer shows: {missing}")


def _checked_plot_names(names: Iterable[str]) -> list[str]:
    checked = []
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or "\\" in name or not name:
            raise ExplorerError(f"plot {name!r} must be a relative path inside the release folder")
        if path.suffix.lower() != ".png":
            raise ExplorerError(f"plot {name!r} is not a PNG file")
        checked.append(name)
    return checked


def _primary_key(name: str, table: pa.Table) -> list[str]:
    published = PUBLISHED_TABLES.get(name)
    if published and set(published.primary_key) <= set(table.column_names):
        return list(published.primary_key)
    return list(table.column_names)  # unknown table: order by every column, still deterministic


def _plain(value):
    """A JSON-ready Python value (NaN and infinities become null: JSON has no word for them)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)  # dates, decimals: shown as text


def _encode_column(values: list):
    """A column as written in the page: a plain list, one value for the whole column, or a dictionary.

    `{"const": v}`: every row holds v (columns nobody fills yet cost nothing). `{"dict": [...],
    "codes": [...]}`: each distinct value once (null first, then sorted) and a small index per row.
    """
    distinct = set(values)
    if len(distinct) == 1 and values:
        return {"const": values[0]}
    repetitive = len(values) >= _DICTIONARY_MIN_ROWS and len(distinct) * 2 <= len(values)
    if repetitive and not any(isinstance(v, float) for v in distinct):
        words = sorted(distinct, key=lambda v: (v is not None, v))
        index = {word: i for i, word in enumerate(words)}
        return {"dict": words, "codes": [index[v] for v in values]}
    return values


def _encode_table(name: str, table: pa.Table) -> str:
    """Column-oriented rows as JSON: names once, a list of values per column (dictionary-coded when repetitive)."""
    sortable = [c for c in _primary_key(name, table) if not pa.types.is_nested(table.schema.field(c).type)]
    if sortable:
        table = table.sort_by([(c, "ascending") for c in sortable])
    columns = [c for c in table.column_names if c not in OMITTED_COLUMNS.get(name, set())]
    # as JSON text a column at a time, so only one column's Python values are alive at once
    data = ",".join(f"{_json(c)}:{_json(_encode_column([_plain(v) for v in table[c].to_pylist()]))}"
                    for c in sorted(columns))
    return f'{{"columns":{_json(columns)},"data":{{{data}}},"n":{table.num_rows}}}'


def _unit_from_name(column: str) -> str | None:
    for suffix, unit in sorted(UNIT_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if column.endswith(suffix):
            return unit
    return None


def _field_meta(name: str, table: pa.Table) -> dict:
    """Description and unit of each column: from the table's contract, else from the column's name."""
    published = PUBLISHED_TABLES.get(name)
    described = published.model.to_schema().columns if published else {}
    meta = {}
    for column in table.column_names:
        spec = described.get(column)
        unit = (spec.metadata or {}).get("unit") if spec is not None else _unit_from_name(column)
        entry = {"description": spec.description or ""} if spec is not None else {}
        if unit:
            entry["unit"] = unit
        meta[column] = entry
    return meta


def _citation(version: str, release_date: str) -> str:
    return (f"{DATASET_TITLE}, release {version} ({release_date}). Licensed under {LICENSE_NAME}. "
            "When you use a figure, cite its source document too.")


def _bibtex(version: str, release_date: str) -> str:
    key = "ai_emissions_disclosures_" + re.sub(r"[^0-9A-Za-z]+", "_", version)
    return "\n".join([
        f"@misc{{{key},",
        f"  title = {{{{{DATASET_TITLE}}}}},",
        f"  version = {{{version}}},",
        f"  year = {{{release_date[:4]}}},",
        f"  date = {{{release_date}}},",
        f"  note = {{Release {version}, licensed under {LICENSE_NAME}}}",
        "}",
    ])


def _downloads_html(tables: Mapping[str, pa.Table]) -> str:
    items = []
    for name in sorted(tables):
        links = " ".join(f'<a href="{quote(f"{name}.{fmt}")}">{fmt.upper()}</a>' for fmt in ("csv", "parquet"))
        items.append(f"<li><code>{html.escape(name)}</code> ({tables[name].num_rows} rows): {links}</li>")
    items += [f'<li><a href="{quote(name)}">{html.escape(name)}</a></li>' for name in RELEASE_FILES]
    return "\n".join(items)


def _plots_html(plots: list[str]) -> str:
    if not plots:
        return '<p class="muted">This release has no plots.</p>'
    figures = []
    for name in plots:
        caption = PurePosixPath(name).stem.replace("_", " ").replace("-", " ")
        figures.append(
            f'<figure class="plot"><a href="{quote(name)}"><img src="{quote(name)}" loading="lazy" '
            f'alt="Plot: {html.escape(caption)}"></a><figcaption>{html.escape(caption)} '
            f'(<a href="{quote(name)}">{html.escape(name)}</a>)</figcaption></figure>')
    return "\n".join(figures)


def _asset(name: str, forbidden: str) -> str:
    text = (ASSETS / name).read_text(encoding="utf-8")
    if forbidden in text.lower():
        raise ExplorerError(f"{name} contains {forbidden!r}, which would end its inline block early")
    return text


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _json_for_script(text: str) -> str:
    """The data block from the payload's JSON text: as it is, or for a large release gzipped and base64-encoded.

    Written so that it cannot end its <script> block early: <, > and & are \\u escapes.
    """
    if len(text.encode("utf-8")) > PLAIN_JSON_LIMIT:
        packed = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)  # mtime 0: same bytes each time; level 9
        # took three times as long for 1% less
        text = json.dumps({"gzip_base64": base64.b64encode(packed).decode("ascii")})
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
