"""Table extraction from papers and model cards, checked against the real documents of the shared corpus.

Every expected value below was read by hand in the corpus document (line numbers in the comments) and is
written exactly as printed there. The SPECS are the extraction specs proposed for the source registry.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.lib import paper_tables as pt
from pipelines.lib.curated import Source, TableSpec, curated_figure_rows, load_registry
from pipelines.lib.normalize import FIGURE_COLUMNS, QUARANTINE_COLUMNS, normalize_figures
from tests.conftest import CORPUS_MISSING

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DOCS = CORPUS / "documents"


@dataclass
class Case:
    file: str
    spec: dict
    model_rows: int  # model rows the table prints (totals included when the spec takes them)
    values: dict[tuple[str, str], tuple[str, str]]  # (row label, metric) -> (value, unit) as printed
    issues: int = 0  # cells that are not one number (quarantined)
    source_id: str = ""  # the registry entry whose curated figures the table is checked against
    basis_values: dict[tuple[str, str], str] = field(default_factory=dict)  # (label, basis) -> value
    stage_values: dict[tuple[str, str], str] = field(default_factory=dict)  # (label, stage) -> value


CARD_LOCATOR = "Hardware and Software, emissions table"
CO2_TABLE_LOCATOR = "Hardware and Software, CO2 emissions table"
LLAMA2_CARD_SPEC = {
    "table": "CO2 emissions during pretraining", "locator": CO2_TABLE_LOCATOR, "model_column": 0,
    "columns": {"chip_hours": 1, "power": 2, "emissions": 3}, "totals": True, "stage": "pretraining",
    "units": {"chip_hours": "GPU hours", "power": "W", "emissions": "tCO2eq"}}
LLAMA2_CARD_VALUES = {  # lines 45-50 of both Llama 2 cards
    ("Llama 2 7B", "chip_hours"): ("184320", "GPU hours"),
    ("Llama 2 70B", "emissions"): ("291.42", "tCO2eq"),
    ("Total", "emissions"): ("539.00", "tCO2eq"),
}
LLAMA3_CARD_SPEC = {
    "table": "CO2 emissions during pre-training", "locator": CO2_TABLE_LOCATOR, "model_column": 0,
    "columns": {"chip_hours": 1, "power": 2, "emissions": 3}, "totals": True, "stage": "pretraining",
    "units": {"chip_hours": "GPU hours", "power": "W", "emissions": "tCO2eq"}}
LLAMA3_CARD_VALUES = {  # HTML table, lines 89-130 of both Llama 3 cards
    ("Llama 3 8B", "chip_hours"): ("1.3M", "GPU hours"),
    ("Llama 3 70B", "emissions"): ("1900", "tCO2eq"),
    ("Total", "emissions"): ("2290", "tCO2eq"),
}


def card_spec(units: str, **extra) -> dict:
    """Llama 3.1-4 cards: location-based then market-based emissions columns after time and power."""
    spec = {"table": "Training Greenhouse Gas Emissions", "locator": CARD_LOCATOR, "model_column": 0,
            "columns": {"chip_hours": 1, "power": 2, "emissions": 3},
            "more_columns": [{"metric": "emissions", "column": 4, "basis": "market-based"}],
            "units": {"chip_hours": "GPU hours", "power": "W", "emissions": units}, "totals": True}
    return {**spec, **extra}


CASES: dict[str, Case] = {
    "llama_table15_html": Case(
        "arxiv-2302.13971.md",
        {"table": "Table 15", "model_column": 0,
         "columns": {"power": 2, "chip_hours": 3, "energy": 4, "emissions": 5},
         "units": {"chip_hours": "GPU-hours", "emissions": "tCO2eq"}, "stage": "pretraining"},
        6,
        {  # HTML <table> at line 291
            ("OPT-175B", "power"): ("400", "W"),
            ("OPT-175B", "energy"): ("356", "MWh"),
            ("BLOOM-175B", "emissions"): ("183", "tCO2eq"),
            ("LLaMA-65B", "chip_hours"): ("1,022,362", "GPU-hours"),
            ("LLaMA-7B", "emissions"): ("14", "tCO2eq"),
        },
        source_id="touvron2023_llama"),
    "llama_table15_notes": Case(
        "msc_thesis-2302.13971-06_carbon-footprint.md",
        {"table": "Table 15", "model_column": 0,
         "columns": {"power": 2, "chip_hours": 3, "energy": 4, "emissions": 5},
         "units": {"chip_hours": "GPU-hours", "emissions": "tCO2eq"}},
        6,
        {  # lines 17-25 (a blank separator row between BLOOM and LLaMA)
            ("BLOOM-175B", "chip_hours"): ("1,082,880", "GPU-hours"),
            ("LLaMA-33B", "energy"): ("233", "MWh"),
            ("LLaMA-13B", "power"): ("400", "W"),
        }),
    "llama2_table2_shifted": Case(
        "arxiv-2307.09288.md",
        {"table": "Table 2", "model_column": 0, "name_columns": [1, 2], "totals": True,
         "columns": {"chip_hours": 3, "power": 4, "emissions": 5}, "stage": "pretraining",
         "units": {"chip_hours": "GPU hours", "power": "W", "emissions": "tCO2eq"}},
        5,
        {  # lines 210-216: header printed 3 columns left of the figures; "Llama 2" merged into the 13B row
            ("7B", "chip_hours"): ("184320", "GPU hours"),
            ("Llama 2 13B", "emissions"): ("62.44", "tCO2eq"),
            ("34B", "power"): ("350", "W"),
            ("70B", "emissions"): ("291.42", "tCO2eq"),
            ("Total", "chip_hours"): ("3311616", "GPU hours"),
        },
        source_id="touvron2023_llama2"),
    "llama2_table2_notes": Case(
        "msc_thesis-2307.09288-02_pretraining.md",
        {"table": "Table 2", "model_column": 0, "name_columns": [1],
         "columns": {"chip_hours": 2, "power": 3, "emissions": 4}, "totals": True,
         "units": {"chip_hours": "GPU hours", "power": "W", "emissions": "tCO2eq"}},
        5,
        {  # lines 66-72
            ("Llama 2 7B", "emissions"): ("31.22", "tCO2eq"),
            ("Llama 2 34B", "chip_hours"): ("1038336", "GPU hours"),
            ("Total", "emissions"): ("539.00", "tCO2eq"),
        }),
    "olmo_table8": Case(
        "arxiv-2402.00838.md",
        {"table": "Table 8", "model_column": 0,
         "columns": {"energy": 2, "pue": 3, "carbon_intensity": 4, "emissions": 5}, "stage": "pretraining",
         "units": {"energy": "MWh", "carbon_intensity": "kg CO2e/KWh", "emissions": "tCO2eq"}},
        8,
        {  # lines 350-359: header flattened from nested tables; the two OLMo-7B rows differ by GPU type
            ("Gopher-280B", "energy"): ("1,066", "MWh"),
            ("BLOOM-176B", "pue"): ("1.2", ""),
            ("OLMo-7B (MI250X)", "emissions"): ("0", "tCO2eq"),  # printed 0* (footnote)
            ("OLMo-7B (MI250X)", "carbon_intensity"): ("0.000", "kg CO2e/KWh"),  # printed 0.000*
            ("OLMo-7B (A100-40GB)", "emissions"): ("70", "tCO2eq"),
        },
        source_id="groeneveld2024_olmo"),
    "patterson_table4": Case(
        "arxiv-2104.10350.md",
        {"table": "Table 4", "model_column": 1, "transposed": True,
         "columns": {"carbon_intensity": 7, "pue": 9, "power": 12, "chip_count": 14, "duration": 15,
                     "energy": 17, "emissions": 19},
         "more_columns": [{"metric": "carbon_intensity", "column": 8, "basis": "market-based"},
                          {"metric": "tdp", "column": 11},
                          {"metric": "emissions", "column": 20, "basis": "market-based"}],
         "units": {"carbon_intensity": "kg/KWh", "power": "W", "tdp": "W", "chip_count": "chips",
                   "duration": "days", "energy": "MWh", "emissions": "tCO2e"}},
        6,
        {  # lines 185-211: models are columns
            ("T5", "energy"): ("85.7", "MWh"),
            ("GPT-3", "energy"): ("1,287", "MWh"),
            ("GPT-3", "chip_count"): ("10,000", "chips"),
            ("Evolved Transformer NAS", "tdp"): ("280", "W"),
            ("Meena", "duration"): ("30", "days"),
        },
        source_id="patterson2021",
        basis_values={("Gshard-600B", "market-based"): "4.3",
                      ("Switch Transformer", "market-based"): "59.1"}),
    "strubell_table3": Case(
        "arxiv-1906.02243.md",
        {"table": "Table 3", "model_column": 0,
         "columns": {"power": 2, "duration": 3, "energy": 4, "emissions": 5},
         "units": {"power": "W", "duration": "hours", "energy": "kWh·PUE", "emissions": "lbs"}},
        8,
        {  # lines 100-109: BERTbase and NAS appear twice, told apart by hardware
            ("Transformerbase", "power"): ("1415.78", "W"),
            ("BERTbase (V100x64)", "power"): ("12,041.51", "W"),
            ("BERTbase (TPUv2x16)", "duration"): ("96", "hours"),
            ("NAS (P100x8)", "emissions"): ("626,155", "lbs"),
            ("GPT-2", "duration"): ("168", "hours"),
        },
        source_id="strubell2019"),
    "morrison_table2": Case(
        "arxiv-2503.05804.md",
        {"table": "Table 2", "model_column": 0, "columns": {"energy": 1, "emissions": 2, "water": 4},
         "units": {"energy": "MWh", "emissions": "tCO2eq", "water": "kL"}, "totals": True},
        19,
        {  # lines 162-183: a second header row holds the units
            ("Llama 2 7B", "energy"): ("81", "MWh"),
            ("Gemma 2B & 9B", "emissions"): ("131", "tCO2eq"),
            ("OLMo 20M†", "energy"): ("0.8", "MWh"),
            ("OLMo 7B", "emissions"): ("0", "tCO2eq"),  # printed 0*
            ("OLMo 7B (Twin)", "water"): ("487", "kL"),
            ("OLMo 2 13B", "emissions"): ("101", "tCO2eq"),
            ("OLMo 7B†", "emissions"): ("22", "tCO2eq"),
            ("Total (Ours)", "water"): ("1,921", "kL"),
        },
        source_id="morrison2025_olmo_footprint"),
    "luccioni_table2": Case(
        "arxiv-2311.16863.md",
        {"table": "Table 2", "model_column": 0, "columns": {"energy": 1}, "units": {"energy": "kWh"},
         "stage": "inference", "functional_unit": "1,000 queries"},
        10,
        {  # lines 106-118: rows are tasks (mean over models)
            ("text classification", "energy"): ("0.002", "kWh"),
            ("image generation", "energy"): ("2.907", "kWh"),
        }),
    "luccioni_table3_seq2seq": Case(
        "arxiv-2311.16863.md",
        {"table": "Table 3", "locator": "Table 3, seq2seq models", "model_column": 0,
         "columns": {"emissions": 2, "energy": 3}, "units": {"emissions": "g CO2eq", "energy": "kWh"},
         "stage": "inference", "functional_unit": "1,000 inferences"},
        4,
        {  # lines 197-203, left half
            ("Flan-T5-xxl", "emissions"): ("11.48", "g CO2eq"),
            ("Flan-T5-base", "energy"): ("0.026", "kWh"),
        },
        source_id="luccioni2024_power_hungry"),
    "luccioni_table3_decoder": Case(
        "arxiv-2311.16863.md",
        {"table": "Table 3", "locator": "Table 3, decoder-only models", "model_column": 4,
         "columns": {"emissions": 6, "energy": 7}, "units": {"emissions": "g CO2eq", "energy": "kWh"},
         "stage": "inference", "functional_unit": "1,000 inferences"},
        4,
        {  # lines 197-203, right half
            ("BLOOMz-560M", "emissions"): ("7.5", "g CO2eq"),
            ("BLOOMz-7B", "energy"): ("0.104", "kWh"),
        },
        source_id="luccioni2024_power_hungry"),
    "luccioni_table5": Case(
        "arxiv-2311.16863.md",
        {"table": "Table 5", "model_column": 0, "transposed": True, "columns": {"energy": 1},
         "more_columns": [{"metric": "energy", "column": 2, "stage": "fine-tuning"},
                          {"metric": "energy", "column": 3, "stage": "inference",
                           "functional_unit": "inference"}],
         "units": {"energy": "kWh"}, "stage": "pretraining"},
        4,
        {  # lines 272-277: models are columns; inference energy is printed in LaTeX notation
            ("BLOOMz-7B", "energy"): ("51,686", "kWh"),
            ("BLOOMz-560M", "energy"): ("10,505", "kWh"),
        },
        stage_values={("BLOOMz-7B", "fine-tuning"): "7,571", ("BLOOMz-560M", "fine-tuning"): "543"},
        issues=4,
        source_id="luccioni2024_power_hungry"),
    "llama2_card": Case("github-meta-llama-llama-MODEL_CARD.md", LLAMA2_CARD_SPEC, 4, LLAMA2_CARD_VALUES,
                        source_id="meta_llama2_model_card"),
    "llama2_card_llama_models": Case("github-meta-llama-llama-models-llama2-MODEL_CARD.md", LLAMA2_CARD_SPEC,
                                     4, LLAMA2_CARD_VALUES, source_id="meta_llama_models_llama2_model_card"),
    "llama3_card": Case("github-meta-llama-llama3-MODEL_CARD.md", LLAMA3_CARD_SPEC, 3, LLAMA3_CARD_VALUES,
                        source_id="meta_llama3_model_card"),
    "llama3_card_llama_models": Case("github-meta-llama-llama-models-llama3-MODEL_CARD.md", LLAMA3_CARD_SPEC,
                                     3, LLAMA3_CARD_VALUES, source_id="meta_llama_models_llama3_model_card"),
    "llama3_1_card": Case(
        "github-meta-llama-llama-models-llama3_1-MODEL_CARD.md", card_spec("tons CO2eq"), 4,
        {  # HTML table, lines 110-180 (the Total row's power cell is left open in the HTML)
            ("Llama 3.1 405B", "chip_hours"): ("30.84M", "GPU hours"),
            ("Llama 3.1 70B", "emissions"): ("2,040", "tons CO2eq"),
            ("Total", "chip_hours"): ("39.3M", "GPU hours"),
            ("Total", "emissions"): ("11,390", "tons CO2eq"),
        },
        source_id="meta_llama3_1_model_card",
        basis_values={("Llama 3.1 8B", "market-based"): "0"}),
    "llama3_2_card": Case(
        "github-meta-llama-llama-models-llama3_2-MODEL_CARD.md",
        card_spec("tons CO2eq", columns={"chip_hours": 1, "power": 3, "emissions": 4},
                  more_columns=[{"metric": "chip_hours", "column": 2, "unit": "GPU Hours"},  # logit gen.
                                {"metric": "emissions", "column": 5, "basis": "market-based"}]),
        7,
        {  # lines 42-50: SpinQuant rows print "Negligible**" (quarantined)
            ("Llama 3.2 1B", "chip_hours"): ("370k", "GPU hours"),
            ("Llama 3.2 1B SpinQuant", "chip_hours"): ("1.7", "GPU hours"),
            ("Llama 3.2 3B QLoRA", "emissions"): ("0.461", "tons CO2eq"),
            ("Total", "chip_hours"): ("833k", "GPU hours"),
        },
        issues=2,
        source_id="meta_llama3_2_model_card"),
    "llama3_2_vision_card": Case(
        "github-meta-llama-llama-models-llama3_2-MODEL_CARD_VISION.md", card_spec("tons CO2eq"), 3,
        {  # lines 53-57: per-model time cells list four stages (quarantined)
            ("Llama 3.2-vision 11B", "emissions"): ("71", "tons CO2eq"),
            ("Llama 3.2-vision 90B", "power"): ("700", "W"),
            ("Total", "chip_hours"): ("2.02M", "GPU hours"),
        },
        issues=2,
        source_id="meta_llama3_2_vision_model_card"),
    "llama3_3_card": Case(
        "github-meta-llama-llama-models-llama3_3-MODEL_CARD.md", card_spec("metric tons CO2eq"), 1,
        {  # lines 43-45
            ("Llama 3.3 70B", "chip_hours"): ("7.0M", "GPU hours"),
            ("Llama 3.3 70B", "emissions"): ("12.9", "metric tons CO2eq"),
        },
        source_id="meta_llama3_3_model_card"),
    "llama4_card": Case(
        "github-meta-llama-llama-models-llama4-MODEL_CARD.md", card_spec("tons CO2eq"), 3,
        {  # lines 80-84
            ("Llama 4 Scout", "emissions"): ("1,354", "tons CO2eq"),
            ("Llama 4 Maverick", "chip_hours"): ("2.38M", "GPU hours"),
            ("Total", "emissions"): ("1,999", "tons CO2eq"),
        },
        source_id="meta_llama4_model_card"),
    "cohere": Case(
        "github-cohere-ai-cohere-developer-experience-environmental-impact.mdx",
        {"table": "per model training run", "locator": "Emissions table", "model_column": 0,
         "columns": {"emissions": 1}, "units": {"emissions": "Kg CO2 eq."}},
        1,
        {("base-light", "emissions"): ("2696.16", "Kg CO2 eq.")},  # line 21
        source_id="cohere_environmental_impact"),
}


def corpus_documents() -> Path:
    if not DOCS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return DOCS


def canonical(file: str) -> dict:
    with (DOCS / "index.csv").open(encoding="utf-8") as fh:
        return next(row for row in csv.DictReader(fh) if row["file"] == file)


def source_for(case: Case) -> Source:
    meta = canonical(case.file)
    return Source(source_id=case.source_id or "corpus_document", title=meta["document"], organization="test",
                  published=dt.date(2020, 1, 1), kind="paper", url=meta["canonical_url"], license="test",
                  verified_in=meta["canonical_url"], verification="primary",
                  verification_note=f"test input: corpus document {case.file}", extraction=[TableSpec(**case.spec)])


def run_case(case: Case) -> tuple[list[dict], list[dict], pt.Table]:
    path = DOCS / case.file
    tables = pt.extract_tables(path.read_bytes(), path.suffix)
    spec = TableSpec(**case.spec)
    table = pt.find_table(tables, spec)
    issues: list[dict] = []
    rows = pt.spec_rows(table, spec, source_for(case), snapshot_sha256="0" * 64, issues=issues)
    return rows, issues, table


@pytest.mark.parametrize("name", list(CASES))
def test_corpus_table(name):
    corpus_documents()
    case = CASES[name]
    rows, issues, table = run_case(case)
    assert len({r["model_name"] for r in rows}) == case.model_rows, sorted({r["model_name"] for r in rows})
    found: dict = {}
    for r in rows:  # the spec's main `columns` come first; `more_columns` are checked below
        if r["basis"] is None:
            found.setdefault((r["model_name"], r["metric"]), (r["value_as_printed"], r["unit_as_printed"]))
    for key, expected in case.values.items():
        assert found.get(key) == expected, (key, found.get(key))
    by_basis = {(r["model_name"], r["basis"]): r["value_as_printed"] for r in rows if r["basis"]}
    for key, expected in case.basis_values.items():
        assert by_basis.get(key) == expected, key
    by_stage = {(r["model_name"], r["stage"]): r["value_as_printed"] for r in rows}
    for key, expected in case.stage_values.items():
        assert by_stage.get(key) == expected, key
    assert len(issues) == case.issues, [i["reason"] for i in issues]
    prefix = case.spec.get("locator") or case.spec["table"]
    assert all(r["locator"].startswith(prefix + ", ") for r in rows)
    assert all(set(r) == set(FIGURE_COLUMNS) for r in rows)
    assert all(r["source_url"] == canonical(case.file)["canonical_url"] for r in rows)
    assert len({r["disclosure_id"] for r in rows}) == len(rows)
    good, bad = normalize_figures(rows)
    assert not bad, bad  # every extracted figure has a unit the normalizer knows


def test_llama_table15_locators_and_header_spans():
    corpus_documents()
    rows, _, table = run_case(CASES["llama_table15_html"])
    assert table.kind == "html" and table.label == "Table 15"
    locators = {r["locator"] for r in rows}
    # header cells span two rows (rowspan) and two lines of text
    assert "Table 15, row OPT-175B, column GPU Power consumption" in locators
    assert "Table 15, row LLaMA-65B, column Carbon emitted (tCO2eq)" in locators
    assert "Table 15, row LLaMA-7B, column GPU-hours" in locators


def test_shifted_header_is_realigned_and_reported():
    corpus_documents()
    rows, _, table = run_case(CASES["llama2_table2_shifted"])
    assert any("moved right by 3" in r for r in table.repairs)
    row = next(r for r in rows if r["model_name"] == "34B" and r["metric"] == "power")
    assert row["locator"] == "Table 2, row 34B, column Power Consumption (W)"
    assert "moved right by 3" in row["note"]


def test_registry_style_spec_on_the_shifted_table_reports_unnamed_rows():
    """With the model read from column 2 only, the merged "Llama 2 13B" row and the Total row have no
    name there: they are reported, not dropped silently and not given a wrong name."""
    corpus_documents()
    case = Case("arxiv-2307.09288.md", {**CASES["llama2_table2_shifted"].spec, "model_column": 2,
                                        "name_columns": []}, 3, {})
    rows, issues, _ = run_case(case)
    assert sorted({r["model_name"] for r in rows}) == ["34B", "70B", "7B"]
    assert len(issues) == 2 and all(i["reason"] == "row holds figures but no model name" for i in issues)
    assert any("368640" in i["item"] for i in issues)


def test_flattened_nested_header_is_rebuilt():
    corpus_documents()
    rows, _, table = run_case(CASES["olmo_table8"])
    assert table.cells[0][2] == "GPU Power Consumption (MWh)"
    assert table.cells[0][5] == "Carbon Emissions (tCO2eq)"
    row = next(r for r in rows if r["model_name"] == "OLMo-7B (MI250X)" and r["metric"] == "emissions")
    assert row["locator"] == "Table 8, row OLMo-7B (MI250X), column Carbon Emissions (tCO2eq)"
    assert "footnote mark *" in row["note"]


def test_transposed_table_locators_name_the_model_column():
    corpus_documents()
    rows, _, _ = run_case(CASES["patterson_table4"])
    locators = {r["locator"] for r in rows}
    assert "Table 4, column Gshard-600B, row Net tCO2e for Model Training" in locators
    assert "Table 4, column T5, row Energy Consumption (MWh)" in locators
    # TDP cells left empty by the converter for Meena, Gshard and Switch are not figures
    assert sorted(r["model_name"] for r in rows if r["metric"] == "tdp") == [
        "Evolved Transformer NAS", "GPT-3", "T5"]


def test_non_numeric_cells_become_quarantine_rows():
    corpus_documents()
    _, issues, _ = run_case(CASES["llama3_2_card"])
    assert {i["item"] for i in issues} == {"Negligible**"}
    assert all(i["locator"].startswith(CARD_LOCATOR + ", row Llama 3.2 ") for i in issues)
    _, issues, _ = run_case(CASES["luccioni_table5"])
    assert all("inference energy" in i["locator"].lower() for i in issues)
    # without a list to collect them, unreadable cells are an error rather than a silent gap
    case = CASES["llama3_2_card"]
    table = pt.find_table(pt.extract_tables((DOCS / case.file).read_bytes(), ".md"), TableSpec(**case.spec))
    with pytest.raises(pt.TableExtractionError, match="row Llama 3.2 1B SpinQuant.*'Negligible\\*\\*'"):
        pt.spec_rows(table, TableSpec(**case.spec), source_for(case))


def test_a_metric_in_two_columns_keeps_both_with_their_headers():
    corpus_documents()
    rows, _, _ = run_case(CASES["llama3_2_card"])
    by_locator = {r["locator"]: (r["value_as_printed"], r["unit_as_printed"], r["basis"]) for r in rows}
    # line 50: Total row, logit generation column; line 44: 1B row, market-based column
    assert by_locator[CARD_LOCATOR + ", row Total, column Logit Generation Time (GPU Hours)"] == (
        "86k", "GPU Hours", None)
    assert by_locator[CARD_LOCATOR + ", row Llama 3.2 1B, column Training Market-Based Greenhouse Gas "
                      "Emissions (tons CO2eq)"] == ("0", "tons CO2eq", "market-based")


def test_extract_source_returns_figures_and_quarantine_rows():
    corpus_documents()
    case = CASES["llama3_2_card"]
    path = DOCS / case.file
    rows, issues = pt.extract_source(path.read_bytes(), "text/markdown", source_for(case), snapshot_sha256="ab")
    assert len(rows) == len(run_case(case)[0]) and all(r["snapshot_sha256"] == "ab" for r in rows)
    assert [set(i) for i in issues] == [set(QUARANTINE_COLUMNS)] * 2
    assert {i["pipeline_stage"] for i in issues} == {"extract"}
    assert all("emissions: cell is not a number" == i["reason"] for i in issues)


def test_unlabelled_column_is_named_by_index():
    """Luccioni Table 3: the converter merged two header cells, leaving the emissions column without one."""
    corpus_documents()
    rows, _, _ = run_case(CASES["luccioni_table3_seq2seq"])
    row = next(r for r in rows if r["model_name"] == "Flan-T5-xxl" and r["metric"] == "emissions")
    assert row["locator"] == "Table 3, seq2seq models, row Flan-T5-xxl, column (no header, index 2)"


def test_flattened_table_is_reported_as_missing():
    """Gemma 2 prints Table 3 as flowing text: the spec finds no table and says where the caption is."""
    corpus_documents()
    path = DOCS / "arxiv-2408.00118.md"
    source = Source(source_id="gemma_team2024_gemma2", title="Gemma 2", organization="Google",
                    published=dt.date(2024, 7, 31), kind="paper", url="https://arxiv.org/abs/2408.00118",
                    license="test", verified_in="https://arxiv.org/abs/2408.00118", verification="primary",
                    verification_note="test input",
                    extraction=[TableSpec(table="Table 3", model_column=0, columns={"chip_count": 2})])
    rows, issues = pt.extract_source(path.read_bytes(), ".md", source)
    assert rows == []
    assert len(issues) == 1 and "no table matches 'Table 3'" in issues[0]["reason"]
    assert "Table 3 (line 89)" in issues[0]["reason"]


def test_cross_check_against_curated_figures():
    """The curated figures of each source agree with what the extractor reads in the same table."""
    corpus_documents()
    registry = load_registry(REPO / "data" / "sources" / "registry.yaml")
    curated = curated_figure_rows(REPO / "data" / "curated", registry)
    curated_sources = {r["source_id"] for r in curated}
    summary, disagreements = [], []
    for name, case in CASES.items():
        if case.source_id not in curated_sources:
            continue
        rows, _, _ = run_case(case)
        checks = pt.cross_check(rows, [r for r in curated if r["source_id"] == case.source_id])
        counts = {s: sum(c["status"] == s for c in checks)
                  for s in ("agree", "disagree", "only_extracted", "only_curated")}
        summary.append(f"{name:28} {counts}")
        disagreements += [c for c in checks if c["status"] == "disagree"]
        assert counts["agree"] > 0, name
    print("\n".join(summary))
    assert not disagreements, disagreements


def test_corpus_summary(capsys):
    """One line per corpus document: model rows recovered / expected, figures, issues, repairs."""
    corpus_documents()
    lines = [f"{'case':28} {'document':60} rows  figures issues repairs"]
    for name, case in CASES.items():
        rows, issues, table = run_case(case)
        recovered = len({r["model_name"] for r in rows})
        lines.append(f"{name:28} {case.file[:60]:60} {recovered}/{case.model_rows:<3} {len(rows):7} "
                     f"{len(issues):6} {'; '.join(table.repairs)[:60]}")
        assert recovered == case.model_rows, name
    with capsys.disabled():
        print("\n" + "\n".join(lines))


# ---------------------------------------------------------------- behaviour on small synthetic documents

def synthetic_source(*specs: TableSpec) -> Source:
    return Source(source_id="synthetic", title="synthetic", organization="test",
                  published=dt.date(2020, 1, 1), kind="paper", url="https://example.org/doc", license="test",
                  verified_in="https://example.org/doc", verification="primary", verification_note="test input",
                  extraction=list(specs))


ARXIV_LIKE_HTML = """<html><body>
<h2>5 Footprint</h2>
<p>Text before the figure.</p>
<figure class="ltx_table"><figcaption>Table 7: Synthetic runs.</figcaption>
<table>
<thead><tr><th rowspan="2">Model</th><th colspan="2">Energy</th></tr>
<tr><th>train (MWh)</th><th>tune (MWh)</th></tr></thead>
<tbody><tr><td>Model-A</td><td>1,234</td><td>5.5</td></tr>
<tr><td>Model-B<sup>†</sup></td><td>~7 MWh</td><td>n/a</td></tr></tbody>
</table></figure>
<table><tr><td>other</td><td>1</td></tr></table>
</body></html>""".encode()


def test_html_document_with_figcaption_spans_and_thead():
    tables = pt.extract_tables(ARXIV_LIKE_HTML, "text/html; charset=utf-8")
    assert [t.label for t in tables] == ["Table 7", None]
    table = tables[0]
    assert table.header_rows == 2 and table.heading == "5 Footprint"
    assert table.cells[0] == ["Model", "Energy", "Energy"]
    assert table.cells[1] == ["Model", "train (MWh)", "tune (MWh)"]
    spec = TableSpec(table="Table 7", model_column=0, columns={"energy": 1},
                     more_columns=[{"metric": "energy", "column": 2, "stage": "fine-tuning"}])
    rows = pt.spec_rows(pt.find_table(tables, spec), spec, synthetic_source(spec))
    got = {(r["model_name"], r["stage"]): (r["value_as_printed"], r["unit_as_printed"], r["locator"])
           for r in rows}
    assert got == {
        ("Model-A", None): ("1,234", "", "Table 7, row Model-A, column Energy train (MWh)"),
        ("Model-A", "fine-tuning"): ("5.5", "", "Table 7, row Model-A, column Energy tune (MWh)"),
        ("Model-B†", None): ("~7", "MWh", "Table 7, row Model-B†, column Energy train (MWh)"),
    }


LATEXML_LIKE_HTML = b"""<html><body><section><h3>4.4 Footprint</h3>
<figure class="ltx_table" id="S4.T8"><table class="ltx_tabular"><tbody class="ltx_tbody">
<tr class="ltx_tr"><td class="ltx_td"></td><td class="ltx_td">Carbon (t<math alttext="\\text{CO}_{2}">
<semantics><msub><mi>CO</mi><mn>2</mn></msub><annotation encoding="application/x-tex">\\text{CO}_{2}
</annotation></semantics></math>eq)</td></tr>
<tr class="ltx_tr"><td class="ltx_td">Model-C</td><td class="ltx_td">3.5</td></tr>
</tbody></table>
<figcaption class="ltx_caption"><span class="ltx_tag ltx_tag_table">Table 8: </span>Synthetic.</figcaption>
</figure></section></body></html>"""


def test_latexml_math_keeps_the_rendered_text_not_the_tex_source():
    [table] = pt.extract_tables(LATEXML_LIKE_HTML, ".html")
    assert table.label == "Table 8" and table.heading == "4.4 Footprint"
    assert table.cells[0][1] == "Carbon (tCO2eq)"


MARKDOWN_WITH_CAPTIONS = b"""# Results

