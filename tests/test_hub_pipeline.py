"""The Hub path of the main job: `ai-emissions refresh` against a local server that speaks the Hub API,
serving the corpus cards and 1,000 generated ones."""

from __future__ import annotations

import pytest
from hub_emulator import HubEmulator, corpus_cards, generated_card

from tests.conftest import fetch, refresh

GENERATED = 1000




@pytest.fixture
def hub(data_copy, isolated_env, monkeypatch):
    (data_copy / "sources" / "hub_watchlist.yaml").write_text("[]\n")  # discovery by listing only
    cards = {**corpus_cards(), **{f"emulated/model-{i:04d}": generated_card(i) for i in range(GENERATED)}}
    emulator = HubEmulator(max_page_size=500).start()
    emulator.add_repos(cards)
    monkeypatch.setenv("HF_ENDPOINT", emulator.url)
    monkeypatch.delenv("AI_EMISSIONS_OFFLINE")
    yield emulator, cards
    emulator.stop()


def test_hub_cards_land_incrementally_and_survive_an_unreachable_hub(hub, isolated_env):
    emulator, cards = hub
    refresh()
    landed = {repo for (repo,) in fetch(isolated_env, "select repo_id from hub_cards")}
    assert landed == set(cards)
    assert emulator.counts["resolve"] == len(cards)
    # every generated card's figure reaches the published disclosures, located and sourced at its revision
    rows = fetch(isolated_env, "select model_id, value, unit_as_printed, source_url, snapshot_sha256 from "
                               "disclosures where model_id like 'emulated/%' and metric = 'emissions' "
                               "and locator = 'co2_eq_emissions.emissions'")
    by_model = {model: (value, unit, url, sha) for model, value, unit, url, sha in rows}
    assert len({m for m in by_model}) == GENERATED
    value, unit, url, sha = by_model["emulated/model-0007"]
    revision = emulator.sha("emulated/model-0007")
    assert unit == "g" and url == f"{emulator.url}/emulated/model-0007/blob/{revision}/README.md"
    assert len(sha) == 64
    runs = fetch(isolated_env, "select count(*) from training_runs where model_id like 'emulated/%'")
    assert runs[0][0] == GENERATED

    emulator.reset_counts()
    refresh()
    assert emulator.counts["resolve"] == 0  # nothing changed: no card requests
    pages = emulator.counts["list"]
    assert pages == -(-len(cards) // 500) and emulator.counts["info"] == 0

    emulator.update_readme("emulated/model-0007", generated_card(7, version=1))
    emulator.reset_counts()
    refresh()
    assert emulator.counts["resolve"] == 1  # the changed card alone
    (new_value,) = fetch(isolated_env, "select value from disclosures where model_id = 'emulated/model-0007' "
                                       "and metric = 'emissions' and locator = 'co2_eq_emissions.emissions'")[0]
    assert new_value != value

    before = fetch(isolated_env, "select count(*) from disclosures")[0][0]
    emulator.stop()
    result = refresh()  # the Hub is gone: the refresh still finishes, with what was stored
    assert "could not reach" in result.output
    assert fetch(isolated_env, "select count(*) from disclosures")[0][0] == before
    assert {r for (r,) in fetch(isolated_env, "select repo_id from hub_cards")} == set(cards)
