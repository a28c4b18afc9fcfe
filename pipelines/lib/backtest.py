"""The estimator's backtest: every disclosed run estimated from its own inputs, the calibration of the
default power's spread (leave one source out), and the summary a release is held to (METHODOLOGY.md).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import yaml

from pipelines.lib import units
from pipelines.lib.estimate import (
    DISCLOSED,
    INTERVAL_LEVEL,
    METHOD,
    Estimate,
    Scope,
    Z,
    _number,
    _text,
    estimate_row,
    tdp_power,
)
from pipelines.lib.reference import REFERENCE_DIR, Reference, hardware_count, load_reference, resolve_hardware

POWER_CONVENTIONS_PATH = REFERENCE_DIR / "power_conventions.csv"
# How a source obtained the power behind its figure (power_conventions.csv) -> the backtest subset it is in.
SUBSETS = {"tdp": "tdp-convention", "measured": "measured-power"}

# Targets on real disclosures (issue 13, METHODOLOGY.md), per subset of the scored runs; `meets_targets` in
# the summary reports them for the subsets that have targets.
TARGETS = {
    "all": {"coverage_tolerance": 0.07, "median_high_low_ratio_max": 2.5, "median_error_factor_max": 1.05},
    "tdp-convention": {"share_within_1_25_min": 0.90},
}

# What the export blocks on (variant "defaults"); data/backtest_thresholds.yaml states them for this dataset
# (these are the defaults for a dataset without that file).
BLOCKING_THRESHOLDS = {
    "median_error_factor_max": 1.06,
    "share_within_1_25_min": 0.75,
    "coverage_tolerance": 0.07,
    "median_high_low_ratio_max": 2.5,
    "tdp_convention_share_within_1_25_min": 0.90,
    "scored_runs_min": 70,
}


def load_blocking_thresholds(path: Path) -> dict[str, float]:
    """The thresholds a dataset's backtest is held to (`data/backtest_thresholds.yaml`); the defaults above
    when the file is absent. A different dataset (a test fixture, a fork) states its own."""
    if not path.exists():
        return dict(BLOCKING_THRESHOLDS)
    loaded = yaml.safe_load(path.read_text()) or {}
    unknown = set(loaded) - set(BLOCKING_THRESHOLDS)
    if unknown or not all(isinstance(v, int | float) for v in loaded.values()):
        raise ValueError(f"{path}: expected numbers for {sorted(BLOCKING_THRESHOLDS)}, got {loaded!r}")
    return {**BLOCKING_THRESHOLDS, **loaded}


def load_power_conventions(path: Path = POWER_CONVENTIONS_PATH) -> dict[str, str]:
    """source_id -> how the source obtained its power (`tdp`, `measured`, `calculator`, `unstated`)."""
    from schemas.backtest import PowerConventions

    frame = PowerConventions.validate(pd.read_csv(path, keep_default_na=False, na_values=[""]))
    return dict(zip(frame.source_id, frame.convention, strict=True))


_COMPARABLE_BASES = {"location-based", "operational", "lifecycle", "unspecified", None}
_BOUND_QUALIFIERS = {"less_than", "more_than"}
_INPUT_METRICS = {"chip_hours", "chip_count", "duration", "power", "tdp", "pue", "carbon_intensity"}

# Why a disclosed emissions figure is not a backtest case (METHODOLOGY.md, "Backtest population").
EXCLUSION_RULES = {
    "per-use": "per-use figure (it has a functional unit): not the footprint of a run",
    "component": "only part of a run's footprint (e.g. dynamic power only, embodied share)",
    "superseded": "superseded by a later version of the same document (that version is tested)",
    "market-based": "market-based: depends on the developer's energy contracts, never estimated",
    "bound": "printed as a bound ('less than 0.001'), not a value",
}


def _is_set(value) -> bool:
    return _text(value) is not None


def _qualifier(row: Mapping) -> str | None:
    qualifier = _text(row.get("value_qualifier"))
    if qualifier is None and _text(row.get("value_as_printed")):
        try:
            qualifier = units.parse_number(str(row["value_as_printed"]))[1]
        except units.UnitError:
            qualifier = None
    return qualifier


def exclusion_rule(row: Mapping) -> str | None:
    """The EXCLUSION_RULES key that keeps a disclosed emissions figure out of the backtest, or None."""
    if _is_set(row.get("functional_unit")):
        return "per-use"
    if _is_set(row.get("component")):
        return "component"
    superseded = row.get("is_superseded")
    if superseded is not None and not pd.isna(superseded) and bool(superseded):
        return "superseded"
    if _text(row.get("basis")) not in _COMPARABLE_BASES:
        return "market-based"
    if _qualifier(row) in _BOUND_QUALIFIERS:
        return "bound"
    return None


def backtest_exclusions(disclosures: pd.DataFrame) -> pd.DataFrame:
    """Every disclosed emissions figure left out of the backtest, with the rule that left it out."""
    columns = ["source_id", "model_id", "stage", "disclosure_id", "value_as_printed", "unit_as_printed",
               "locator", "rule", "reason"]
    rows = []
    for record in disclosures[disclosures.metric == "emissions"].to_dict(orient="records"):
        rule = exclusion_rule(record)
        if rule:
            rows.append({**{c: record.get(c) for c in columns[:7]}, "rule": rule, "reason": EXCLUSION_RULES[rule]})
    return pd.DataFrame(rows, columns=columns)


def _shared_prefix(a, b) -> int:
    return len(os.path.commonprefix([str(a), str(b)]))


def _pick(records: list[dict], metric: str, anchor: str, prefer: str | None = None) -> tuple[float | None, float]:
    """The figure of a metric printed nearest the anchor (longest shared locator prefix: same table, row,
    column), preferring rows whose locator or basis matches `prefer`, with half its last printed digit."""
    rows = [r for r in records if r["metric"] == metric]
    if prefer:
        preferred = [r for r in rows if re.search(prefer, str(r.get("locator")), re.I)
                     or re.search(prefer, str(r.get("basis")), re.I)]
        rows = preferred or rows
    if not rows:
        return None, 0.0
    row = min(rows, key=lambda r: (-_shared_prefix(r.get("locator"), anchor), str(r.get("locator"))))
    return float(row["value"]), _half_step(row.get("value_as_printed"), row["value"])


def _headline(testable: list[dict], input_locators: list) -> dict:
    """The emissions figure a run is tested on: the one printed nearest the run's inputs, then the most
    precisely printed ('539.00' before '539')."""
    def rank(r: dict):
        near = max((_shared_prefix(r.get("locator"), loc) for loc in input_locators), default=0)
        precision = _half_step(r.get("value_as_printed"), r["value"]) / r["value"] if r["value"] else 1.0
        return -near, precision, str(r.get("locator"))
    return min(testable, key=rank)


def _per_chip_power(power: float | None, step: float, hardware: str | None, chips: float | None,
                    ref: Reference) -> tuple[float | None, float]:
    """A disclosed power read per chip. Above the chip's TDP times the highest measured system-per-chip ratio
    (power_measurements) it cannot be one chip's draw: with a chip count it is the machine's total
    (Strubell et al. print the draw of all GPUs plus CPU and DRAM) and is divided by the count."""
    hardware_id = resolve_hardware(hardware, ref) if hardware else None
    if power is None or hardware_id is None or not chips or chips <= 1:
        return power, step
    tdp = tdp_power(hardware_id, ref)
    if tdp is None or power <= tdp[0].value * ref.power_factor_range[1]:  # highest measured power/TDP ratio
        return power, step
    return power / chips, step / chips


def runs_from_disclosures(disclosures: pd.DataFrame, reference: Reference | None = None) -> pd.DataFrame:
    """One backtest case per (source, model, stage) with its disclosed emissions and the inputs printed with it.

    Takes rows shaped like the `disclosures` contract (long format, normalized `value` in canonical units).
    Emissions figures are tested unless an EXCLUSION_RULES rule applies (see `backtest_exclusions`). Inputs
    come from the same document version, superseded or not: the tested figure was computed from them.
    """
    ref = reference or load_reference()
    whole_runs = disclosures[~disclosures.functional_unit.map(_is_set) & ~disclosures.component.map(_is_set)] \
        if {"functional_unit", "component"} <= set(disclosures.columns) else disclosures
    # grouped in plain Python: a Hub refresh brings thousands of single-figure runs, most without inputs
    groups: dict[tuple, list[dict]] = {}
    for record in whole_runs.to_dict(orient="records"):
        groups.setdefault((record["source_id"], record["model_id"], record["stage"]), []).append(record)
    runs = []
    for (source_id, model_id, stage), records in sorted(groups.items()):
        testable = [r for r in records if r["metric"] == "emissions" and exclusion_rule(r) is None]
        if not testable:
            continue
        input_records = [r for r in records if r["metric"] in _INPUT_METRICS]
        head = _headline(testable, [r.get("locator") for r in input_records])
        power = pue = intensity = chip_hours = chip_count = duration = None
        power_step = pue_step = intensity_step = 0.0
        if input_records:
            group, anchor = records, str(head.get("locator"))
            power, power_step = _pick(group, "power", anchor, prefer="measured|average")
            if power is None:
                power, power_step = _pick(group, "tdp", anchor)
            pue, pue_step = _pick(group, "pue", anchor)
            intensity, intensity_step = _pick(group, "carbon_intensity", anchor, prefer="location")
            chip_hours, _ = _pick(group, "chip_hours", anchor)
            chip_count, _ = _pick(group, "chip_count", anchor)
            duration, _ = _pick(group, "duration", anchor)
        if chip_count is None:  # '8 x A100', 'P100x8': the count printed in the hardware name
            chip_count = hardware_count(_text(head.get("hardware")))
        if chip_hours is None and chip_count is not None and duration is not None:
            chip_hours = chip_count * duration
        power, power_step = _per_chip_power(power, power_step, _text(head.get("hardware")), chip_count, ref)
        value = float(head["value"])
        half = _half_step(head.get("value_as_printed"), value)
        runs.append({
            "source_id": source_id, "model_id": model_id, "stage": stage,
            "organization": head.get("organization"), "hardware": head.get("hardware"),
            "location": head.get("location"), "year": head.get("year"), "chip_hours": chip_hours,
            "power_w": power, "power_w_halfstep": power_step, "pue": pue, "pue_halfstep": pue_step,
            "carbon_intensity_kg_per_kwh": intensity, "carbon_intensity_kg_per_kwh_halfstep": intensity_step,
            "disclosed_tco2e": value, "disclosed_low_tco2e": value - half, "disclosed_high_tco2e": value + half,
            "basis": _text(head.get("basis")),
            "is_pue_included": head.get("is_pue_included"), "is_idle_included": head.get("is_idle_included"),
            "is_embodied_included": head.get("is_embodied_included"),
        })
    return pd.DataFrame(runs)


def _half_step(printed, value) -> float:
    """Half the last printed digit of a disclosed figure, in its normalized unit ('14' t -> 0.5 t).

    A disclosure printed as 14 t means 13.5-14.5 t; bounds are compared with that interval.
    """
    parsed = _number(printed)
    text = str(printed or "").strip()
    digits = re.search(r"(\d[\d,\s]*)(?:\.(\d+))?", text)
    if parsed is None or parsed == 0 or digits is None:
        return 0.0
    decimals = len(digits.group(2) or "")
    step = 10.0 ** -decimals
    if decimals == 0:  # trailing zeros of an integer are not significant ('1,000' -> step 1? keep 1)
        step = 1.0
    return 0.5 * step * abs(float(value) / parsed)


def _scope_for(run: Mapping) -> Scope:
    def flag(name, default):
        value = run.get(name)
        return default if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) \
            else bool(value)
    return Scope(pue=flag("is_pue_included", True),
                 idle="include" if flag("is_idle_included", False) else "exclude",
                 embodied=flag("is_embodied_included", False))


def _required_sigma(estimate: float, low: float, high: float) -> float:
    """The smallest spread whose interval around the estimate reaches the disclosed [low, high]."""
    if estimate < low:
        return math.log(low / estimate) / Z
    if estimate > high:
        return math.log(estimate / max(high, 1e-12)) / Z
    return 0.0


def _power_spread_needed(row: Mapping) -> float:
    """The smallest calibrated power spread that puts this run's disclosure inside its interval."""
    gap = row["required_sigma"] ** 2 - row["other_variance"]
    if gap <= 0:
        return 0.0
    return math.sqrt(gap) / row["power_elasticity"] if row["power_elasticity"] > 0 else math.inf


