"""Measured inference energy from public benchmarks (AI Energy Score, ML.ENERGY Leaderboard).

Each project publishes its results as files, one per task. `data/sources/inference_energy.yaml` says where
they are: the URL fetched online (the snapshot moves forward) and the commit-pinned copy a team member read.
The pinned offline copy (`data/reference/<project>.csv`) keeps only facts, in long form: one printed number
per row with the task, model name, hardware and configuration it belongs to. A fetched file that cannot be
read becomes a quarantine row and the pinned rows of that task stand.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict

from pipelines.lib.reference import REFERENCE_DIR

CONFIG_FILE = Path(__file__).resolve().parents[2] / "data" / "sources" / "inference_energy.yaml"
DISCLOSURE_TYPE = "third-party"  # measured by the benchmark's authors, not by the model's developer

# columns of a pinned snapshot (long form: one printed number per row)
PINNED_COLUMNS = ["task", "row", "model_as_printed", "nickname", "hardware", "gpu_count", "batch_size",
                  "model_class", "rating", "field", "value_as_printed"]

# ML.ENERGY task files: the JSON key of each energy figure -> (unit as printed, what one value is per).
# The leaderboard prints these keys as "Energy/Token (J)", "Energy/Response (J)", ... (src/config/columns.ts).
MLENERGY_FIELDS = {
    "energy_per_token_joules": ("J", "token"),
    "energy_per_request_joules": ("J", "response"),
    "energy_per_image_joules": ("J", "image"),
    "energy_per_video_joules": ("J", "video"),
}
# AI Energy Score task files: the bare number under total_gpu_energy is kWh of GPU energy for the task's
# 1,000 queries (see data/reference/README.md for where that unit is stated).
AIES_COLUMNS = ["model", "total_gpu_energy", "energy_score"]
AIES_OPTIONAL = ["class"]
AIES_FIELD = "total_gpu_energy"
AIES_UNIT, AIES_PER = "kWh", "1,000 queries"
AIES_HARDWARE = "NVIDIA H100 80GB"  # every AI Energy Score measurement runs on this GPU (the project's rule)

# one response, image or video answers one query; a token does not
_WH_PER_QUERY = {("J", "response"): 1 / 3600, ("J", "image"): 1 / 3600, ("J", "video"): 1 / 3600,
                 ("kWh", "1,000 queries"): 1000 / 1000}


class InferenceFileError(ValueError):
    """A result file whose layout is not the one the pinned snapshot was read in."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Project(_Strict):
    source_id: str  # entry in data/sources/registry.yaml
    project: str
    version: str
    format: str  # "mlenergy_task_json" | "aienergyscore_task_csv"
    pinned: str  # file name in data/reference/
    snapshot_date: str
    tasks: list[str]
    fetch_url: str  # with {task}
    pinned_url: str  # commit-pinned copy the pinned snapshot was read from, with {task}


@dataclass(frozen=True)
class ResultFile:
    """One task file to fetch; shaped like a registry source for `documents.fetch_documents`."""

    source_id: str
    fetch_url: str
    project: Project
    task: str
    kind: str = "dataset"  # fetched at every refresh: the snapshot moves forward


def load_projects(path: Path = CONFIG_FILE) -> list[Project]:
    return [Project(**entry) for entry in yaml.safe_load(path.read_text())]


def result_files(projects: list[Project]) -> list[ResultFile]:
    return [ResultFile(f"{p.source_id}:{task}", p.fetch_url.format(task=task), p, task)
            for p in projects for task in p.tasks]


# ------------------------------------------------------------------------------------------------ parsing

