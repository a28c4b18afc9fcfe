"""The model-card parser on small cards written for these tests, one shape at a time."""

import json
import math

import pytest

from pipelines.lib import units
from pipelines.lib.cards import parse_card, stage_for_training_type


def card(front_matter: str | None = None, body: str = "") -> str:
    return (f"---\n{front_matter.strip()}\n---\n" if front_matter is not None else "") + body


def emissions(result) -> list:
    return [f for f in result.figures if f.metric == "emissions"]


def reasons(result) -> str:
    return " | ".join(q.reason for q in result.quarantine)


# --- front matter ----------------------------------------------------------------------------------------


def test_yaml_number_is_grams():
    result = parse_card(card("co2_eq_emissions: 1500"))
    assert result.emissions_kg == pytest.approx(1.5)
    headline = result.headline
    assert headline.locator == "co2_eq_emissions"
    assert (headline.value_as_printed, headline.unit_as_printed) == ("1500", "g")
    assert headline.value == pytest.approx(1500e-6)  # tCO2e
    assert headline.unit == units.CANONICAL_UNIT["emissions"]


def test_yaml_mapping_with_all_documented_keys():
    result = parse_card(
        card("""
co2_eq_emissions:
  emissions: 250
  source: CodeCarbon
  training_type: fine-tuning
  geographical_location: Iceland
  hardware_used: 2 x RTX 4090
  cloud_provider: none
  extra_key_added_by_a_tool: 3
""")
    )
    assert result.emissions_kg == pytest.approx(0.25)
    assert (result.source, result.training_type, result.location, result.hardware) == (
        "CodeCarbon",
        "fine-tuning",
        "Iceland",
        "2 x RTX 4090",
    )
    assert result.headline.stage == "fine-tuning"
    assert result.headline.locator == "co2_eq_emissions.emissions"


def test_yaml_underscored_integer_keeps_its_printed_text():
    result = parse_card(card("co2_eq_emissions:\n  emissions: 3_000_000"))
    assert result.emissions_kg == pytest.approx(3000)
    assert result.headline.value_as_printed == "3_000_000"


@pytest.mark.parametrize(
    ("printed", "kg"),
    [
        ("'0.5 kg'", 0.5),
        ("'12,3 g'", 0.0123),
        ("'2 tCO2eq'", 2000),
        ("'1,250 g'", 1.25),
        ("'0.21 in grams of CO2'", 0.00021),
        ("'3 lbs'", 3 * 0.45359237),
        ("'7 Kg'", 7),
        ("'42'", 0.042),
    ],
)
def test_yaml_strings_with_units(printed, kg):
    result = parse_card(card(f"co2_eq_emissions:\n  emissions: {printed}"))
    assert result.emissions_kg == pytest.approx(kg)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (".nan", "finite"),
        (".inf", "finite"),
        ("-12", "negative"),
        ("'NaN'", "finite"),
        ("'inf'", "finite"),
        ("true", "bool"),
        ("'Kg'", "not a number"),
        ("'12 bananas'", "not a number"),
        ("'5 kWh'", "energy"),
        ("1.0e+400", "finite"),
        ("99999999999999", "implausible"),
    ],
)
def test_invalid_yaml_emissions_are_quarantined(value, reason):
    result = parse_card(card(f"co2_eq_emissions:\n  emissions: {value}"))
    assert result.emissions_kg is None
    assert reason in reasons(result)


def test_list_where_a_mapping_belongs():
    result = parse_card(card("co2_eq_emissions:\n  - emissions: 12\n  - source: x"))
    assert result.emissions_kg is None
    assert "is a list" in reasons(result)


def test_front_matter_that_is_a_list_or_invalid_yaml_is_read_as_markdown():
    result = parse_card(card("- a\n- Carbon Emitted: 4 kg CO2eq"))
    assert "not a mapping" in reasons(result)
    assert result.emissions_kg == pytest.approx(4)
    invalid = parse_card(card("{{ card_data }}", "# Title\n"))
    assert "not valid YAML" in reasons(invalid)


