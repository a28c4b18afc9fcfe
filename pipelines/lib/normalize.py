"""Extracted figures -> normalized figures, or quarantine rows with a reason.

Every extractor (curated files, paper tables, Hub cards) emits rows shaped like FIGURE_COLUMNS; this
module is the one place that turns a printed value and unit into the canonical value and unit.
"""

from __future__ import annotations

import hashlib

from pipelines.lib import units

# What every extractor produces: one row per figure, values still as printed.
FIGURE_COLUMNS: dict[str, str] = {
    "disclosure_id": "VARCHAR",
    "source_id": "VARCHAR",
    "model_id": "VARCHAR",
    "model_name": "VARCHAR",
    "organization": "VARCHAR",
    "stage": "VARCHAR",
    "year": "BIGINT",
    "hardware": "VARCHAR",
    "location": "VARCHAR",
    "is_restatement": "BOOLEAN",
    "is_pue_included": "BOOLEAN",
    "is_idle_included": "BOOLEAN",
    "is_embodied_included": "BOOLEAN",
    "metric": "VARCHAR",
    "basis": "VARCHAR",
    "functional_unit": "VARCHAR",
    "component": "VARCHAR",
    "value_as_printed": "VARCHAR",
    "unit_as_printed": "VARCHAR",
    "locator": "VARCHAR",
    "is_superseded": "BOOLEAN",
    "superseded_on": "VARCHAR",
    "note": "VARCHAR",
    "extraction_method": "VARCHAR",
    "curated_file": "VARCHAR",
    "source_url": "VARCHAR",  # set by extractors whose source is not in the registry (Hub cards)
    "snapshot_sha256": "VARCHAR",  # the stored snapshot the figure was read from, when there is one
}

NORMALIZED_COLUMNS: dict[str, str] = {
    **FIGURE_COLUMNS,
    "value": "DOUBLE",
    "unit": "VARCHAR",
    "value_qualifier": "VARCHAR",
    "value_resolution": "DOUBLE",  # one unit of the last printed digit: rounding is not a conflict
    "hardware_id": "VARCHAR",  # canonical accelerator, when the printed hardware resolves
    "location_id": "VARCHAR",  # ISO country / subdivision or provider:region, when the printed location resolves
}

UNRESOLVED_COLUMNS = {"kind": "VARCHAR", "text_as_printed": "VARCHAR", "source_id": "VARCHAR",
                      "figure_count": "BIGINT"}

QUARANTINE_COLUMNS: dict[str, str] = {
    "quarantine_id": "VARCHAR",
    "pipeline_stage": "VARCHAR",
    "source_id": "VARCHAR",
    "locator": "VARCHAR",
    "item": "VARCHAR",
    "reason": "VARCHAR",
}

_ITEM_MAX = 200  # quarantine keeps a short excerpt of the rejected item, never a whole document


def quarantine_row(pipeline_stage: str, source_id: str | None, locator: str | None, item: str | None,
                   reason: str) -> dict:
    item = None if item is None else str(item)[:_ITEM_MAX]
    key = "\x1f".join([pipeline_stage, source_id or "", locator or "", item or "", reason])
    return {
        "quarantine_id": "q_" + hashlib.sha256(key.encode()).hexdigest()[:16],
        "pipeline_stage": pipeline_stage,
        "source_id": source_id,
        "locator": locator,
        "item": item,
        "reason": reason,
    }


def _resolved(resolver, text: str | None) -> str | None:
    return resolver(text) if resolver and text else None


def unresolved_names(rows: list[dict]) -> list[dict]:
    """Printed hardware and locations that did not resolve, per source, with how many figures print them:
    kept as printed and counted (the alias tables grow from this list), never guessed."""
    counts: dict[tuple[str, str, str], int] = {}
    for row in rows:
        for kind in ("hardware", "location"):
            if row.get(kind) and not row.get(f"{kind}_id"):
                key = (kind, row[kind], row.get("source_id") or "")
                counts[key] = counts.get(key, 0) + 1
    return [{"kind": k, "text_as_printed": t, "source_id": s or None, "figure_count": n}
            for (k, t, s), n in sorted(counts.items())]


MAX_CARBON_INTENSITY_KG_PER_KWH = 2.0  # the most carbon-intensive grids (coal, lignite) are near 1.2


class InvalidCuratedFigure(ValueError):
    """A curated figure (ours, unlike a card or a fetched document) that cannot be normalized."""


def normalized_value(metric: str, value_as_printed: str, unit_as_printed: str | None) -> units.Normalized:
    """The canonical value of a printed figure; UnitError when it cannot be normalized or is impossible."""
    result = units.normalize(metric, value_as_printed, unit_as_printed)
    if result.value < 0:
        raise units.UnitError(f"negative value {value_as_printed!r}")
    if metric == "pue" and result.value < 1:
        raise units.UnitError(f"PUE {value_as_printed!r} below 1 (a facility uses at least its IT energy)")
    if metric == "carbon_intensity" and result.value > MAX_CARBON_INTENSITY_KG_PER_KWH:
        raise units.UnitError(f"{value_as_printed} {unit_as_printed or ''} is {result.value:g} kg/kWh, above "
                              f"{MAX_CARBON_INTENSITY_KG_PER_KWH:g} (no grid emits that much): wrong unit?")
    return result


def normalize_figures(rows: list[dict], resolve_hardware=None, resolve_location=None
                      ) -> tuple[list[dict], list[dict]]:
    """Normalize each figure; a figure that cannot be normalized becomes a quarantine row instead, unless it is
    curated (InvalidCuratedFigure: curated data is ours, it must be fixed, never quarantined).
    Printed hardware and locations are resolved to canonical ids where the resolvers know them."""
    good, bad, invalid_curated = [], [], []
    for row in rows:
        try:
            result = normalized_value(row["metric"], row["value_as_printed"], row["unit_as_printed"])
        except units.UnitError as exc:
            if row.get("curated_file"):
                invalid_curated.append(f"{row['curated_file']}: {row['model_id']} {row['metric']} at "
                                       f"{row['locator']!r}: {exc}")
                continue
            bad.append(quarantine_row("normalize", row["source_id"], row["locator"],
                                      f"{row['value_as_printed']} {row['unit_as_printed'] or ''}".strip(),
                                      f"{row['metric']}: {exc}"))
            continue
        good.append({**{c: row.get(c) for c in FIGURE_COLUMNS}, "value": result.value, "unit": result.unit,
                     "value_qualifier": result.qualifier, "value_resolution": result.resolution,
                     "hardware_id": _resolved(resolve_hardware, row["hardware"]),
                     "location_id": _resolved(resolve_location, row["location"])})
    if invalid_curated:
        raise InvalidCuratedFigure("invalid curated figures (fix the files; nothing was published):\n"
                                   + "\n".join(invalid_curated))
    return good, bad
