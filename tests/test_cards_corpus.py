"""The model-card parser against the real cards in the shared corpus (skipped when the corpus is absent).

Expected values come from the corpus' hand-checked labels.csv, or are figures read in the card itself
(the card and its locator are named next to each).
"""

import csv
import json
from pathlib import Path

import pytest

from pipelines.lib.cards import parse_card_file
from tests.conftest import CORPUS_MISSING

CARDS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "model_cards"
pytestmark = pytest.mark.skipif(not (CARDS / "labels.csv").is_file(), reason=CORPUS_MISSING)


def _rows(name: str) -> dict[str, dict]:
    with (CARDS / name).open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    results = {}
    for name in sorted(_rows("index.csv")):
        data = parse_card_file(CARDS / name).to_json()
        json.dumps(data, allow_nan=False)  # what `ai-emissions parse-card` prints must be valid JSON
        results[name] = data
    return results


def test_headline_emissions_match_the_labels(parsed):
    labels = {f: row for f, row in _rows("labels.csv").items() if row["emissions_kg"].strip()}
    misses = []
    for name, row in labels.items():
        expected = float(row["emissions_kg"])
        got = parsed[name]["emissions_kg"]
        if got is None or abs(got - expected) > 0.01 * abs(expected):
            misses.append((name, expected, got))
    accuracy = 1 - len(misses) / len(labels)
    assert accuracy >= 0.98, f"{accuracy:.3f} within 1%; misses: {misses}"


def test_cards_without_emissions_give_no_figure(parsed):
    negatives = [f for f, row in _rows("index.csv").items() if row["has_emissions"] == "false"]
    assert negatives
    wrong = {
        f: (parsed[f]["emissions_kg"], [x["locator"] for x in parsed[f]["figures"]])
        for f in negatives
        if parsed[f]["emissions_kg"] is not None or parsed[f]["figures"]
    }
    assert wrong == {}


def figures(result: dict, **match) -> list[dict]:
    return [f for f in result["figures"] if all(f.get(k) == v for k, v in match.items())]


def test_llama31_html_table_rows_and_bases(parsed):
    # 0003.md (Llama 3.1 card): HTML table, row 'Llama 3.1 405B': 8,930 location-based, 0 market-based (t)
    result = parsed["0003.md"]
    row = figures(result, model_name="Llama 3.1 405B", metric="emissions")
    assert {(f["basis"], f["value"]) for f in row} == {("location-based", 8930.0), ("market-based", 0.0)}
    hours = figures(result, model_name="Llama 3.1 405B", metric="chip_hours")
    assert hours[0]["value_as_printed"] == "30.84M" and hours[0]["value"] == pytest.approx(30.84e6)
    total = figures(result, is_total=True, metric="emissions", basis="location-based")
    assert total[0]["value_as_printed"] == "11,390"
    assert result["conflicts"] == []


def test_llama33_prose_total_against_its_table_is_a_conflict(parsed):
    # 0006.md (Llama 3.3 card): prose repeats the 3.1 total (11,390 t) while its table row says 12.9 t
    result = parsed["0006.md"]
    assert result["emissions_kg"] == pytest.approx(11_390_000)
    assert any("12.9" in c for c in result["conflicts"])
    assert figures(result, model_name="Llama 3.3 70B", metric="emissions", basis="location-based")[0][
        "value"
    ] == pytest.approx(12.9)


def test_dalle_mini_yaml_and_prose_disagree(parsed):
    # 0012.md: YAML co2_eq_emissions.emissions 7540 (g) vs "Carbon Emitted ...: 30.16 kg CO2 eq."
    result = parsed["0012.md"]
    assert result["emissions_kg"] == pytest.approx(7.54)
    assert any("30.16" in c and "7540" in c for c in result["conflicts"])


def test_yaml_location_against_the_body(parsed):
    # 0020.md: YAML geographical_location 'United States of America'; body "0.25 KgCO2 (Singapore)"
    assert any("Singapore" in c for c in parsed["0020.md"]["conflicts"])
    # 0021.md: both say Singapore
    assert parsed["0021.md"]["conflicts"] == []


def test_checkpoint_and_inference_figures_are_not_headlines(parsed):
    # 0034.md: per-checkpoint table ends at 41.31 KgCO2eq; the card's figure is 41.1 (YAML 41100 g)
    assert parsed["0034.md"]["emissions_kg"] == pytest.approx(41.1)
    checkpoints = figures(parsed["0034.md"], metric="emissions", origin="table")
    assert checkpoints and all(f["variant"] and f["model_name"] is None for f in checkpoints)
    # 0084.md: training 0.03898 tons; inference and validation 0.0004 tons
    inference = figures(parsed["0084.md"], metric="emissions", stage="inference")
    assert [f["value_as_printed"] for f in inference] == ["0.0004"]


def test_climate_performance_card(parsed):
    # 0092.md: Q&A table; final model 24,690 kg, all experiments 66,290 kg, 0.15 g per inference sample
    result = parsed["0092.md"]
    by_printed = {f["value_as_printed"]: f for f in figures(result, metric="emissions")}
    assert by_printed["66,290"]["stage"] == "development"
    assert (by_printed["0.15"]["stage"], by_printed["0.15"]["per"]) == ("inference", "sample")
    assert result["location"] == "France"


def test_unit_error_in_a_card_is_quarantined(parsed):
    # 0087.md: "Energy consumed: 0.0074 kW" (a power unit for an energy)
    assert any("power unit" in q["reason"] for q in parsed["0087.md"]["quarantine"])


def test_malformed_front_matter_is_quarantined(parsed):
    # 0098.md: front matter is an unrendered template "{{ card_data }}"; 0099.md: co2_eq_emissions: Kg
    assert any("not valid YAML" in q["reason"] for q in parsed["0098.md"]["quarantine"])
    assert any(q["locator"] == "co2_eq_emissions" for q in parsed["0099.md"]["quarantine"])


def test_every_figure_has_its_own_locator_and_re_derives_from_its_printed_text(parsed):
    from pipelines.lib import units

    for name, result in parsed.items():
        locators = [f["locator"] for f in result["figures"]]
        assert len(locators) == len(set(locators)), name
        for f in result["figures"]:
            again = units.normalize(f["metric"], f["value_as_printed"], f["unit_as_printed"])
            assert again.value == pytest.approx(f["value"]), (name, f["locator"])
            assert again.unit == f["unit"]
