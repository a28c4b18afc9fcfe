"""Every normalized value of the committed release, re-derived from its printed value and unit.

The factors below are written from the units' definitions (SI prefixes, the avoirdupois pound, the US
gallon), independently of pipelines/lib/units.py: a wrong entry there shows up here as a mismatch.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from tests.conftest import REPO

LB_KG = 0.45359237
GALLON_L = 3.785411784
T, KG, G = 1.0, 1e-3, 1e-6  # in tonnes
# (metric, printed unit, lower-cased) -> factor to the canonical unit (tCO2e, kWh, hours, W, kg/kWh, L)
FACTORS = {
    **{("emissions", u): T for u in ("tco2eq", "tco2e", "tco₂e", "tco₂eq", "t co2eq", "tons", "tonnes",
                                      "metric tonnes", "tons co2eq", "metric tons co2eq", "tons of co2",
                                      "metric tons of co2", "tons of co2eq")},
    **{("emissions", u): KG for u in ("kg", "kg co2 eq.", "kg co_2 eq.", "kg of co2eq", "kgco2")},
    **{("emissions", u): G for u in ("g", "g co2eq", "gco2e", "grams")},
    ("emissions", "mg"): 1e-9,
    ("emissions", "ktco2e"): 1e3,
    ("emissions", "lbs"): LB_KG * KG,
    **{("energy", u): 1.0 for u in ("kwh", "kwh·pue", "kw-hr")},
    **{("energy", u): 1e-3 for u in ("wh", "watt-hours")},
    ("energy", "mwh"): 1e3,
    ("energy", "gwh"): 1e6,
    **{("chip_hours", u): 1.0 for u in ("gpu hours", "gpu-hours", "a100 hours", "h100 hours", "tpu v2 hours",
                                        "hours", "h100 gpu hours", "h800 gpu hours", "a100 80gb hours",
                                        "a100 gpu hours", "a100-hours", "compute hours")},
    ("chip_hours", "days"): 24.0,
    ("duration", "hours"): 1.0,
    ("duration", "days"): 24.0,
    ("duration", "months"): 365.25 * 24 / 12,
    ("power", "w"): 1.0,
    ("power", "kw"): 1e3,
    ("tdp", "w"): 1.0,
    ("pue", ""): 1.0,
    **{("carbon_intensity", u): 1.0 for u in ("kg co2 per kwh", "kg co2e / kwh", "kg co2e/kwh", "kg co₂e/kwh",
                                              "kg/kwh", "kg co2e per kwh", "kg co2eq/kwh")},
    # a tonne per megawatt-hour is a kilogram per kilowatt-hour
    **{("carbon_intensity", u): 1.0 for u in ("tco2 /mwh", "tco2e/mwh")},
    **{("carbon_intensity", u): 1e-3 for u in ("gco2eq/kwh", "grams of co2eq per kwh")},
    ("carbon_intensity", "lbs per kwh"): LB_KG,
    ("water", "l"): 1.0,
    ("water", "kl"): 1e3,
    ("water", "m3"): 1e3,
    ("water", "milliliters"): 1e-3,
    ("water", "gallons"): GALLON_L,
}
WORDS = ("less than", "approximately", "about", "around", "~", "<", ">")
SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "million": 1e6}


def printed_number(text: str) -> float:
    s = text.strip()
    for word in WORDS:
        s = s.removeprefix(word).strip()
    multiplier = 1.0
    for suffix, factor in SUFFIX.items():
        if s.endswith(suffix):
            s, multiplier = s.removesuffix(suffix).strip(), factor
            break
    s = s.replace("_", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    s = s.replace(",", ".").replace(" ", "")
    return float(s) * multiplier


def committed_release():
    latest = REPO / "exports" / "LATEST"
    if not latest.exists():
        pytest.skip("no committed release under exports/")
    return REPO / "exports" / latest.read_text().strip()


def test_every_normalized_value_re_derives_from_its_printed_value_and_unit():
    disclosures = pd.read_parquet(committed_release() / "disclosures.parquet")
    assert len(disclosures) >= 80 and disclosures.source_id.nunique() >= 25
    problems = []
    for row in disclosures.itertuples():
        unit = row.unit_as_printed.strip().lower() if isinstance(row.unit_as_printed, str) else ""
        factor = 1.0 if row.metric == "chip_count" else FACTORS.get((row.metric, unit))
        if factor is None:
            problems.append(f"{row.disclosure_id}: no factor for {row.metric} in {row.unit_as_printed!r}")
            continue
        expected = printed_number(row.value_as_printed) * factor
        if not math.isclose(row.value, expected, rel_tol=1e-9, abs_tol=1e-15):
            problems.append(f"{row.disclosure_id}: {row.value_as_printed} {row.unit_as_printed} -> {row.value}, "
                            f"expected {expected}")
    assert not problems, problems[:10]


def test_every_disclosed_figure_is_sourced_and_located():
    disclosures = pd.read_parquet(committed_release() / "disclosures.parquet")
    assert disclosures.source_url.str.match(r"^https?://").all()
    assert (disclosures.locator.str.len() > 0).all() and (disclosures.value_as_printed.str.len() > 0).all()


@pytest.mark.parametrize(("printed", "expected"), [("82,432", 82432), ("3.3M", 3.3e6), ("less than 0.001", 0.001),
                                                   ("24_700_000", 24.7e6), ("12,5", 12.5),
                                                   ("around 6 million", 6e6), ("916k", 916e3)])
def test_the_reference_parser_itself(printed, expected):
    assert math.isclose(printed_number(printed), expected)
