"""Extract: curated files, stored Hub cards and stored paper tables -> figure rows, values still as printed."""

import os
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import PathsResource
from pipelines.lib import curated, warehouse
from pipelines.lib.card_figures import PARSER_VERSION, build_card_tables
from pipelines.lib.model_registry import load_model_registry
from pipelines.lib.normalize import FIGURE_COLUMNS, QUARANTINE_COLUMNS, quarantine_row
from pipelines.lib.paper_tables import cross_check, extract_source
from pipelines.lib.snapshots import SnapshotStore

_TEXT_KINDS = ("html", "markdown")


def _document_kind(content_type: str, url: str) -> str:
    """The served type when it says HTML or Markdown; else the URL's suffix (raw files come as text/plain)."""
    if any(kind in (content_type or "").lower() for kind in _TEXT_KINDS):
        return content_type
    return PurePosixPath(urlsplit(url).path).suffix or content_type

TABLE_CHECK_COLUMNS = {
    "source_id": "VARCHAR", "status": "VARCHAR", "metric": "VARCHAR", "basis": "VARCHAR", "model_name": "VARCHAR",
    "model_id": "VARCHAR", "locator_extracted": "VARCHAR", "locator_curated": "VARCHAR",
    "value_extracted": "VARCHAR", "unit_extracted": "VARCHAR", "value_curated": "VARCHAR",
    "unit_curated": "VARCHAR", "detail": "VARCHAR",
}


def _rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


@dg.multi_asset(
    group_name="extract",
    compute_kind="yaml",
    specs=[
        dg.AssetSpec("curated_figures", deps=["source_registry", "model_registry"],
                     description="Figures read by a person in each source document (data/curated/*.yaml), as printed"),
        dg.AssetSpec("curated_runs", deps=["source_registry", "model_registry"],
                     description="Each curated run: what its figures cover and the curator's headline notes"),
    ],
)
def curated_figures(paths: PathsResource, duckdb: DuckDBResource):
    data = paths.paths.data_dir
    registry = curated.load_registry(data / "sources" / "registry.yaml")
    models = set(load_model_registry(data).models)
    runs = curated.curated_run_rows(data / "curated", registry, known_models=models)
    rows = curated.curated_figure_rows(data / "curated", registry)
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "curated_figures", rows, FIGURE_COLUMNS)
        n_runs = warehouse.replace_table(con, "curated_runs", runs, curated.RUN_COLUMNS)
    yield dg.MaterializeResult(asset_key="curated_figures",
                               metadata={"row_count": n, "sources": len({r["source_id"] for r in rows})})
    yield dg.MaterializeResult(asset_key="curated_runs", metadata={"row_count": n_runs})


@dg.multi_asset(
    group_name="extract",
    compute_kind="python",
    specs=[
        dg.AssetSpec("card_figures", deps=["hub_cards", "hub_dump_cards"],
                     description="Figures the card parser read in Hub cards (API and daily dump)"),
        dg.AssetSpec("card_sources", deps=["hub_cards", "hub_dump_cards"],
                     description="Each parsed Hub card as a source document"),
        dg.AssetSpec("card_quarantine", deps=["hub_cards", "hub_dump_cards"],
                     description="What the card parser could not use, and conflicts inside cards"),
        dg.AssetSpec("card_parse_cache", deps=["hub_cards", "hub_dump_cards"],
                     description="Each current card's parsed rows, keyed by its snapshot and the parser version"),
    ],
)
def card_figures(paths: PathsResource, duckdb: DuckDBResource):
    """Each stored card parsed once per parser version: unchanged cards reuse their rows from the cache."""
    with duckdb.get_connection() as con:
        built = build_card_tables(con, SnapshotStore(paths.paths.snapshots), workers=os.cpu_count() or 1)
    yield dg.MaterializeResult(asset_key="card_figures", metadata={"row_count": built.figures, "parsed": built.parsed,
                                                                   "reused": built.reused})
    yield dg.MaterializeResult(asset_key="card_sources", metadata={"row_count": built.sources})
    yield dg.MaterializeResult(asset_key="card_quarantine", metadata={"row_count": built.issues})
    yield dg.MaterializeResult(asset_key="card_parse_cache", metadata={"row_count": built.cached,
                                                                       "parser_version": PARSER_VERSION})


@dg.multi_asset(
    group_name="extract",
    compute_kind="beautifulsoup",
    specs=[
        dg.AssetSpec("paper_table_checks", deps=["document_snapshots", "curated_figures"],
                     description="Tables extracted from stored documents, compared figure by figure with the "
                                 "curated values"),
        dg.AssetSpec("paper_table_quarantine", deps=["document_snapshots", "curated_figures"],
                     description="Table cells that could not be read, and table values that disagree with the "
                                 "curated figures"),
    ],
)
def paper_table_checks(paths: PathsResource, duckdb: DuckDBResource):
    """Cross-check: offline there are no stored documents and the curated figures stand alone."""
    store = SnapshotStore(paths.paths.snapshots)
    registry = {s.source_id: s for s in curated.load_registry(paths.paths.data_dir / "sources" / "registry.yaml")}
    checks, issues = [], []
    with duckdb.get_connection() as con:
        snapshots = _rows(con, "select * from document_snapshots order by source_id")
        curated_rows = _rows(con, "select * from curated_figures order by disclosure_id")
        for snap in snapshots:
            source = registry.get(snap["source_id"])
            if source is None or not source.extraction:
                continue
            try:
                extracted, problems = extract_source(store.get(snap["snapshot_sha256"]),
                                                     _document_kind(snap["content_type"], snap["url"]),
                                                     source, snapshot_sha256=snap["snapshot_sha256"])
            except Exception as exc:  # an unreadable document (a PDF, a changed layout): say so, go on
                issues.append(quarantine_row("extract", source.source_id, snap["url"], None,
                                             f"tables not extracted: {exc}"))
                continue
            issues += problems
            own = [r for r in curated_rows if r["source_id"] == source.source_id]
            for check in cross_check(extracted, own):
                checks.append({c: check.get(c) for c in TABLE_CHECK_COLUMNS})
                if check["status"] == "disagree":
                    issues.append(quarantine_row("extract", source.source_id, check["locator_extracted"],
                                                 check["value_extracted"],
                                                 f"table value disagrees with the curated figure: {check['detail']}"))
        warehouse.replace_table(con, "paper_table_checks", checks, TABLE_CHECK_COLUMNS)
        warehouse.replace_table(con, "paper_table_quarantine", issues, QUARANTINE_COLUMNS)
    yield dg.MaterializeResult(asset_key="paper_table_checks", metadata={
        "row_count": len(checks), "agree": sum(c["status"] == "agree" for c in checks),
        "disagree": sum(c["status"] == "disagree" for c in checks)})
    yield dg.MaterializeResult(asset_key="paper_table_quarantine", metadata={"row_count": len(issues)})
