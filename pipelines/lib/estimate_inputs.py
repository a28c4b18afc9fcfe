"""What `estimate` accepts and writes: every input value checked before it reaches the estimator (a row with an
invalid value gets a message naming the column and value, and no numbers), every result checked before it is
printed (never negative, infinite or NaN), the user's values echoed as given, and the output file written whole
or not at all, never over the input."""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from pipelines.lib import units

EARLIEST_YEAR = 1990  # before any training run this dataset or its grid tables cover
LATEST_YEAR_AHEAD = 5  # a planned run may name a year a little ahead
MAX_INTENSITY_KG_PER_KWH = 2.0  # the most carbon-intensive grids (coal, lignite) are near 1.2 kg/kWh


def _above(limit: float) -> Callable[[float], str | None]:
    return lambda x: None if x > limit else f"must be above {limit:g}"


def _at_least(limit: float, why: str = "") -> Callable[[float], str | None]:
    return lambda x: None if x >= limit else f"must be at least {limit:g}{why}"


def _intensity(x: float) -> str | None:
    if x < 0:
        return "must be at least 0"
    if x > MAX_INTENSITY_KG_PER_KWH:
        return f"no grid emits more than {MAX_INTENSITY_KG_PER_KWH:g} kg/kWh (a value in g/kWh?)"
    return None


def _year(x: float) -> str | None:
    latest = dt.date.today().year + LATEST_YEAR_AHEAD
    if x != int(x) or not EARLIEST_YEAR <= x <= latest:
        return f"must be a whole year from {EARLIEST_YEAR} to {latest}"
    return None


# input column -> check of its number (None: valid, else the reason)
RULES: dict[str, Callable[[float], str | None]] = {
    "chip_count": _above(0),
    "chip_hours": _above(0),
    "training_days": _above(0),
    "year": _year,
    "power_w": _above(0),
    "pue": _at_least(1, " (a facility uses at least the energy of its IT equipment)"),
    "carbon_intensity_kg_per_kwh": _intensity,
    "energy_kwh": _above(0),
    "idle_energy_kwh": _at_least(0),
}

# numbers the estimator writes; none may be negative, infinite or NaN
NUMERIC_OUTPUTS = ["chip_hours_used", "power_w_used", "pue_used", "carbon_intensity_used_kg_per_kwh", "energy_kwh",
                   "operational_tco2e", "idle_tco2e", "embodied_tco2e", "total_tco2e", "low_tco2e", "high_tco2e"]


def is_missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):  # pandas' empty cell (a typed "nan" arrives as text)
        return True
    return isinstance(value, str) and not value.strip()


def input_problems(row: Mapping) -> list[str]:
    """One message per invalid input value of `row`, naming the column and the value as given."""
    problems = []
    for column, rule in RULES.items():
        value = row.get(column)
        if is_missing(value):
            continue
        reason = _number_problem(value)
        if reason is None:
            reason = rule(_to_number(value))
        if reason:
            problems.append(f"{column} {str(value).strip()!r} is invalid: {reason}")
    return problems


def _to_number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return units.parse_number(str(value))[0]


def _number_problem(value) -> str | None:
    try:
        number = _to_number(value)
    except units.UnitError:
        return "not a number"
    return None if math.isfinite(number) else "not a finite number"


def output_problems(values: Mapping, row: Mapping) -> list[str]:
    """A message when an estimated number is negative, infinite or NaN (inputs too large to compute with)."""
    bad = [name for name in NUMERIC_OUTPUTS
           if isinstance(values.get(name), int | float) and not (math.isfinite(values[name]) and values[name] >= 0)]
    if not bad:
        return []
    given = ", ".join(f"{c} {str(row[c]).strip()!r}" for c in RULES if not is_missing(row.get(c)))
    return [f"no estimate: {', '.join(bad)} out of range with these inputs ({given}); check their magnitudes"]


def read_runs_csv(path: str | Path) -> pd.DataFrame:
    """The user's runs as text, exactly as written (the estimator parses numbers; the output echoes the text)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def write_csv(frame: pd.DataFrame, output_path: str | Path, input_path: str | Path) -> None:
    """Write `frame` as CSV to `output_path`, whole or not at all; a clear ValueError instead of overwriting the
    input, writing into a missing folder, or leaving a partial file on a full disk."""
    output, source = Path(output_path), Path(input_path)
    if output.exists() and os.path.samefile(output, source):
        raise ValueError(f"refusing to write the output over the input file {input_path}")
    if not output.parent.is_dir():
        raise ValueError(f"cannot write {output_path}: the folder {output.parent} does not exist")
    try:
        if output.exists() and not output.is_file():  # a device or pipe (/dev/stdout): written straight through
            _write(frame, output)
            return
        temporary = output.with_name(f".{output.name}.{uuid.uuid4().hex}.tmp")
        try:
            _write(frame, temporary)
            os.replace(temporary, output)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot write {output_path}: {exc.strerror or exc}") from exc


def _write(frame: pd.DataFrame, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as stream:  # a new file gets the user's umask
        frame.to_csv(stream, index=False)
        stream.flush()
        if path.is_file():
            os.fsync(stream.fileno())
