"""The asset graph as a snapshot: a renamed asset, a changed dependency or group shows as a diff here.

After an intended change, refresh the snapshot with `UPDATE_SNAPSHOTS=1 uv run pytest tests/test_definitions.py`.
"""

import json
import os
from pathlib import Path

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.lib.settings import Paths

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
GROUPS = {"ingest", "extract", "normalize", "reference", "transform", "estimate", "export"}


def current_graph() -> dict:
    graph = build_definitions(Paths.from_env()).resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
        }
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    return {"assets": assets, "checks": checks}


def test_asset_graph_matches_snapshot():
    graph = current_graph()
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(graph, indent=2) + "\n")
    assert graph == json.loads(SNAPSHOT.read_text())


def test_every_asset_belongs_to_a_stage_group():
    graph = current_graph()
    assert {a["group"] for a in graph["assets"].values()} <= GROUPS


def test_published_tables_have_blocking_contract_checks():
    from schemas import PUBLISHED_TABLES

    graph = build_definitions(Paths.from_env()).resolve_asset_graph()
    for table in PUBLISHED_TABLES:
        key = next(k for k in graph.asset_check_keys
                   if k.asset_key.to_user_string() == table and k.name == f"{table}_matches_contract")
        assert graph.get_check_spec(key).blocking


def test_schedules_refresh_everything_weekly_and_the_hub_daily():
    defs = build_definitions(Paths.from_env())
    by_job = {s.job_name: s.cron_schedule for s in defs.schedules}
    assert by_job == {"full_refresh": "0 3 * * 1", "hub_refresh": "0 4 * * *"}
    graph = defs.resolve_asset_graph()
    hub_job = defs.resolve_job_def("hub_refresh")
    selected = {k.to_user_string() for k in hub_job.asset_layer.selected_asset_keys}
    # a changed card flows all the way to a release, without refetching papers or reloading references
    assert {"hub_cards", "card_figures", "disclosures", "training_runs", "release"} <= selected
    assert not {"document_snapshots", "source_registry", "ref_accelerators"} & selected
    assert len(selected) < len(graph.get_all_asset_keys())


def test_ingest_assets_have_freshness_policies():
    graph = build_definitions(Paths.from_env()).resolve_asset_graph()
    for key in ("hub_cards", "document_snapshots"):
        policy = graph.get(dg.AssetKey(key)).freshness_policy
        assert policy is not None and policy.fail_window.to_timedelta().days >= 2
