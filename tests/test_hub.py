"""Hub ingestion against the local emulator: discovery, incremental refresh, provenance, safety."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import dagster as dg
import pytest
from hub_emulator import HubEmulator, corpus_cards, front_matter, generated_card

from pipelines.defs.resources import NetworkResource
from pipelines.lib.http import FetchPolicy
from pipelines.lib.hub import HubIngestor, is_valid_repo_id, load_watchlist
from pipelines.lib.snapshots import SnapshotStore

FAST = FetchPolicy(concurrency=8, attempts=4, wait_initial_s=0.01, wait_max_s=0.05, wait_jitter_s=0.01,
                   max_retry_after_s=0.05, connect_timeout_s=2, read_timeout_s=5, deadline_s=60)
PAGE = 25
N_GENERATED = 40
WATCH_ONLY = ["meta-llama/Llama-2-7b-hf", "bigscience/bloom"]  # in the watchlist, not in the listing


def _cards() -> dict[str, bytes]:
    cards = {f"emulated/model-{i:05d}": generated_card(i) for i in range(N_GENERATED)}
    cards.update(corpus_cards())  # the real corpus cards when the shared folder is present
    return cards


@pytest.fixture
def hub():
    with HubEmulator(max_page_size=PAGE) as emulator:
        emulator.add_repos(_cards())
        for repo_id in WATCH_ONLY:
            card = f"# {repo_id}\n\nEmissions are stated in prose.\n".encode()
            emulator.add_repo(repo_id, card, listed=False)
        yield emulator


def _ingestor(hub, root: Path, **kwargs) -> HubIngestor:
    kwargs.setdefault("watchlist", WATCH_ONLY)
    kwargs.setdefault("policy", FAST)
    return HubIngestor(SnapshotStore(root), endpoint=hub.url, page_size=PAGE, **kwargs)


def test_full_refresh_lands_every_card_byte_exact(hub, tmp_path):
    ingestor = _ingestor(hub, tmp_path / "snap")
    report = ingestor.refresh()

    listed = len(hub.repo_ids) - len(WATCH_ONLY)
    assert report.errors == []
    assert report.listing_complete
    counts = (report.listed, report.fetched, report.unchanged, report.failed)
    assert counts == (listed, len(hub.repo_ids), 0, 0)
    assert report.requests == {"list": math.ceil(listed / PAGE), "resolve": len(hub.repo_ids),
                               "info": len(WATCH_ONLY)}
    cards = {card.repo_id: card for card in ingestor.current_cards()}
    assert set(cards) == set(hub.repo_ids)
    for repo_id, card in cards.items():
        assert card.revision == hub.sha(repo_id)
        assert ingestor.store.get(card.sha256) == hub.readme(repo_id)
        assert card.card_url == f"{hub.url}/{repo_id}/blob/{card.revision}/README.md"
        assert card.source_url == f"{hub.url}/{repo_id}/resolve/{card.revision}/README.md"
        assert card.discovered_by == ("watchlist" if repo_id in WATCH_ONLY else "listing")
    generated = cards["emulated/model-00003"]
    assert generated.card_data == front_matter(generated_card(3))
    assert generated.card_data["co2_eq_emissions"]["emissions"] > 0


def test_second_refresh_costs_only_the_listing_pages(hub, tmp_path):
    ingestor = _ingestor(hub, tmp_path / "snap")
    ingestor.refresh()
    hub.reset_counts()

    report = ingestor.refresh()

    listed = len(hub.repo_ids) - len(WATCH_ONLY)
    assert report.fetched == 0
    assert report.unchanged == len(hub.repo_ids)
    # One request per listing page, plus one model-info request per watchlist repo the listing
    # does not cover; no card is downloaded again.
    assert dict(hub.counts) == {"list": math.ceil(listed / PAGE), "info": len(WATCH_ONLY)}


def test_changed_cards_are_fetched_alone(hub, tmp_path):
    ingestor = _ingestor(hub, tmp_path / "snap")
    ingestor.refresh()
    before = {card.repo_id: card for card in ingestor.current_cards()}
    new_listed = hub.update_readme("emulated/model-00007", b"# rewritten card\n")
    new_watched = hub.update_readme("bigscience/bloom", b"# BLOOM, revised\n")
    hub.reset_counts()

    report = ingestor.refresh()

    assert report.fetched == 2
    assert report.unchanged == len(hub.repo_ids) - 2
    assert hub.counts["resolve"] == 2
    after = {card.repo_id: card for card in ingestor.current_cards()}
    assert after["emulated/model-00007"].revision == new_listed
    assert ingestor.store.get(after["emulated/model-00007"].sha256) == b"# rewritten card\n"
    assert after["bigscience/bloom"].revision == new_watched
    unchanged = [r for r in after if r not in ("emulated/model-00007", "bigscience/bloom")]
    assert all(after[r] == before[r] for r in unchanged)
    # The earlier snapshot is still stored: provenance of figures read from it stays checkable.
    assert ingestor.store.get(before["emulated/model-00007"].sha256) == generated_card(7)


def test_watchlist_repo_already_in_listing_costs_no_info_request(hub, tmp_path):
    ingestor = _ingestor(hub, tmp_path / "snap", watchlist=["emulated/model-00001", *WATCH_ONLY])
    report = ingestor.refresh()
    assert report.requests["info"] == len(WATCH_ONLY)
    assert not any("model-00001" in path for _, endpoint, path in hub.request_log if endpoint == "info")


def test_repo_without_readme_is_remembered_until_its_sha_moves(hub, tmp_path):
    hub.add_repo("org/no-card", None)
    ingestor = _ingestor(hub, tmp_path / "snap")
    first = ingestor.refresh()
    assert first.no_card == 1 and first.failed == 0
    hub.reset_counts()
    second = ingestor.refresh()
    assert hub.counts["resolve"] == 0
    assert second.unchanged == len(hub.repo_ids)
    assert "org/no-card" not in {card.repo_id for card in ingestor.current_cards()}


def test_hostile_ids_never_choose_a_path_or_a_url(hub, tmp_path):
    evil_sha = "../../../../tmp/pwned"
    for entry in (
        {"id": "../../etc", "sha": "a" * 40},
        {"id": "org/../../etc", "sha": "b" * 40},
        {"id": "org/ok-name", "sha": evil_sha},
        {"id": "org/no-sha"},
        {"sha": "c" * 40},
        "not an object",
    ):
        hub.add_listing_entry(entry)
    root = tmp_path / "snap"
    ingestor = _ingestor(hub, root, watchlist=["../../etc", *WATCH_ONLY])

    report = ingestor.refresh()

    reasons = sorted(failure.reason for failure in report.errors)
    # "org/no-sha" is looked up with a model-info request (as for a mirror omitting shas): unknown.
    assert reasons == sorted(["invalid_repo_id"] * 4 + ["invalid_sha", "not_found", "bad_entry"])
    assert report.fetched == len(hub.repo_ids)  # the well-formed entries still land
    requested = [path for _, _, path in hub.request_log]
    assert not any("etc" in path or "pwned" in path or "ok-name" in path for path in requested)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]
    allowed = {"manifest.sqlite", "manifest.sqlite-wal", "manifest.sqlite-shm", "objects", "tmp"}
    assert {p.name for p in root.iterdir()} <= allowed
    for bucket in (root / "objects").iterdir():
        assert len(bucket.name) == 2
        assert all(len(item.name) == 62 for item in bucket.iterdir())


def test_token_is_sent_to_the_hub_and_recorded_nowhere(tmp_path, caplog):
    token = "hf_TopSecretToken0123456789"
    caplog.set_level(logging.DEBUG)
    with HubEmulator(max_page_size=PAGE, expected_token=token) as hub:
        hub.add_repos({f"emulated/model-{i:05d}": generated_card(i) for i in range(30)})
        hub.add_repo("org/broken", b"# never served\n")
        hub.faults.always_fail.add("org/broken")
        root = tmp_path / "snap"
        ingestor = HubIngestor(SnapshotStore(root), endpoint=hub.url, token=token, page_size=PAGE,
                               watchlist=["org/unknown-repo"], policy=FAST)
        report = ingestor.refresh()

        assert report.fetched == 30  # the emulator answers 401 without the bearer token
        assert set(hub.authorization_seen) == {f"Bearer {token}"}
        assert {f.reason for f in report.errors} == {"http_503", "not_found"}
    texts = [caplog.text, repr(report), repr(ingestor), str(ingestor.__dict__.get("policy"))]
    texts += [str(failure) for failure in report.errors]
    assert not any(token in text for text in texts)
    for path in root.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_listing_entry_without_sha_costs_one_info_request(hub, tmp_path):
    hub.add_repo("org/sha-less", b"# card of a repo listed without its sha\n", listed=False)
    hub.add_listing_entry({"id": "org/sha-less", "cardData": {"license": "mit"}})
    ingestor = _ingestor(hub, tmp_path / "snap")
    report = ingestor.refresh()
    assert report.errors == []
    assert report.requests["info"] == len(WATCH_ONLY) + 1
    card = {c.repo_id: c for c in ingestor.current_cards()}["org/sha-less"]
    assert (card.revision, card.discovered_by) == (hub.sha("org/sha-less"), "listing")


def test_listing_link_to_another_origin_only_lends_its_cursor(hub, tmp_path):
    with HubEmulator() as elsewhere:
        hub.next_link_base = elsewhere.url
        ingestor = _ingestor(hub, tmp_path / "snap", token="hf_secret_value")
        report = ingestor.refresh()
        assert sum(elsewhere.counts.values()) == 0
    assert report.listing_complete and report.errors == []
    assert report.fetched == len(hub.repo_ids)


def test_listing_link_to_another_path_is_refused(hub, tmp_path):
    hub.next_link_path = "/api/spaces"
    ingestor = _ingestor(hub, tmp_path / "snap")
    report = ingestor.refresh()
    assert not report.listing_complete
    assert [f.reason for f in report.errors] == ["bad_next_link"]
    assert report.fetched == PAGE + len(WATCH_ONLY)  # the first page's cards still land


def test_oversized_card_is_recorded_and_not_stored(hub, tmp_path):
    hub.add_repo("org/huge", b"x" * 5000)
    policy = FetchPolicy(**{**FAST.__dict__, "max_bytes": 4096})
    ingestor = _ingestor(hub, tmp_path / "snap", policy=policy)
    big_cards = [r for r in hub.repo_ids if len(hub.readme(r)) > 4096]

    report = ingestor.refresh()

    assert {f.repo_id for f in report.errors} == set(big_cards)
    assert {f.reason for f in report.errors} == {"too_large"}
    assert report.requests["resolve"] == len(hub.repo_ids)  # no retry of a document over the cap
    assert "org/huge" not in {card.repo_id for card in ingestor.current_cards()}


def test_repository_watchlist_file_is_valid():
    repo_ids = load_watchlist()
    assert len(repo_ids) >= 10
    assert all(is_valid_repo_id(r) for r in repo_ids)
    assert len(set(repo_ids)) == len(repo_ids)
    assert {"bigscience/bloom", "meta-llama/Llama-2-7b-hf"} <= set(repo_ids)


def test_watchlist_loader_rejects_bad_entries(tmp_path):
    bad = tmp_path / "watch.yaml"
    bad.write_text("- repo_id: ../../etc\n")
    with pytest.raises(ValueError, match="no valid repo_id"):
        load_watchlist(bad)
    bad.write_text("- repo_id: org/a\n- repo_id: org/a\n")
    with pytest.raises(ValueError, match="twice"):
        load_watchlist(bad)


def test_the_network_resource_reads_endpoint_token_and_budget_from_the_environment(monkeypatch):
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_env_token", "AI_EMISSIONS_NETWORK_BUDGET_S": "7"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    resource = NetworkResource.from_env(env)
    assert "hf_env_token" not in repr(resource)  # the run's configuration names the variable, not its value
    seen = {}

    @dg.asset
    def probe(network: NetworkResource) -> None:
        seen.update(endpoint=network.hub_endpoint, token=network.hub_token, budget=network.budget_s,
                    offline=network.offline, left=network.seconds_left())

    assert dg.materialize([probe], resources={"network": resource}).success
    assert seen["endpoint"] == "http://127.0.0.1:9" and seen["token"] == "hf_env_token"
    assert (seen["budget"], seen["offline"]) == (7, False) and 0 < seen["left"] <= 7
    default = NetworkResource.from_env({})
    assert (default.hub_endpoint, default.hub_token, default.budget_s) == ("https://huggingface.co", None, 100)


@pytest.mark.parametrize("repo_id", ["bigscience/bloom", "gpt2", "org/model.v1_2-x", "a/b"])
def test_valid_repo_ids(repo_id):
    assert is_valid_repo_id(repo_id)


@pytest.mark.parametrize(
    "repo_id",
    ["../../etc", "org/..", "org/a..b", "org--x/y", "/abs", "a/b/c", "a b", "", "-x/y", "x" * 97, 5],
)
def test_invalid_repo_ids(repo_id):
    assert not is_valid_repo_id(repo_id)