def calibrate_power_spread(scored: pd.DataFrame, level: float = INTERVAL_LEVEL) -> float:
    """The smallest spread of the TDP default under which at least `level` of these runs are inside their
    interval: the ceil(level x n)-th smallest spread each run needs (runs that no spread covers count as misses).
    """
    needed = sorted(_power_spread_needed(r) for r in scored.to_dict(orient="records"))
    finite = [n for n in needed if math.isfinite(n)]
    k = max(1, math.ceil(level * len(needed)))
    return needed[k - 1] if k <= len(finite) else (max(finite) if finite else 0.0)


def _calibration_inputs(est: Estimate) -> tuple[float, float]:
    """(elasticity of the TDP default power, variance of every other spread) of one estimate."""
    calibrated = "power" in est.sigmas and est.values.get("power_w_origin") != DISCLOSED
    other = sum((est.elasticities[n] * s) ** 2 for n, s in est.sigmas.items() if not (calibrated and n == "power"))
    return (est.elasticities["power"] if calibrated else 0.0), other


def _estimate_runs(runs: pd.DataFrame, ref: Reference, variants: Iterable[str],
                   conventions: Mapping[str, str]) -> pd.DataFrame:
    """Each run estimated from its own inputs per variant, with what the calibration needs."""
    rows = []
    for run in runs.to_dict(orient="records"):
        for variant in variants:
            inputs = {k: run.get(k) for k in ("hardware", "chip_hours", "location", "year", "organization")}
            if variant == "disclosed":
                for k in ("power_w", "pue", "carbon_intensity_kg_per_kwh"):
                    inputs[k], inputs[f"{k}_halfstep"] = run.get(k), run.get(f"{k}_halfstep")
            est = estimate_row(inputs, ref, _scope_for(run))
            disclosed, estimate = run["disclosed_tco2e"], est.values.get("total_tco2e")
            ok = estimate is not None and disclosed > 0 and estimate > 0
            elasticity, other = _calibration_inputs(est)
            rows.append({
                "variant": variant, "source_id": run.get("source_id"), "model_id": run.get("model_id"),
                "stage": run.get("stage"), "power_convention": conventions.get(run.get("source_id"), "unstated"),
                "disclosed_tco2e": disclosed, "estimate_tco2e": estimate,
                "error_tco2e": estimate - disclosed if estimate is not None else None,
                "error_factor": max(estimate / disclosed, disclosed / estimate) if ok else None,
                "power_elasticity": elasticity, "other_variance": other,
                "required_sigma": _required_sigma(estimate, run.get("disclosed_low_tco2e", disclosed),
                                                  run.get("disclosed_high_tco2e", disclosed)) if ok else None,
                "width_drivers": est.values.get("width_drivers"),
            })
    return pd.DataFrame(rows)


