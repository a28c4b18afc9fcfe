"""Releases researchers can trust: valid data package, checksums, immutability, atomicity, changelog."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from pipelines.lib import release as releases
from schemas import PUBLISHED_TABLES
from tests.conftest import REPO, pipeline_env, refresh


def latest(exports):
    return exports / (exports / "LATEST").read_text().strip()


@pytest.fixture(scope="module")
def built_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("released")
    with pipeline_env(root):
        refresh()
    return latest(root / "exports")


@pytest.fixture(scope="module", params=["built now", "committed"])
def released(request):
    """The read-only checks below hold for a release built offline now and for the committed one."""
    if request.param == "committed":
        if not (REPO / "exports" / "LATEST").exists():
            pytest.skip("no committed release under exports/")
        return latest(REPO / "exports")
    return request.getfixturevalue("built_release")


def test_release_passes_frictionless_validation(released):
    frictionless = pytest.importorskip("frictionless")
    report = frictionless.validate(released / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]


def test_sha256sums_match_every_file(released):
    listed = {}
    for line in (released / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        listed[name] = digest
    files = {p.name for p in released.iterdir()} - {"SHA256SUMS"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((released / name).read_bytes()).hexdigest() == digest


def test_parquet_and_csv_hold_the_same_rows(released):
    con = duckdb.connect()
    for name in PUBLISHED_TABLES:
        parquet = con.execute(f"select * from '{released / name}.parquet'").df()
        csv = pd.read_csv(released / f"{name}.csv", dtype=str, keep_default_na=False)
        assert list(parquet.columns) == list(csv.columns)
        assert len(parquet) == len(csv), name
        for column in parquet.columns:
            assert [_cell(v) for v in parquet[column]] == [_cell(v, csv=True) for v in csv[column]], (name, column)


def _cell(value, csv=False):
    """One cell as a comparable Python value: numbers as floats (exactly), booleans, text, None for empty."""
    if csv:
        if value == "":
            return None
        if value in ("true", "false"):
            return value == "true"
        try:
            return float(value)
        except ValueError:
            return value
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, int | float) or hasattr(value, "item"):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return value


def test_release_loads_with_duckdb_and_pandas(released):
    runs = pd.read_parquet(released / "training_runs.parquet")
    assert len(runs) > 0 and "emissions_tco2e" in runs.columns
    assert duckdb.connect().execute(f"select count(*) from '{released}/disclosures.parquet'").fetchone()[0] > 0


def test_every_disclosed_row_has_a_source_and_every_estimate_lies_in_its_bounds(released):
    runs = pd.read_parquet(released / "training_runs.parquet")
    disclosed = runs[runs.emissions_origin == "disclosed"]
    assert disclosed.source_url.notna().all()
    estimated = runs[runs.emissions_origin == "estimated"]
    assert ((estimated.estimate_low_tco2e <= estimated.emissions_tco2e)
            & (estimated.emissions_tco2e <= estimated.estimate_high_tco2e)).all()


def test_data_card_and_plots_exist(released):
    card = (released / "README.md").read_text()
    assert "CC BY 4.0" in card and "disclosed" in card and "estimated" in card
    for png in ("emissions_by_year.png", "disclosure_scorecard.png"):
        assert (released / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_changed_figure_shows_exactly_in_the_changelog(isolated_env, data_copy):
    refresh()
    released = latest(isolated_env["exports"])
    path = data_copy / "curated" / "touvron2023_llama.yaml"
    data = yaml.safe_load(path.read_text())
    figure = next(f for f in data["runs"][2]["figures"] if f["metric"] == "emissions")
    old_printed = figure["value"]
    figure["value"] = str(int(old_printed) + 1)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    refresh()
    new = latest(isolated_env["exports"])
    assert new != released and released.is_dir()
    sections = _changelog_sections((new / "CHANGELOG.md").read_text())
    assert any(f"Compared with the previous release, {released.name}" in line for line in sections[""])
    # the curated figure is the one changed disclosure, with its old and new printed value
    changed = [line for line in sections["disclosures"] if line.startswith("- ")]
    assert {line.split("`")[1] for line in changed} == {_only_id(changed)}
    assert any(f"value_as_printed: `{old_printed}` -> `{figure['value']}`" in line for line in changed)
    assert all(line.startswith("- changed") for line in changed)
    # what is derived from it follows: the model's headline run, nothing added or removed anywhere
    runs = [line for line in sections["training_runs"] if line.startswith("- ")]
    assert runs and all(line.startswith(f"- changed `{data['runs'][2]['model_id']}@") for line in runs)
    assert not [line for lines in sections.values() for line in lines if line.startswith(("- added", "- removed"))]


def _changelog_sections(text: str) -> dict[str, list[str]]:
    sections, current = {"": []}, ""
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


def _only_id(lines: list[str]) -> str:
    ids = {line.split("`")[1] for line in lines}
    assert len(ids) == 1, ids
    return ids.pop()


def table(rows):
    return pa.Table.from_pylist(rows)


def minimal_tables(value=1.0):
    return {"quarantine": table([{"quarantine_id": "q_1", "pipeline_stage": "normalize", "source_id": "s",
                                  "locator": "x", "item": str(value), "reason": "test"}])}


def write(exports, value=1.0, **kwargs):
    published = {"quarantine": PUBLISHED_TABLES["quarantine"]}
    return releases.write_release(exports, published, minimal_tables(value), release_date=dt.date(2026, 1, 2),
                                  datapackage_extra={}, data_card=lambda *a: "card\n", **kwargs)


def test_versions_are_calver_and_never_rewritten(tmp_path):
    first = write(tmp_path)
    assert first.version == "2026.01.02" and first.is_new
    assert not write(tmp_path).is_new  # same content: no new version
    second = write(tmp_path, value=2.0)
    assert second.version == "2026.01.02.2"
    before = {p.name: p.read_bytes() for p in first.path.iterdir()}
    with pytest.raises(releases.ReleaseError, match="never rewritten"):
        write(tmp_path, value=3.0, version="2026.01.02")
    assert {p.name: p.read_bytes() for p in first.path.iterdir()} == before
    assert (tmp_path / "LATEST").read_text().strip() == "2026.01.02.2"


def test_a_crash_while_writing_leaves_no_partial_release(tmp_path):
    write(tmp_path)

    def crash(folder, version, tables):
        (folder / "half.png").write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write(tmp_path, value=5.0, extra_files=crash)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026.01.02", "LATEST"]
    assert (tmp_path / "LATEST").read_text().strip() == "2026.01.02"


def test_datapackage_fields_come_from_the_contracts(released):
    package = json.loads((released / "datapackage.json").read_text())
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    resources = {r["name"]: r for r in package["resources"]}
    for name, contract in PUBLISHED_TABLES.items():
        fields = resources[name]["schema"]["fields"]
        assert [f["name"] for f in fields] == contract.columns
        assert all(f["description"] for f in fields)
        assert resources[name]["schema"]["primaryKey"] == list(contract.primary_key)
    units = {f["name"]: f.get("unit") for f in resources["training_runs"]["schema"]["fields"]}
    assert units["emissions_tco2e"] == "tCO2e" and units["energy_kwh"] == "kWh"


def test_withdrawn_releases_are_named_once_in_the_next_changelog_and_never_reused(tmp_path):
    from pipelines.lib.release import WITHDRAWN, changelog_markdown, next_version, withdrawn_since

    (tmp_path / WITHDRAWN).write_text(yaml.safe_dump([
        {"version": "2031.01.02", "withdrawn_on": "2031-02-01", "reason": "internal references in its sources"},
        {"version": "2031.01.02.2", "withdrawn_on": "2031-02-01", "reason": "internal references in its sources"}]))
    withdrawn = withdrawn_since(tmp_path, None)
    text = changelog_markdown("2031.02.01", None, {}, withdrawn)
    assert "2031.01.02.2 (withdrawn 2031-02-01): internal references" in text and "withdrawn." in text
    # a release cut after the withdrawal does not repeat it
    assert withdrawn_since(tmp_path, "2031.02.01") == []
    assert next_version(tmp_path, dt.date(2031, 1, 2)) == "2031.01.02.3"