def test_unclosed_front_matter():
    result = parse_card("---\nlicense: mit\nco2_eq_emissions: 12\n\n# A card\n\n- **Carbon Emitted:** 3 kg\n")
    assert "never closed" in reasons(result)
    assert result.emissions_kg == pytest.approx(3)


def test_dates_and_python_tags_in_front_matter():
    dated = parse_card(card("date: 2023-02-30 25:00\nco2_eq_emissions: 10"))
    assert dated.emissions_kg == pytest.approx(0.01)  # an impossible date does not reject the block
    tagged = parse_card(card("co2_eq_emissions: !!python/object/apply:os.system ['echo hi']"))
    assert tagged.emissions_kg is None
    assert "not valid YAML" in reasons(tagged)


def test_sentence_transformers_extra_keys():
    result = parse_card(
        card("""
co2_eq_emissions:
  emissions: 12.5
  energy_consumed: 0.04
  source: codecarbon
  training_type: fine-tuning
  on_cloud: false
  cpu_model: Some CPU 9000
  hours_used: 0.5
""")
    )
    energy = [f for f in result.figures if f.metric == "energy"]
    assert energy[0].value == pytest.approx(0.04) and energy[0].locator == "co2_eq_emissions.energy_consumed"
    assert result.hours == 0.5
    assert result.hardware == "Some CPU 9000"


# --- template section ------------------------------------------------------------------------------------

TEMPLATE = """# Model Card for tiny-model

## Environmental Impact

<!-- Total emissions (in grams of CO2eq) and additional considerations go here. -->

Carbon emissions were estimated using CodeCarbon.

- **Hardware Type:** {hardware}
- **Hours used:** {hours}
- **Cloud Provider:** {provider}
- **Compute Region:** {region}
- **Carbon Emitted:** {emitted}
"""


def test_template_section_filled():
    result = parse_card(
        TEMPLATE.format(
            hardware="1 x A10G", hours="12", provider="AWS", region="eu-west-1", emitted="1.8 kg CO2eq"
        )
    )
    assert result.emissions_kg == pytest.approx(1.8)
    assert (result.hardware, result.hours, result.cloud_provider, result.location) == (
        "1 x A10G",
        12,
        "AWS",
        "eu-west-1",
    )
    assert result.headline.locator == "Environmental Impact > Carbon Emitted"
    assert result.source == "CodeCarbon"


@pytest.mark.parametrize(
    "placeholder",
    [
        "[More Information Needed]",
        "More information needed",
        "[optional]",
        "N/A",
        "TBD",
        "Unknown",
        "{{ co2_emitted | default('x', true) }}",
    ],
)
def test_template_placeholders_mean_absent(placeholder):
    result = parse_card(
        TEMPLATE.format(
            hardware=placeholder,
            hours=placeholder,
            provider=placeholder,
            region=placeholder,
            emitted=placeholder,
        )
    )
    assert result.emissions_kg is None
    assert result.figures == []
    assert (result.hardware, result.hours, result.cloud_provider, result.location) == (None, None, None, None)
    assert result.quarantine == []


@pytest.mark.parametrize(
    ("emitted", "kg"),
    [
        ("0.390g", 0.00039),
        ("0.16253kg of CO2", 0.16253),
        ("75.24 kg CO_2 eq.", 75.24),
        ("0.11 kgCO$_2$eq", 0.11),
        ("0.6 kgCO2eq of which 0 percent were directly offset.", 0.6),
        ("11 250 kg CO2 eq.", 11250),
        ("1,5 t CO2e", 1500),
        ("2.5 tonnes of CO2", 2500),
        ("12 lbs", 12 * 0.45359237),
    ],
)
def test_template_units_as_people_write_them(emitted, kg):
    result = parse_card(TEMPLATE.format(hardware="x", hours="1", provider="x", region="x", emitted=emitted))
    assert result.emissions_kg == pytest.approx(kg)
    # the printed value and unit re-derive the normalized value through the shared units module
    headline = result.headline
    again = units.normalize("emissions", headline.value_as_printed, headline.unit_as_printed)
    assert again.value == pytest.approx(headline.value)


