"""Where things live: repository inputs, runtime state and releases, from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HUB_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class Paths:
    data_dir: Path  # curated inputs committed to the repository (sources, curated, reference)
    sql_dir: Path  # dbt_like_sql/
    home: Path  # runtime state: warehouse, snapshots
    exports_dir: Path  # published releases

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def snapshots(self) -> Path:
        return self.home / "snapshots"

    @classmethod
    def from_env(cls) -> Paths:
        return cls(
            # AI_EMISSIONS_DATA points the pipeline at another copy of the curated inputs (tests, reviews)
            data_dir=Path(os.environ.get("AI_EMISSIONS_DATA") or PROJECT_ROOT / "data").resolve(),
            sql_dir=PROJECT_ROOT / "dbt_like_sql",
            home=Path(os.environ.get("AI_EMISSIONS_HOME") or PROJECT_ROOT / "data").resolve(),
            exports_dir=Path(os.environ.get("AI_EMISSIONS_EXPORTS") or PROJECT_ROOT / "exports").resolve(),
        )


def offline(environ: Mapping[str, str] | None = None) -> bool:
    """AI_EMISSIONS_OFFLINE=1 (or `refresh --offline`): no network at all; stored snapshots are used."""
    env = os.environ if environ is None else environ
    return env.get("AI_EMISSIONS_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def ensure_dagster_home() -> Path:
    """A project-local DAGSTER_HOME with telemetry off, unless the caller set one."""
    home = Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
