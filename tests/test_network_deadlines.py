"""Servers that accept and never answer, or answer a byte at a time, cost a refresh a bounded time."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time

import pytest
from hub_emulator import HubEmulator, generated_card

from pipelines.defs.resources import DEFAULT_NETWORK_BUDGET_S, NETWORK_BUDGET_VAR, NetworkResource
from pipelines.lib.http import AsyncFetcher, FetchError, FetchPolicy, origin_of
from pipelines.lib.hub import HubIngestor
from pipelines.lib.snapshots import SnapshotStore
from tests.conftest import REPO, copy_data, fetch, pipeline_env, refresh

SHORT = FetchPolicy(concurrency=4, attempts=5, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0.01,
                    connect_timeout_s=1, read_timeout_s=1, request_deadline_s=1.5, deadline_s=60)


class StallingServer:
    """A real TCP server that reads each request and then never answers (``drip_s=None``) or sends a 200 header
    announcing a large body, then one byte every ``drip_s`` seconds, forever."""

    def __init__(self, drip_s: float | None = None) -> None:
        self.drip_s = drip_s
        self.connections = 0
        self._stop = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> StallingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(0.1)
            try:
                connection.recv(65536)
            except OSError:
                pass
            if self.drip_s is not None:
                try:
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                       b"Content-Length: 1000000\r\n\r\n")
                except OSError:
                    return
            while not self._stop.wait(self.drip_s or 0.1):
                if self.drip_s is not None:
                    try:
                        connection.sendall(b"x")
                    except OSError:
                        return


def _get(policy: FetchPolicy, urls: list[str]) -> tuple[list[object], list[str], float]:
    async def run():
        async with AsyncFetcher(policy) as fetcher:
            results = await asyncio.gather(*(fetcher.get(u, label="document") for u in urls), return_exceptions=True)
            return results, fetcher.unreachable_origins

    started = time.monotonic()
    results, down = asyncio.run(run())
    return results, down, time.monotonic() - started


def test_a_dripping_server_is_cut_by_the_request_deadline_and_given_up_on():
    # a byte every 0.3 s keeps a 1 s read timeout from ever firing; the overall deadline does not reset
    with StallingServer(drip_s=0.3) as server:
        results, down, took = _get(SHORT, [f"{server.url}/doc-{i}" for i in range(6)])
    assert all(isinstance(r, FetchError) for r in results), results
    assert {r.reason for r in results} <= {"timeout", "unreachable"}
    assert down == [origin_of(server.url)]
    # given up on after three timeouts in a row: one wave of attempts, not five attempts per document
    assert took < 2 * SHORT.request_deadline_s + 1, took


def test_a_silent_server_is_given_up_on_after_repeated_timeouts():
    with StallingServer() as server:
        results, down, took = _get(SHORT, [f"{server.url}/doc-{i}" for i in range(10)])
        connections = server.connections
    assert all(isinstance(r, FetchError) and r.reason in ("timeout", "unreachable") for r in results), results
    assert len(down) == 1
    assert connections <= SHORT.concurrency + SHORT.unreachable_after  # no request once the host is given up on
    assert took < 2 * SHORT.request_deadline_s + 1, took


def test_the_fetchers_deadline_cuts_requests_in_flight():
    policy = FetchPolicy(**{**SHORT.__dict__, "request_deadline_s": 60, "read_timeout_s": 60, "deadline_s": 1.0})
    with StallingServer(drip_s=0.2) as server:
        results, _, took = _get(policy, [f"{server.url}/doc"])
    assert isinstance(results[0], FetchError)
    assert took < 2.0, took


def test_a_silent_hub_leaves_the_stored_cards_standing_and_ends_in_bounded_time(tmp_path):
    store = SnapshotStore(tmp_path)
    with HubEmulator() as hub:
        hub.add_repos({f"emulated/model-{i:05d}": generated_card(i) for i in range(30)})
        HubIngestor(store, endpoint=hub.url, policy=SHORT).refresh()
    before = HubIngestor(store, endpoint=hub.url).current_cards()
    with StallingServer() as silent:
        ingestor = HubIngestor(store, endpoint=silent.url, policy=SHORT,
                               watchlist=[f"watched/model-{i}" for i in range(20)])
        started = time.monotonic()
        report = ingestor.refresh()
        took = time.monotonic() - started
    assert not report.listing_complete
    assert report.unreachable and report.errors  # the listing and every watchlist repo: recorded, not fetched
    assert len(report.errors) == 1 + 20
    # listing: three attempts cut at the deadline; the watchlist's model-info requests then fail at once
    assert took < 3 * SHORT.request_deadline_s + 2, took
    assert {c.repo_id: c.sha256 for c in ingestor.current_cards()} == {c.repo_id: c.sha256 for c in before}


def test_the_default_network_budget_keeps_a_stalling_server_under_two_minutes():
    """No attempt starts after the budget and attempts in flight are cut at it, so the network phase of a
    refresh lasts at most the budget: 100 s by default, documented in README's table of variables."""
    assert NetworkResource().budget_s == DEFAULT_NETWORK_BUDGET_S < 120
    row = next(line for line in (REPO / "README.md").read_text().splitlines()
               if line.startswith("|") and f"`{NETWORK_BUDGET_VAR}`" in line)  # the environment table's row
    assert re.search(rf"\|\s*`?{DEFAULT_NETWORK_BUDGET_S}`?\s*\|", row), row
    # and one host that never answers is given up on (`unreachable_after` timeouts in a row) within the budget
    policy = FetchPolicy()
    assert policy.unreachable_after * policy.request_deadline_s < DEFAULT_NETWORK_BUDGET_S


