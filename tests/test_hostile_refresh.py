"""`refresh` under hostile or careless conditions (issue 16): invalid curated data fails the refresh and publishes
nothing; two refreshes sharing an exports folder cannot damage each other; a full disk is named as such."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.lib import warehouse
from pipelines.lib.curated import CuratedDataError, curated_figure_rows, load_curated_file, load_registry
from pipelines.lib.normalize import InvalidCuratedFigure, normalize_figures
from tests.conftest import pipeline_env, refresh
from tests.filesystems import small_tmpfs

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


# ------------------------------------------------------------------------ two writers into one exports folder

RELEASE_WRITER = """
import datetime as dt, sys, time
from pathlib import Path
import pyarrow as pa
from pipelines.lib import release
from schemas import PUBLISHED_TABLES

exports, value, signals = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def hold(folder, version, tables):  # the release is half written: say so, and wait for the test's go
    (signals / f"writing-{value}").write_text(str(folder))
    deadline = time.monotonic() + 60
    while not (signals / f"go-{value}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)

table = pa.Table.from_pylist([{"quarantine_id": "q_1", "pipeline_stage": "normalize", "source_id": "s",
                               "locator": "x", "item": value, "reason": "test"}])
result = release.write_release(exports, {"quarantine": PUBLISHED_TABLES["quarantine"]}, {"quarantine": table},
                               release_date=dt.date(2026, 1, 2), datapackage_extra={},
                               data_card=lambda *a: "card\\n", extra_files=hold)
print(result.version, result.is_new)
"""


def _wait_for(path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _assert_release_whole(folder: Path) -> None:
    sums = dict(line.split("  ")[::-1] for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert sums and {p.name for p in folder.iterdir()} == {*sums, "SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_two_release_writers_into_one_exports_folder_take_turns(tmp_path):
    exports, signals = tmp_path / "exports", tmp_path / "signals"
    signals.mkdir()

    def writer(value: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", RELEASE_WRITER, str(exports), value, str(signals)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = writer("1")
    _wait_for(signals / "writing-1")
    staging = Path((signals / "writing-1").read_text())
    second = writer("2")
    time.sleep(3)  # the second process has started and reached the exports folder (about 1 s on an idle machine)
    assert second.poll() is None and not (signals / "writing-2").exists()  # it waits for the first
    assert staging.is_dir()  # and has not removed the first's half-written release
    (signals / "go-1").touch()
    (signals / "go-2").touch()
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert [out.split() for out, _ in outputs] == [["2026.01.02", "True"], ["2026.01.02.2", "True"]]
    assert sorted(p.name for p in exports.iterdir()) == ["2026.01.02", "2026.01.02.2", "LATEST"]
    for version in ("2026.01.02", "2026.01.02.2"):
        _assert_release_whole(exports / version)
    assert (exports / "LATEST").read_text().strip() == "2026.01.02.2"


def test_a_release_writer_waits_a_bounded_time_then_says_why(tmp_path, monkeypatch):
    from pipelines.lib import release

    exports = tmp_path / "exports"
    exports.mkdir()
    monkeypatch.setattr(release, "RELEASE_LOCK_WAIT_S", 0.5)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
                               "os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
                               "time.sleep(60)", str(exports)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(release.ReleaseError, match="another refresh is writing a release into"):
            release.write_release(exports, {}, {}, release_date=dt.date(2026, 1, 2), datapackage_extra={},
                                  data_card=lambda *a: "card\n")
    finally:
        holder.kill()
        holder.wait()
    assert list(exports.iterdir()) == []


# ---------------------------------------------------------------------------------------- a full warehouse disk

class CommitFailsOnAFullDisk:
    """A connection whose COMMIT fails as DuckDB's does when the write-ahead log cannot be written: the
    transaction is rolled back by DuckDB itself, so a later ROLLBACK finds no transaction."""

    def __init__(self):
        self.con = duckdb.connect()

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            self.con.execute("ROLLBACK")
            raise duckdb.TransactionException('TransactionContext Error: Failed to commit: Could not write file '
                                              '"/x/warehouse.duckdb.wal": No space left on device')
        return self.con.execute(sql, *args)


def test_a_commit_failing_on_a_full_disk_is_reported_as_such():
    con = CommitFailsOnAFullDisk()
    with pytest.raises(warehouse.WarehouseFull, match="the disk is full .*No space left on device"):
        with warehouse.transaction(con, "table t"):
            con.execute("CREATE TABLE t AS SELECT 1 AS a")
    assert con.con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)


def test_a_warehouse_on_a_full_disk_names_the_cause_and_keeps_its_tables(tmp_path):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        path = disk / "warehouse.duckdb"
        warehouse.ensure_created(path)
        con = duckdb.connect(str(path))
        warehouse.replace_table(con, "kept", [{"a": "x"}], {"a": "VARCHAR"})
        rows = [{"a": f"{i:060d}"} for i in range(50_000)]  # about 3 MB: more than the disk holds
        with pytest.raises(warehouse.WarehouseFull, match="table big into the warehouse: the disk is full"):
            warehouse.replace_table(con, "big", rows, {"a": "VARCHAR"})
        with pytest.raises(warehouse.WarehouseFull, match="No space left on device"):
            warehouse.replace_table(con, "kept", rows, {"a": "VARCHAR"})
        assert con.execute("SELECT * FROM kept").fetchall() == [("x",)]
        con.close()


def test_refresh_with_the_warehouse_disk_full_names_the_cause(tmp_path, monkeypatch):
    with small_tmpfs(tmp_path / "disk", "1m") as disk, pipeline_env(tmp_path, AI_EMISSIONS_HOME=disk) as env:
        result = refresh(expect_ok=False)
        assert result.exit_code == 1
        assert "the disk is full" in result.output and "No space left on device" in result.output, result.output
        assert "cannot rollback" not in result.output
        assert not env["exports"].exists() or [p.name for p in env["exports"].iterdir()] == []
