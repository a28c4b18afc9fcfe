"""The release's explorer page: self-contained, deterministic, faithful to the tables, small.

The browser tests are in test_explorer_browser.py; `sample_tables` here builds the small tables both
modules use, shaped by the published contracts in `schemas/` (invented models and example.org sources).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import random
import re
import struct
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
from bs4 import BeautifulSoup

from pipelines.lib.datacard import data_card
from pipelines.lib.explorer import EXPLORER_FILE, ExplorerError, render_explorer, write_explorer
from pipelines.lib.release import arrow_schema, write_release
from schemas import PUBLISHED_TABLES

MAX_BYTES = 2 * 1024 * 1024
# Estimate columns the page must show whatever they are; added when the contract does not have them (yet).
ESTIMATE_COLUMNS = [pa.field("estimate_method", pa.string()), pa.field("energy_origin", pa.string()),
                    pa.field("carbon_intensity_origin", pa.string())]
# The conflicts contract as the conflicts mart writes it (built here so the test does not depend on it).
CONFLICT_COLUMNS = {
    "conflict_id": pa.string(), "conflict_kind": pa.string(), "ratio": pa.float64(), "model_id": pa.string(),
    "model_name": pa.string(), "stage": pa.string(), "metric": pa.string(), "unit": pa.string(),
    "functional_unit": pa.string(), "component": pa.string(),
    **{f"{name}_{side}": kind for side in "ab" for name, kind in [
        ("disclosure_id", pa.string()), ("value", pa.float64()), ("basis", pa.string()),
        ("value_as_printed", pa.string()), ("unit_as_printed", pa.string()), ("locator", pa.string()),
        ("is_restatement", pa.bool_()), ("source_id", pa.string()), ("source_url", pa.string())]},
}
HOSTILE_NAME = 'Delta </script><b id="injected">bold</b> & "friends"'


def contract_table(name: str, rows: list[dict], extra: list[pa.Field] = ()) -> pa.Table:
    """Rows laid out as the contract of `name` says (absent columns are null), plus `extra` columns."""
    schema = arrow_schema(PUBLISHED_TABLES[name])
    for field in extra:
        if field.name not in schema.names:
            schema = schema.append(field)
    return pa.Table.from_pylist(rows, schema=schema)


def _run(model_id, model_name, organization, stage, **figures):
    estimated = figures.get("emissions_origin") == "estimated"
    return {"run_id": f"{model_id}@{stage}", "model_id": model_id, "model_name": model_name,
            "organization": organization, "stage": stage, "is_restatement": False,
            "disclosure_type": "estimate" if estimated else "first-party", "is_primary": not estimated,
            "is_aggregate": False, "has_conflict": False, "n_sources": 1, "is_excluded": False, "precedence": 1,
            "is_headline": True,
            "headline_reason": "this project's estimate" if estimated else "first-party original figure", **figures}


def _disclosure(n, model_id, model_name, stage, metric, value, unit, printed, unit_printed, locator, source, **more):
    return {"disclosure_id": f"d_{n:04d}", "model_id": model_id, "model_name": model_name,
            "organization": model_id.split("/")[0], "stage": stage, "metric": metric, "value": value, "unit": unit,
            "value_as_printed": printed, "unit_as_printed": unit_printed, "locator": locator,
            "is_restatement": False, "is_superseded": False, "extraction_method": "curated",
            "source_id": source, "source_url": SOURCE_URLS[source], **more}


SOURCE_URLS = {"alpha_paper": "https://example.org/alpha/paper", "beta_card": "https://example.org/beta/card",
               "gamma_report": "https://example.org/gamma/report", "survey": "https://example.org/survey"}


def sample_tables(*, with_conflicts: bool = True) -> dict[str, pa.Table]:
    """Five runs of four invented models: disclosed, estimated with bounds, without emissions, hostile text."""
    alpha, beta, gamma, delta = "example-lab/alpha-7b", "other-org/beta-13b", "third-co/gamma-2b", "d-lab/delta"
    runs = contract_table("training_runs", [
        _run(alpha, "Alpha 7B", "Example Lab", "pretraining", year=2023, hardware="A100-80GB", chip_count=64.0,
             chip_hours=120000.0, energy_kwh=60000.0, emissions_tco2e=25.5, emissions_basis="location-based",
             emissions_origin="disclosed", source_id="alpha_paper", source_url=SOURCE_URLS["alpha_paper"],
             energy_origin="disclosed"),
        _run(alpha, "Alpha 7B", "Example Lab", "fine-tuning", year=2023, chip_hours=800.0,
             source_id="alpha_paper", source_url=SOURCE_URLS["alpha_paper"]),
        _run(beta, "Beta 13B", "Other Org", "pretraining", year=2024, hardware="H100-80GB", chip_hours=450000.0,
             energy_kwh=300000.0, pue=1.2, carbon_intensity_kg_per_kwh=0.4, emissions_tco2e=130.25,
             emissions_basis="location-based", emissions_origin="estimated", estimate_low_tco2e=80.5,
             estimate_high_tco2e=210.75, source_id="beta_card", source_url=SOURCE_URLS["beta_card"],
             estimate_method="chip-hours x power x PUE x grid intensity", energy_origin="estimated",
             carbon_intensity_origin="default"),
        _run(gamma, "Gamma 2B", "Third Co", "pretraining", year=2022, emissions_tco2e=3.2,
             emissions_basis="unspecified", emissions_origin="disclosed", source_id="gamma_report",
             source_url=SOURCE_URLS["gamma_report"]),
        _run(delta, HOSTILE_NAME, "D Lab", "inference", year=2025),
    ], extra=ESTIMATE_COLUMNS)
    disclosures = contract_table("disclosures", [
        _disclosure(1, alpha, "Alpha 7B", "pretraining", "emissions", 25.5, "tCO2e", "25.5", "tCO2eq",
                    "Table 3, row Alpha 7B, column CO2", "alpha_paper", basis="location-based"),
        _disclosure(2, alpha, "Alpha 7B", "pretraining", "energy", 60000.0, "kWh", "60", "MWh",
                    "Table 3, row Alpha 7B, column Energy", "alpha_paper"),
        _disclosure(3, alpha, "Alpha 7B", "pretraining", "chip_hours", 120000.0, "hours", "120k", "GPU hours",
                    "Section 4.1, paragraph 2", "alpha_paper"),
        _disclosure(4, alpha, "Alpha 7B", "pretraining", "emissions", 30.0, "tCO2e", "30", "t",
                    "Table 3 (first version), row Alpha 7B", "alpha_paper", basis="location-based",
                    is_superseded=True, superseded_on="2023-09-01"),
        _disclosure(5, alpha, "Alpha-7B", "pretraining", "emissions", 40.0, "tCO2e", "~40", "tonnes CO2e",
                    "Table 1, row Alpha-7B", "survey", basis="unspecified", is_restatement=True,
                    organization="example-lab"),
        _disclosure(6, alpha, "Alpha 7B", "fine-tuning", "chip_hours", 800.0, "hours", "800", "GPU-hours",
                    "Section 5, paragraph 1", "alpha_paper"),
        _disclosure(7, beta, "Beta 13B", "pretraining", "chip_hours", 450000.0, "hours", "450,000", "H100 hours",
                    "YAML co2_eq_emissions.training_hours", "beta_card"),
        _disclosure(8, gamma, "Gamma 2B", "pretraining", "emissions", 3.2, "tCO2e", "3200", "kg CO2",
                    "Environmental impact, sentence 1", "gamma_report", basis="unspecified"),
    ])
    sources = contract_table("sources", [
        {"source_id": sid, "title": title, "organization": org, "published_date": date, "kind": kind,
         "url": SOURCE_URLS[sid], "verified_in": SOURCE_URLS[sid], "verification": "primary", "figure_count": count}
        for sid, title, org, date, kind, count in [
            ("alpha_paper", "Alpha: an example model (paper)", "Example Lab", "2023-05-01", "paper", 5),
            ("beta_card", "Beta 13B model card", "Other Org", "2024-02-02", "model_card", 1),
            ("gamma_report", "Gamma technical report", "Third Co", "2022-10-10", "technical_report", 1),
            ("survey", "A survey of training footprints", "Survey Group", "2024-06-01", "paper", 1)]
    ])
    tables = {"training_runs": runs, "disclosures": disclosures, "sources": sources}
    if with_conflicts:
        conflict = {"conflict_id": "c_0001", "conflict_kind": "first-party vs restatement", "ratio": 1.5686,
                    "model_id": alpha, "model_name": "Alpha 7B", "stage": "pretraining", "metric": "emissions",
                    "unit": "tCO2e"}
        for side, row in (("a", disclosures.slice(0, 1)), ("b", disclosures.slice(4, 1))):
            record = row.to_pylist()[0]
            for name in ("disclosure_id", "value", "basis", "value_as_printed", "unit_as_printed", "locator",
                         "is_restatement", "source_id", "source_url"):
                conflict[f"{name}_{side}"] = record[name]
        tables["conflicts"] = pa.Table.from_pylist([conflict], schema=pa.schema(CONFLICT_COLUMNS))
    return tables


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid grey PNG, so a plot can be shown without a plotting library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def embedded_payload(page: str) -> dict:
    block = json.loads(BeautifulSoup(page, "html.parser").find("script", id="explorer-data").string)
    if "gzip_base64" in block:  # a large release: the same JSON, gzipped
        return json.loads(gzip.decompress(base64.b64decode(block["gzip_base64"])))
    return block


def decoded_rows(table: dict) -> list[dict]:
    """The rows of an embedded table, decoded the way the page's script decodes them."""
    columns = {}
    for name in table["columns"]:
        encoded = table["data"][name]
        if isinstance(encoded, list):
            columns[name] = encoded
        elif "const" in encoded:
            columns[name] = [encoded["const"]] * table["n"]
        else:
            columns[name] = [encoded["dict"][code] for code in encoded["codes"]]
    return [{name: columns[name][i] for name in table["columns"]} for i in range(table["n"])]