def test_unit_in_the_field_name():
    result = parse_card(
        "## Environmental Impact\n\n- CO2 Emissions (in grams): 37.5\n"
        "- Duration of the compute (in seconds): 7200\n"
    )
    assert result.emissions_kg == pytest.approx(0.0375)
    duration = [f for f in result.figures if f.metric == "duration"][0]
    assert duration.value == pytest.approx(2.0)


def test_energy_printed_in_kilowatts_is_quarantined():
    result = parse_card(
        "## Environmental Impact\n\n- **CO2 emissions:** 0.5 kg\n- **Energy consumed:** 0.3 kW\n"
    )
    assert result.emissions_kg == pytest.approx(0.5)
    assert "power unit" in reasons(result)
    assert not [f for f in result.figures if f.metric == "energy"]


def test_emissions_without_a_unit_is_quarantined():
    result = parse_card("## Environmental Impact\n\n- **Carbon Emitted:** 42\n")
    assert result.emissions_kg is None
    assert "without a unit" in reasons(result)


def test_nested_stages_and_per_run_figures():
    result = parse_card("""## Environmental Impact

- **Training:**
    - **Emissions:** 2 kg CO2eq
    - **Power Consumption:**
        - CPU: 3 kWh
        - GPU: 5 kWh
- **Inference:**
    - **Emissions:** 0.1 kg CO2eq
- **Average per Run:**
    - Emissions: 0.02 kg CO2eq
""")
    assert result.emissions_kg == pytest.approx(2)
    by_value = {f.value_as_printed: f for f in emissions(result)}
    assert by_value["0.1"].stage == "inference"
    assert by_value["0.02"].per == "run"
    parts = {f.variant: f.value for f in result.figures if f.metric == "energy"}
    assert parts == {"CPU": pytest.approx(3), "GPU": pytest.approx(5)}
    assert result.conflicts == []


# --- prose and tables ------------------------------------------------------------------------------------

PROSE = """# Frontier-1

## Hardware and Software

**Carbon Footprint** Pretraining used a cumulative 2.5M GPU hours on hardware of type X100-96GB (TDP of 800W).
Estimated total location-based emissions were 1,234 tCO2eq for training; market-based emissions were 0 tCO2eq.

| | Time (GPU hours) | Power Consumption (W) | Carbon Emitted (tCO2eq) |
|---|---|---|---|
| Frontier-1 Small | 0.5M | 800 | 234 |
| Frontier-1 Large | 2.0M | 800 | 1000 |
| Total | 2.5M | | 1,234 |
"""


def test_prose_total_with_table_rows_and_total():
    result = parse_card(PROSE)
    assert result.emissions_kg == pytest.approx(1_234_000)
    assert result.headline.basis == "location-based"
    assert result.headline.stage == "pretraining"
    assert result.hardware == "X100-96GB (TDP of 800W)"
    assert result.hours == "2.5M GPU hours"
    rows = {(f.model_name, f.metric): f for f in result.figures if f.origin == "table"}
    assert rows[("Frontier-1 Large", "emissions")].value == pytest.approx(1000)
    assert rows[("Frontier-1 Small", "chip_hours")].value == pytest.approx(0.5e6)
    assert rows[("Frontier-1 Small", "power")].value == pytest.approx(800)
    totals = [f for f in emissions(result) if f.is_total]
    assert totals and totals[0].value == pytest.approx(1234)
    assert "row 'Total'" in totals[0].locator and "Carbon Emitted" in totals[0].locator
    market = [f for f in emissions(result) if f.basis == "market-based"]
    assert market and market[0].value == 0
    assert result.conflicts == []


def test_prose_total_that_disagrees_with_its_table_is_flagged():
    changed = PROSE.replace("| Total | 2.5M | | 1,234 |\n", "").replace(
        "| Frontier-1 Large | 2.0M | 800 | 1000 |\n", ""
    )
    result = parse_card(changed)
    assert result.emissions_kg == pytest.approx(1_234_000)  # the stated total stays the headline
    assert any("disagrees" in c and "234" in c for c in result.conflicts)