| Model | Emissions |
|---|---|
| A-1 | 12 t |

Table 1: first table, caption below.

Table 2: second table, caption above.

| Model | Emissions |
|---|---|
| B-1 | 3 kg |
| Total | 3 kg |
"""


def test_markdown_captions_above_and_below_are_told_apart():
    tables = pt.extract_tables(MARKDOWN_WITH_CAPTIONS, ".md")
    assert [(t.label, t.line) for t in tables] == [("Table 1", 3), ("Table 2", 11)]
    spec = TableSpec(table="Table 2", model_column=0, columns={"emissions": 1})
    rows = pt.spec_rows(pt.find_table(tables, spec), spec, synthetic_source(spec))
    got = [(r["model_name"], r["value_as_printed"], r["unit_as_printed"]) for r in rows]
    assert got == [("B-1", "3", "kg")]
    with_totals = spec.model_copy(update={"totals": True})
    assert len(pt.spec_rows(tables[1], with_totals, synthetic_source(spec))) == 2


def test_find_table_errors_name_the_problem():
    tables = pt.extract_tables(MARKDOWN_WITH_CAPTIONS, "text/markdown")
    with pytest.raises(pt.TableNotFound, match="no table matches 'Table 9'.*labelled: Table 1, Table 2"):
        pt.find_table(tables, TableSpec(table="Table 9", model_column=0, columns={"emissions": 1}))
    with pytest.raises(pt.TableNotFound, match="matches 2 tables"):
        pt.find_table(tables, TableSpec(table="caption", model_column=0, columns={"emissions": 1}))
    spec = TableSpec(table="Table 1", model_column=0, columns={"emissions": 5})
    with pytest.raises(pt.TableExtractionError, match="columns \\[5\\] but .* has 2 columns"):
        pt.spec_rows(pt.find_table(tables, spec), spec, synthetic_source(spec))
    with pytest.raises(pt.TableExtractionError, match="cannot read tables"):
        pt.extract_tables(b"%PDF-1.4", "application/pdf")


@pytest.mark.parametrize(("cell", "expected"), [
    ("356 MWh", ("356", "MWh", None)),
    ("400W", ("400", "W", None)),
    ("137", ("137", "", None)),
    ("1.3M", ("1.3M", "", None)),
    ("370k", ("370k", "", None)),
    ("~131 tCO2eq", ("~131", "tCO2eq", None)),
    ("0*", ("0", "", "*")),
    ("11250 kg CO2 eq.", ("11250", "kg CO2 eq.", None)),
])
def test_split_value(cell, expected):
    assert pt.split_value(cell) == expected


@pytest.mark.parametrize("cell", ["Negligible**", "Stage 1: 147K hours Stage 2: 98K hours",
                                  "$1.0 \\times 10^{-4}$"])
def test_split_value_rejects_cells_that_are_not_one_number(cell):
    with pytest.raises(ValueError):
        pt.split_value(cell)


def figure(source_id: str, locator: str, metric: str, value: str, unit: str, basis=None, **extra) -> dict:
    row = dict.fromkeys(FIGURE_COLUMNS)
    row.update(source_id=source_id, locator=locator, metric=metric, value_as_printed=value,
               unit_as_printed=unit, basis=basis, model_name=locator.split(", row ")[-1].split(",")[0],
               **extra)
    return row


def test_cross_check_statuses():
    extracted = [
        figure("s", "T1, row M-1, column E (t)", "emissions", "14", "tCO2eq"),
        figure("s", "T1, row M-2, column E (t)", "emissions", "23", "tCO2eq"),
        figure("s", "T1, row 7B, column E (t)", "emissions", "31.22", "tCO2eq"),
        figure("s", "T1, row M-3, column E (t)", "emissions", "5", "t"),
        figure("s", "T1, row M-1, column Market (t)", "emissions", "0", "t", basis="market-based"),
    ]
    curated = [
        figure("s", "T1, row M-1, column E(t)", "emissions", "14000", "kg", basis="location-based",
               model_id="o/m-1"),
        figure("s", "T1, row M-1, column Market (t)", "emissions", "0", "t", basis="market-based"),
        figure("s", "T1, row M-2, column E (t)", "emissions", "32", "tCO2eq"),
        figure("s", "T1, row Fam 7B, column E (t)", "emissions", "31.22", "tCO2eq"),
        figure("s", "T1, row M-4, column E (t)", "emissions", "1", "t"),
        figure("s", "Sec. 2 paragraph", "emissions", "99", "t"),  # not a table figure: not compared
        figure("s", "T9, row M-1, column E (t)", "emissions", "99", "t"),  # another table: not compared
    ]
    checks = pt.cross_check(extracted, curated)
    status = {(c["model_name"], c["basis"]): c["status"] for c in checks}
    assert status == {
        ("M-1", "location-based"): "agree",  # 14 t = 14000 kg, column headers differ only in spacing
        ("M-1", "market-based"): "agree",
        ("M-2", None): "disagree",
        ("7B", None): "agree",  # "7B" is the tail of "Fam 7B" (merged group label)
        ("M-3", None): "only_extracted",
        ("M-4", None): "only_curated",
    }
    m1 = next(c for c in checks if c["model_name"] == "M-1" and c["basis"] == "location-based")
    assert m1["model_id"] == "o/m-1" and m1["detail"] == "same value, printed differently"
    m2 = next(c for c in checks if c["model_name"] == "M-2")
    assert (m2["value_extracted"], m2["value_curated"]) == ("23", "32")