def test_embedded_data_round_trips_every_row_and_column():
    tables = sample_tables()
    page = render_explorer("2031.01.02", tables, release_date="2031-01-02")
    assert '"gzip_base64"' not in page  # a small release keeps readable JSON
    payload = embedded_payload(page)
    assert_same_rows(payload, tables)
    assert payload["release"]["version"] == "2031.01.02" and payload["release"]["license"] == "CC BY 4.0"


def assert_same_rows(payload: dict, tables: dict[str, pa.Table]) -> None:
    """Every row and column of the input tables is in the page (rows ordered by primary key)."""
    keys = {"training_runs": "run_id", "disclosures": "disclosure_id", "sources": "source_id",
            "conflicts": "conflict_id"}
    for name, table in tables.items():
        expected = sorted(table.to_pylist(), key=lambda row: row[keys[name]])
        if name == "disclosures":  # the page leaves out only the long ids it does not show
            expected = [{k: v for k, v in row.items() if k != "disclosure_id"} for row in expected]
        if name == "conflicts":
            expected = [{k: v for k, v in row.items() if not k.startswith("disclosure_id")} for row in expected]
        assert decoded_rows(payload["tables"][name]) == expected, name


def test_contract_units_travel_with_the_data():
    payload = embedded_payload(render_explorer("v1", sample_tables(), release_date="2031-01-02"))
    runs = payload["fields"]["training_runs"]
    for name, column in PUBLISHED_TABLES["training_runs"].model.to_schema().columns.items():
        assert runs[name].get("unit") == (column.metadata or {}).get("unit"), name
    assert "unit" not in runs["estimate_method"]  # an added column without a unit suffix has no unit