def test_html_table_with_unclosed_cells():
    text = """# Frontier-2

Estimated total emissions were 90 tons CO2eq.

<table>
  <tr><td></td><td><strong>Training Time (GPU hours)</strong></td>
      <td><strong>Training Location-Based Greenhouse Gas Emissions</strong>
      <p><strong>(tons CO2eq)</strong></td></tr>
  <tr><td>Frontier-2 A</td><td>1.2M</td><td>40</td></tr>
  <tr><td>Frontier-2 B</td><td>1.5M</td><td>50</td></tr>
  <tr><td>Total<td>2.7M<td>90</tr>
</table>
"""
    result = parse_card(text)
    assert result.emissions_kg == pytest.approx(90_000)
    table = {(f.model_name, f.is_total): f.value for f in emissions(result) if f.origin == "table"}
    assert table == {
        ("Frontier-2 A", False): pytest.approx(40),
        ("Frontier-2 B", False): pytest.approx(50),
        (None, True): pytest.approx(90),
    }
    assert all(f.basis == "location-based" for f in emissions(result) if f.origin == "table")


def test_table_only_card_takes_the_row_naming_the_model():
    text = """# Model Card for Tiny 3B

## Environmental Impact

| | GPU Type | Energy From GPUs | Carbon Emissions (tCO₂eq) |
|---|---|---|---|
| Tiny 3B Twin | Z1 | 20 MWh | 0* |
| Tiny 3B | Z2 | 15 MWh | 6.5 |
"""
    result = parse_card(text)
    assert result.emissions_kg == pytest.approx(6500)
    energy = {f.model_name: f.value for f in result.figures if f.metric == "energy"}
    assert energy == {"Tiny 3B Twin": pytest.approx(20_000), "Tiny 3B": pytest.approx(15_000)}


def test_several_models_and_no_total_gives_no_headline():
    text = "## Environmental Impact\n\n| Model | Emissions (kg) |\n|---|---|\n| A | 5 |\n| B | 7 |\n"
    result = parse_card(text)
    assert result.emissions_kg is None
    assert len(emissions(result)) == 2
    assert any("no total" in c for c in result.conflicts)


def test_row_oriented_table_gives_variants_not_models():
    text = """## Environmental Impact

| Metric | Adam | SGD |
|---|---|---|
| Emissions (kg) | 0.004 | 0.005 |
| Energy Consumed (kWh) | 0.01 | 0.012 |
| Emissions Rate | 7 × 10⁻⁷ | 7 × 10⁻⁷ |

- **Carbon Emitted:** 4 g
"""
    result = parse_card(text)
    assert result.emissions_kg == pytest.approx(0.004)
    variants = {(f.metric, f.variant) for f in result.figures if f.origin == "table"}
    assert variants == {("emissions", "Adam"), ("emissions", "SGD"), ("energy", "Adam"), ("energy", "SGD")}
    assert all(f.model_name is None for f in result.figures)


def test_question_and_answer_table():
    text = """# climate card

| [some/model](https://example.org) | |
|---|---|
| 1. How much time does the training of the final model take? | 3 days, 2 hours |
| 2. What was the power of GPU and CPU? | 0.3 kW |
| 3. At which geo location were the computations performed? | Norway |
| 4. What was the energy mix at the geo location? | 30 gCO2eq/kWh |
| 5. How much CO2eq was emitted to train the final model? | 1,250 kg |
| 6. How much CO2eq was emitted for all experiments? | 4,000 kg |
| 7. What is the average CO2eq emission for the inference of one sample? | 0.2 g |
"""
    result = parse_card(text)
    assert result.emissions_kg == pytest.approx(1250)
    assert (result.location, result.hours) == ("Norway", "3 days, 2 hours")
    stages = {f.value_as_printed: (f.stage, f.per) for f in emissions(result)}
    assert stages == {
        "1,250": ("total", None),
        "4,000": ("development", None),
        "0.2": ("inference", "sample"),
    }
    intensity = [f for f in result.figures if f.metric == "carbon_intensity"][0]
    assert intensity.value == pytest.approx(0.03)
    assert [f.value for f in result.figures if f.metric == "power"] == [pytest.approx(300)]