def parse_mlenergy_task(task: str, body: bytes) -> list[dict]:
    """Pinned-form rows of one ML.ENERGY task file (public/data/tasks/<task>.json): one per energy figure of
    each configuration, numbers kept as the JSON prints them."""
    try:
        data = json.loads(body, parse_float=str, parse_int=str)
        configurations = data["configurations"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InferenceFileError(f"not an ML.ENERGY task file: {exc}") from exc
    if not isinstance(configurations, list):
        raise InferenceFileError("not an ML.ENERGY task file: 'configurations' is not a list")
    rows = []
    for index, config in enumerate(configurations):
        fields = [f for f in MLENERGY_FIELDS if config.get(f) is not None]
        missing = [k for k in ("model_id", "gpu_model") if not config.get(k)]
        if missing or not fields:
            raise InferenceFileError(f"configurations[{index}] lacks {missing or 'an energy figure'}")
        for field in fields:
            rows.append({"task": task, "row": index, "model_as_printed": config["model_id"],
                         "nickname": config.get("nickname"), "hardware": config["gpu_model"],
                         "gpu_count": config.get("num_gpus"),
                         "batch_size": config.get("max_num_seqs") or config.get("batch_size"),
                         "model_class": None, "rating": None, "field": field, "value_as_printed": config[field]})
    return rows


def parse_aienergyscore_task(task: str, body: bytes) -> list[dict]:
    """Pinned-form rows of one AI Energy Score task file (<task>.csv): the GPU energy and star rating per model.
    Only the layout the pinned snapshot was read in is accepted: another layout may mean another unit."""
    try:
        reader = csv.reader(io.StringIO(body.decode("utf-8-sig")))
        header = [h.strip() for h in next(reader)]
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise InferenceFileError(f"not an AI Energy Score task file: {exc}") from exc
    if header not in (AIES_COLUMNS, AIES_COLUMNS + AIES_OPTIONAL):
        raise InferenceFileError(f"columns {header} are not the verified layout {AIES_COLUMNS} (+ {AIES_OPTIONAL})")
    rows = []
    for number, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        record = dict(zip(header, cells, strict=False))
        if not record.get("model") or not _is_number(record.get("total_gpu_energy")):
            raise InferenceFileError(f"data row {number} has no model or no number: {cells}")
        rows.append({"task": task, "row": number, "model_as_printed": record["model"], "nickname": None,
                     "hardware": AIES_HARDWARE, "gpu_count": None, "batch_size": None,
                     "model_class": record.get("class") or None, "rating": record.get("energy_score") or None,
                     "field": AIES_FIELD, "value_as_printed": record["total_gpu_energy"]})
    return rows


PARSERS = {"mlenergy_task_json": parse_mlenergy_task, "aienergyscore_task_csv": parse_aienergyscore_task}


def _is_number(text) -> bool:
    try:
        return text is not None and Decimal(str(text)).is_finite()
    except InvalidOperation:
        return False


# ------------------------------------------------------------------------------------------ pinned copies

def load_pinned(project: Project, reference_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    frame = pd.read_csv(reference_dir / project.pinned, dtype=str, keep_default_na=False)
    if list(frame.columns) != PINNED_COLUMNS:
        raise InferenceFileError(f"{project.pinned}: columns {list(frame.columns)} are not {PINNED_COLUMNS}")
    return frame.replace({"": None})


def pin_snapshot(project: Project, bodies: dict[str, bytes], reference_dir: Path = REFERENCE_DIR) -> int:
    """Write the facts of downloaded task files ({task: bytes}) as the project's pinned offline copy; update
    `snapshot_date` and `pinned_url` in inference_energy.yaml and data/reference/README.md by hand."""
    rows = [r for task in project.tasks for r in PARSERS[project.format](task, bodies[task])]
    frame = pd.DataFrame(rows, columns=PINNED_COLUMNS)
    frame.to_csv(reference_dir / project.pinned, index=False, lineterminator="\n")
    return len(frame)


# ------------------------------------------------------------------------------------- published records

def _unit(project: Project, field: str) -> tuple[str, str]:
    return (AIES_UNIT, AIES_PER) if project.format == "aienergyscore_task_csv" else MLENERGY_FIELDS[field]


def wh_per_query(value: float, unit: str, per: str) -> float | None:
    """Energy of one query in Wh, when the unit is per query or per a number of queries; None per token."""
    factor = _WH_PER_QUERY.get((unit, per))
    return None if factor is None else value * factor


def measurement_rows(project: Project, rows: list[dict], *, source_url: str, snapshot_sha256: str | None,
                     resolve) -> list[dict]:
    """Published rows (schemas/inference_measurements.py) from pinned-form rows of one task file.
    `resolve(name) -> model_id | None` is the model registry's; a name it does not know keeps model_id null."""
    out = []
    for r in rows:
        unit, per = _unit(project, r["field"])
        value = float(r["value_as_printed"])
        # by the printed id only: a nickname ("DeepSeek R1" for DeepSeek-R1-0528) can name another checkpoint
        model_id = resolve(r["model_as_printed"])
        locator = (f"{r['task']}.json configurations[{r['row']}].{r['field']}"
                   if project.format == "mlenergy_task_json" else f"{r['task']}.csv data row {r['row']}, {r['field']}")
        key = "\x1f".join([project.source_id, project.version, locator])
        out.append({
            "measurement_id": "im_" + hashlib.sha256(key.encode()).hexdigest()[:16],
            "model_id": model_id,
            "model_name_as_printed": r["model_as_printed"],
            "project": project.project,
            "version": project.version,
            "task": r["task"],
            "hardware": r["hardware"],
            "gpu_count": _int(r.get("gpu_count")),
            "batch_size": _int(r.get("batch_size")),
            "model_class": r.get("model_class"),
            "rating": _int(r.get("rating")),
            "value": value,
            "unit": f"{unit} per {per}",
            "value_as_printed": str(r["value_as_printed"]),
            "unit_as_printed": unit if project.format == "mlenergy_task_json" else None,
            "energy_wh_per_query": wh_per_query(value, unit, per),
            "disclosure_type": DISCLOSURE_TYPE,
            "source_id": project.source_id,
            "source_url": source_url,
            "locator": locator,
            "snapshot_sha256": snapshot_sha256,
        })
    return out


def _int(value) -> int | None:
    return None if value is None or value == "" else int(Decimal(str(value)))


# headline: one measured per-query figure per model, the most comparable one: the AI Energy Score (fixed
# 1,000-query sets on one GPU type) before ML.ENERGY, text tasks first, H100 before other GPUs, then the
# lowest figure (the benchmark's best configuration, as both leaderboards rank)
_TASK_ORDER = ["text_generation", "reasoning", "lm-arena-chat", "gpqa", "sourcegraph-fim", "summarization",
               "question_answering", "image-chat", "video-chat", "image_generation", "text-to-image",
               "text-to-video"]


def mark_headlines(rows: list[dict]) -> list[dict]:
    def rank(r):
        return (r["project"] != "AI Energy Score", _TASK_ORDER.index(r["task"]) if r["task"] in _TASK_ORDER
                else len(_TASK_ORDER), r["task"], "H100" not in r["hardware"], r["energy_wh_per_query"],
                r["measurement_id"])

    best: dict[str, dict] = {}
    for r in rows:
        if r["model_id"] and r["energy_wh_per_query"] is not None:
            if r["model_id"] not in best or rank(r) < rank(best[r["model_id"]]):
                best[r["model_id"]] = r
    chosen = {r["measurement_id"] for r in best.values()}
    return [{**r, "is_headline": r["measurement_id"] in chosen} for r in rows]


def unresolved_models(rows: list[dict]) -> list[dict]:
    """Printed model names the registry does not know, per source, with how many measurements print them."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        if not r["model_id"]:
            key = (r["model_name_as_printed"], r["source_id"])
            counts[key] = counts.get(key, 0) + 1
    return [{"kind": "model", "text_as_printed": name, "source_id": source, "figure_count": n}
            for (name, source), n in sorted(counts.items())]


# ------------------------------------------------------------------------------------------------ assembly

MEASUREMENT_COLUMNS = {
    "measurement_id": "VARCHAR", "model_id": "VARCHAR", "model_name_as_printed": "VARCHAR", "project": "VARCHAR",
    "version": "VARCHAR", "task": "VARCHAR", "hardware": "VARCHAR", "gpu_count": "BIGINT", "batch_size": "BIGINT",
    "model_class": "VARCHAR", "rating": "BIGINT", "value": "DOUBLE", "unit": "VARCHAR", "value_as_printed": "VARCHAR",
    "unit_as_printed": "VARCHAR", "energy_wh_per_query": "DOUBLE", "is_headline": "BOOLEAN",
    "disclosure_type": "VARCHAR", "source_id": "VARCHAR", "source_url": "VARCHAR", "locator": "VARCHAR",
    "snapshot_sha256": "VARCHAR",
}


@dataclass(frozen=True)
class FetchedFile:
    url: str
    sha256: str
    body: bytes


def collect_measurements(projects: list[Project], fetched: dict[str, FetchedFile], reference_dir: Path,
                         resolve) -> tuple[list[dict], list[dict]]:
    """Every measurement of every project: per task, the fetched file (keyed `<source_id>:<task>`) when there is
    one and it reads, else the pinned rows. Returns (rows with headlines marked, quarantine rows)."""
    from pipelines.lib.normalize import quarantine_row

    rows, issues = [], []
    for project in projects:
        pinned = load_pinned(project, reference_dir)
        for task in project.tasks:
            got = fetched.get(f"{project.source_id}:{task}")
            if got is not None:
                try:
                    parsed = PARSERS[project.format](task, got.body)
                except InferenceFileError as exc:
                    issues.append(quarantine_row("extract", project.source_id, got.url, None,
                                                 f"fetched result file not usable ({exc}); the pinned snapshot "
                                                 "was used"))
                else:
                    rows += measurement_rows(project, parsed, source_url=got.url, snapshot_sha256=got.sha256,
                                             resolve=resolve)
                    continue
            parsed = pinned[pinned.task == task].to_dict(orient="records")
            rows += measurement_rows(project, parsed, source_url=project.pinned_url.format(task=task),
                                     snapshot_sha256=None, resolve=resolve)
    return mark_headlines(rows), issues

