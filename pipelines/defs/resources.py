"""Resources shared by every stage: where things live, and the DuckDB warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.lib import warehouse
from pipelines.lib.settings import Paths


class PathsResource(dg.ConfigurableResource):
    """Repository inputs, runtime state and the releases folder (defaults from the environment)."""

    data_dir: str
    sql_dir: str
    home: str
    exports_dir: str

    @classmethod
    def from_paths(cls, paths: Paths) -> PathsResource:
        return cls(data_dir=str(paths.data_dir), sql_dir=str(paths.sql_dir), home=str(paths.home),
                   exports_dir=str(paths.exports_dir))

    @property
    def paths(self) -> Paths:
        return Paths(Path(self.data_dir), Path(self.sql_dir), Path(self.home), Path(self.exports_dir))


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse; its file is created whole or not at all, so a killed refresh cannot tear it."""

    @contextmanager
    def get_connection(self) -> Iterator:
        if self.database != ":memory:":
            warehouse.ensure_created(Path(self.database))
        with super().get_connection() as con:
            yield con


def build_resources(paths: Paths) -> dict:
    paths.home.mkdir(parents=True, exist_ok=True)
    return {
        "paths": PathsResource.from_paths(paths),
        "duckdb": WarehouseResource(database=str(paths.warehouse)),
    }
