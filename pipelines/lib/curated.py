"""The source registry and the hand-curated disclosures, loaded from data files and validated.

`data/sources/registry.yaml` lists every source document; `data/curated/<source_id>.yaml` holds the
figures a team member read in that document, each exactly as printed with a locator. Files are
validated on load; an error names the file, the entry and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from pipelines.lib import units
from pipelines.lib.normalize import normalized_value
from schemas._fields import BOUNDARIES

STAGES = ("pretraining", "fine-tuning", "development", "inference", "total")
BASES = ("location-based", "market-based", "operational", "lifecycle", "unspecified")
SOURCE_KINDS = ("paper", "model_card", "technical_report", "web_page", "dataset", "hub_card")

Stage = Literal["pretraining", "fine-tuning", "development", "inference", "total"]
Basis = Literal["location-based", "market-based", "operational", "lifecycle", "unspecified"]
# what a run's figures cover (the published contract's list)
Boundary = Literal[tuple(BOUNDARIES)]
Metric = Literal["emissions", "energy", "chip_hours", "power", "tdp", "pue", "carbon_intensity", "chip_count",
                 "duration", "water"]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=80)]
ModelId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9_.\-]+$",
                                           max_length=200)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
# where figures were read: a public URL (commit-pinned for repository files, versioned for arXiv) or a DOI
PublicReference = Annotated[str, StringConstraints(pattern=r"^(https?://|doi:10\.)\S+$")]
# primary: read in the document itself, or in an exact copy of it pinned at a commit;
# secondary copy: read only where someone else reproduces it (reading notes, a news article, a blog post)
Verification = Literal["primary", "secondary copy"]


class CuratedDataError(ValueError):
    """An invalid curated data file; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One more metric column: for a metric printed in several columns (gross and net, location- and
    market-based emissions, chip TDP and measured power) or a column with its own stage or unit."""

    metric: Metric
    column: int = Field(ge=0)  # 0-based column index (a row index when the table spec is transposed)
    unit: str | None = None  # printed unit when the cells hold bare numbers (default: the spec's units)
    basis: Basis | None = None
    stage: Stage | None = None  # default: the table spec's stage
    functional_unit: str | None = None  # default: the table spec's functional unit


class TableSpec(_Strict):
    """Where a source prints its figures as a table, and how its columns map to metrics."""

    table: Text  # e.g. "Table 15": matched against the table's caption
    model_column: int  # 0-based column holding the model name
    columns: dict[Metric, int]  # metric -> 0-based column index
    units: dict[Metric, str] = {}  # printed unit per metric when the cells hold bare numbers
    # Optional refinements (pipelines/lib/paper_tables.py reads them):
    # `table` without a "Table N" label is matched against the caption or the text next to the table
    # (cards: "Training Greenhouse Gas Emissions"); `locator` is then the prefix written in locators.
    locator: Text | None = None  # default: `table`
    name_columns: list[int] = []  # further columns joined to the model name (a Size column)
    more_columns: list[ColumnSpec] = []  # a metric's second column, or a column with its own basis/stage
    transposed: bool = False  # models are printed as columns: indices above then count rows
    totals: bool = False  # also take rows labelled Total
    stage: Stage | None = None  # lifecycle stage of every figure in the table, when it is one stage
    functional_unit: str | None = None  # per-use tables: "1,000 inferences"


class Source(_Strict):
    source_id: Slug
    title: Text
    organization: Text
    published: dt.date
    kind: Literal["paper", "model_card", "technical_report", "web_page", "dataset", "hub_card"]
    url: Url
    fetch_url: Url | None = None  # what the ingest stage fetches (e.g. the arXiv HTML rendering)
    license: Text  # the document's own license; only facts are taken from it
    verified_in: PublicReference  # the public text a team member read the figures in
    verification: Verification
    verification_note: Text  # locator in that text; for a secondary copy, who published it (own words)
    extraction: list[TableSpec] = []


class Figure(_Strict):
    metric: Metric
    value: Text  # exactly as printed, without its unit
    unit: str  # exactly as printed ("" when the document prints a bare number, e.g. a PUE)
    locator: Text  # table/section/row/column or YAML key
    basis: Basis | None = None  # overrides the run's basis (emissions and carbon intensity only)
    functional_unit: str | None = None  # for per-use figures: "query", "1,000 inferences"...
    # a part of the run's footprint rather than all of it: dynamic (chips' draw), idle (idle chips and
    # infrastructure), embodied (manufacturing share); None = the figure covers the run as scoped above
    component: Literal["dynamic", "idle", "infrastructure", "embodied"] | None = None
    is_superseded: bool = False
    superseded_on: dt.date | None = None
    note: str | None = None  # the curator's own words, never a quotation

    @field_validator("value", mode="before")
    @classmethod
    def _printed_text(cls, v):
        if isinstance(v, bool) or isinstance(v, float):
            raise ValueError("write the value as a quoted string exactly as printed (YAML changes floats)")
        return str(v) if isinstance(v, int) else v


class Run(_Strict):
    model_id: ModelId
    model_name: Text
    organization: Text  # the developer of the model (not the restating source)
    stage: Stage
    year: int | None = Field(default=None, ge=1990, le=2100)
    hardware: str | None = None  # as printed
    location: str | None = None  # as printed
    basis: Basis = "unspecified"  # basis of the emission figures of this run
    is_restatement: bool = False  # the source re-computes or repeats another developer's figure
    is_pue_included: bool | None = None
    is_idle_included: bool | None = None
    is_embodied_included: bool | None = None
    # what the run's figures cover, when the flags above do not say it (one of schemas._fields.BOUNDARIES)
    boundary: Boundary | None = None
    # other stages' runs this run's figures already include (LLaMA's development total includes its final
    # runs): such a run is not a headline while those runs have one (no training counted twice)
    contains_stages: list[Stage] = []
    # the curator's reason why this run must not be a model's headline (e.g. a mislabelled row)
    not_headline: Text | None = None
    figures: list[Figure] = Field(min_length=1)


class CuratedFile(_Strict):
    source_id: Slug
    runs: list[Run] = Field(min_length=1)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser, the same safe constructors


def _read_yaml(path: Path):
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CuratedDataError(f"{path}: cannot read YAML: {exc}") from exc


def _describe(exc: ValidationError, path: Path, prefix: tuple = ()) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in (*prefix, *err["loc"]))
        lines.append(f"{path}: field {where}: {err['msg']}")
    return "\n".join(lines)


def load_registry(path: Path) -> list[Source]:
    data = _read_yaml(path)
    if not isinstance(data, list):
        raise CuratedDataError(f"{path}: expected a list of sources")
    sources, seen = [], set()
    for i, entry in enumerate(data):
        try:
            source = Source.model_validate(entry)
        except ValidationError as exc:
            sid = entry.get("source_id", "?") if isinstance(entry, dict) else "?"
            raise CuratedDataError(_describe(exc, path, (f"[{i}] {sid}",))) from exc
        if source.source_id in seen:
            raise CuratedDataError(f"{path}: field [{i}].source_id: duplicate source_id {source.source_id!r}")
        seen.add(source.source_id)
        sources.append(source)
    return sources


def load_curated_file(path: Path, known_sources: set[str]) -> CuratedFile:
    data = _read_yaml(path)
    try:
        curated = CuratedFile.model_validate(data)
    except ValidationError as exc:
        raise CuratedDataError(_describe(exc, path)) from exc
    if curated.source_id != path.stem:
        raise CuratedDataError(f"{path}: field source_id: {curated.source_id!r} must match the file name")
    if curated.source_id not in known_sources:
        raise CuratedDataError(f"{path}: field source_id: {curated.source_id!r} is not in the source registry")
    problems = []  # every invalid figure of the file at once, each with its model, metric and locator
    for r, run in enumerate(curated.runs):
        for f, fig in enumerate(run.figures):
            try:
                normalized_value(fig.metric, fig.value, fig.unit)
            except units.UnitError as exc:
                problems.append(f"{path}: field runs.{r}.figures.{f} ({run.model_id} {fig.metric} at "
                                f"{fig.locator!r}): {exc}")
            if fig.is_superseded and fig.superseded_on is None:
                problems.append(f"{path}: field runs.{r}.figures.{f}.superseded_on: required when superseded")
    if problems:
        raise CuratedDataError("\n".join(problems))
    return curated


def disclosure_id(source_id: str, model_id: str, stage: str, metric: str, basis: str | None,
                  functional_unit: str | None, locator: str, component: str | None = None) -> str:
    """Stable row id: the same figure at the same place in the same document keeps its id across releases."""
    parts = [source_id, model_id, stage, metric, basis or "", functional_unit or "", locator]
    key = "\x1f".join(parts + ([component] if component else []))
    return "d_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def curated_figure_rows(curated_dir: Path, registry: list[Source]) -> list[dict]:
    """Every curated figure as one flat row (printed value and unit kept as text, not yet normalized)."""
    known = {s.source_id for s in registry}
    rows = []
    for path in sorted(curated_dir.glob("*.yaml")):
        curated = load_curated_file(path, known)
        for run in curated.runs:
            for fig in run.figures:
                basis = fig.basis or (run.basis if fig.metric in ("emissions", "carbon_intensity") else None)
                rows.append({
                    "disclosure_id": disclosure_id(curated.source_id, run.model_id, run.stage, fig.metric,
                                                   basis, fig.functional_unit, fig.locator, fig.component),
                    "source_id": curated.source_id,
                    "model_id": run.model_id,
                    "model_name": run.model_name,
                    "organization": run.organization,
                    "stage": run.stage,
                    "year": run.year,
                    "hardware": run.hardware,
                    "location": run.location,
                    "is_restatement": run.is_restatement,
                    "is_pue_included": run.is_pue_included,
                    "is_idle_included": run.is_idle_included,
                    "is_embodied_included": run.is_embodied_included,
                    "metric": fig.metric,
                    "basis": basis,
                    "functional_unit": fig.functional_unit,
                    "component": fig.component,
                    "value_as_printed": fig.value,
                    "unit_as_printed": fig.unit,
                    "locator": fig.locator,
                    "is_superseded": fig.is_superseded,
                    "superseded_on": fig.superseded_on.isoformat() if fig.superseded_on else None,
                    "note": fig.note,
                    "extraction_method": "curated",
                    "curated_file": f"data/curated/{path.name}",
                })
    where: dict[str, list[dict]] = {}
    for row in rows:
        where.setdefault(row["disclosure_id"], []).append(row)
    twice = [places for places in where.values() if len(places) > 1]
    if twice:
        raise CuratedDataError("the same figure is curated twice; give each a distinct locator:\n" + "\n".join(
            f"{' and '.join(sorted({p['curated_file'] for p in places}))}: {places[0]['model_id']} "
            f"{places[0]['stage']} {places[0]['metric']} at {places[0]['locator']!r} ({places[0]['disclosure_id']})"
            for places in twice))
    return rows


def run_boundary(run: Run) -> str | None:
    """What a run's figures cover when the curator did not say it: read from its stage, basis and scope
    flags. Inference runs are per use and have no training boundary."""
    if run.stage == "inference":
        return None
    if run.stage == "development":
        return "includes development and experiments"
    if run.is_embodied_included or run.basis == "lifecycle":
        return "includes embodied hardware"
    if run.is_idle_included:
        return "includes idle and infrastructure"
    return "final run only"


RUN_COLUMNS = {
    "source_id": "VARCHAR", "model_id": "VARCHAR", "stage": "VARCHAR", "model_name": "VARCHAR",
    "boundary": "VARCHAR", "contains_stages": "VARCHAR[]", "not_headline_reason": "VARCHAR", "curated_file": "VARCHAR",
}


def curated_run_rows(curated_dir: Path, registry: list[Source], known_models: set[str] | None = None) -> list[dict]:
    """One row per curated run: what its figures cover and the curator's headline notes. With `known_models`
    (the model registry's ids), a run whose model id is not registered is an error naming the file."""
    known = {s.source_id for s in registry}
    rows, seen = [], {}
    for path in sorted(curated_dir.glob("*.yaml")):
        curated = load_curated_file(path, known)
        for r, run in enumerate(curated.runs):
            if known_models is not None and run.model_id not in known_models:
                raise CuratedDataError(f"{path}: field runs.{r}.model_id: {run.model_id!r} is not in the model "
                                       "registry (data/reference/models.yaml); add it there or use its registered id")
            key = (curated.source_id, run.model_id, run.stage, run.model_name)
            if key in seen:
                raise CuratedDataError(f"{path}: field runs.{r}.model_name: runs {seen[key]} and {r} of "
                                       f"{run.model_id} ({run.stage}) share the name {run.model_name!r}; "
                                       "name each run after what it covers")
            seen[key] = r
            rows.append({"source_id": curated.source_id, "model_id": run.model_id, "stage": run.stage,
                         "model_name": run.model_name, "boundary": run.boundary or run_boundary(run),
                         "contains_stages": list(run.contains_stages), "not_headline_reason": run.not_headline,
                         "curated_file": f"data/curated/{path.name}"})
    return rows


def source_rows(registry: list[Source]) -> list[dict]:
    return [{
        "source_id": s.source_id,
        "title": s.title,
        "organization": s.organization,
        "published_date": s.published.isoformat(),
        "kind": s.kind,
        "url": s.url,
        "fetch_url": s.fetch_url,
        "license": s.license,
        "verified_in": s.verified_in,
        "verification": s.verification,
        "verification_note": s.verification_note,
    } for s in registry]