def backtest(disclosures: pd.DataFrame, reference: Reference | None = None,
             variants: Iterable[str] = ("defaults", "disclosed"),
             conventions: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimate every run that disclosed emissions from its own inputs and compare.

    Variant "defaults" uses hardware, chip-hours, location, year (and organization for the PUE default);
    variant "disclosed" adds any disclosed power, PUE and carbon intensity. Each estimate covers the same
    scope as the disclosure (PUE, idle, embodied flags). A run's interval uses the default power's spread
    calibrated on the other sources' runs of the defaults variant (leave one source out), so no source's own
    figures set its interval. Returns (per-run errors, summary per variant and subset).
    """
    ref = reference or load_reference()
    conventions = load_power_conventions() if conventions is None else conventions
    runs = disclosures if "disclosed_tco2e" in disclosures.columns else runs_from_disclosures(disclosures, ref)
    frame = _estimate_runs(runs, ref, variants, conventions)
    if frame.empty:
        return frame, summarize_backtest(frame)
    scored_defaults = frame[(frame.variant == "defaults") & frame.error_factor.notna()]
    committed = ref.spreads["power_tdp_default"]  # when no other source has a scored run
    spreads = {s: calibrate_power_spread(others) if not (others := scored_defaults[scored_defaults.source_id != s])
               .empty else committed for s in frame.source_id.unique()}
    frame["power_spread"] = frame.source_id.map(spreads)
    sigma = (frame.other_variance + (frame.power_elasticity * frame.power_spread) ** 2) ** 0.5
    frame["low_tco2e"] = frame.estimate_tco2e * (-Z * sigma).map(math.exp)
    frame["high_tco2e"] = frame.estimate_tco2e * (Z * sigma).map(math.exp)
    frame["interval_level"] = INTERVAL_LEVEL
    frame["is_inside_bounds"] = pd.Series([None if pd.isna(r) else bool(r <= s + 1e-12)
                                           for r, s in zip(frame.required_sigma, sigma, strict=True)],
                                          index=frame.index, dtype="boolean")
    frame["method"] = METHOD
    per_run = frame[["variant", "source_id", "model_id", "stage", "power_convention", "disclosed_tco2e",
                     "estimate_tco2e", "low_tco2e", "high_tco2e", "interval_level", "error_tco2e", "error_factor",
                     "is_inside_bounds", "power_spread", "width_drivers", "method"]]
    return per_run, summarize_backtest(per_run)


def calibrated_power_spread(disclosures: pd.DataFrame, reference: Reference | None = None) -> float:
    """The spread of the TDP default calibrated on every scored run of the defaults variant (the value
    data/reference/estimate_spreads.yaml holds for estimates outside the backtest)."""
    ref = reference or load_reference()
    frame = _estimate_runs(runs_from_disclosures(disclosures, ref), ref, ("defaults",), {})
    return calibrate_power_spread(frame.dropna(subset=["error_factor"]) if not frame.empty else frame)


def summarize_backtest(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per variant and subset (`all`, `tdp-convention`, `measured-power`): error, coverage and width."""
    summary = []
    for variant in per_run.variant.unique() if not per_run.empty else []:
        group = per_run[per_run.variant == variant]
        subsets = {"all": group, **{name: group[group.power_convention == convention]
                                    for convention, name in SUBSETS.items()}}
        for subset, rows in subsets.items():
            scored = rows.dropna(subset=["error_factor"])
            n = len(scored)
            row = {
                "variant": variant, "subset": subset, "interval_level": INTERVAL_LEVEL, "runs": len(rows),
                "scored_runs": n,
                "median_error_factor": float(scored.error_factor.median()) if n else None,
                "share_within_1_25": float((scored.error_factor <= 1.25).mean()) if n else None,
                "share_inside_bounds": float(scored.is_inside_bounds.astype(bool).mean()) if n else None,
                "median_high_low_ratio": float((scored.high_tco2e / scored.low_tco2e).median()) if n else None,
            }
            row["meets_targets"] = not _target_misses(row, TARGETS[subset]) if subset in TARGETS else None
            summary.append(row)
    columns = ["variant", "subset", "interval_level", "runs", "scored_runs", "median_error_factor",
               "share_within_1_25", "share_inside_bounds", "median_high_low_ratio", "meets_targets"]
    return pd.DataFrame(summary, columns=columns)


def _target_misses(row: Mapping, limits: Mapping[str, float], prefix: str = "") -> list[str]:
    """Which of the limits a summary row misses, in words (missing values miss)."""
    checks = {
        "median_error_factor_max": ("median error factor", "median_error_factor", lambda v, t: v <= t),
        "share_within_1_25_min": ("share within 1.25x", "share_within_1_25", lambda v, t: v >= t),
        "tdp_convention_share_within_1_25_min": ("share within 1.25x", "share_within_1_25", lambda v, t: v >= t),
        "median_high_low_ratio_max": ("median high/low", "median_high_low_ratio", lambda v, t: v <= t),
        "coverage_tolerance": ("coverage of the interval", "share_inside_bounds",
                               lambda v, t: abs(v - row["interval_level"]) <= t + 1e-9),
    }
    misses = []
    for key, limit in limits.items():
        if key not in checks:
            continue
        label, column, passes = checks[key]
        value = row.get(column)
        if value is None or pd.isna(value):
            misses.append(f"{prefix}{label} missing (no scored runs)")
        elif not passes(value, limit):
            bound = (f"more than {limit} from the level {row['interval_level']}" if key == "coverage_tolerance"
                     else f"{'above the maximum' if key.endswith('_max') else 'below the minimum'} {limit}")
            misses.append(f"{prefix}{label} {value:.3f} {bound}")
    return misses


def backtest_failures(summary: pd.DataFrame, thresholds: Mapping[str, float] = BLOCKING_THRESHOLDS) -> list[str]:
    """Why the "defaults" variant of a backtest summary fails the blocking thresholds; empty when it passes."""
    defaults = summary[summary.variant == "defaults"] if "variant" in summary.columns else summary.iloc[0:0]
    by_subset = {r["subset"]: r for r in defaults.to_dict(orient="records")}
    if "all" not in by_subset:
        return ["backtest summary has no 'defaults' variant"]
    every = by_subset["all"]
    scored = 0 if pd.isna(every["scored_runs"]) else int(every["scored_runs"])
    failures = []
    if scored < thresholds["scored_runs_min"]:
        failures.append(f"defaults: {scored} scored runs, fewer than the blocking minimum "
                        f"{thresholds['scored_runs_min']}")
    tdp_key = "tdp_convention_share_within_1_25_min"
    failures += _target_misses(every, {k: v for k, v in thresholds.items() if k != tdp_key}, "defaults: ")
    if thresholds[tdp_key] > 0:  # a dataset without TDP-convention sources states 0
        tdp = by_subset.get("tdp-convention", {"share_within_1_25": None, "interval_level": INTERVAL_LEVEL})
        failures += _target_misses(tdp, {tdp_key: thresholds[tdp_key]}, "defaults, tdp-convention: ")
    return failures


if __name__ == "__main__":  # restate the calibrated spread from the curated disclosures in this repository
    from pipelines.lib import curated

    data = Path(__file__).resolve().parents[2] / "data"
    registry = curated.load_registry(data / "sources" / "registry.yaml")
    figures = pd.DataFrame(curated.curated_figure_rows(data / "curated", registry))
    normalized = [units.normalize(m, v, u) for m, v, u in zip(figures.metric, figures.value_as_printed,
                                                              figures.unit_as_printed, strict=True)]
    figures["value"], figures["unit"] = [n.value for n in normalized], [n.unit for n in normalized]
    print(f"power_tdp_default: {calibrated_power_spread(figures):.3f}")