def test_cell_with_several_stages():
    text = """Estimated total emissions were 10 tons CO2eq.

| | Training Time (GPU hours) | Emissions (tons CO2eq) |
|---|---|---|
| M-1 | Stage 1 pretraining: 20K H100 hours SFT: 300 H100 hours | 10 |
"""
    result = parse_card(text)
    parts = {f.variant: (f.value, f.stage) for f in result.figures if f.metric == "chip_hours"}
    assert parts == {
        "Stage 1 pretraining": (pytest.approx(20_000), "pretraining"),
        "SFT": (pytest.approx(300), "fine-tuning"),
    }


def test_range_is_quarantined_not_guessed():
    result = parse_card(
        TEMPLATE.format(hardware="x", hours="960 - 1080 hours", provider="x", region="x", emitted="3 kg")
    )
    assert "range" in reasons(result)
    assert not [f for f in result.figures if f.metric == "duration"]


# --- YAML and body together ------------------------------------------------------------------------------


def test_yaml_and_body_that_agree_up_to_rounding():
    result = parse_card(
        card("co2_eq_emissions:\n  emissions: 21890", "## Details\n\n- **Emissions:** 22 KgCO2 (Germany)\n")
    )
    assert result.emissions_kg == pytest.approx(21.89)
    assert result.conflicts == []


def test_yaml_and_body_that_disagree():
    result = parse_card(
        card(
            "co2_eq_emissions:\n  emissions: 7000\n  geographical_location: Chile",
            "## Environmental Impact\n\n- **Carbon Emitted:** 31 kg CO2 eq.\n",
        )
    )
    assert result.emissions_kg == pytest.approx(7.0)  # the front matter is the documented headline
    assert any("disagrees" in c for c in result.conflicts)
    assert len(emissions(result)) == 2


def test_grams_field_that_holds_kilograms_is_flagged():
    result = parse_card(
        card(
            "co2_eq_emissions:\n  emissions: 0.25\n  geographical_location: Chile",
            "## Details\n\n- **Emissions:** 0.25 KgCO2 (Peru)\n",
        )
    )
    assert result.emissions_kg == pytest.approx(0.00025)
    joined = " ".join(result.conflicts)
    assert "probably holds kilograms" in joined
    assert "Chile" in joined and "Peru" in joined


# --- traps -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The hybrid SUV has CO₂ emissions at 92 g/km and uses 2.1 l/100 km.",
        "An average passenger car emits about 4.6 tonnes of CO2 per year.",
        "Samples of carbon tetrachloride at 5 mg/L were above the limit.",
        "Our training is equivalent to driving a car that emits 120 kg of CO2.",
        "The company cut its carbon footprint by 35 percent since 2015.",
        "The model weighs 3 kg when printed on paper.",
    ],
)
def test_other_emissions_are_not_figures(text):
    result = parse_card(card('widget:\n- text: "CO2 emissions of 5 kg"', f"# A card\n\n{text}\n"))
    assert result.emissions_kg is None
    assert emissions(result) == []


@pytest.mark.parametrize(
    ("text", "kg"),
    [
        ("Training used 100 MWh, equivalent to 30 tCO2e.", 30_000),
        ("For comparison, a larger model emitted 552 tCO2eq; our model emitted 10 tCO2eq.", 10_000),
        ("Our model predicts CO2 emissions of factories with an RMSE of 12 tonnes.", None),
        (
            "The grid emits 0.385 kg CO <sub>2</sub> eq/KWh, so training emitted 27 tCO <sub>2</sub> eq.",
            27_000,
        ),
    ],
)
def test_prose_in_an_emissions_section(text, kg):
    result = parse_card(f"# A card\n\n## Environmental Impact\n\n{text}\n")
    assert result.emissions_kg == (pytest.approx(kg) if kg else None)


