"""`refresh` under hostile or careless conditions (issue 16): invalid curated data fails the refresh and publishes
nothing; two refreshes sharing an exports folder cannot damage each other; a full disk is named as such."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.lib.curated import CuratedDataError, curated_figure_rows, load_curated_file, load_registry
from pipelines.lib.normalize import InvalidCuratedFigure, normalize_figures
from tests.conftest import refresh

REPO = Path(__file__).resolve().parents[1]
LLAMA = {"source_id": "touvron2023_llama", "runs": [{
    "model_id": "meta/llama-7b", "model_name": "LLaMA-7B", "organization": "Meta AI", "stage": "pretraining",
    "figures": [{"metric": "emissions", "value": "14", "unit": "tCO2eq", "locator": "Table 15, row 7B"},
                {"metric": "pue", "value": "1.1", "unit": "", "locator": "Section 6.1"},
                {"metric": "power", "value": "400", "unit": "W", "locator": "Table 15, power"}]}]}


def write_curated(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['source_id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def with_values(**values: str) -> dict:
    """LLAMA with some figures' printed values replaced (metric -> value)."""
    figures = [{**f, "value": values.get(f["metric"], f["value"])} for f in LLAMA["runs"][0]["figures"]]
    return {**LLAMA, "runs": [{**LLAMA["runs"][0], "figures": figures}]}


@pytest.mark.parametrize(("values", "reason"), [
    ({"emissions": "-14"}, "negative value '-14'"),
    ({"power": "-400"}, "negative value '-400'"),
    ({"pue": "0.9"}, "below 1"),
    ({"pue": "0"}, "below 1"),
])
def test_an_invalid_curated_value_is_an_error_naming_file_figure_and_reason(tmp_path, values, reason):
    path = write_curated(tmp_path, with_values(**values))
    with pytest.raises(CuratedDataError) as err:
        load_curated_file(path, {"touvron2023_llama"})
    message = str(err.value)
    metric = next(iter(values))
    locator = next(f["locator"] for f in LLAMA["runs"][0]["figures"] if f["metric"] == metric)
    assert str(path) in message and f"meta/llama-7b {metric} at {locator!r}" in message and reason in message


def test_every_invalid_figure_of_a_file_is_named_at_once(tmp_path):
    path = write_curated(tmp_path, with_values(emissions="-14", pue="0.5", power="lots"))
    with pytest.raises(CuratedDataError) as err:
        load_curated_file(path, {"touvron2023_llama"})
    assert [line.split(": field ")[1].split(" (")[0] for line in str(err.value).splitlines()] == [
        "runs.0.figures.0", "runs.0.figures.1", "runs.0.figures.2"]


def test_a_carbon_intensity_in_the_wrong_unit_is_an_error(tmp_path):
    data = with_values()
    data["runs"][0]["figures"].append({"metric": "carbon_intensity", "value": "385", "unit": "kg CO2eq/kWh",
                                       "locator": "Section 6.1, intensity"})
    with pytest.raises(CuratedDataError, match="385 kg/kWh, above 2"):
        load_curated_file(write_curated(tmp_path, data), {"touvron2023_llama"})


def test_a_duplicate_curated_figure_names_the_file_and_the_figure(tmp_path):
    data = with_values()
    data["runs"].append(data["runs"][0])  # the same run twice: every figure twice
    write_curated(tmp_path / "curated", data)
    registry = [s for s in load_registry(REPO / "data" / "sources" / "registry.yaml")
                if s.source_id == "touvron2023_llama"]
    with pytest.raises(CuratedDataError) as err:
        curated_figure_rows(tmp_path / "curated", registry)
    message = str(err.value)
    assert "data/curated/touvron2023_llama.yaml: meta/llama-7b pretraining emissions at 'Table 15, row 7B'" in message
    assert str(tmp_path / "curated") + ":" not in message  # the file, not the folder


def _figure(**row) -> dict:
    return {"disclosure_id": "d", "source_id": "s", "model_id": "m/x", "metric": "emissions", "unit_as_printed": "t",
            "locator": "Table 1", "hardware": None, "location": None, "curated_file": None, **row}


def test_normalize_quarantines_cards_but_refuses_invalid_curated_figures():
    card = _figure(value_as_printed="-5", unit_as_printed="kg", extraction_method="card")
    good, bad = normalize_figures([card])
    assert good == [] and "negative value" in bad[0]["reason"]
    curated = _figure(value_as_printed="-5", unit_as_printed="kg", curated_file="data/curated/s.yaml")
    with pytest.raises(InvalidCuratedFigure, match=r"data/curated/s.yaml: m/x emissions at 'Table 1': negative"):
        normalize_figures([card, curated])
    pue = _figure(metric="pue", value_as_printed="0.8", unit_as_printed=None)
    good, bad = normalize_figures([pue])
    assert good == [] and "below 1" in bad[0]["reason"]  # a card's impossible PUE is quarantined too


def test_refresh_with_a_negative_curated_value_fails_and_publishes_nothing(isolated_env, data_copy):
    path = data_copy / "curated" / "touvron2023_llama.yaml"
    data = yaml.safe_load(path.read_text())
    figure = next(f for f in data["runs"][0]["figures"] if f["metric"] == "emissions")
    figure["value"] = "-" + figure["value"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = refresh(expect_ok=False)
    assert result.exit_code == 1
    assert "touvron2023_llama.yaml" in result.output and f"{data['runs'][0]['model_id']} emissions" in result.output
    assert figure["locator"] in result.output and "negative value" in result.output
    exports = isolated_env["exports"]
    assert not exports.exists() or [p.name for p in exports.iterdir()] == []
