"""Lifecycle estimator: sources' arithmetic reproduced (from the curated figures in data/curated), bounds, origins,
messages, CSV round trip, backtest."""

import math
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.lib import estimate, units
from pipelines.lib.estimate import Scope, estimate_csv, estimate_frame, estimate_row
from pipelines.lib.reference import load_reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ref():
    return load_reference()


def _curated_runs(source_id: str) -> list[dict]:
    """The runs of a curated file in data/curated (the figures as printed in the source, with locators)."""
    return yaml.safe_load((ROOT / "data" / "curated" / f"{source_id}.yaml").read_text(encoding="utf-8"))["runs"]


def _figure(run: dict, metric: str, locator_part: str) -> dict:
    return next(f for f in run["figures"] if f["metric"] == metric and locator_part in f["locator"])


def _llama_table15() -> list[dict]:
    """LLaMA paper Table 15 rows as curated (every row of the table is one run)."""
    rows = []
    for run in _curated_runs("touvron2023_llama"):
        if not any(f["locator"].startswith("Table 15, row") for f in run["figures"]):
            continue
        rows.append({"model": run["model_name"], "hardware": run["hardware"],
                     "power_w": float(_figure(run, "power", "Table 15, row")["value"]),
                     "chip_hours": units.parse_number(_figure(run, "chip_hours", "Table 15, row")["value"])[0],
                     "tco2e": float(_figure(run, "emissions", "Table 15, row")["value"]),
                     "pue": float(_figure(run, "pue", "Table 15 caption")["value"]),
                     "intensity": float(_figure(run, "carbon_intensity", "Table 15 caption")["value"])})
    return rows


def test_llama_table15_reproduced_within_1_percent(ref):
    rows = _llama_table15()
    assert {(r["pue"], r["intensity"]) for r in rows} == {(1.1, 0.385)}  # the parameters the caption states
    assert len(rows) == 6
    for row in rows:
        est = estimate_row({"hardware": row["hardware"], "chip_hours": row["chip_hours"], "power_w": row["power_w"],
                            "pue": 1.1, "carbon_intensity_kg_per_kwh": 0.385}, ref,
                           Scope(idle="exclude", embodied=False)).values
        assert est["total_tco2e"] == pytest.approx(row["tco2e"], rel=0.01), row["model"]
        assert est["low_tco2e"] <= est["total_tco2e"] <= est["high_tco2e"]


def test_llama_default_power_is_the_a100_tdp(ref):
    row = next(r for r in _llama_table15() if r["model"].startswith("LLaMA-7B"))
    est = estimate_row({"hardware": row["hardware"], "chip_hours": row["chip_hours"], "pue": 1.1,
                        "carbon_intensity_kg_per_kwh": 0.385}, ref, Scope(idle="exclude", embodied=False)).values
    assert est["power_w_used"] == 400 and est["power_w_origin"] == "epoch"
    assert est["total_tco2e"] == pytest.approx(row["tco2e"], rel=0.01)
    assert est["low_tco2e"] < row["tco2e"] < est["high_tco2e"]  # the TDP default carries a power range


def _bloom_abstract(component: str | None) -> float:
    """The BLOOM carbon paper's abstract figure (tCO2e) as curated: dynamic power only, or the whole life cycle."""
    figures = [f for run in _curated_runs("luccioni2022_bloom") for f in run["figures"]
               if f["metric"] == "emissions" and f["locator"].startswith("Abstract")
               and f.get("component") == component]
    assert len(figures) == 1, figures
    return units.normalize("emissions", figures[0]["value"], figures[0]["unit"]).value


def test_bloom_dynamic_emissions(ref):
    # Luccioni et al.: 1,082,990 GPU hours at 400 W, French grid 57 gCO2eq/kWh, no PUE -> 24.69 t
    est = estimate_row({"hardware": "A100 80GB", "chip_hours": 1_082_990, "carbon_intensity_kg_per_kwh": 0.057},
                       ref, Scope(pue=False, idle="exclude", embodied=False)).values
    assert est["energy_kwh"] == pytest.approx(ref.parameters["bloom_dynamic_energy_kwh"], rel=1e-4)
    assert est["total_tco2e"] == pytest.approx(24.69, rel=0.001)
    assert est["total_tco2e"] == pytest.approx(_bloom_abstract("dynamic"), abs=0.05)  # the printed 24.7


