"""The command line used as a hostile or careless user would (issue 16): `query` reads the warehouse and
nothing else, in bounded memory; `estimate` refuses invalid inputs row by row and never overwrites the input."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.lib import warehouse
from tests.filesystems import small_tmpfs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A warehouse holding one small table, as AI_EMISSIONS_HOME; the working folder is an empty one."""
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("create table training_runs as select range as run_id, 'model ' || range as model_name, "
                "range * 1.5 as emissions_tco2e from range(2500)")
    con.close()
    monkeypatch.setenv("AI_EMISSIONS_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def query(*args: str):
    return CliRunner().invoke(main, ["query", *args])


def assert_refused(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output.startswith("Error: ") and "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output, result.output


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_query_writes_no_file(home, tmp_path):
    published = tmp_path / "exports" / "2026.01.01"
    published.mkdir(parents=True)
    (published / "training_runs.csv").write_text("run_id\n1\n")
    before = files_under(tmp_path)
    for sql in (f"copy (select 'x' as a) to '{published / 'training_runs.csv'}'",
                "copy (select 'x' as a) to 'relative.csv'",
                "copy training_runs to 'runs.parquet' (format parquet)",
                f"export database '{tmp_path / 'dump'}'",
                f"attach '{tmp_path / 'new.duckdb'}' as other",
                "create table t as select 1",
                "set enable_progress_bar = true"):
        assert_refused(query(sql))
    assert files_under(tmp_path) == before


def test_query_reads_no_file_outside_the_warehouse(home, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nSECRET-MARKER-16\n")
    (home / "beside.txt").write_text("SECRET-MARKER-16\n")
    for sql in (f"select * from read_csv('{secret}')",
                f"select * from read_text('{secret}')",
                f"select * from read_blob('{secret}')",
                f"select * from '{secret}'",
                f"select * from read_text('{home / 'beside.txt'}')",
                f"select * from glob('{tmp_path}/*')",
                "select * from read_csv('/etc/passwd', sep = ':')",
                "select * from read_text('/etc/passwd')"):
        result = query(sql)
        assert_refused(result, "reads the warehouse and nothing else")
        assert "SECRET-MARKER-16" not in result.output and "root:" not in result.output


def test_query_settings_are_locked(home):
    for sql in ("set enable_external_access = true", "reset enable_external_access",
                "set lock_configuration = false", "set autoinstall_known_extensions = true",
                "set memory_limit = '100GB'", "set temp_directory = '/tmp'", "pragma enable_profiling"):
        assert_refused(query(sql), "locked")


def test_query_installs_or_loads_no_extension_and_reaches_no_network(home):
    hits = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"a,b\n1,2\n")

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/data.csv"
    try:
        for sql in ("install httpfs", "load httpfs", "force install json", f"select * from read_csv('{url}')",
                    f"select * from '{url}'", f"attach '{url}' as remote"):
            result = query(sql)
            assert_refused(result)
            # refused by the session (access disabled, extension not loaded), not by a failed download
            assert "disabled" in result.output or "requires the extension httpfs" in result.output, result.output
            assert "download" not in result.output.lower() and "Failed" not in result.output
    finally:
        server.shutdown()
    assert hits == []


@pytest.mark.parametrize("sql", ["", "   ", " ; ", ";;", "/* only a comment */"])
def test_query_without_a_statement_is_a_clear_error(home, sql):
    assert_refused(query(sql), "no SQL statement")


def test_several_statements_are_refused_clearly(home):
    assert_refused(query("select 1; select 2"), "2 statements", "one statement at a time")


def test_query_output_is_capped_with_a_note_and_complete_on_request(home):
    capped = query("--format", "csv", "select run_id from training_runs order by run_id")
    assert capped.exit_code == 0, capped.output
    assert capped.stdout.splitlines() == ["run_id", *map(str, range(1000))]
    assert "cut at 1000 rows" in capped.stderr and "--no-limit" in capped.stderr
    five = query("--limit", "5", "--format", "json", "select run_id from training_runs order by run_id")
    assert json.loads(five.stdout) == [{"run_id": i} for i in range(5)] and "cut at 5 rows" in five.stderr
    whole = query("--no-limit", "--format", "csv", "select * from training_runs order by run_id")
    rows = list(csv.DictReader(io.StringIO(whole.stdout)))
    assert len(rows) == 2500 and rows[-1] == {"run_id": "2499", "model_name": "model 2499",
                                              "emissions_tco2e": "3748.5"}
    assert whole.stderr == ""
    exact = query("--limit", "2500", "select * from training_runs")  # the limit reached, nothing left out
    assert exact.exit_code == 0 and exact.stderr == "" and len(exact.stdout.splitlines()) == 2501


def test_query_formats_agree(home):
    sql = "select run_id, model_name, emissions_tco2e from training_runs where run_id in (1, 2) order by run_id"
    table = query(sql).stdout.splitlines()
    assert table[0].split() == ["run_id", "model_name", "emissions_tco2e"]
    assert [line.split() for line in table[1:]] == [["1", "model", "1", "1.5"], ["2", "model", "2", "3.0"]]
    assert json.loads(query("--format", "json", sql).stdout) == [
        {"run_id": 1, "model_name": "model 1", "emissions_tco2e": 1.5},
        {"run_id": 2, "model_name": "model 2", "emissions_tco2e": 3.0}]
    nulls = query("--format", "json", "select null as a, 'nan'::double as b, 'inf'::double as c")
    assert json.loads(nulls.stdout) == [{"a": None, "b": None, "c": None}]


def test_query_needing_more_memory_than_allowed_is_a_clear_error(home, monkeypatch):
    monkeypatch.setattr(warehouse, "QUERY_MEMORY_LIMIT", "64MB")
    result = query("select a.range as x, b.range as y from range(3000) a, range(3000) b order by random()")
    assert_refused(result, "more memory than a query may use (64MB)")
    assert files_under(home) == {"warehouse.duckdb": (home / "warehouse.duckdb").read_bytes()}


def _peak_rss_mb(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """Run the real command, output thrown away; the child's peak resident memory (Linux: KiB)."""
    process = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, process.stderr.read()
    return usage.ru_maxrss / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in KiB on Linux only")
def test_no_limit_streams_in_bounded_memory(home, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    baseline = _peak_rss_mb(["query", "select 1"], env, tmp_path)
    # the whole result held at once (as before) costs ~330 MB more at one million rows as a table
    streamed = _peak_rss_mb(["query", "--no-limit", "select range as n, 'row ' || range as label "
                             "from range(1000000)"], env, tmp_path)
    assert streamed < baseline + 80, (baseline, streamed)


# ------------------------------------------------------------------------------------------------ estimate

ESTIMATE_NUMBERS = ["chip_hours_used", "power_w_used", "pue_used", "carbon_intensity_used_kg_per_kwh", "energy_kwh",
                    "operational_tco2e", "idle_tco2e", "embodied_tco2e", "total_tco2e", "low_tco2e", "high_tco2e"]
VALID_RUN = {"model_id": "a/run", "hardware": "NVIDIA A100 80GB", "chip_count": "64", "training_days": "10",
             "location": "FR", "year": "2023"}
# (column, value as the user typed it, words the row's message must hold)
INVALID_INPUTS = [
    ("chip_count", "-100", "above 0"), ("chip_count", "0", "above 0"), ("power_w", "-400", "above 0"),
    ("carbon_intensity_kg_per_kwh", "-0.3", "at least 0"), ("carbon_intensity_kg_per_kwh", "400", "g/kWh"),
    ("pue", "0", "at least 1"), ("pue", "0.9", "at least 1"), ("energy_kwh", "lots", "not a number"),
    ("energy_kwh", "-inf", "not a finite number"), ("energy_kwh", "1e400", "not a finite number"),
    ("energy_kwh", "nan", "not a finite number"), ("energy_kwh", "-5", "above 0"), ("year", "-5", "whole year"),
    ("year", "2023.5", "whole year"), ("year", "3023", "whole year"), ("training_days", "-1", "above 0"),
    ("chip_hours", "ten", "not a number"),
]


def estimate_rows(tmp_path: Path, rows: list[dict]) -> tuple[list[dict], str]:
    """`ai-emissions estimate` over `rows`: the output rows as text, and what it said on stderr."""
    source, target = tmp_path / "runs.csv", tmp_path / "estimates.csv"
    columns = list(dict.fromkeys(c for row in rows for c in row))
    with source.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, columns)
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(main, ["estimate", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    with target.open(newline="") as stream:
        return list(csv.DictReader(stream)), result.stderr


@pytest.mark.parametrize(("column", "value", "reason"), INVALID_INPUTS)
def test_an_invalid_estimate_input_gets_a_message_and_no_numbers(tmp_path, column, value, reason):
    out, said = estimate_rows(tmp_path, [{**VALID_RUN, "model_id": "a/good"},
                                         {**VALID_RUN, "model_id": "a/bad", column: value}])
    good, bad = out
    assert float(good["total_tco2e"]) > 0  # the valid row beside it is estimated
    assert bad[column] == value  # echoed as given, never replaced (energy_kwh is an input and an output)
    assert {c: bad[c] for c in ESTIMATE_NUMBERS if c != column} == {c: "" for c in ESTIMATE_NUMBERS if c != column}
    line = next(line for line in said.splitlines() if "(a/bad)" in line)
    assert f"{column} {value!r}" in line and reason in line, line
    assert bad["message"] == line.split(": ", 1)[1]


def test_an_estimate_too_large_to_compute_gets_a_message_and_no_numbers(tmp_path):
    out, said = estimate_rows(tmp_path, [{**VALID_RUN, "chip_count": "1e308"}])
    assert [out[0][c] for c in ESTIMATE_NUMBERS] == [""] * len(ESTIMATE_NUMBERS), out[0]
    assert "out of range" in out[0]["message"] and "chip_count '1e308'" in out[0]["message"]
    assert "chip_count '1e308'" in said


def test_estimate_output_holds_no_negative_infinite_or_nan_number(tmp_path):
    rows = [{**VALID_RUN, "model_id": f"a/{i}", column: value} for i, (column, value, _) in enumerate(INVALID_INPUTS)]
    rows.append({**VALID_RUN, "model_id": "a/huge", "chip_count": "1e308"})
    out, _ = estimate_rows(tmp_path, rows)
    assert len(out) == len(rows)
    for given, row in zip(rows, out, strict=True):
        for column in ESTIMATE_NUMBERS:
            if row[column] != "" and row[column] != given.get(column):  # a value the user gave is echoed as given
                assert 0 <= float(row[column]) < float("inf"), (row["model_id"], column, row[column])


def test_a_given_energy_is_echoed_as_given(tmp_path):
    out, _ = estimate_rows(tmp_path, [{**VALID_RUN, "energy_kwh": "1,000"}, {**VALID_RUN, "energy_kwh": "lots"},
                                      {**VALID_RUN, "energy_kwh": ""}])
    assert [row["energy_kwh"] for row in out[:2]] == ["1,000", "lots"]
    assert out[0]["energy_kwh_origin"] == "disclosed" and float(out[0]["operational_tco2e"]) > 0
    assert float(out[2]["energy_kwh"]) > 0 and out[2]["energy_kwh_origin"] == "estimated"


def _estimate(args: list[str]):
    return CliRunner().invoke(main, ["estimate", *args])


@pytest.fixture
def runs_csv(tmp_path) -> Path:
    source = tmp_path / "runs.csv"
    source.write_text("model_id,hardware,chip_count,training_days,location,year\n"
                      + "".join(f"a/{i},NVIDIA A100 80GB,64,10,FR,2023\n" for i in range(200)))
    return source


def test_estimate_refuses_to_write_over_its_input(runs_csv, tmp_path, monkeypatch):
    before = runs_csv.read_bytes()
    (tmp_path / "link.csv").symlink_to(runs_csv)
    os.link(runs_csv, tmp_path / "hard.csv")
    monkeypatch.chdir(tmp_path)
    for output in (str(runs_csv), "runs.csv", "./runs.csv", "../" + tmp_path.name + "/runs.csv", "link.csv",
                   "hard.csv"):
        result = _estimate([str(runs_csv), "-o", output])
        assert_refused(result, "refusing to write the output over the input file")
        assert runs_csv.read_bytes() == before
    assert_refused(_estimate(["link.csv", "-o", str(runs_csv)]), "over the input file")


def test_estimate_into_a_missing_folder_is_a_clear_error(runs_csv, tmp_path):
    assert_refused(_estimate([str(runs_csv), "-o", str(tmp_path / "no" / "such" / "out.csv")]),
                   "does not exist")
    assert not (tmp_path / "no").exists()


def test_estimate_onto_a_full_device_is_a_clear_error(runs_csv):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    assert_refused(_estimate([str(runs_csv), "-o", "/dev/full"]), "No space left on device")


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "tiny", "16k") as mount:
        yield mount


def test_estimate_onto_a_full_disk_leaves_nothing_behind(runs_csv, tiny_disk):
    (tiny_disk / "estimates.csv").write_text("an earlier output\n")
    result = _estimate([str(runs_csv), "-o", str(tiny_disk / "estimates.csv")])
    assert_refused(result, "No space left on device")
    # the earlier output stands whole, and no partial file is left
    assert [p.name for p in tiny_disk.iterdir()] == ["estimates.csv"]
    assert (tiny_disk / "estimates.csv").read_text() == "an earlier output\n"
