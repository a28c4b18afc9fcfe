"""Resources shared by every stage: where things live, the network, and the DuckDB warehouse."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from pipelines.lib import warehouse
from pipelines.lib.settings import DEFAULT_HUB_ENDPOINT, Paths, offline

# The whole network phase of a refresh (registry documents and Hub cards together): nothing is fetched after
# this many seconds; what was not fetched is recorded and fetched by the next refresh. Keeps a server that
# never answers, or answers a byte at a time, from holding a refresh for more than this.
DEFAULT_NETWORK_BUDGET_S = 100
NETWORK_BUDGET_VAR = "AI_EMISSIONS_NETWORK_BUDGET_S"


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


class NetworkResource(dg.ConfigurableResource):
    """How the ingest assets reach the network: offline or not, the Hub endpoint and token, and the time budget
    of the whole network phase, which starts when the run's resources are set up."""

    offline: bool = False
    hub_endpoint: str = DEFAULT_HUB_ENDPOINT
    hub_token: str | None = None  # sent only as a bearer token to the Hub endpoint, never logged
    budget_s: int = DEFAULT_NETWORK_BUDGET_S
    _deadline: float = PrivateAttr(default=0.0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NetworkResource:
        """AI_EMISSIONS_OFFLINE, HF_ENDPOINT, HF_TOKEN and AI_EMISSIONS_NETWORK_BUDGET_S, read when the run starts
        (the token's value never enters the run's configuration)."""
        env = os.environ if environ is None else environ
        fields: dict = {"offline": offline(env)}
        if env.get("HF_ENDPOINT"):
            fields["hub_endpoint"] = dg.EnvVar("HF_ENDPOINT")
        if env.get("HF_TOKEN"):
            fields["hub_token"] = dg.EnvVar("HF_TOKEN")
        if env.get(NETWORK_BUDGET_VAR):
            fields["budget_s"] = dg.EnvVar.int(NETWORK_BUDGET_VAR)
        return cls(**fields)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.budget_s <= 0:
            raise ValueError(f"{NETWORK_BUDGET_VAR} must be a positive number of seconds, not {self.budget_s}")
        self._deadline = time.monotonic() + self.budget_s

    def seconds_left(self) -> float:
        """Of the network budget (0 when it is spent)."""
        return max(0.0, self._deadline - time.monotonic())


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
        "network": NetworkResource.from_env(),
        "duckdb": WarehouseResource(database=str(paths.warehouse)),
    }