@pytest.fixture
def stalling_network(tmp_path):
    """A curated-data copy whose documents are served by a silent host, and a Hub that drips."""
    import yaml

    data = copy_data(tmp_path / "data")
    with StallingServer() as silent, StallingServer(drip_s=0.5) as dripping:
        registry = data / "sources" / "registry.yaml"
        entries = yaml.safe_load(registry.read_text())
        for entry in entries:  # (the copy has no fetch URLs: tests reach no public site)
            entry["fetch_url"] = f"{silent.url}/{entry['source_id']}"
        registry.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
        with pipeline_env(tmp_path, AI_EMISSIONS_OFFLINE="", AI_EMISSIONS_DATA=data, HF_ENDPOINT=dripping.url,
                          **{NETWORK_BUDGET_VAR: "4"}) as env:
            yield env


def test_a_refresh_against_stalling_servers_exits_zero_within_its_network_budget(stalling_network):
    started = time.monotonic()
    result = refresh()
    took = time.monotonic() - started
    assert "could not reach" in result.output or "not fetched" in result.output, result.output
    assert fetch(stalling_network, "select count(*) from training_runs")[0][0] > 0
    assert fetch(stalling_network, "select count(*) from document_fetch_errors")[0][0] > 0
    # the network phase stops at its 4 s budget; the rest of the refresh is local work
    assert took < 4 + 60, took


def test_refresh_offline_option_reaches_no_server(tmp_path):
    """`--offline` reaches the assets as run configuration of the network resource, not as an environment
    variable: with the environment saying online, no request reaches the Hub or a document host."""
    import os

    import yaml

    data = copy_data(tmp_path / "data")
    with StallingServer() as server:
        registry = data / "sources" / "registry.yaml"
        entries = yaml.safe_load(registry.read_text())
        for entry in entries:
            entry["fetch_url"] = f"{server.url}/{entry['source_id']}"
        registry.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
        with pipeline_env(tmp_path, AI_EMISSIONS_OFFLINE="", AI_EMISSIONS_DATA=data, HF_ENDPOINT=server.url):
            result = refresh("--offline")
            assert os.environ["AI_EMISSIONS_OFFLINE"] == ""
        connections = server.connections
    assert connections == 0, result.output
    assert "could not reach" not in result.output
