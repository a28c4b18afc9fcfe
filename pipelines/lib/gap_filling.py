"""Estimates for the published runs. Disclosed values are inputs here and are never overwritten; what is
estimated says so.

- Every disclosed run gets a comparison estimate from its own inputs, and an arithmetic check: a disclosed
  emissions figure more than 3x away from what its own document's energy (or hours x power) gives cannot
  be a headline (the figure stays in `disclosures` and `conflicts`).
- A model and stage with no usable disclosed emissions gets one estimate run, from the best disclosed
  inputs of that model and stage, filled with Epoch AI's hardware and hours where the sources give none.
- An Epoch AI notable model is matched to the registry (its Epoch name, aliases, id); a model the registry
  does not know becomes `epoch/<slug>`, marked as coming from Epoch's table.
- The grid comes from the run's documented location, else the model's documented training location (model
  registry), else its developer's country, else the world average; the origin column says which.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from pipelines.lib import epoch
from pipelines.lib.estimate import EPOCH, METHOD, Scope, estimate_row
from pipelines.lib.model_registry import ModelRegistry
from pipelines.lib.reference import Reference, _country, resolve_location

# Same boundary as a location-based training disclosure: IT energy x PUE x grid intensity.
OPERATIONAL = Scope(pue=True, idle="exclude", embodied=False)
# The BLOOM-style lifecycle: operational + idle and infrastructure + embodied share of the hardware.
LIFECYCLE = Scope(pue=True, idle="include", embodied=True)
# A disclosed figure this many times away from its own document's arithmetic is not a headline.
ARITHMETIC_FACTOR = 3.0

ESTIMATE_COLUMNS = {
    "run_id": "VARCHAR",
    "estimate_method": "VARCHAR",
    "hardware_id": "VARCHAR",
    "location_id": "VARCHAR",
    "location_origin": "VARCHAR",
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
    "width_drivers": "VARCHAR",
    "lifecycle_tco2e": "DOUBLE",
    "lifecycle_low_tco2e": "DOUBLE",
    "lifecycle_high_tco2e": "DOUBLE",
    "idle_tco2e": "DOUBLE",
    "embodied_estimated_tco2e": "DOUBLE",
    "embodied_origin": "VARCHAR",
    "estimate_message": "VARCHAR",
    "arithmetic_tco2e": "DOUBLE",
    "arithmetic_factor": "DOUBLE",
}

# runs this project estimates: models and stages without a usable disclosed emissions figure
ESTIMATE_RUN_COLUMNS = {
    "run_id": "VARCHAR",
    "model_id": "VARCHAR",
    "model_name": "VARCHAR",
    "organization": "VARCHAR",
    "stage": "VARCHAR",
    "training_year": "BIGINT",
    "hardware": "VARCHAR",
    "chip_count": "DOUBLE",
    "chip_hours": "DOUBLE",
    "location": "VARCHAR",
    "source_id": "VARCHAR",
    "source_url": "VARCHAR",
    "input_run_id": "VARCHAR",
    "registry_origin": "VARCHAR",
    "epoch_name": "VARCHAR",
}

EPOCH_SOURCE_ID = "epoch_notable_ai_models"
_INPUTS = ["hardware", "chip_count", "chip_hours", "training_days", "location", "year", "power_w", "pue",
           "carbon_intensity_kg_per_kwh", "energy_kwh", "organization"]
_STAGES_ESTIMATED = ("pretraining", "fine-tuning", "development", "total")


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


def _clean(value):
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def epoch_country(countries: str | None) -> str | None:
    """The one country of an Epoch row's organizations ('United States of America,United States of America'
    -> 'US'); None when they name several countries or 'Multinational'."""
    codes = {_country(c) for c in str(countries or "").split(",") if c.strip()}
    return codes.pop() if len(codes) == 1 and None not in codes else None


def grid_location(run: dict, registry: ModelRegistry, reference: Reference) -> tuple[str | None, str | None]:
    """(location, origin) for a run's grid: its own documented location (when it resolves), the model's (or its
    base model's) documented training location, the developer's country; (None, None) leaves the world
    average. A printed location that does not resolve is counted in `unresolved_names` by the normalize step."""
    if _clean(run.get("location")) and resolve_location(run["location"], reference):
        return run["location"], "disclosed"
    model = registry.models.get(run.get("model_id"))
    for candidate in (model, registry.models.get(model.base_model_id) if model and model.base_model_id else None):
        if candidate and candidate.training_location:
            return candidate.training_location, f"training location of {candidate.model_id} (model registry)"
    org = registry.organization(model.organization if model else run.get("organization"))
    if org and org.country:
        return org.country, f"country of {org.name} (model registry)"
    if _clean(run.get("epoch_country")):
        return run["epoch_country"], "country of the developer (Epoch AI)"
    return None, None


def estimate_run(run_id: str, inputs: dict, reference: Reference, location_origin: str | None = None) -> dict:
    operational = estimate_row(inputs, reference, OPERATIONAL)
    lifecycle = estimate_row(inputs, reference, LIFECYCLE).values
    v = operational.values
    intensity_origin = v.get("carbon_intensity_origin")
    if location_origin and location_origin != "disclosed" and intensity_origin == "reference":
        intensity_origin = f"reference (grid of the {location_origin})"
    return {
        "run_id": run_id,
        "estimate_method": METHOD,
        "hardware_id": v.get("hardware_id"),
        "location_id": v.get("location_id"),
        "location_origin": location_origin,
        "chip_hours_used": v.get("chip_hours_used"),
        "chip_hours_origin": inputs.get("chip_hours_origin") or v.get("chip_hours_origin"),
        "power_w_used": v.get("power_w_used"),
        "power_w_origin": v.get("power_w_origin"),
        "pue_used": v.get("pue_used"),
        "pue_origin": v.get("pue_origin"),
        "carbon_intensity_used_kg_per_kwh": v.get("carbon_intensity_used_kg_per_kwh"),
        "carbon_intensity_origin": intensity_origin,
        "energy_kwh_used": v.get("energy_kwh"),
        "energy_origin": v.get("energy_kwh_origin"),
        "estimated_tco2e": v.get("total_tco2e"),
        "estimate_low_tco2e": v.get("low_tco2e"),
        "estimate_high_tco2e": v.get("high_tco2e"),
        "width_drivers": v.get("width_drivers"),
        "lifecycle_tco2e": lifecycle.get("total_tco2e"),
        "lifecycle_low_tco2e": lifecycle.get("low_tco2e"),
        "lifecycle_high_tco2e": lifecycle.get("high_tco2e"),
        "idle_tco2e": lifecycle.get("idle_tco2e"),
        "embodied_estimated_tco2e": lifecycle.get("embodied_tco2e"),
        "embodied_origin": lifecycle.get("embodied_origin"),
        "estimate_message": "; ".join(operational.messages) or None,
        "arithmetic_tco2e": None,
        "arithmetic_factor": None,
    }


def _inputs(run: dict, registry: ModelRegistry, reference: Reference) -> tuple[dict, str | None]:
    inputs = {k: _clean(run.get(k)) for k in _INPUTS}
    inputs["year"] = _clean(run.get("training_year")) or inputs["year"]
    location, origin = grid_location(run, registry, reference)
    inputs["location"] = location
    return inputs, origin


def _arithmetic(run: dict, estimate: dict) -> tuple[float | None, float | None]:
    """The emissions the run's own energy (or hours x power) gives, and how many times the disclosed figure
    is away from it; (None, None) when the document gives no such arithmetic or either side is zero."""
    disclosed, computed = _clean(run.get("emissions_tco2e")), estimate.get("estimated_tco2e")
    own_energy = _clean(run.get("energy_kwh")) is not None
    own_power = _clean(run.get("chip_hours")) is not None and _clean(run.get("power_w")) is not None
    if not (own_energy or own_power) or not disclosed or not computed:
        return None, None
    return computed, max(disclosed / computed, computed / disclosed)


def _input_count(run: dict) -> int:
    return sum(_clean(run.get(k)) is not None for k in ("chip_hours", "energy_kwh", "hardware", "power_w",
                                                          "location", "pue", "carbon_intensity_kg_per_kwh"))


def estimate_all(runs: pd.DataFrame, epoch_models: pd.DataFrame, registry: ModelRegistry, reference: Reference
                 ) -> tuple[list[dict], list[dict]]:
    """(estimates keyed by run_id, estimate runs): a comparison estimate and arithmetic check for every
    disclosed run, then one estimate run per model and stage without a usable disclosed emissions figure."""
    epoch_usable = epoch_models.dropna(subset=["chip_hours"])
    epoch_usable = epoch_usable[epoch_usable.hardware.notna()]
    epoch_by_model: dict[str, dict] = {}
    epoch_unmatched: list[dict] = []
    for row in epoch_usable.to_dict(orient="records"):
        model_id = registry.resolve(row["model_name"])
        if model_id is None:
            epoch_unmatched.append(row)
        else:
            epoch_by_model.setdefault(model_id, row)

    estimates, estimate_runs = [], []
    usable_disclosed: set[tuple[str, str]] = set()
    by_group: dict[tuple[str, str], list[dict]] = {}
    for run in runs.to_dict(orient="records"):
        inputs, origin = _inputs(run, registry, reference)
        estimate = estimate_run(run["run_id"], inputs, reference, origin)
        estimate["arithmetic_tco2e"], estimate["arithmetic_factor"] = _arithmetic(run, estimate)
        estimates.append(estimate)
        if run["stage"] not in _STAGES_ESTIMATED:
            continue
        contradicts = (estimate["arithmetic_factor"] or 0) > ARITHMETIC_FACTOR
        if (_clean(run.get("emissions_tco2e")) is not None and not run.get("is_superseded")
                and not _clean(run.get("not_headline_reason")) and not contradicts):
            usable_disclosed.add((run["model_id"], run["stage"]))
        by_group.setdefault((run["model_id"], run["stage"]), []).append(run)

    for (model_id, stage), group in sorted(by_group.items()):
        if (model_id, stage) in usable_disclosed:
            continue
        # the inputs a careful reader would take: the developer's own, the original, the run covering the most
        # (a whole stage rather than a sub-stage such as a context extension), the most complete
        best = sorted(group, key=lambda r: (r["disclosure_type"] != "first-party", not r["is_primary"],
                                            -(_clean(r.get("energy_kwh")) or 0), -(_clean(r.get("chip_hours")) or 0),
                                            -_input_count(r), str(r.get("source_published_date") or ""),
                                            r["run_id"]))[0]
        inputs, origin = _inputs(best, registry, reference)
        source_id, source_url = best["source_id"], best.get("source_url")
        match = epoch_by_model.get(model_id) if stage == "pretraining" else None
        if match is not None and inputs["chip_hours"] is None and inputs["training_days"] is None \
                and inputs["energy_kwh"] is None:
            inputs["chip_hours"], inputs["chip_hours_origin"] = float(match["chip_hours"]), EPOCH
            inputs["hardware"] = inputs["hardware"] or _clean(match["hardware"])
            source_id, source_url = EPOCH_SOURCE_ID, epoch.SOURCE_URL
        elif match is not None and inputs["hardware"] is None:
            # the sources give the hours but not the chip: Epoch AI's hardware for that model
            inputs["hardware"] = _clean(match["hardware"])
        run_id = f"{model_id}@{stage}@estimate"
        estimate = estimate_run(run_id, inputs, reference, origin)
        if estimate["estimated_tco2e"] is None:
            continue
        estimates.append(estimate)
        estimate_runs.append({
            "run_id": run_id, "model_id": model_id, "model_name": best.get("model_name"),
            "organization": _clean(best.get("organization_canonical")) or best.get("organization"), "stage": stage,
            "training_year": _clean(best.get("training_year")), "hardware": inputs["hardware"],
            "chip_count": inputs["chip_count"], "chip_hours": inputs["chip_hours"],
            "location": _clean(best.get("location")),
            "source_id": source_id, "source_url": _clean(source_url), "input_run_id": best["run_id"],
            "registry_origin": "curated" if model_id in registry.models else "hub card",
            "epoch_name": _clean(match["model_name"]) if match is not None else None,
        })

    # Epoch models with no run of ours: registered models get an estimate run; others an epoch/ model
    have_runs = {m for m, _ in by_group}
    for model_id, row in sorted(epoch_by_model.items()):
        if model_id not in have_runs:
            run, est = _epoch_run(row, model_id, registry.models[model_id].model_name,
                                            registry.organization(registry.models[model_id].organization).name,
                                            "curated", registry, reference)
            estimates.append(est)
            estimate_runs.append(run)
    seen = set()
    for row in epoch_unmatched:
        model_id = row["model_id"]
        if model_id in seen:
            continue
        seen.add(model_id)
        run, est = _epoch_run(row, model_id, row["model_name"], _clean(row["organization"]) or "unknown", "epoch",
                              registry, reference)
        estimates.append(est)
        estimate_runs.append(run)
    return estimates, estimate_runs


def _epoch_run(row: dict, model_id: str, model_name: str, organization: str, registry_origin: str,
               registry: ModelRegistry, reference: Reference) -> tuple[dict, dict]:
    run_id = f"{model_id}@pretraining@estimate"
    basis = {"model_id": model_id, "organization": organization,
             "epoch_country": epoch_country(_clean(row.get("organization_country")))}
    location, origin = grid_location(basis, registry, reference)
    inputs = {"hardware": row["hardware"], "chip_hours": float(row["chip_hours"]), "year": _clean(row["year"]),
              "organization": organization, "chip_hours_origin": EPOCH, "location": location}
    run = {
        "run_id": run_id, "model_id": model_id, "model_name": model_name, "organization": organization,
        "stage": "pretraining", "training_year": _clean(row["year"]), "hardware": row["hardware"],
        "chip_count": _clean(row["chip_count"]), "chip_hours": float(row["chip_hours"]), "location": None,
        "source_id": EPOCH_SOURCE_ID, "source_url": epoch.SOURCE_URL, "input_run_id": None,
        "registry_origin": registry_origin, "epoch_name": row["model_name"],
    }
    return run, estimate_run(run_id, inputs, reference, origin)


