"""Lifecycle estimates of training emissions, with a stated interval and input origins (METHODOLOGY.md).

Method `lifecycle-v1`:
    energy_kwh      = chip_hours x power_w x PUE / 1000            (a disclosed energy_kwh replaces it)
    operational     = energy_kwh x grid intensity / 1000            (tCO2e, location-based)
    idle            = idle energy x grid intensity / 1000           (0 unless disclosed or in scope)
    embodied        = chip_hours x (chip + server / chips_per_server) / (lifetime_hours x utilization)
    total           = operational + idle + embodied
Every input that is not disclosed is log-normal around its central value with a spread (sigma of its
logarithm); the spreads combine analytically (each input weighted by the share of the total that depends on
it), and [low, high] is the central INTERVAL_LEVEL interval around the total. The spread of the default
power is calibrated on the backtest (pipelines/lib/backtest.py, data/reference/estimate_spreads.yaml).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import pandas as pd

from pipelines.lib import estimate_inputs, units
from pipelines.lib.reference import (
    Reference,
    hardware_count,
    load_reference,
    location_provider,
    location_zones,
    organization_country,
    resolve_hardware,
    resolve_location,
)

METHOD = "lifecycle-v1"
HOURS_PER_YEAR = 8760

INPUT_COLUMNS = ["model_id", "hardware", "chip_count", "chip_hours", "training_days", "location", "year",
                 "power_w", "pue", "carbon_intensity_kg_per_kwh", "energy_kwh"]
NUMERIC_INPUTS = ["chip_count", "chip_hours", "training_days", "year", "power_w", "pue",
                  "carbon_intensity_kg_per_kwh", "energy_kwh", "idle_energy_kwh"]
OUTPUT_COLUMNS = ["hardware_id", "location_id", "chip_hours_used", "chip_hours_origin", "power_w_used",
                  "power_w_origin", "pue_used", "pue_origin", "carbon_intensity_used_kg_per_kwh",
                  "carbon_intensity_origin", "carbon_intensity_zone", "energy_kwh", "energy_kwh_origin",
                  "operational_tco2e", "idle_tco2e", "embodied_tco2e", "embodied_origin", "total_tco2e",
                  "low_tco2e", "high_tco2e", "interval_level", "width_drivers", "method", "message"]

# low_tco2e / high_tco2e are the central 80 % interval of the estimate: its 10th and 90th percentiles
# (METHODOLOGY.md, "Bounds").
INTERVAL_LEVEL = 0.80
Z = NormalDist().inv_cdf(0.5 + INTERVAL_LEVEL / 2)  # 1.28: half-width of the interval in sigmas
# A cited low-high range of an input (PUE defaults, embodied factors) is read as its central 90 % range.
RANGE_LEVEL = 0.90
_RANGE_Z = NormalDist().inv_cdf(0.5 + RANGE_LEVEL / 2)

# Origins of an input value.
DISCLOSED, DERIVED, REFERENCE, EPOCH, DEFAULT = "disclosed", "derived", "reference", "epoch", "reference default"

_ORG_FACILITIES = {"google": "google", "deepmind": "google", "meta": "meta", "facebook": "meta",
                   "microsoft": "microsoft", "openai": "microsoft", "amazon": "hyperscale"}
_PROVIDER_FACILITIES = {"gcp": "google", "azure": "microsoft", "aws": "hyperscale"}


@dataclass(frozen=True)
class Input:
    """An input's central value and its spread: the sigma of its logarithm (0 when known exactly)."""

    value: float
    sigma: float = 0.0

    @classmethod
    def from_range(cls, value: float, low: float, high: float) -> Input:
        """A value whose cited low-high range is read as its central RANGE_LEVEL range."""
        return cls(value, math.log(high / low) / (2 * _RANGE_Z) if 0 < low < high else 0.0)


def sigma_of_range(low: float, high: float) -> float:
    return Input.from_range(1.0, low, high).sigma


@dataclass(frozen=True)
class Scope:
    """Which components an estimate covers, so it can be compared with a disclosure of the same scope.

    `idle`: "if-disclosed" (counted only when idle_energy_kwh is given), "include" (else BLOOM's measured
    idle share) or "exclude".
    """

    pue: bool = True
    idle: str = "if-disclosed"
    embodied: bool = True


