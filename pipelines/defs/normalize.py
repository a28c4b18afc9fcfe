"""Normalize: printed values and units -> canonical; what cannot be normalized goes to quarantine."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.reference import REFERENCE_TABLES
from pipelines.defs.resources import PathsResource
from pipelines.lib import reference, warehouse
from pipelines.lib.inference_energy import unresolved_models
from pipelines.lib.model_registry import load_model_registry
from pipelines.lib.normalize import (
    FIGURE_COLUMNS,
    NORMALIZED_COLUMNS,
    QUARANTINE_COLUMNS,
    UNRESOLVED_COLUMNS,
    normalize_figures,
    unresolved_names,
)

FIGURE_TABLES = ["curated_figures", "card_figures"]


@dg.multi_asset(
    group_name="normalize",
    compute_kind="python",
    specs=[
        dg.AssetSpec("normalized_figures", deps=[*FIGURE_TABLES, *REFERENCE_TABLES, "model_registry"],
                     description="Every figure with its canonical value and unit, hardware and location ids"),
        dg.AssetSpec("normalize_quarantine", deps=[*FIGURE_TABLES, *REFERENCE_TABLES],
                     description="Figures whose value or unit could not be normalized"),
        dg.AssetSpec("unresolved_names", deps=[*FIGURE_TABLES, *REFERENCE_TABLES, "inference_measurements"],
                     description="Printed hardware, locations and measured models' names that nothing resolves, "
                                 "counted per source (never guessed)"),
    ],
)
def normalized_figures(paths: PathsResource, duckdb: DuckDBResource):
    ref = reference.load_reference(paths.paths.data_dir / "reference")
    with duckdb.get_connection() as con:
        columns = ", ".join(f'"{c}"' for c in FIGURE_COLUMNS)
        union = " union all ".join(f"select {columns} from {t}" for t in FIGURE_TABLES)
        cursor = con.execute(f"select * from ({union}) order by disclosure_id")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        # one model, one id: a Hub card under an older or aliased repo name meets the curated figures
        registry = load_model_registry(paths.paths.data_dir)
        for row in rows:
            row["model_id"] = registry.resolve(row["model_id"]) or row["model_id"]
        good, bad = normalize_figures(rows, lambda text: reference.resolve_hardware(text, ref),
                                      lambda text: reference.resolve_location(text, ref))
        measured = con.execute("select model_id, model_name_as_printed, source_id from inference_measurements")
        unresolved = unresolved_names(good) + unresolved_models(
            [{"model_id": m, "model_name_as_printed": name, "source_id": s} for m, name, s in measured.fetchall()])
        n_good = warehouse.replace_table(con, "normalized_figures", good, NORMALIZED_COLUMNS)
        n_bad = warehouse.replace_table(con, "normalize_quarantine", bad, QUARANTINE_COLUMNS)
        warehouse.replace_table(con, "unresolved_names", unresolved, UNRESOLVED_COLUMNS)
    yield dg.MaterializeResult(asset_key="normalized_figures", metadata={"row_count": n_good})
    yield dg.MaterializeResult(asset_key="normalize_quarantine", metadata={"row_count": n_bad})
    yield dg.MaterializeResult(asset_key="unresolved_names", metadata={
        "row_count": len(unresolved),
        "unresolved_hardware": sum(u["figure_count"] for u in unresolved if u["kind"] == "hardware"),
        "unresolved_locations": sum(u["figure_count"] for u in unresolved if u["kind"] == "location"),
        "unresolved_models": sum(u["figure_count"] for u in unresolved if u["kind"] == "model")})
