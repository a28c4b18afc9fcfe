"""Paper ingestion end to end: registry documents fetched over HTTP from a local server serving the real
corpus documents, stored as snapshots, their tables extracted and cross-checked with the curated figures."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from tests.conftest import DocumentServer, fetch, refresh

# registry source -> the corpus file holding the same document (see the corpus documents/index.csv)
SERVED = {
    "touvron2023_llama": "arxiv-2302.13971.md",
    "touvron2023_llama2": "msc_thesis-2307.09288-02_pretraining.md",  # Table 2 in the layout of the HTML version
    "groeneveld2024_olmo": "arxiv-2402.00838.md",
    "patterson2021": "arxiv-2104.10350.md",
    "strubell2019": "arxiv-1906.02243.md",
    "morrison2025_olmo_footprint": "arxiv-2503.05804.md",
    "luccioni2024_power_hungry": "arxiv-2311.16863.md",
    "meta_llama2_model_card": "github-meta-llama-llama-MODEL_CARD.md",
    "meta_llama_models_llama2_model_card": "github-meta-llama-llama-models-llama2-MODEL_CARD.md",
    "meta_llama3_model_card": "github-meta-llama-llama3-MODEL_CARD.md",
    "meta_llama_models_llama3_model_card": "github-meta-llama-llama-models-llama3-MODEL_CARD.md",
    "meta_llama3_1_model_card": "github-meta-llama-llama-models-llama3_1-MODEL_CARD.md",
    "meta_llama3_2_model_card": "github-meta-llama-llama-models-llama3_2-MODEL_CARD.md",
    "meta_llama3_2_vision_model_card": "github-meta-llama-llama-models-llama3_2-MODEL_CARD_VISION.md",
    "meta_llama3_3_model_card": "github-meta-llama-llama-models-llama3_3-MODEL_CARD.md",
    "meta_llama4_model_card": "github-meta-llama-llama-models-llama4-MODEL_CARD.md",
    "cohere_environmental_impact": "github-cohere-ai-cohere-developer-experience-environmental-impact.mdx",
}


@pytest.fixture
def served(corpus, data_copy, isolated_env, monkeypatch):
    monkeypatch.delenv("AI_EMISSIONS_OFFLINE")  # fetch, from the local server only
    files = {f"/{sid}/{name}": (corpus / "documents" / name).read_bytes() for sid, name in SERVED.items()}
    server = DocumentServer(files)
    path = data_copy / "sources" / "registry.yaml"
    entries = yaml.safe_load(path.read_text())
    for entry in entries:
        if entry["source_id"] in SERVED:
            entry["fetch_url"] = f"{server.url}/{entry['source_id']}/{SERVED[entry['source_id']]}"
    path.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    yield server, files
    server.close()




def test_tables_of_fetched_documents_agree_with_curated_figures(served, isolated_env):
    server, files = served
    refresh()
    checks = fetch(isolated_env, "select * from paper_table_checks", as_dicts=True)
    by_source: dict[str, dict[str, int]] = {}
    for check in checks:
        by_source.setdefault(check["source_id"], {}).setdefault(check["status"], 0)
        by_source[check["source_id"]][check["status"]] += 1
    disagreements = [c for c in checks if c["status"] == "disagree"]
    assert not disagreements, disagreements[:5]
    for source_id in SERVED:
        assert by_source.get(source_id, {}).get("agree", 0) > 0, (source_id, by_source.get(source_id))
    # every figure of a fetched document carries the sha256 of the bytes that were served
    sources = fetch(isolated_env, "select source_id, snapshot_sha256 from sources")
    snapshots = dict(sources)
    for source_id, name in SERVED.items():
        body = files[f"/{source_id}/{name}"]
        assert snapshots[source_id] == hashlib.sha256(body).hexdigest()
    unsnapshotted = fetch(isolated_env, "select count(*) as n from disclosures where source_id in "
                                        f"({', '.join(repr(s) for s in SERVED)}) and snapshot_sha256 is null")
    assert unsnapshotted[0][0] == 0


def test_documents_are_fetched_once(served, isolated_env):
    server, _ = served
    refresh()
    first = len(server.requests)
    assert first == len(SERVED)
    refresh()
    assert len(server.requests) == first
