"""Ingest: the only stage that touches the network. The source registry, registry documents and Hub cards."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import NetworkResource, PathsResource
from pipelines.lib import curated, hub_dump, warehouse
from pipelines.lib.documents import fetch_documents
from pipelines.lib.http import FetchPolicy, stable_reason
from pipelines.lib.hub import HubIngestor, load_watchlist
from pipelines.lib.normalize import QUARANTINE_COLUMNS, quarantine_row
from pipelines.lib.snapshots import SnapshotStore

# The daily Hub refresh should never be more than two days old; documents change rarely (weekly refresh).
HUB_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=2), warn_window=dt.timedelta(days=1))
DOCUMENT_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=8))

SOURCE_REGISTRY_COLUMNS = {
    "source_id": "VARCHAR", "title": "VARCHAR", "organization": "VARCHAR", "published_date": "VARCHAR",
    "kind": "VARCHAR", "url": "VARCHAR", "fetch_url": "VARCHAR", "license": "VARCHAR", "verified_in": "VARCHAR",
    "verification": "VARCHAR", "verification_note": "VARCHAR",
}
DOCUMENT_COLUMNS = {"source_id": "VARCHAR", "url": "VARCHAR", "snapshot_sha256": "VARCHAR",
                    "content_type": "VARCHAR", "fetched_at": "VARCHAR"}
HUB_CARD_COLUMNS = {"repo_id": "VARCHAR", "revision": "VARCHAR", "snapshot_sha256": "VARCHAR",
                    "card_url": "VARCHAR", "fetched_at": "VARCHAR", "discovered_by": "VARCHAR",
                    "license": "VARCHAR"}


def _card_rows(cards) -> list[dict]:
    return [{"repo_id": c.repo_id, "revision": c.revision, "snapshot_sha256": c.sha256, "card_url": c.card_url,
             "fetched_at": c.fetched_at, "discovered_by": c.discovered_by,
             "license": c.card_data.get("license") if isinstance(c.card_data, dict) else None}
            for c in sorted(cards, key=lambda c: c.repo_id)]


def _registry(paths: PathsResource) -> list[curated.Source]:
    return curated.load_registry(paths.paths.data_dir / "sources" / "registry.yaml")


@dg.asset(group_name="ingest", compute_kind="yaml")
def source_registry(paths: PathsResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Every source document the dataset cites, from data/sources/registry.yaml (validated on load)."""
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "source_registry", curated.source_rows(_registry(paths)),
                                    SOURCE_REGISTRY_COLUMNS)
    return dg.MaterializeResult(metadata={"row_count": n})


@dg.multi_asset(
    group_name="ingest",
    compute_kind="httpx",
    specs=[
        dg.AssetSpec("document_snapshots", deps=["source_registry"], freshness_policy=DOCUMENT_FRESHNESS,
                     description="Registry documents stored in the snapshot store (fetched once per URL)"),
        dg.AssetSpec("document_fetch_errors", deps=["source_registry"],
                     description="Registry documents that could not be fetched, with the reason"),
    ],
)
def document_snapshots(paths: PathsResource, network: NetworkResource, duckdb: DuckDBResource):
    """A fetched document replaces its source's snapshot only if it still prints the curated values read in it."""
    registry = _registry(paths)
    printed: dict[str, set[str]] = {}
    for row in curated.curated_figure_rows(paths.paths.data_dir / "curated", registry):
        printed.setdefault(row["source_id"], set()).add(row["value_as_printed"])
    report = fetch_documents(SnapshotStore(paths.paths.snapshots), registry, offline=network.offline,
                             deadline_s=network.seconds_left(), printed_values=printed)
    snapshots = [{"source_id": s.source_id, "url": s.url, "snapshot_sha256": s.sha256,
                  "content_type": s.content_type, "fetched_at": s.fetched_at} for s in report.snapshots]
    errors = [quarantine_row("ingest", source_id, url, None, f"document not fetched: {stable_reason(reason)}")
              for source_id, url, reason in report.errors]
    errors += [quarantine_row("ingest", source_id, url, None, f"document rejected, previous snapshot kept: {why}")
               for source_id, url, why in report.rejected]
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "document_snapshots", snapshots, DOCUMENT_COLUMNS)
        warehouse.replace_table(con, "document_fetch_errors", errors, QUARANTINE_COLUMNS)
    yield dg.MaterializeResult(asset_key="document_snapshots", metadata={
        "row_count": n, "fetched": report.fetched, "reused": report.reused,
        "unreachable": ", ".join(report.unreachable)})
    yield dg.MaterializeResult(asset_key="document_fetch_errors", metadata={"row_count": len(errors)})