def test_same_tables_give_the_same_bytes_whatever_the_row_order(tmp_path):
    tables = sample_tables()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_explorer(tmp_path / "a", "v1", tables, release_date="2031-01-02")
    shuffled = {}
    for name, table in tables.items():
        order = list(range(table.num_rows))
        random.Random(7).shuffle(order)
        shuffled[name] = table.take(order)
    second = write_explorer(tmp_path / "b", "v1", shuffled, release_date="2031-01-02")
    assert first.read_bytes() == second.read_bytes()
    assert render_explorer("v2", tables, release_date="2031-01-02") != first.read_text()


def test_page_is_self_contained(tmp_path):
    (tmp_path / "emissions_by_year.png").write_bytes(tiny_png())
    page = write_explorer(tmp_path, "v1", sample_tables(), release_date="2031-01-02",
                          plots=["emissions_by_year.png"]).read_text()
    soup = BeautifulSoup(page, "html.parser")
    assert all(not s.get("src") for s in soup.find_all("script")), "scripts must be inline"
    assert not soup.find_all("link", rel="stylesheet") and not soup.find_all("iframe")
    loaded = [tag.get("src") for tag in soup.find_all(["img", "video", "audio", "source", "embed"])]
    assert loaded == ["emissions_by_year.png"]
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page), "no remote styles or fonts"
    # the hostile model name stays inside the data block: exactly two script elements, no injected markup
    assert len(soup.find_all("script")) == 2 and soup.find(id="injected") is None
    names = decoded_rows(embedded_payload(page)["tables"]["training_runs"])
    assert HOSTILE_NAME in [row["model_name"] for row in names]