def test_bloom_lifecycle_decomposition_within_5_percent(ref):
    # inputs: 1,082,990 GPU hours on A100 80GB in 8-GPU servers (48 nodes x 8), 57 g/kWh, measured idle energy,
    # 2500 kg per server + 150 kg per GPU over 6 years at 85 % usage (paper Sec. 4.1-4.3, reference tables)
    est = estimate_row({"hardware": "A100 80GB", "chip_hours": 1_082_990, "carbon_intensity_kg_per_kwh": 0.057,
                        "idle_energy_kwh": ref.parameters["bloom_idle_energy_kwh"]}, ref,
                       Scope(pue=False, idle="include", embodied=True)).values
    # published decomposition: abstract (24.7 dynamic, 50.5 total) and Sec. 4 (14.6 idle, 11.2 embodied)
    assert est["operational_tco2e"] == pytest.approx(24.7, rel=0.05)
    assert est["idle_tco2e"] == pytest.approx(14.6, rel=0.05)
    assert est["embodied_tco2e"] == pytest.approx(11.2, rel=0.05)
    assert est["total_tco2e"] == pytest.approx(50.5, rel=0.05)
    assert est["total_tco2e"] == pytest.approx(_bloom_abstract(None), rel=0.05)  # the printed 50.5


def _patterson_table4() -> list[tuple[str, str, str]]:
    """(energy MWh, gross kg/KWh, gross tCO2e) of each Table 4 column as curated."""
    cells = []
    for run in _curated_runs("patterson2021"):
        table4 = [f for f in run["figures"] if f["locator"].startswith("Table 4, column")]
        if table4:
            cells.append((_figure(run, "energy", "row Energy Consumption (MWh)")["value"],
                          _figure(run, "carbon_intensity", "row Datacenter Gross CO2e/KWh")["value"],
                          _figure(run, "emissions", "row Gross tCO2e for Model Training")["value"]))
    return cells


def test_patterson_table4_energy_times_intensity(ref):
    table4 = _patterson_table4()
    assert len(table4) == 6
    for mwh, kg, t in table4:
        est = estimate_row({"energy_kwh": units.normalize("energy", mwh, "MWh").value,
                            "carbon_intensity_kg_per_kwh": float(kg)}, ref, Scope(idle="exclude")).values
        assert est["operational_tco2e"] == pytest.approx(float(t), abs=0.05 + 0.002 * float(t)), (mwh, kg, t)
        assert est["embodied_tco2e"] is None  # no chip-hours: said in the message, not invented
        assert est["energy_kwh_origin"] == "disclosed"


def test_given_inputs_override_defaults_and_origins_are_named(ref):
    frame = pd.DataFrame([
        {"model_id": "a/defaults", "hardware": "H100-80GB", "chip_hours": 1000, "location": "France", "year": 2023},
        {"model_id": "a/given", "hardware": "H100-80GB", "chip_hours": 1000, "location": "France", "year": 2023,
         "power_w": 500, "pue": 1.3, "carbon_intensity_kg_per_kwh": 0.1},
    ])
    out = estimate_frame(frame, ref).set_index("model_id")
    d, g = out.loc["a/defaults"], out.loc["a/given"]
    assert d.power_w_used == 700 and d.power_w_origin == "epoch"
    assert d.pue_origin.startswith("reference default") and d.carbon_intensity_origin == "reference"
    assert d.carbon_intensity_zone == "FR" and d.location_id == "FR"
    assert (g.power_w_used, g.pue_used, g.carbon_intensity_used_kg_per_kwh) == (500, 1.3, 0.1)
    assert g.power_w_origin == g.pue_origin == g.carbon_intensity_origin == "disclosed"
    assert g.energy_kwh == pytest.approx(1000 * 500 * 1.3 / 1000)
    assert g.operational_tco2e == pytest.approx(650 * 0.1 / 1000)
    for row in (d, g):
        assert row.low_tco2e <= row.total_tco2e <= row.high_tco2e
        assert row.method == estimate.METHOD