@dataclass
class Estimate:
    values: dict = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    # per input: the share of the total that depends on it (elasticity) and its spread; the backtest's
    # calibration re-weighs the calibrated spreads from these
    elasticities: dict[str, float] = field(default_factory=dict)
    sigmas: dict[str, float] = field(default_factory=dict)


def _number(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        try:
            number = units.parse_number(str(value))[0]
        except units.UnitError:
            return None
    return number if math.isfinite(number) else None


def _text(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def spread(ref: Reference, name: str) -> float:
    """A spread from data/reference/estimate_spreads.yaml (log sigma or its parameter)."""
    try:
        return float(ref.spreads[name])
    except KeyError as exc:
        raise ValueError(f"estimate_spreads.yaml has no {name!r}") from exc


def grid_intensity(location_id: str | None, year: int | None, ref: Reference) -> tuple[Input, str, str]:
    """Location-based intensity (kg/kWh) for a location and year: (value with its spread, zone used, citation)."""
    key = ("grid", location_id, year)
    if key not in ref.memo:
        ref.memo[key] = _grid_intensity(location_id, year, ref)
    return ref.memo[key]


def _grid_intensity(location_id: str | None, year: int | None, ref: Reference) -> tuple[Input, str, str]:
    grid = ref.grid_intensity
    zones = location_zones(location_id, ref)
    for zone in [*zones, "WORLD"] if "WORLD" not in zones else zones:  # a zone without rows falls back
        rows = grid[grid.zone_id == zone]
        if rows.empty:
            continue
        dated = rows.dropna(subset=["year"])
        gap = None
        if year is not None and not dated.empty:
            gaps = (dated.year.astype(int) - year).abs()
            nearest = dated[gaps == gaps.min()]
            chosen = nearest[nearest.year == nearest.year.max()]
            gap = int(gaps.min())
        elif not dated.empty:
            chosen = dated[dated.year == dated.year.max()]
        else:
            chosen = rows
        central = float(chosen.kg_per_kwh.median())
        if zone == "WORLD":  # the zone could be any country: their 5th-95th percentile
            countries = grid[grid.zone_kind == "country"].kg_per_kwh
            sigma = sigma_of_range(float(countries.quantile(0.05)), float(countries.quantile(0.95)))
        else:  # sources disagree for one zone; the grid changes from year to year (more when the year is unknown)
            band = _relative_band(ref)
            years_off = gap if gap is not None else spread(ref, "grid_unknown_year_gap_years")
            sigma = math.hypot(sigma_of_range(1 - band, 1 + band), years_off * spread(ref, "grid_drift_per_year"))
        citation = "; ".join(f"{r.source} [{r.locator}]" for r in chosen.itertuples())
        return Input(central, sigma), zone, citation
    raise ValueError("grid intensity table has no WORLD row")


def _relative_band(ref: Reference) -> float:
    """Largest relative spread between sources for one zone (e.g. US: OWID, eGRID, papers), as a default band."""
    key = ("grid band",)
    if key not in ref.memo:
        spreads = []
        for _, rows in ref.grid_intensity.groupby("zone_id"):
            if len(rows) > 1:
                median = rows.kg_per_kwh.median()
                spreads.append(max(rows.kg_per_kwh.max() / median - 1, 1 - rows.kg_per_kwh.min() / median))
        ref.memo[key] = float(max(spreads)) if spreads else 0.0
    return ref.memo[key]


def facility_for(location_id: str | None, organization: str | None, ref: Reference) -> str:
    provider = location_provider(location_id, ref)
    if provider:
        return _PROVIDER_FACILITIES[provider]
    org = (organization or "").lower()
    for word, facility in _ORG_FACILITIES.items():
        if word in org:
            return facility
    return "unknown"


def embodied_rate(hardware_id: str | None, ref: Reference) -> tuple[Input, str]:
    """Embodied kgCO2e per chip-hour: (chip + server share) / (lifetime hours x utilization)."""
    key = ("embodied", hardware_id)
    if key not in ref.memo:
        ref.memo[key] = _embodied_rate(hardware_id, ref)
    return ref.memo[key]


def _embodied_rate(hardware_id: str | None, ref: Reference) -> tuple[Input, str]:
    params = ref.parameters
    if hardware_id is not None:
        acc = ref.accelerators.loc[hardware_id]
        per_server = int(acc.chips_per_server)
        chip = (acc.embodied_chip_kgco2e, acc.embodied_chip_low_kgco2e, acc.embodied_chip_high_kgco2e)
        server = (acc.embodied_server_kgco2e, acc.embodied_server_low_kgco2e, acc.embodied_server_high_kgco2e)
        source = str(acc.embodied_source)
    else:  # unknown accelerator: the GPU-server factors, the most common case
        gpus = ref.accelerators[ref.accelerators.kind == "gpu"]
        first = gpus.iloc[0]
        per_server = int(first.chips_per_server)
        chip = (first.embodied_chip_kgco2e, gpus.embodied_chip_low_kgco2e.min(), gpus.embodied_chip_high_kgco2e.max())
        server = (first.embodied_server_kgco2e, gpus.embodied_server_low_kgco2e.min(),
                  gpus.embodied_server_high_kgco2e.max())
        source = str(first.embodied_source)
    central, low, high = (float(c) + float(s) / per_server for c, s in zip(chip, server, strict=True))
    # high emissions: short life, partial use; low emissions: long life, full use
    life, short_life = params["hardware_lifetime_years"], params["hardware_lifetime_short_years"]
    use, full_use = params["hardware_utilization"], params["hardware_utilization_full"]
    hours = HOURS_PER_YEAR
    return Input.from_range(central / (life * hours * use), low / (life * hours * full_use),
                            high / (short_life * hours * use)), source


def tdp_power(hardware_id: str, ref: Reference) -> tuple[Input, str] | None:
    """The accelerator's TDP with the calibrated spread of real draw around it, and its origin (None: no TDP)."""
    key = ("tdp", hardware_id)
    if key not in ref.memo:
        acc = ref.accelerators.loc[hardware_id]
        if pd.isna(acc.tdp_w):
            ref.memo[key] = None
        else:
            power = Input(float(acc.tdp_w), spread(ref, "power_tdp_default"))
            ref.memo[key] = power, EPOCH if acc.tdp_origin == "epoch" else REFERENCE
    return ref.memo[key]


def pue_default(facility: str, ref: Reference) -> Input:
    key = ("pue", facility)
    if key not in ref.memo:
        d = ref.pue_defaults.loc[facility]
        ref.memo[key] = Input.from_range(float(d.pue), float(d.pue_low), float(d.pue_high))
    return ref.memo[key]


# What each spread is called in `width_drivers` (the input columns of the estimate command where there is one).
DRIVER_NAMES = {"chip_hours": "chip_hours", "power": "power_w", "pue": "pue", "carbon_intensity": "carbon_intensity",
                "energy": "energy_kwh", "idle_share": "idle share", "embodied": "embodied factors"}


def estimate_row(row: Mapping, reference: Reference | None = None, scope: Scope = Scope()) -> Estimate:
    """Estimate one run from whatever inputs the row has; never raises for missing or unknown inputs."""
    ref = reference or load_reference()
    out = Estimate()
    v, msg = out.values, out.messages
    num = {k: _number(row.get(k)) for k in NUMERIC_INPUTS}

    def given(name: str) -> Input:
        """A disclosed input; plus or minus half its last printed digit when the row says it (<name>_halfstep)."""
        half = _number(row.get(f"{name}_halfstep")) or 0.0
        value = num[name]
        return Input.from_range(value, value - half, value + half) if value > half else Input(value)

    year = int(num["year"]) if num["year"] is not None else None

    hardware_text = _text(row.get("hardware"))
    hardware_id = resolve_hardware(hardware_text, ref) if hardware_text else None
    v["hardware_id"] = hardware_id
    if hardware_text and hardware_id is None:
        msg.append(f"unknown hardware {hardware_text!r}: no default power or embodied factor")
    location_text = _text(row.get("location"))
    location_id = resolve_location(location_text, ref) if location_text else None
    v["location_id"] = location_id
    if location_text and location_id is None:
        msg.append(f"unknown location {location_text!r}: world-average grid intensity used")
    organization = _text(row.get("organization"))
    assumed_country = None
    if location_text is None and organization:
        assumed_country = organization_country(organization)

    chip_hours = None
    chip_count = num["chip_count"] if num["chip_count"] is not None else hardware_count(hardware_text)
    if num["chip_hours"] is not None:
        chip_hours, v["chip_hours_origin"] = given("chip_hours"), DISCLOSED
    elif chip_count is not None and num["training_days"] is not None:
        chip_hours = Input(chip_count * num["training_days"] * 24)
        v["chip_hours_origin"] = DERIVED
        if num["chip_count"] is None:
            msg.append(f"chip count {chip_count} read from the hardware name {hardware_text!r}")
    v["chip_hours_used"] = chip_hours.value if chip_hours else None

    power = None
    if num["power_w"] is not None:
        power, v["power_w_origin"] = given("power_w"), DISCLOSED
    elif hardware_id is not None and (tdp := tdp_power(hardware_id, ref)) is not None:
        power, v["power_w_origin"] = tdp
    elif hardware_id is not None:
        msg.append(f"no TDP on record for {hardware_id}")
    v["power_w_used"] = power.value if power else None

    if not scope.pue:
        pue, v["pue_origin"] = Input(1.0), "excluded (scope)"
    elif num["pue"] is not None:
        pue, v["pue_origin"] = given("pue"), DISCLOSED
    else:
        facility = facility_for(location_id, organization, ref)
        pue, v["pue_origin"] = pue_default(facility, ref), f"{DEFAULT} ({facility})"
    v["pue_used"] = pue.value

    if num["carbon_intensity_kg_per_kwh"] is not None:
        intensity = given("carbon_intensity_kg_per_kwh")
        v["carbon_intensity_origin"], v["carbon_intensity_zone"] = DISCLOSED, None
    elif assumed_country:
        # no location: the developer's country (Epoch AI), with the world average inside the interval
        intensity, zone, _ = grid_intensity(assumed_country, year, ref)
        world, _, _ = grid_intensity(None, year, ref)
        intensity = Input(intensity.value,
                          max(intensity.sigma, abs(math.log(world.value / intensity.value)) / _RANGE_Z))
        v["carbon_intensity_origin"] = f"{REFERENCE} (organization country from {EPOCH})"
        v["carbon_intensity_zone"] = zone
        msg.append(f"no location: grid of {assumed_country}, the organization's country per Epoch AI, used")
    else:
        intensity, zone, _ = grid_intensity(location_id, year, ref)
        v["carbon_intensity_origin"], v["carbon_intensity_zone"] = REFERENCE, zone
        if location_id is None and not location_text:
            msg.append("no location: world-average grid intensity used")
    v["carbon_intensity_used_kg_per_kwh"] = intensity.value

    sigmas = {"carbon_intensity": intensity.sigma}
    if num["energy_kwh"] is not None:
        energy = given("energy_kwh")
        v["energy_kwh_origin"], energy_inputs, sigmas["energy"] = DISCLOSED, {"energy"}, energy.sigma
    elif chip_hours and power:
        energy = Input(chip_hours.value * power.value * pue.value / 1000)
        v["energy_kwh_origin"], energy_inputs = "estimated", {"chip_hours", "power", "pue"}
        sigmas.update(chip_hours=chip_hours.sigma, power=power.sigma, pue=pue.sigma)
    else:
        energy = None
        v["energy_kwh_origin"] = None
        if not msg or chip_hours is None:
            msg.append("cannot estimate energy: need energy_kwh, or chip_hours (or chip_count and training_days) "
                       "with a known hardware or power_w")
    v["energy_kwh"] = energy.value if energy else None
    v["method"] = METHOD
    if energy is None:
        _blank(v)
        return out

    # each component: its central value (tCO2e) and the inputs it is proportional to
    components = {"operational": (energy.value * intensity.value / 1000, energy_inputs | {"carbon_intensity"})}
    if num["idle_energy_kwh"] is not None and scope.idle != "exclude":
        components["idle"] = (num["idle_energy_kwh"] * intensity.value / 1000, {"carbon_intensity"})
    elif scope.idle == "include":  # BLOOM's measured idle share of the dynamic energy
        params = ref.parameters
        ratio = params["bloom_idle_energy_kwh"] / params["bloom_dynamic_energy_kwh"]
        components["idle"] = (energy.value * ratio * intensity.value / 1000,
                              energy_inputs | {"carbon_intensity", "idle_share"})
        sigmas["idle_share"] = spread(ref, "idle_share")
    if scope.embodied and chip_hours is not None:
        rate, _ = embodied_rate(hardware_id, ref)
        components["embodied"] = (chip_hours.value * rate.value / 1000, {"chip_hours", "embodied"})
        sigmas.setdefault("chip_hours", chip_hours.sigma)
        sigmas["embodied"] = rate.sigma
        v["embodied_origin"] = REFERENCE if hardware_id else f"{DEFAULT} (GPU server)"
    elif scope.embodied:
        v["embodied_origin"] = None
        msg.append("embodied emissions not estimated: chip-hours unknown")
    else:
        v["embodied_origin"] = "excluded (scope)"
    total = sum(value for value, _ in components.values())
    # the log of the total moves with each input by the share of the total proportional to it
    out.elasticities = {name: sum(value for value, inputs in components.values() if name in inputs) / total
                        if total else 0.0 for name in sigmas}
    out.sigmas = sigmas
    sigma = math.sqrt(sum((out.elasticities[n] * s) ** 2 for n, s in sigmas.items()))
    v.update(operational_tco2e=components["operational"][0], idle_tco2e=components.get("idle", (0.0,))[0],
             embodied_tco2e=components["embodied"][0] if "embodied" in components else None, total_tco2e=total,
             low_tco2e=total * math.exp(-Z * sigma), high_tco2e=total * math.exp(Z * sigma),
             interval_level=INTERVAL_LEVEL, width_drivers=width_drivers(out.elasticities, sigmas))
    return out


def width_drivers(elasticities: Mapping[str, float], sigmas: Mapping[str, float]) -> str:
    """The inputs that make the interval wide, with their share of its variance ('power_w 70%; pue 20%')."""
    variances = {n: (elasticities[n] * s) ** 2 for n, s in sigmas.items()}
    total = sum(variances.values())
    if total <= 0:
        return "none: every input disclosed"
    shares = sorted(((v / total, DRIVER_NAMES[n]) for n, v in variances.items() if v / total >= 0.05), reverse=True)
    return "; ".join(f"{name} {share:.0%}" for share, name in shares)


def _blank(v: dict) -> None:
    for key in ("operational_tco2e", "idle_tco2e", "embodied_tco2e", "total_tco2e", "low_tco2e", "high_tco2e",
                "interval_level", "width_drivers", "embodied_origin"):
        v[key] = None


def estimate_frame(df: pd.DataFrame, reference: Reference | None = None) -> pd.DataFrame:
    """Add estimate columns (OUTPUT_COLUMNS) to a frame of runs; inputs it has override the defaults."""
    ref = reference or load_reference()
    results = []
    for record in df.to_dict(orient="records"):
        problems = estimate_inputs.input_problems(record)
        est = None if problems else estimate_row(record, ref)
        problems = problems or estimate_inputs.output_problems(est.values, record)
        if problems:  # an invalid input (or a result out of range): the reasons and no numbers
            results.append({**{c: None for c in OUTPUT_COLUMNS}, "message": "; ".join(problems)})
            continue
        results.append({**{c: None for c in OUTPUT_COLUMNS}, **est.values,
                        "message": "; ".join(est.messages) or None})
    added = pd.DataFrame(results, columns=OUTPUT_COLUMNS, index=df.index)
    for column in set(INPUT_COLUMNS) & set(OUTPUT_COLUMNS) & set(df.columns):  # energy_kwh: a given value stays
        added[column] = df[column].where(df[column].notna(), added[column])
    kept = df.drop(columns=[c for c in OUTPUT_COLUMNS if c in df.columns])
    return pd.concat([kept, added], axis=1)


def estimate_csv(input_path: str | Path, output_path: str | Path | None = None) -> list[str]:
    """Estimate every row of a CSV; write the result (or print it when output_path is None); return messages."""
    frame = estimate_inputs.read_runs_csv(input_path)
    unknown = sorted(set(frame.columns) - set(INPUT_COLUMNS) - {"organization", "idle_energy_kwh"})
    result = estimate_frame(frame)
    if output_path is None:
        print(result.to_csv(index=False), end="")
    else:
        estimate_inputs.write_csv(result, output_path, input_path)
    messages = [f"low_tco2e and high_tco2e are the central {INTERVAL_LEVEL:.0%} interval of each estimate; "
                "width_drivers names the inputs that make it wide"]
    messages += [f"column {c!r} is not an estimator input; passed through unchanged" for c in unknown]
    for i, (model_id, message) in enumerate(zip(result.get("model_id", [None] * len(result)), result.message,
                                               strict=True)):
        if isinstance(message, str):
            messages.append(f"row {i + 1}{f' ({model_id})' if isinstance(model_id, str) else ''}: {message}")
    return messages
