"""Epoch AI's Notable AI Models table: fetched over HTTP when online (snapshot moves forward), the pinned
snapshot when the fetch fails or the table cannot be read."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from tests.conftest import DocumentServer, fetch, refresh

PINNED = "reference/epoch_notable_ai_models.csv"


def serve_epoch(data_copy, body: bytes):
    server = DocumentServer({"/data/notable_ai_models.csv": body})
    path = data_copy / "sources" / "registry.yaml"
    entries = yaml.safe_load(path.read_text())
    for entry in entries:
        if entry["source_id"] == "epoch_notable_ai_models":
            entry["fetch_url"] = f"{server.url}/data/notable_ai_models.csv"
    path.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
    return server




@pytest.fixture
def online(isolated_env, monkeypatch):
    monkeypatch.delenv("AI_EMISSIONS_OFFLINE")
    return isolated_env


def test_a_fresh_epoch_table_feeds_the_estimates(data_copy, online):
    pinned = (data_copy / PINNED).read_text()
    header = pinned.splitlines()[0].split(",")
    assert header[:6] == ["Model", "Organization", "Publication date", "Training hardware", "Hardware quantity",
                          "Training time (hours)"]
    new_row = ["Test Model Zeta", "Test Lab", "2025-06-01", "NVIDIA A100 SXM4 80 GB", "64", "100"]
    body = pinned.rstrip("\n") + "\n" + ",".join(new_row + [""] * (len(header) - len(new_row))) + "\n"
    server = serve_epoch(data_copy, body.encode())
    try:
        refresh()
    finally:
        server.close()
    ((origin, chip_hours, emissions, low, high, source),) = fetch(
        online, "select emissions_origin, chip_hours, emissions_tco2e, estimate_low_tco2e, estimate_high_tco2e, "
                "source_id from training_runs where model_name = 'Test Model Zeta'")
    assert origin == "estimated" and chip_hours == 64 * 100 and low <= emissions <= high
    assert source == "epoch_notable_ai_models"
    ((sha,),) = fetch(online, "select snapshot_sha256 from sources where source_id = 'epoch_notable_ai_models'")
    assert sha == hashlib.sha256(body.encode()).hexdigest()


def test_an_unreadable_epoch_table_is_quarantined_and_the_pinned_snapshot_stands(data_copy, online):
    # a CSV of the right size with none of the columns the mapping needs (a stub would be rejected at fetch)
    server = serve_epoch(data_copy, b"name,something\n" + b"a model,1\n" * 2000)
    try:
        refresh()
    finally:
        server.close()
    reasons = [r for (r,) in fetch(online, "select reason from quarantine where source_id = 'epoch_notable_ai_models'")]
    assert len(reasons) == 1 and "pinned snapshot was used" in reasons[0]
    pinned_models = fetch(online, "select count(*) from training_runs where source_id = 'epoch_notable_ai_models'")
    assert pinned_models[0][0] > 50