def test_chip_hours_from_chip_count_and_days(ref):
    est = estimate_row({"hardware": "A100-80GB", "chip_count": 8, "training_days": 2}, ref).values
    assert est["chip_hours_used"] == 8 * 2 * 24 and est["chip_hours_origin"] == "derived"


def test_unknown_inputs_give_messages_not_crashes(ref):
    frame = pd.DataFrame([
        {"model_id": "x/unknown-hw", "hardware": "Quantum Abacus", "chip_hours": 10, "location": "France"},
        {"model_id": "x/unknown-loc", "hardware": "A100-80GB", "chip_hours": 10, "location": "Atlantis"},
        {"model_id": "x/nothing"},
    ])
    out = estimate_frame(frame, ref).set_index("model_id")
    assert "unknown hardware" in out.loc["x/unknown-hw", "message"]
    assert pd.isna(out.loc["x/unknown-hw", "total_tco2e"])
    assert "unknown location" in out.loc["x/unknown-loc", "message"]
    assert out.loc["x/unknown-loc", "carbon_intensity_zone"] == "WORLD"
    assert out.loc["x/unknown-loc", "total_tco2e"] > 0
    assert "cannot estimate energy" in out.loc["x/nothing", "message"]


def test_bounds_always_contain_the_estimate(ref):
    frame = pd.DataFrame([{"hardware": h, "chip_hours": 5000, "location": loc, "year": y}
                          for h in ("A100-80GB", "TPUv4", "V100") for loc in ("us-east-1", "France", None)
                          for y in (2018, 2023)])
    out = estimate_frame(frame, ref)
    assert ((out.low_tco2e <= out.total_tco2e) & (out.total_tco2e <= out.high_tco2e)).all()
    assert (out.low_tco2e < out.high_tco2e).all()


