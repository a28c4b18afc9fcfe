from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
# Real third-party documents (model cards, papers, Epoch AI tables) that some tests parse. They are other
# people's texts, so they are never committed: a user's clone has no such folder and those tests skip.
CORPUS_MISSING = (f"third-party test documents not found at {CORPUS}: they are not part of the repository, "
                  "so tests that parse real cards, papers or Epoch tables are skipped")
DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens there: connections are refused at once


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real third-party documents; absent in a user's clone."""
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS


@contextmanager
def pipeline_env(root: Path, **overrides: str | Path) -> Iterator[dict[str, Path]]:
    """A private state folder, releases folder and Dagster home, offline unless a test says otherwise.

    Tests never reach the public internet: with AI_EMISSIONS_OFFLINE unset (overrides={"AI_EMISSIONS_OFFLINE":
    ""}), the Hub is a dead local port unless HF_ENDPOINT names a local server.
    """
    env = {"AI_EMISSIONS_HOME": root / "home", "AI_EMISSIONS_EXPORTS": root / "exports",
           "DAGSTER_HOME": root / "dagster_home", "AI_EMISSIONS_OFFLINE": "1", "HF_ENDPOINT": DEAD_ENDPOINT,
           **overrides}
    mp = pytest.MonkeyPatch()
    for name, value in env.items():
        mp.setenv(name, str(value))
    for name in ("HF_TOKEN", "SOURCE_DATE_EPOCH", "AI_EMISSIONS_HUB_DUMP"):  # a developer's dump is not read
        mp.delenv(name, raising=False)
    try:
        yield {"home": root / "home", "exports": root / "exports", "dagster_home": root / "dagster_home"}
    finally:
        mp.undo()


def refresh(*args: str, expect_ok: bool = True):
    """Run `ai-emissions refresh` in-process; by default the run must succeed."""
    result = CliRunner().invoke(_main(), ["refresh", *args], catch_exceptions=False)
    if expect_ok:
        assert result.exit_code == 0, result.output
    return result


def fetch(env: dict[str, Path], sql: str, *, as_dicts: bool = False) -> list:
    """Rows of a query on the warehouse a test refresh built (read-only, closed afterwards)."""
    import duckdb

    con = duckdb.connect(str(env["home"] / "warehouse.duckdb"), read_only=True)
    try:
        cursor = con.execute(sql)
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description]
    finally:
        con.close()
    return [dict(zip(names, r, strict=True)) for r in rows] if as_dicts else rows


def _main():
    from pipelines.cli import main

    return main


@pytest.fixture
def isolated_env(tmp_path) -> Iterator[dict[str, Path]]:
    with pipeline_env(tmp_path) as env:
        yield env


def copy_data(destination: Path) -> Path:
    """A private copy of the curated inputs, without document fetch URLs (tests reach no public site): benchmark
    result files (sources/inference_energy.yaml) are fetched from a dead local port unless a test serves them."""
    import yaml

    shutil.copytree(REPO / "data", destination,
                    ignore=shutil.ignore_patterns("warehouse.duckdb*", "snapshots", "state"))
    registry = destination / "sources" / "registry.yaml"
    entries = yaml.safe_load(registry.read_text())
    for entry in entries:
        entry.pop("fetch_url", None)
    registry.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    benchmarks = destination / "sources" / "inference_energy.yaml"
    projects = yaml.safe_load(benchmarks.read_text())
    for project in projects:
        project["fetch_url"] = f"{DEAD_ENDPOINT}/{project['source_id']}/{{task}}"
    benchmarks.write_text(yaml.safe_dump(projects, sort_keys=False, allow_unicode=True))
    return destination


@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the curated inputs that a test may edit."""
    copy = copy_data(tmp_path / "data")
    monkeypatch.setenv("AI_EMISSIONS_DATA", str(copy))
    return copy


class DocumentServer:
    """Serves files like a raw-file host: text/plain, the path's suffix telling the format."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
