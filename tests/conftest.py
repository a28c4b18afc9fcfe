from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real third-party documents; absent in a user's clone."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def isolated_env(tmp_path, monkeypatch) -> dict[str, Path]:
    """A private state folder, releases folder and Dagster home; inputs are the repository's own."""
    env = {
        "home": tmp_path / "home",
        "exports": tmp_path / "exports",
        "dagster_home": tmp_path / "dagster_home",
    }
    monkeypatch.setenv("AI_EMISSIONS_HOME", str(env["home"]))
    monkeypatch.setenv("AI_EMISSIONS_EXPORTS", str(env["exports"]))
    monkeypatch.setenv("DAGSTER_HOME", str(env["dagster_home"]))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: the Hub is unreachable
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return env


@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A private copy of the curated inputs that a test may edit."""
    copy = tmp_path / "data"
    shutil.copytree(REPO / "data", copy, ignore=shutil.ignore_patterns("warehouse.duckdb*", "snapshots", "state"))
    monkeypatch.setenv("AI_EMISSIONS_DATA", str(copy))
    return copy
