"""Export: an immutable, versioned release of the published tables."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.resources import PathsResource
from pipelines.lib import release as releases
from pipelines.lib.datacard import ATTRIBUTION, data_card, with_attribution
from pipelines.lib.explorer import write_explorer
from pipelines.lib.plots import write_plots
from schemas import PUBLISHED_TABLES


class ReleaseConfig(dg.Config):
    version: str | None = None  # `refresh --release-version`; default: CalVer of the release date


@dg.asset(group_name="export", compute_kind="parquet", deps=list(PUBLISHED_TABLES))
def release(config: ReleaseConfig, paths: PathsResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Write exports/<version>/ when the published tables changed; otherwise keep the latest release."""
    with duckdb.get_connection() as con:
        tables = {name: con.sql(f'SELECT * FROM "{name}"').to_arrow_table() for name in PUBLISHED_TABLES}
        sources = con.execute("SELECT title, url FROM sources ORDER BY source_id").fetchall()
    release_date = releases.release_date_from_env()
    tables = {name: releases.conform(PUBLISHED_TABLES[name], data) for name, data in tables.items()}

    def extra_files(folder, version, tables):  # only for a new release: an unchanged one draws nothing
        plots = write_plots(folder, tables)
        write_explorer(folder, version, tables, release_date=release_date.isoformat(), plots=plots)

    result = releases.write_release(
        paths.paths.exports_dir,
        PUBLISHED_TABLES,
        tables,
        release_date=release_date,
        datapackage_extra={"sources": with_attribution([{"title": title, "path": url} for title, url in sources]),
                           "attribution": ATTRIBUTION},
        data_card=data_card,
        extra_files=extra_files,
        version=config.version or None,
    )
    return dg.MaterializeResult(metadata={
        "version": result.version,
        "is_new": result.is_new,
        "path": str(result.path),
        "content_sha256": result.content_sha256,
        "changes": "; ".join(f"{name} +{c['added']} -{c['removed']} ~{c['changed']}"
                             for name, c in result.changes.items() if any(c.values())),
    })
