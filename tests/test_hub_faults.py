"""Hub ingestion under faults: 503/429 storms, cut bodies, slow and unreachable servers."""

from __future__ import annotations

import socket
import time

from hub_emulator import Faults, HubEmulator, corpus_cards, generated_card

from pipelines.lib.http import FetchPolicy
from pipelines.lib.hub import HubIngestor
from pipelines.lib.snapshots import SnapshotStore

FAST = FetchPolicy(concurrency=8, attempts=8, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0.01,
                   max_retry_after_s=0.05, connect_timeout_s=2, read_timeout_s=5, deadline_s=120)
PAGE = 20


def _policy(**changes) -> FetchPolicy:
    return FetchPolicy(**{**FAST.__dict__, **changes})


def _cards(n: int) -> dict[str, bytes]:
    cards = {f"emulated/model-{i:05d}": generated_card(i) for i in range(n)}
    cards.update(corpus_cards())
    return cards


def test_fault_storm_lands_every_good_card_and_failures_are_retried_next_refresh(tmp_path):
    faults = Faults(p_503=0.10, p_429=0.05, retry_after="1", p_cut=0.03, p_slow=0.05, slow_s=0.05, seed=7,
                    always_fail={"emulated/model-00002", "emulated/model-00011"})
    with HubEmulator(faults, max_page_size=PAGE) as hub:
        hub.add_repos(_cards(60))
        hub.add_repo("org/watched", b"# prose card\n", listed=False)
        ingestor = HubIngestor(SnapshotStore(tmp_path / "snap"), endpoint=hub.url, page_size=PAGE,
                               watchlist=["org/watched"], policy=FAST)

        report = ingestor.refresh()

        broken = faults.always_fail
        assert report.listing_complete
        assert report.failed == len(broken)
        assert {(f.repo_id, f.reason) for f in report.errors} == {(r, "http_503") for r in broken}
        assert sum(report.retries.values()) > 0
        cards = {card.repo_id: card for card in ingestor.current_cards()}
        assert set(cards) == set(hub.repo_ids) - broken
        for repo_id, card in cards.items():
            assert ingestor.store.get(card.sha256) == hub.readme(repo_id)
        assert {f.repo_id for f in ingestor.pending_failures()} == broken
        failed_rows = [r for r in ingestor.store.rows(kind="card") if r.status == "error"]
        assert {(r.repo_id, r.error) for r in failed_rows} == {(r, "http_503") for r in broken}

        # The server recovers: the next refresh fetches exactly the cards that failed.
        hub.faults = Faults()
        hub.reset_counts()
        again = ingestor.refresh()
        assert again.errors == []
        assert (again.fetched, hub.counts["resolve"]) == (len(broken), len(broken))
        assert set(c.repo_id for c in ingestor.current_cards()) == set(hub.repo_ids)
        assert ingestor.pending_failures() == []


def test_retry_after_is_honoured(tmp_path):
    with HubEmulator(Faults(retry_after="1")) as hub:
        hub.add_repo("org/limited", b"# card\n")
        hub.script("org/limited", ["429"])
        ingestor = HubIngestor(SnapshotStore(tmp_path), endpoint=hub.url,
                               policy=_policy(max_retry_after_s=5, wait_initial_s=0.01))
        report = ingestor.refresh()
        assert report.fetched == 1
        times = [t for t, endpoint, _ in hub.request_log if endpoint == "resolve"]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.9


def test_cut_bodies_are_retried_and_never_stored_truncated(tmp_path):
    body = generated_card(1) * 20
    with HubEmulator() as hub:
        hub.add_repo("org/flaky", body)
        hub.add_repo("org/always-cut", body + b"!")
        hub.script("org/flaky", ["cut", "cut"])
        hub.script("org/always-cut", ["cut"] * 10)
        ingestor = HubIngestor(SnapshotStore(tmp_path), endpoint=hub.url, policy=_policy(attempts=3))
        report = ingestor.refresh()

    assert [(f.repo_id, f.reason) for f in report.errors] == [("org/always-cut", "incomplete_body")]
    cards = {card.repo_id: card for card in ingestor.current_cards()}
    assert set(cards) == {"org/flaky"}
    assert ingestor.store.get(cards["org/flaky"].sha256) == body
    stored = [ingestor.store.get(digest) for digest in ingestor.store.iter_objects()]
    assert stored == [body]  # no half body was ever written


def test_slow_responses_time_out_and_are_recorded(tmp_path):
    with HubEmulator(Faults(slow_s=1.0)) as hub:
        hub.add_repo("org/slow", b"# slow card\n")
        hub.add_repo("org/quick", b"# quick card\n")
        hub.script("org/slow", ["slow", "slow"])
        ingestor = HubIngestor(SnapshotStore(tmp_path), endpoint=hub.url,
                               policy=_policy(attempts=2, read_timeout_s=0.2))
        report = ingestor.refresh()
    assert [(f.repo_id, f.reason) for f in report.errors] == [("org/slow", "timeout")]
    assert [card.repo_id for card in ingestor.current_cards()] == ["org/quick"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_hub_finishes_quickly_and_keeps_earlier_snapshots(tmp_path):
    root = tmp_path / "snap"
    watchlist = [f"org/watched-{i}" for i in range(6)]
    with HubEmulator() as hub:
        hub.add_repos({f"emulated/model-{i:05d}": generated_card(i) for i in range(15)})
        for repo_id in watchlist:
            hub.add_repo(repo_id, b"# watched\n", listed=False)
        online = HubIngestor(SnapshotStore(root), endpoint=hub.url, watchlist=watchlist, policy=FAST)
        assert online.refresh().fetched == 21
        before = online.current_cards()

    for endpoint in (f"http://127.0.0.1:{_closed_port()}", "http://hub.invalid"):
        # The production retry policy (not the shortened test one): no long retry storm.
        offline = HubIngestor(SnapshotStore(root), endpoint=endpoint, watchlist=watchlist, token="hf_x")
        started = time.monotonic()
        report = offline.refresh()
        elapsed = time.monotonic() - started

        assert elapsed < 15
        assert not report.listing_complete
        assert report.unreachable  # names the origin it gave up on
        assert report.fetched == 0
        assert report.failed == len(watchlist)
        assert {f.reason for f in report.errors} <= {"connect_error", "unreachable"}
        assert len(report.errors) == 1 + len(watchlist)
        assert sum(report.requests.values()) <= 3  # no request once the origin is known down
        assert offline.current_cards() == before