def test_emissions_of_others_outside_an_emissions_section():
    result = parse_card(
        "# A card\n\n## Usage\n\nInput: 'The factory emitted 5,000 tonnes of CO2 last year.'\n"
    )
    assert result.emissions_kg is None and emissions(result) == []


def test_code_blocks_are_not_read():
    result = parse_card("# A card\n\n```python\nprint('Carbon Emitted: 5 kg CO2')\n```\n")
    assert result.emissions_kg is None


# --- inert text and output -------------------------------------------------------------------------------


def test_script_and_sql_strings_stay_inert_text():
    result = parse_card(
        card(
            """
co2_eq_emissions:
  emissions: 10
  hardware_used: "<script>alert('x')</script>"
  geographical_location: "'; DROP TABLE cards; --"
""",
            "- **Cloud Provider:** <img src=x onerror=alert(1)>\n",
        )
    )
    assert result.hardware == "<script>alert('x')</script>"
    assert result.location == "'; DROP TABLE cards; --"
    assert result.emissions_kg == pytest.approx(0.01)
    json.dumps(result.to_json(), allow_nan=False)


def test_to_json_has_the_published_keys():
    data = parse_card(PROSE, path="x/README.md").to_json()
    for key in (
        "path",
        "emissions_kg",
        "source",
        "training_type",
        "hardware",
        "location",
        "hours",
        "figures",
        "conflicts",
        "quarantine",
    ):
        assert key in data
    figure = data["figures"][0]
    for key in (
        "model_name",
        "metric",
        "value_as_printed",
        "unit_as_printed",
        "value",
        "unit",
        "basis",
        "stage",
        "locator",
    ):
        assert key in figure
    assert all(
        f["metric"] in units.CANONICAL_UNIT and f["unit"] == units.CANONICAL_UNIT[f["metric"]]
        for f in data["figures"]
    )
    assert all(math.isfinite(f["value"]) for f in data["figures"])
    assert data["path"] == "x/README.md"


def test_cards_without_emissions_have_no_figures():
    result = parse_card(
        "# A card\n\n## Environmental Impact\n\n- **Hardware Type:** 8 x V100\n"
        "- **Hours used:** 24 hours\n- **Carbon Emitted:** Unknown\n"
    )
    assert result.emissions_kg is None and result.figures == []
    assert (result.hardware, result.hours) == ("8 x V100", "24 hours")  # still described


@pytest.mark.parametrize(
    ("printed", "stage"),
    [
        ("pre-training", "pretraining"),
        ("Pretraining", "pretraining"),
        ("continual pre-training", "pretraining"),
        ("fine-tuning", "fine-tuning"),
        ("Fine-tuning", "fine-tuning"),
        ("finetuning", "fine-tuning"),
        ("SFT", "fine-tuning"),
        ("RLHF", "fine-tuning"),
        ("instruction tuning", "fine-tuning"),
        ("inference", "inference"),
        ("all experiments", "development"),
        ("hyperparameter search", "development"),
        ("training", "total"),
        ("total", "total"),
        ("pre-training and fine-tuning", "total"),
        ("Tabular (Random Forest on CPU)", None),
        (None, None),
        ("", None),
    ],
)
def test_stage_for_training_type(printed, stage):
    assert stage_for_training_type(printed) == stage


def test_repeated_field_names_and_numbers_in_one_sentence_keep_distinct_locators():
    result = parse_card(
        "## Environmental Impact\n\n- Carbon Emitted: 5 kg\n- Carbon Emitted: 7 kg\n\n"
        "We used 3 kWh on the CPU and 5 kWh on the GPU.\n"
    )
    locators = [f.locator for f in result.figures]
    assert len(locators) == len(set(locators)) == 4
    assert any("7 kg" in c for c in result.conflicts)