@dg.multi_asset(
    group_name="ingest",
    compute_kind="httpx",
    specs=[
        dg.AssetSpec("hub_cards", freshness_policy=HUB_FRESHNESS,
                     description="The latest stored card of every Hub repo ingested now or before"),
        dg.AssetSpec("hub_fetch_errors", description="Hub cards that could not be fetched, with the reason"),
    ],
)
def hub_cards(paths: PathsResource, network: NetworkResource, duckdb: DuckDBResource):
    """Incremental Hub refresh: list repos with emissions metadata plus the watchlist; fetch changed cards."""
    store = SnapshotStore(paths.paths.snapshots)
    watchlist = load_watchlist(paths.paths.data_dir / "sources" / "hub_watchlist.yaml")
    ingestor = HubIngestor(store, endpoint=network.hub_endpoint, token=network.hub_token, watchlist=watchlist,
                           policy=FetchPolicy(deadline_s=network.seconds_left()))
    if network.offline:  # what earlier refreshes stored stands
        cards = ingestor.current_cards()
        with duckdb.get_connection() as con:
            n = warehouse.replace_table(con, "hub_cards", _card_rows(cards), HUB_CARD_COLUMNS)
            warehouse.replace_table(con, "hub_fetch_errors", [], QUARANTINE_COLUMNS)
        yield dg.MaterializeResult(asset_key="hub_cards", metadata={"row_count": n, "summary": "offline"})
        yield dg.MaterializeResult(asset_key="hub_fetch_errors", metadata={"row_count": 0})
        return
    report = ingestor.refresh()
    cards = _card_rows(ingestor.current_cards())
    errors = [quarantine_row("ingest", f"hub:{e.repo_id}" if e.repo_id else None, e.url, None,
                             f"Hub card not fetched: {stable_reason(e.reason)}") for e in report.errors]
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "hub_cards", cards, HUB_CARD_COLUMNS)
        warehouse.replace_table(con, "hub_fetch_errors", errors, QUARANTINE_COLUMNS)
    yield dg.MaterializeResult(asset_key="hub_cards", metadata={
        "row_count": n, "summary": report.summary(), "unreachable": ", ".join(report.unreachable)})
    yield dg.MaterializeResult(asset_key="hub_fetch_errors", metadata={"row_count": len(errors)})


@dg.multi_asset(
    group_name="ingest",
    compute_kind="duckdb",
    specs=[
        dg.AssetSpec("hub_dump_cards", freshness_policy=HUB_FRESHNESS,
                     description="Cards of the daily dump of all Hub model cards that may state emissions or "
                                 "energy (DuckDB prefilter), each stored as a snapshot"),
        dg.AssetSpec("hub_dump_errors", description="Dump shards that could not be fetched or read, and bad rows"),
    ],
)
def hub_dump_cards(paths: PathsResource, network: NetworkResource, duckdb: DuckDBResource):
    """The second Hub path: the daily card dump (AI_EMISSIONS_HUB_DUMP: a folder or URLs of Parquet shards; unset:
    the published dataset), for cards that state emissions only in prose or tables. Offline without a folder,
    nothing is read and the cards kept by earlier refreshes stand."""
    report, cards = hub_dump.ingest_dump(SnapshotStore(paths.paths.snapshots), offline=network.offline,
                                         endpoint=network.hub_endpoint, token=network.hub_token,
                                         policy=FetchPolicy(deadline_s=network.seconds_left()))
    errors = [quarantine_row("ingest", None, where, item, reason) for where, item, reason in report.errors]
    with duckdb.get_connection() as con:
        n = warehouse.replace_table(con, "hub_dump_cards", hub_dump.table_rows(cards), hub_dump.TABLE_COLUMNS)
        warehouse.replace_table(con, "hub_dump_errors", errors, QUARANTINE_COLUMNS)
    yield dg.MaterializeResult(asset_key="hub_dump_cards", metadata={
        "row_count": n, "summary": report.summary(), "stored": report.cards_stored,
        "unchanged": report.cards_unchanged, "prefilter_s": round(report.prefilter_s, 1)})
    yield dg.MaterializeResult(asset_key="hub_dump_errors", metadata={"row_count": len(errors)})
