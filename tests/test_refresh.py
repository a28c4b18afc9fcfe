"""The main job end to end: `ai-emissions refresh` into a private home and releases folder."""

from __future__ import annotations

import json
import os

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from pipelines.cli import main
from tests.conftest import copy_data, pipeline_env, refresh


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One refresh with the Hub and every document host unreachable, shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("built")
    data = copy_data(root / "data")
    # every document is fetched from a dead local port: the refresh must finish from curated data
    registry = data / "sources" / "registry.yaml"
    entries = yaml.safe_load(registry.read_text())
    for entry in entries:
        entry["fetch_url"] = f"http://127.0.0.1:9/{entry['source_id']}.html"
    registry.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    with pipeline_env(root, AI_EMISSIONS_OFFLINE="", AI_EMISSIONS_DATA=data):
        result = refresh()
    yield root, result


def test_unreachable_network_refresh_exits_zero_and_fills_the_warehouse(built):
    root, result = built
    assert result.exit_code == 0, result.output
    assert "could not reach http://127.0.0.1:9" in result.output
    con = duckdb.connect(str(root / "home" / "warehouse.duckdb"), read_only=True)
    for table in ("training_runs", "disclosures", "sources"):
        assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table


def test_release_folder_holds_the_contract_files(built):
    root, _ = built
    exports = root / "exports"
    version = (exports / "LATEST").read_text().strip()
    folder = exports / version
    for name in ("training_runs", "disclosures", "sources"):
        assert (folder / f"{name}.parquet").is_file() and (folder / f"{name}.csv").is_file()
    for name in ("datapackage.json", "SHA256SUMS", "README.md", "CHANGELOG.md"):
        assert (folder / name).is_file(), name
    package = json.loads((folder / "datapackage.json").read_text())
    assert package["version"] == version


def test_release_tables_equal_warehouse_tables(built):
    root, _ = built
    folder = root / "exports" / (root / "exports" / "LATEST").read_text().strip()
    con = duckdb.connect(str(root / "home" / "warehouse.duckdb"), read_only=True)
    for name in ("training_runs", "disclosures", "sources"):
        released = con.execute(f"select count(*) from '{folder / name}.parquet'").fetchone()[0]
        assert released == con.execute(f"select count(*) from {name}").fetchone()[0]


def test_query_answers_from_the_warehouse(built, monkeypatch):
    root, _ = built
    monkeypatch.setenv("AI_EMISSIONS_HOME", str(root / "home"))
    out = CliRunner().invoke(main, ["query", "--format", "json", "select count(*) as n from training_runs"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0]["n"] > 0
    csv = CliRunner().invoke(main, ["query", "--format", "csv", "select 1 as a, 'x' as b"])
    assert csv.output.splitlines() == ["a,b", "1,x"]


def test_query_errors_are_messages_not_tracebacks(built, monkeypatch, tmp_path):
    root, _ = built
    monkeypatch.setenv("AI_EMISSIONS_HOME", str(root / "home"))
    bad = CliRunner().invoke(main, ["query", "select * from no_such_table"])
    assert bad.exit_code != 0 and "query failed" in bad.output and "Traceback" not in bad.output
    write = CliRunner().invoke(main, ["query", "delete from training_runs"])
    assert write.exit_code != 0 and "read-only" in write.output
    monkeypatch.setenv("AI_EMISSIONS_HOME", str(tmp_path / "empty"))
    missing = CliRunner().invoke(main, ["query", "select 1"])
    assert missing.exit_code != 0 and "run `ai-emissions refresh` first" in missing.output


def test_unchanged_inputs_cut_no_new_version_and_rebuild_is_byte_identical(isolated_env, tmp_path, monkeypatch):
    refresh()
    exports = isolated_env["exports"]
    first = sorted(p.name for p in exports.iterdir())
    second_run = refresh()
    assert "no change" in second_run.output
    assert sorted(p.name for p in exports.iterdir()) == first
    # asked to write over a published version, the tool refuses and leaves it untouched
    version = (exports / "LATEST").read_text().strip()
    published = {p.name: p.read_bytes() for p in (exports / version).iterdir()}
    refused = refresh("--release-version", version, expect_ok=False)
    assert refused.exit_code != 0 and "never rewritten" in refused.output
    assert "AI_EMISSIONS_RELEASE_VERSION" not in os.environ  # an option lasts one run
    assert {p.name: p.read_bytes() for p in (exports / version).iterdir()} == published
    # a clean rebuild elsewhere gives the same bytes
    monkeypatch.setenv("AI_EMISSIONS_HOME", str(tmp_path / "home2"))
    monkeypatch.setenv("AI_EMISSIONS_EXPORTS", str(tmp_path / "exports2"))
    refresh()
    for path in (exports / version).iterdir():
        assert path.read_bytes() == (tmp_path / "exports2" / version / path.name).read_bytes(), path.name


def test_invalid_curated_file_fails_with_a_message_naming_it(isolated_env, data_copy):
    path = data_copy / "curated" / "touvron2023_llama.yaml"
    data = yaml.safe_load(path.read_text())
    data["runs"][0]["figures"][0]["unit"] = "furlongs"
    path.write_text(yaml.safe_dump(data))
    result = refresh(expect_ok=False)
    assert result.exit_code != 0
    assert "touvron2023_llama.yaml" in result.output and "furlongs" in result.output
    assert not (isolated_env["exports"] / "LATEST").exists()
