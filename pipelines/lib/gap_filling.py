"""Estimates for the published runs: every headline run, and every Epoch AI notable model we hold no
disclosure for. Disclosed values are inputs here and are never overwritten; what is estimated says so.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from pipelines.lib import epoch
from pipelines.lib.estimate import EPOCH, METHOD, Scope, estimate_row
from pipelines.lib.reference import Reference

# Same boundary as a location-based training disclosure: IT energy x PUE x grid intensity.
OPERATIONAL = Scope(pue=True, idle="exclude", embodied=False)
# The BLOOM-style lifecycle: operational + idle and infrastructure + embodied share of the hardware.
LIFECYCLE = Scope(pue=True, idle="include", embodied=True)

ESTIMATE_COLUMNS = {
    "run_id": "VARCHAR",
    "estimate_method": "VARCHAR",
    "hardware_id": "VARCHAR",
    "location_id": "VARCHAR",
    "chip_hours_used": "DOUBLE",
    "chip_hours_origin": "VARCHAR",
    "power_w_used": "DOUBLE",
    "power_w_origin": "VARCHAR",
    "pue_used": "DOUBLE",
    "pue_origin": "VARCHAR",
    "carbon_intensity_used_kg_per_kwh": "DOUBLE",
    "carbon_intensity_origin": "VARCHAR",
    "energy_kwh_used": "DOUBLE",
    "energy_origin": "VARCHAR",
    "estimated_tco2e": "DOUBLE",
    "estimate_low_tco2e": "DOUBLE",
    "estimate_high_tco2e": "DOUBLE",
    "lifecycle_tco2e": "DOUBLE",
    "lifecycle_low_tco2e": "DOUBLE",
    "lifecycle_high_tco2e": "DOUBLE",
    "idle_tco2e": "DOUBLE",
    "embodied_estimated_tco2e": "DOUBLE",
    "embodied_origin": "VARCHAR",
    "estimate_message": "VARCHAR",
}

EPOCH_RUN_COLUMNS = {
    "run_id": "VARCHAR",
    "model_id": "VARCHAR",
    "model_name": "VARCHAR",
    "organization": "VARCHAR",
    "stage": "VARCHAR",
    "year": "BIGINT",
    "hardware": "VARCHAR",
    "chip_count": "DOUBLE",
    "chip_hours": "DOUBLE",
    "source_id": "VARCHAR",
    "source_url": "VARCHAR",
}

EPOCH_SOURCE_ID = "epoch_notable_ai_models"
_INPUTS = ["hardware", "chip_count", "chip_hours", "training_days", "location", "year", "power_w", "pue",
           "carbon_intensity_kg_per_kwh", "energy_kwh", "organization"]


def load_epoch_models(fetched: bytes | None, pinned: Path, reference: Reference) -> tuple[pd.DataFrame, str | None]:
    """Epoch AI's notable models from the freshly fetched table, or the pinned snapshot when there is none or
    it cannot be read (columns renamed beyond the known aliases, not a CSV): (models, problem or None)."""
    if fetched is not None:
        try:
            return epoch.map_notable_models(pd.read_csv(io.BytesIO(fetched)), reference), None
        except (epoch.EpochColumnError, ValueError, UnicodeDecodeError) as exc:
            problem = f"fetched Epoch table not usable ({exc}); the pinned snapshot was used"
            return epoch.load_notable_models(pinned, reference), problem
    return epoch.load_notable_models(pinned, reference), None


def name_key(name: str | None) -> str:
    """Compare model names across sources: 'Llama 2-70B' and 'llama-2 70b' agree."""
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


def _clean(value):
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else value


def estimate_run(run_id: str, inputs: dict, reference: Reference) -> dict:
    operational = estimate_row(inputs, reference, OPERATIONAL)
    lifecycle = estimate_row(inputs, reference, LIFECYCLE).values
    v = operational.values
    return {
        "run_id": run_id,
        "estimate_method": METHOD,
        "hardware_id": v.get("hardware_id"),
        "location_id": v.get("location_id"),
        "chip_hours_used": v.get("chip_hours_used"),
        "chip_hours_origin": inputs.get("chip_hours_origin") or v.get("chip_hours_origin"),
        "power_w_used": v.get("power_w_used"),
        "power_w_origin": v.get("power_w_origin"),
        "pue_used": v.get("pue_used"),
        "pue_origin": v.get("pue_origin"),
        "carbon_intensity_used_kg_per_kwh": v.get("carbon_intensity_used_kg_per_kwh"),
        "carbon_intensity_origin": v.get("carbon_intensity_origin"),
        "energy_kwh_used": v.get("energy_kwh"),
        "energy_origin": v.get("energy_kwh_origin"),
        "estimated_tco2e": v.get("total_tco2e"),
        "estimate_low_tco2e": v.get("low_tco2e"),
        "estimate_high_tco2e": v.get("high_tco2e"),
        "lifecycle_tco2e": lifecycle.get("total_tco2e"),
        "lifecycle_low_tco2e": lifecycle.get("low_tco2e"),
        "lifecycle_high_tco2e": lifecycle.get("high_tco2e"),
        "idle_tco2e": lifecycle.get("idle_tco2e"),
        "embodied_estimated_tco2e": lifecycle.get("embodied_tco2e"),
        "embodied_origin": lifecycle.get("embodied_origin"),
        "estimate_message": "; ".join(operational.messages) or None,
    }


def estimate_headline_runs(runs: pd.DataFrame, epoch_models: pd.DataFrame, reference: Reference) -> list[dict]:
    """One estimate per headline run; Epoch AI fills hardware and chip-hours the sources left out."""
    by_name = {name_key(m["model_name"]): m for m in epoch_models.to_dict(orient="records")}
    estimates = []
    for run in runs.to_dict(orient="records"):
        inputs = {k: _clean(run.get(k)) for k in _INPUTS}
        match = by_name.get(name_key(run.get("model_name"))) if run.get("stage") == "pretraining" else None
        if match is not None and inputs["chip_hours"] is None and inputs["training_days"] is None:
            if _clean(match["chip_hours"]) is not None:
                inputs["chip_hours"], inputs["chip_hours_origin"] = float(match["chip_hours"]), EPOCH
                inputs["hardware"] = inputs["hardware"] or _clean(match["hardware"])
        estimates.append(estimate_run(run["run_id"], inputs, reference))
    return estimates


def epoch_only_runs(epoch_models: pd.DataFrame, known_names: set[str], reference: Reference
                    ) -> tuple[list[dict], list[dict]]:
    """Runs for Epoch notable models with hardware, chip count and training time that no source discloses."""
    runs, estimates = [], []
    usable = epoch_models.dropna(subset=["chip_hours"])
    usable = usable[usable.hardware.notna()]
    seen = set()
    for model in usable.to_dict(orient="records"):
        key = name_key(model["model_name"])
        run_id = f"{model['model_id']}@pretraining"
        if key in known_names or run_id in seen:
            continue
        seen.add(run_id)
        runs.append({
            "run_id": run_id, "model_id": model["model_id"], "model_name": model["model_name"],
            "organization": _clean(model["organization"]) or "unknown", "stage": "pretraining",
            "year": _clean(model["year"]), "hardware": model["hardware"], "chip_count": _clean(model["chip_count"]),
            "chip_hours": float(model["chip_hours"]), "source_id": EPOCH_SOURCE_ID, "source_url": epoch.SOURCE_URL,
        })
        inputs = {"hardware": model["hardware"], "chip_hours": float(model["chip_hours"]),
                  "year": _clean(model["year"]), "organization": _clean(model["organization"]),
                  "chip_hours_origin": EPOCH}
        estimates.append(estimate_run(run_id, inputs, reference))
    return runs, estimates
