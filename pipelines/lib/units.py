"""Printed numbers and units -> canonical values.

Every disclosed figure is stored as printed (value text and unit text) and normalized here to one
canonical unit per metric. The tables below are the single place that knows a unit's factor, so a
test can re-derive every published normalized value from its printed value and unit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Canonical unit per metric: what the published `unit` column holds.
CANONICAL_UNIT: dict[str, str] = {
    "emissions": "tCO2e",
    "energy": "kWh",
    "chip_hours": "hours",
    "power": "W",  # average power draw per accelerator (measured or assumed by the source)
    "tdp": "W",  # thermal design power per accelerator: a rating, not a measured draw
    "pue": "ratio",
    "carbon_intensity": "kg/kWh",
    "chip_count": "chips",
    "duration": "hours",
    "water": "L",
}
METRICS = tuple(CANONICAL_UNIT)

# unit key (lower-case, spaces/hyphens/subscripts removed, CO2 qualifiers stripped) -> factor to canonical
_EMISSIONS = {
    "mg": 1e-9,  # per-sample inference figures ("0.62 mg")
    "g": 1e-6,
    "grams": 1e-6,
    "kg": 1e-3,
    "t": 1.0,
    "ton": 1.0,  # metric tons in every source seen so far; short tons would need their own entry
    "tons": 1.0,
    "tonne": 1.0,
    "tonnes": 1.0,
    "metrictons": 1.0,
    "kt": 1e3,
    "lb": 0.45359237e-3,
    "lbs": 0.45359237e-3,
    "pounds": 0.45359237e-3,
    "metrictonnes": 1.0,  # "metric tonnes" (Llama 3.2 card footnote)
    "kgco2eq": 1e-3,  # "kg CO_2 eq." (underscore subscript survives the CO2 qualifier stripping)
    "gram": 1e-6,  # model cards: "0.21 in grams of CO2", "kilograms", "KGs"
    "kilogram": 1e-3,
    "kilograms": 1e-3,
    "kgs": 1e-3,
    "milligram": 1e-9,
    "milligrams": 1e-9,
}
_ENERGY = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3, "gwh": 1e6, "twh": 1e9, "j": 1 / 3.6e6, "kj": 1 / 3.6e3,
           "mj": 1 / 3.6,
           # "kWh·PUE": kWh already multiplied by the PUE (Strubell et al. 2019, Table 3)
           "kwhpue": 1.0, "watthours": 1e-3,
           "kwhr": 1.0}  # "kW-hr" (GPT-3 paper, Sec. 6.3)
_HOURS = {"hours": 1.0, "hour": 1.0, "h": 1.0, "hrs": 1.0, "days": 24.0, "day": 24.0, "weeks": 168.0,
          "months": 730.5, "month": 730.5,  # a month is 1/12 of a 365.25-day year
          "s": 1 / 3600, "sec": 1 / 3600, "secs": 1 / 3600, "second": 1 / 3600, "seconds": 1 / 3600,
          "min": 1 / 60, "mins": 1 / 60, "minute": 1 / 60, "minutes": 1 / 60}  # CodeCarbon run durations
_POWER = {"w": 1.0, "kw": 1e3, "mw": 1e6}
# "ml" is millilitres (per-query water); megalitres only spelled out ("ML" would read the same)
_WATER = {"l": 1.0, "kl": 1e3, "ml": 1e-3, "megalitres": 1e6, "megaliters": 1e6, "m3": 1e3,
          "gal": 3.785411784, "gallons": 3.785411784, "milliliters": 1e-3, "millilitres": 1e-3}

UNIT_FACTORS: dict[str, dict[str, float]] = {
    "emissions": _EMISSIONS,
    "energy": _ENERGY,
    "chip_hours": {**{k: v for k, v in _HOURS.items()}, "chiphours": 1.0, "gpuhours": 1.0, "tpuhours": 1.0,
                   "gpuh": 1.0, "acceleratorhours": 1.0, "chipdays": 24.0, "gpudays": 24.0, "tpudays": 24.0,
                   "a100hours": 1.0, "h100hours": 1.0, "v100hours": 1.0, "p100hours": 1.0, "tpuv2hours": 1.0,
                   "tpuv3hours": 1.0, "tpuv4hours": 1.0,  # hours named after the chip ("123k A100 hours")
                   "a100gpuhours": 1.0, "h100gpuhours": 1.0, "v100gpuhours": 1.0, "gpuhour": 1.0,
                   "gpuhrs": 1.0, "tpuhour": 1.0,
                   # chip-named hours with a memory size or another chip ("200,000 A100 80GB hours")
                   "a10080gbhours": 1.0, "h800gpuhours": 1.0, "h800hours": 1.0,
                   "computehours": 1.0},  # BLOOM paper Sec. 3.4.1: GPU hours printed as "compute hours"
    "power": _POWER,
    "tdp": _POWER,
    "pue": {"": 1.0, "ratio": 1.0, "pue": 1.0},
    "duration": _HOURS,
    "water": _WATER,
}

_MASS_FOR_INTENSITY = {"g": 1e-3, "grams": 1e-3, "kg": 1.0, "t": 1e3, "lb": 0.45359237, "lbs": 0.45359237}
_ENERGY_FOR_INTENSITY = {"wh": 1e-3, "kwh": 1.0, "mwh": 1e3}

_MULTIPLIERS = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}  # "m" and "MT" are ambiguous: not accepted
_WORD_MULTIPLIERS = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_QUALIFIERS = {"~": "approximately", "≈": "approximately", "about": "approximately", "approx.": "approximately",
               "approximately": "approximately", "around": "approximately", "<": "less_than",
               "less than": "less_than", ">": "more_than", "more than": "more_than", "over": "more_than"}


class UnitError(ValueError):
    """A printed value or unit that cannot be normalized; the message says which and why."""


@dataclass(frozen=True)
class Normalized:
    value: float
    unit: str
    qualifier: str | None  # None | approximately | less_than | more_than
    resolution: float = 0.0  # one unit of the last printed digit, in the canonical unit ("14" t -> 1 t)


def parse_number(text: str) -> tuple[float, str | None]:
    """Parse a printed number ('82,432', '3.3M', '~131', '1,5', '11 250', '2.5e3') -> (value, qualifier)."""
    if text is None:
        raise UnitError("no value printed")
    s = str(text).strip().replace("\u2009", " ").replace("\u00a0", " ").replace("\u2212", "-")
    qualifier = None
    lowered = s.lower()
    for prefix in sorted(_QUALIFIERS, key=len, reverse=True):
        if lowered.startswith(prefix):
            qualifier = _QUALIFIERS[prefix]
            s = s[len(prefix):].strip()
            lowered = s.lower()
            break
    multiplier = 1.0
    for word, factor in _WORD_MULTIPLIERS.items():
        if lowered.endswith(word):
            multiplier = factor
            s = s[: -len(word)].strip()
            break
    else:
        if s and s[-1] in _MULTIPLIERS and len(s) > 1 and (s[-2].isdigit() or s[-2] == " "):
            multiplier = _MULTIPLIERS[s[-1]]
            s = s[:-1].strip()
    s = s.replace(" ", "")
    if re.fullmatch(r"[+-]?\d{1,3}(_\d{3})+(\.\d+)?", s):
        s = s.replace("_", "")  # digit grouping as YAML and Python write it: 24_700_000
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")  # thousands separators
    elif re.fullmatch(r"[+-]?\d+,\d+", s):
        s = s.replace(",", ".")  # decimal comma
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", s):
        raise UnitError(f"not a number: {text!r}")
    value = float(s) * multiplier
    if not math.isfinite(value):
        raise UnitError(f"not a finite number: {text!r}")
    return value, qualifier


def printed_resolution(text: str) -> float:
    """One unit of the last digit printed ('14' -> 1, '31.22' -> 0.01, '3.3M' -> 1e5, '82,432' -> 1)."""
    s = str(text).strip()
    multiplier = next((f for w, f in _WORD_MULTIPLIERS.items() if s.lower().endswith(w)), None)
    if multiplier is None:
        multiplier = _MULTIPLIERS.get(s[-1], 1.0) if s else 1.0
    digits = re.sub(r"[eE][+-]?\d+$", "", s)
    match = re.search(r"[.,](\d+)\D*$", digits)
    decimals = len(match.group(1)) if match and not re.search(r"\d,\d{3}\D*$", digits) else 0
    return 10.0 ** -decimals * multiplier


def unit_key(unit: str | None) -> str:
    """Reduce a printed unit to a lookup key: 'tCO2eq' -> 't', 'GPU-hours' -> 'gpuhours', 'kg CO₂e' -> 'kg'."""
    u = (unit or "").strip().lower()
    u = u.replace("₂", "2").replace("<sub>2</sub>", "2")
    u = u.replace("$_{2}$", "2").replace("$_2$", "2").replace("co_2", "co2")  # LaTeX / underscore subscripts
    u = re.sub(r"co\s+2", "co2", u)  # "CO <sub>2</sub>" flattened to "CO 2"
    u = re.sub(r"co2[\s-]*(equivalents?|eq|e)?\.?", "", u)
    u = re.sub(r"\bof\b", "", u)
    u = re.sub(r"[\s\-_·.]", "", u)
    return u


def intensity_factor(unit: str) -> float:
    """Factor from a printed carbon-intensity unit ('kg CO2eq/KWh', 'gCO2eq/kWh', 'lbs/MWh') to kg/kWh."""
    key = unit_key(unit).replace("per", "/")
    if "/" not in key:
        raise UnitError(f"carbon intensity unit without a per-energy denominator: {unit!r}")
    mass, energy = key.split("/", 1)
    if mass not in _MASS_FOR_INTENSITY or energy not in _ENERGY_FOR_INTENSITY:
        raise UnitError(f"unknown carbon intensity unit: {unit!r}")
    return _MASS_FOR_INTENSITY[mass] / _ENERGY_FOR_INTENSITY[energy]


def unit_factor(metric: str, unit: str | None) -> float:
    """Factor that turns a value printed in `unit` into the metric's canonical unit."""
    if metric not in CANONICAL_UNIT:
        raise UnitError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if metric == "carbon_intensity":
        return intensity_factor(unit or "")
    if metric == "chip_count":
        return 1.0  # a count of whatever the unit names ("GPUs", "A100-80GB", "TPUv4 chips")
    key = unit_key(unit)
    factors = UNIT_FACTORS[metric]
    if key not in factors:
        raise UnitError(f"unknown unit {unit!r} for metric {metric!r}")
    return factors[key]


def normalize(metric: str, value_as_printed: str, unit_as_printed: str | None) -> Normalized:
    """Printed value + printed unit -> canonical value and unit for the metric."""
    number, qualifier = parse_number(value_as_printed)
    factor = unit_factor(metric, unit_as_printed)
    return Normalized(number * factor, CANONICAL_UNIT[metric], qualifier,
                      printed_resolution(value_as_printed) * factor)