def test_plain_key_value_cards_as_tools_write_them():
    result = parse_card("""# Carbon report

## Training Specifications

Hardware: Z200 GPU
Number of GPUs: 4
Training type: pre-training
Region: north-1
GPU hours: 250.5
PUE: 1.3
Total energy: 120.25 kWh
CO2 emissions: 36.075 kg CO2eq
""")
    assert result.emissions_kg == pytest.approx(36.075)
    assert (result.hardware, result.location, result.training_type) == ("Z200 GPU", "north-1", "pre-training")
    values = {f.metric: f.value for f in result.figures}
    assert values == {
        "chip_count": 4,
        "chip_hours": pytest.approx(250.5),
        "pue": pytest.approx(1.3),
        "energy": pytest.approx(120.25),
        "emissions": pytest.approx(0.036075),
    }
    assert {f.stage for f in result.figures} == {"pretraining"}


def test_units_in_snake_case_keys_and_clock_durations():
    result = parse_card(
        "## co2_eq_emissions\n\n- energy_kWh: 10.5\n- co2_kg: 2.25\n- gpu_hours: 30\n"
        "- training_time: 00:31:54\n- emissions: 49.5 g\n- source: eco2AI\n"
    )
    assert result.emissions_kg == pytest.approx(2.25)  # the first emissions field
    assert result.hours == "30 gpu hours" and result.source == "eco2AI"  # the first hours field
    assert not [f for f in result.figures if f.metric == "duration"]  # "00:31:54" is not the number 0
    assert {f.metric for f in result.figures} == {"energy", "emissions", "chip_hours"}
    assert any("disagrees" in c for c in result.conflicts)  # 2.25 kg and 49.5 g in one section


def test_estimated_and_bounded_values():
    result = parse_card(
        "## Environmental Impact\n\n- **Hardware Type**: [e.g., NVIDIA V100]\n"
        "- **Hours used**: ~2 hours training\n- **Carbon Emitted**: Estimated <1kg CO2\n"
    )
    assert result.hardware is None  # a bracketed template hint is a placeholder
    assert result.emissions_kg == pytest.approx(1) and result.headline.qualifier == "less_than"
    assert result.hours == "~2 hours training"


def test_comparison_rows_of_a_table_are_not_figures():
    result = parse_card(
        "## Environmental Impact\n\n| Consumption | CO2e (lbs) |\n|---|---|\n"
        "| Car, one lifetime | 100,000 |\n| Air travel, 1 passenger | 2,000 |\n| Our model | 150 |\n"
    )
    assert [(f.model_name, f.value_as_printed) for f in emissions(result)] == [("Our model", "150")]


def test_the_prose_prefilter_never_skips_a_paragraph_the_patterns_would_read(corpus):
    """`_may_mention` skips plain ASCII paragraphs by substring tests; it must say yes wherever the case-insensitive
    patterns it stands in front of find something (every paragraph and item of the corpus, and printed variants)."""
    from pipelines.lib.cards import body, frontmatter
    from pipelines.lib.cards.extract import _EMISSION_CONTEXT, _ENERGY_CONTEXT, _PROSE_WORDS, _may_mention

    texts = ["Emitted 5 KG of CO2", "CARBON FOOTPRINT", "3 MWh", "1,000 GPU HOURS", "GHG Protocol", "co_2",
             "Greenhouse gases", "plain words only", "2 kWh", "Footprint: none", "CO₂ 4 kg"]
    for path in sorted((corpus / "model_cards").glob("*.md")):
        blocks = body.parse(frontmatter.split(path.read_text(encoding="utf-8", errors="replace")).body)[0]
        texts += [b.text for b in blocks if b.kind in ("paragraph", "item")]
    read = [t for t in texts if _EMISSION_CONTEXT.search(t) or _ENERGY_CONTEXT.search(t)]
    assert len(read) > 100  # the corpus has many such paragraphs
    assert all(_may_mention(t, _PROSE_WORDS) for t in read)
    assert not _may_mention("plain words only", _PROSE_WORDS)
