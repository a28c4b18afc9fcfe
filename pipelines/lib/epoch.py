"""Epoch AI's "Notable AI Models" table -> estimator inputs.

Epoch renames columns between snapshots, so each field is found through a list of known aliases; a
snapshot missing a required field fails with an error naming the field and the aliases tried. The
pinned offline copy (`data/reference/epoch_notable_ai_models.csv`, CC BY 4.0, see the README there)
keeps only the columns mapped here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pipelines.lib.reference import REFERENCE_DIR, Reference, load_reference, resolve_hardware

PINNED_SNAPSHOT = REFERENCE_DIR / "epoch_notable_ai_models.csv"
SNAPSHOT_DATE = "2025-04-18"
SOURCE_URL = "https://epoch.ai/data/notable_ai_models.csv"

# field -> column names seen in Epoch snapshots, newest first
COLUMN_ALIASES: dict[str, list[str]] = {
    "model_name": ["Model", "System"],
    "organization": ["Organization", "Organization(s)"],
    "publication_date": ["Publication date", "Publication date (DD/MM/YYYY)"],
    "hardware": ["Training hardware"],
    "chip_count": ["Hardware quantity"],
    "training_time_hours": ["Training time (hours)"],
    "training_power_draw_w": ["Training power draw (W)"],
    "organization_country": ["Country (of organization)", "Country (from Organization)"],
}
REQUIRED = ["model_name", "organization", "publication_date", "hardware", "chip_count", "training_time_hours"]


class EpochColumnError(ValueError):
    """An Epoch snapshot without a column the mapping needs."""


def find_columns(columns: list[str]) -> dict[str, str | None]:
    """Field -> actual column name in this snapshot (None for a missing optional field)."""
    lowered = {c.strip().lower(): c for c in columns}
    found = {field: next((lowered[a.lower()] for a in aliases if a.lower() in lowered), None)
             for field, aliases in COLUMN_ALIASES.items()}
    missing = [f for f in REQUIRED if found[f] is None]
    if missing:
        tried = "; ".join(f"{f}: {COLUMN_ALIASES[f]}" for f in missing)
        raise EpochColumnError(f"Epoch notable models table lacks required columns ({tried})")
    return found


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def map_notable_models(frame: pd.DataFrame, reference: Reference | None = None) -> pd.DataFrame:
    """One row per model: model_id, model_name, organization, year, hardware (as printed), hardware_id,
    chip_count, training_time_hours, chip_hours, training_power_draw_w (whole cluster, as Epoch
    estimates it; not a per-chip power), organization_country, origin."""
    ref = reference or load_reference()
    cols = find_columns(list(frame.columns))

    def column(field):
        return frame[cols[field]] if cols[field] else pd.Series([None] * len(frame), index=frame.index)

    names = column("model_name").astype("string").str.strip()
    chip_count = pd.to_numeric(column("chip_count"), errors="coerce")
    hours = pd.to_numeric(column("training_time_hours"), errors="coerce")
    hardware = column("hardware").astype("string").str.strip()
    out = pd.DataFrame({
        "model_id": "epoch/" + names.fillna("").map(_slug),
        "model_name": names,
        "organization": column("organization").astype("string").str.strip(),
        "year": pd.to_datetime(column("publication_date"), errors="coerce").dt.year.astype("Int64"),
        "hardware": hardware,
        "hardware_id": [resolve_hardware(h, ref) if isinstance(h, str) else None for h in hardware],
        "chip_count": chip_count,
        "training_time_hours": hours,
        "chip_hours": chip_count * hours,
        "training_power_draw_w": pd.to_numeric(column("training_power_draw_w"), errors="coerce"),
        "organization_country": column("organization_country").astype("string").str.strip(),
        "origin": "epoch",
    })
    return out[names.notna() & (names != "")].reset_index(drop=True)


def load_notable_models(path: Path = PINNED_SNAPSHOT, reference: Reference | None = None) -> pd.DataFrame:
    return map_notable_models(pd.read_csv(path), reference)


def estimator_inputs(models: pd.DataFrame) -> pd.DataFrame:
    """Rows for `estimate.estimate_frame`: runs with hardware and chip-hours from Epoch, no location."""
    usable = models.dropna(subset=["chip_hours"])
    return pd.DataFrame({"model_id": usable.model_id, "hardware": usable.hardware, "chip_count": usable.chip_count,
                         "chip_hours": usable.chip_hours, "year": usable.year,
                         "organization": usable.organization}).reset_index(drop=True)


def pin_snapshot(source_csv: Path, destination: Path = PINNED_SNAPSHOT) -> pd.DataFrame:
    """Write the mapped columns of an Epoch download (original column names, no prose) as the offline copy."""
    frame = pd.read_csv(source_csv)
    cols = [c for c in find_columns(list(frame.columns)).values() if c]
    pinned = frame[cols]
    pinned.to_csv(destination, index=False, lineterminator="\n")
    return pinned