def test_estimate_csv_round_trip(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("model_id,hardware,chip_hours,location,year,colour\n"
                      "m/one,A100-80GB,1000,aws:us-east-1,2023,red\n"
                      "m/two,Mystery Chip,1000,France,2023,blue\n")
    target = tmp_path / "out.csv"
    messages = estimate_csv(source, target)
    out = pd.read_csv(target)
    assert list(out.model_id) == ["m/one", "m/two"] and "colour" in out.columns
    assert out.loc[0, "carbon_intensity_zone"] == "aws:us-east-1" or out.loc[0, "carbon_intensity_zone"] == "US-VA"
    assert any("m/two" in m and "Mystery Chip" in m for m in messages)
    assert any("colour" in m for m in messages)


def test_estimate_reads_a_chip_count_from_the_hardware_name(ref):
    est = estimate_row({"hardware": "8 x A100 80GB", "training_days": 2}, ref)
    assert est.values["chip_hours_used"] == 8 * 2 * 24 and est.values["chip_hours_origin"] == "derived"
    assert any("hardware name" in m for m in est.messages)


def test_named_data_centre_and_state_grids(ref):
    georgia = estimate_row({"hardware": "TPU v3", "chip_hours": 1000, "location": "Google Georgia", "year": 2019,
                            "organization": "Google"}, ref).values
    assert georgia["location_id"] == "US-GA" and georgia["carbon_intensity_zone"] == "US-GA"
    assert georgia["pue_origin"] == "reference default (google)"
    texas = estimate_row({"hardware": "H100", "chip_hours": 1000, "location": "Jupiter (Texas)"}, ref).values
    assert texas["carbon_intensity_zone"] == "US-TX"


def test_a_zone_without_grid_rows_falls_back_to_its_country_then_the_world(ref):
    grid = ref.grid_intensity
    assert grid[grid.zone_id == "FR-75C"].empty
    assert estimate.grid_intensity("FR-75C", 2023, ref)[1] == "FR"
    country_without_rows = next(c for c in ("AQ", "BV", "HM") if grid[grid.zone_id == c].empty)
    assert estimate.grid_intensity(country_without_rows, 2023, ref)[1] == "WORLD"


# ------------------------------------------------------------------------------ the stated interval

OPERATIONAL = Scope(idle="exclude", embodied=False)


def _width(row: dict, ref) -> float:
    est = estimate_row(row, ref, OPERATIONAL).values
    return est["high_tco2e"] / est["low_tco2e"]


def test_bounds_are_the_stated_central_interval(ref):
    est = estimate_row({"hardware": "H100", "chip_hours": 1e6, "location": "France", "year": 2023}, ref).values
    assert est["interval_level"] == estimate.INTERVAL_LEVEL == 0.8
    # log-normal around the estimate: it is the geometric middle of its interval
    assert est["total_tco2e"] == pytest.approx(math.sqrt(est["low_tco2e"] * est["high_tco2e"]))
    # an 80 % interval is 1.2816 sigmas either side; a TDP default alone gives exactly that spread
    alone = estimate_row({"hardware": "H100", "chip_hours": 1e6, "pue": 1.1, "carbon_intensity_kg_per_kwh": 0.3},
                         ref, Scope(idle="exclude", embodied=False)).values
    sigma = ref.spreads["power_tdp_default"]
    assert alone["high_tco2e"] / alone["total_tco2e"] == pytest.approx(math.exp(1.2816 * sigma), rel=1e-3)
    assert alone["width_drivers"] == "power_w 100%"


def test_each_input_that_becomes_known_narrows_the_interval(ref):
    row = {"hardware": "A100-80GB", "chip_hours": 100_000}
    widths = [_width(row, ref)]
    for known in ({"location": "France"}, {"year": 2023}, {"pue": 1.2}, {"power_w": 350},
                  {"carbon_intensity_kg_per_kwh": 0.06}):
        row = {**row, **known}
        widths.append(_width(row, ref))
    assert all(wider > narrower for wider, narrower in pairwise(widths)), widths
    assert widths[-1] == pytest.approx(1.0)  # every input disclosed: the source's arithmetic, exactly
    # a disclosed energy figure replaces power and PUE (and their spreads)
    place = {"location": "France", "year": 2023}
    assert _width({**place, "energy_kwh": 40_000}, ref) < _width({**place, "hardware": "A100-80GB",
                                                                  "chip_hours": 100_000}, ref)


def test_width_drivers_name_the_unknown_inputs(ref):
    frame = pd.DataFrame([
        {"model_id": "m/nowhere", "hardware": "A100-80GB", "chip_hours": 1000},
        {"model_id": "m/placed", "hardware": "A100-80GB", "chip_hours": 1000, "location": "Iowa, USA",
         "year": 2023, "organization": "Meta AI"},
        {"model_id": "m/given", "hardware": "A100-80GB", "chip_hours": 1000, "power_w": 400, "pue": 1.1,
         "carbon_intensity_kg_per_kwh": 0.385},
    ])
    out = estimate_frame(frame, ref).set_index("model_id")
    assert out.loc["m/nowhere", "width_drivers"].startswith("carbon_intensity")  # the world's grid
    assert out.loc["m/placed", "width_drivers"].startswith("power_w")
    # on a low-carbon grid the embodied share of the footprint, and its range, weigh more
    france = estimate_row({"hardware": "A100-80GB", "chip_hours": 1000, "location": "France", "year": 2023}, ref)
    assert france.values["width_drivers"].startswith("embodied factors")
    assert "carbon_intensity" not in out.loc["m/given", "width_drivers"]  # only the embodied factors are left
    assert out.loc["m/given", "width_drivers"].startswith("embodied factors")
    assert (out.interval_level == estimate.INTERVAL_LEVEL).all()


def test_estimate_csv_states_the_interval_level(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("model_id,hardware,chip_hours\nm/one,A100-80GB,1000\n")
    messages = estimate_csv(source, tmp_path / "out.csv")
    assert "central 80% interval" in messages[0]
    out = pd.read_csv(tmp_path / "out.csv")
    assert out.loc[0, "interval_level"] == 0.8 and isinstance(out.loc[0, "width_drivers"], str)
