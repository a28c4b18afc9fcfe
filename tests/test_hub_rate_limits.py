"""The Hub client keeps to the quotas the Hub announces (RateLimit headers), so that no 429 is needed."""

from __future__ import annotations

import asyncio
import logging
import time

from hub_emulator import HubEmulator, Quotas, generated_card

from pipelines.lib.http import FetchPolicy
from pipelines.lib.hub import HubIngestor
from pipelines.lib.rate_limits import RateLimits, parse_rate_limit
from pipelines.lib.snapshots import SnapshotStore

POLICY = FetchPolicy(concurrency=8, attempts=4, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0.01,
                     max_retry_after_s=6, connect_timeout_s=2, read_timeout_s=5, deadline_s=120)


def test_a_1000_card_refresh_under_the_hubs_quotas_lands_every_card_without_a_429(tmp_path, caplog):
    quotas = Quotas(api=100, resolvers=250, window_s=5)
    # 1,000 cards: 880 listed (9 listing pages) and 120 on the watchlist (one model-info request each), so
    # 129 API and 1,000 resolver requests
    watchlist = [f"watched/model-{i:03d}" for i in range(120)]
    with HubEmulator(quotas=quotas, max_page_size=100) as hub:
        hub.add_repos({f"emulated/model-{i:05d}": generated_card(i) for i in range(880)})
        hub.add_repos({repo_id: generated_card(5000 + i) for i, repo_id in enumerate(watchlist)}, listed=False)
        ingestor = HubIngestor(SnapshotStore(tmp_path), endpoint=hub.url, watchlist=watchlist, policy=POLICY,
                               page_size=100)
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="pipelines.progress"):
            report = ingestor.refresh()
        took = time.monotonic() - started

        assert dict(hub.rate_limited) == {}
        assert report.errors == []
        assert (report.fetched, len(ingestor.current_cards())) == (1000, 1000)
        assert (hub.counts["resolve"], hub.counts["info"], hub.counts["list"]) == (1000, 120, 9)
        # 1,000 resolver requests at 250 per window wait for three resets at least
        assert took >= 3 * quotas.window_s - 1
        assert report.quota_wait_s > 0
        waits = [r.getMessage() for r in caplog.records if r.name == "pipelines.progress"]
        assert any("'resolvers' quota" in line for line in waits), waits
        assert any("'api' quota" in line for line in waits), waits


def test_without_rate_limit_headers_requests_are_not_paced():
    async def scenario() -> int:
        limits = RateLimits({"http://hub:80"})
        key = ("http://hub:80", "resolvers")
        await limits.acquire(key)
        second = asyncio.create_task(limits.acquire(key))
        await asyncio.sleep(0.05)
        assert not second.done()  # the first answer is awaited: it says what the window holds
        limits.release(key, 200, {"content-type": "text/plain"})  # ... and it announces nothing
        await asyncio.wait_for(second, 1)
        for _ in range(20):
            await asyncio.wait_for(limits.acquire(key), 1)
        return 22

    assert asyncio.run(scenario()) == 22


def test_requests_in_flight_count_against_the_remaining_quota():
    async def scenario() -> list[str]:
        limits = RateLimits({"http://hub:80"})
        key = ("http://hub:80", "api")
        await limits.acquire(key)
        limits.release(key, 200, {"ratelimit": '"api";r=3;t=1'})
        for _ in range(3):
            await asyncio.wait_for(limits.acquire(key), 1)
        fourth = asyncio.create_task(limits.acquire(key))
        await asyncio.sleep(0.05)
        events = ["blocked" if not fourth.done() else "sent"]
        # an answer that arrives late with a higher count does not give back what others used
        limits.release(key, 200, {"ratelimit": '"api";r=0;t=1'})
        limits.release(key, 200, {"ratelimit": '"api";r=2;t=1'})
        await asyncio.sleep(0.05)
        events.append("blocked" if not fourth.done() else "sent")
        started = time.monotonic()
        limits.release(key, 200, {"ratelimit": '"api";r=1;t=1'})
        await asyncio.wait_for(fourth, 3)  # sent once the window has reset
        events.append("after reset" if time.monotonic() - started >= 0.9 else "too early")
        return events

    assert asyncio.run(scenario()) == ["blocked", "blocked", "after reset"]


def test_rate_limit_header_parsing():
    assert parse_rate_limit({"ratelimit": '"resolvers";r=2987;t=241'}) == (2987, 241.0)
    assert parse_rate_limit({"ratelimit": "garbage"}) is None
    assert parse_rate_limit({}) is None