def test_release_facts_and_citation_are_in_the_page():
    soup = BeautifulSoup(render_explorer("2031.01.02.2", sample_tables(), release_date="2031-01-02"),
                         "html.parser")
    assert soup.find(id="release-version").get_text() == "2031.01.02.2"
    assert soup.find(id="release-date").get_text() == "2031-01-02"
    license_link = soup.find("a", rel="license")
    assert license_link.get_text() == "CC BY 4.0" and "creativecommons.org/licenses/by/4.0" in license_link["href"]
    assert "2031.01.02.2" in soup.find(id="citation").get_text()
    assert "@misc{" in soup.find("pre", class_="bibtex").get_text()
    files = [a["href"] for a in soup.select("ul.files a")]
    assert {"training_runs.csv", "training_runs.parquet", "conflicts.parquet", "datapackage.json"} <= set(files)


def test_plots_that_are_missing_are_left_out(tmp_path):
    (tmp_path / "present.png").write_bytes(tiny_png())
    page = write_explorer(tmp_path, "v1", sample_tables(), release_date="2031-01-02",
                          plots=["present.png", "absent.png"]).read_text()
    assert "present.png" in page and "absent.png" not in page
    empty = write_explorer(tmp_path, "v1", sample_tables(), release_date="2031-01-02").read_text()
    assert "This release has no plots." in empty


@pytest.mark.parametrize("name", ["../outside.png", "/tmp/plot.png", "plots\\x.png", "chart.svg", ""])
def test_plot_paths_must_stay_in_the_release_folder(tmp_path, name):
    with pytest.raises(ExplorerError):
        write_explorer(tmp_path, "v1", sample_tables(), release_date="2031-01-02", plots=[name])


def test_missing_table_or_column_is_a_clear_error():
    tables = sample_tables()
    with pytest.raises(ExplorerError, match="'sources'"):
        render_explorer("v1", {k: v for k, v in tables.items() if k != "sources"}, release_date="2031-01-02")
    tables["disclosures"] = tables["disclosures"].drop(["locator"])
    with pytest.raises(ExplorerError, match="locator"):
        render_explorer("v1", tables, release_date="2031-01-02")


def test_absent_conflicts_table_is_recorded_as_absent():
    payload = embedded_payload(render_explorer("v1", sample_tables(with_conflicts=False), release_date="2031-01-02"))
    assert payload["tables"]["conflicts"] is None


def generated_tables(runs: int, disclosures: int, seed: int = 1) -> dict[str, pa.Table]:
    """Tables of a given size with realistic text lengths (ids, titles, locators, printed values)."""
    rng = random.Random(seed)
    orgs = [f"Organization {i}" for i in range(60)]
    stages = ["pretraining", "fine-tuning", "development", "inference", "total"]
    source_count = max(1, disclosures // 20)
    sources = [{"source_id": f"source_{i:05d}", "title": f"Technical report on model family {i}, version {i % 7}",
                "organization": orgs[i % len(orgs)], "published_date": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}",
                "kind": "paper", "url": f"https://example.org/reports/{i:05d}/technical-report.pdf",
                "verified_in": f"https://example.org/reports/{i:05d}/technical-report.pdf", "verification": "primary",
                "figure_count": 20} for i in range(source_count)]
    run_rows = []
    for i in range(runs):
        model = f"organization-{i % 60}/model-{i // 5:05d}-{rng.randrange(1, 200)}b"
        estimated = i % 3 == 0
        value = round(rng.uniform(0.01, 50000), 3)
        source = sources[i % source_count]
        run_rows.append(_run(model, f"Model {i // 5} {rng.randrange(1, 200)}B", orgs[i % 60], stages[i % 5],
                             year=2015 + i % 11, hardware=rng.choice(["A100-80GB", "H100-80GB", "TPU v4", "V100"]),
                             chip_hours=round(rng.uniform(100, 1e7)), energy_kwh=round(rng.uniform(10, 5e7), 1),
                             emissions_tco2e=value, emissions_basis="location-based",
                             emissions_origin="estimated" if estimated else "disclosed",
                             estimate_low_tco2e=round(value * 0.6, 3) if estimated else None,
                             estimate_high_tco2e=round(value * 1.7, 3) if estimated else None,
                             source_id=source["source_id"], source_url=source["url"],
                             estimate_method="chip-hours x power x PUE x grid intensity" if estimated else None,
                             energy_origin="estimated" if estimated else "disclosed",
                             carbon_intensity_origin="default" if estimated else None))
    run_rows = list({r["run_id"]: r for r in run_rows}.values())
    metrics = [("emissions", "tCO2e", "tCO2eq"), ("energy", "kWh", "MWh"), ("chip_hours", "hours", "GPU hours"),
               ("power", "W", "W")]
    disclosure_rows = []
    for n in range(disclosures):
        run = run_rows[n % len(run_rows)]
        metric, unit, printed_unit = metrics[n % len(metrics)]
        source = sources[n % source_count]
        value = round(rng.uniform(1, 1e6), 2)
        disclosure_rows.append({
            "disclosure_id": f"d_{n:016x}", "model_id": run["model_id"], "model_name": run["model_name"],
            "organization": run["organization"], "stage": run["stage"], "metric": metric, "value": value,
            "unit": unit, "value_as_printed": f"{value:,}", "unit_as_printed": printed_unit,
            "locator": f"Table {n % 9 + 1}, row {run['model_name']}, column {metric.replace('_', ' ')}",
            "is_restatement": n % 11 == 0, "is_superseded": n % 13 == 0, "extraction_method": "curated",
            "source_id": source["source_id"], "source_url": source["url"]})
    return {"training_runs": contract_table("training_runs", run_rows, extra=ESTIMATE_COLUMNS),
            "disclosures": contract_table("disclosures", disclosure_rows),
            "sources": contract_table("sources", sources)}


def test_page_for_a_large_release_stays_under_2_mb_and_loses_nothing():
    """The current release has a few hundred runs; this is several times the largest one we expect."""
    tables = generated_tables(runs=5000, disclosures=20000)
    page = render_explorer("v1", tables, release_date="2031-01-02")
    assert len(page.encode("utf-8")) < MAX_BYTES
    assert_same_rows(embedded_payload(page), tables)
    assert render_explorer("v1", tables, release_date="2031-01-02") == page  # gzip adds no timestamp


def test_release_writer_hashes_the_page(tmp_path):
    tables = sample_tables(with_conflicts=False)
    contract = set(PUBLISHED_TABLES["training_runs"].columns)
    tables["training_runs"] = tables["training_runs"].drop(
        [f.name for f in ESTIMATE_COLUMNS if f.name not in contract])
    release_date = dt.date(2031, 1, 2)
    result = write_release(
        tmp_path, PUBLISHED_TABLES, tables, release_date=release_date, datapackage_extra={}, data_card=data_card,
        extra_files=lambda folder, version, conformed: write_explorer(
            folder, version, conformed, release_date=release_date.isoformat()))
    page = result.path / EXPLORER_FILE
    assert page.is_file()
    assert f"  {EXPLORER_FILE}\n" in (result.path / "SHA256SUMS").read_text()
    assert embedded_payload(page.read_text())["release"]["version"] == result.version


def committed_release() -> Path | None:
    exports = Path(__file__).resolve().parents[1] / "exports"
    marker = exports / "LATEST"
    if not marker.is_file():
        return None
    folder = exports / marker.read_text().strip()
    return folder if (folder / "training_runs.parquet").is_file() else None
