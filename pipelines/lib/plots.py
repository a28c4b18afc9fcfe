"""PNG plots of a release, drawn from the release's own tables (deterministic bytes).

Drawn only when a new release is written; matplotlib is imported then (about a second, with the drawing).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SCORECARD_ITEMS = ["has_hardware", "has_chip_hours", "has_energy", "has_location_or_intensity", "has_pue",
                   "has_emissions", "has_market_based_emissions", "has_embodied_emissions", "has_inference_figures"]
_PNG_METADATA = {"Software": None}  # no version stamp: same tables, same bytes
_TOP_ORGANIZATIONS = 10


def _pyplot():
    """matplotlib on demand (its import costs a refresh time only when a release is written)."""
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    plt = _pyplot()
    fig.savefig(path, dpi=110, metadata=_PNG_METADATA)
    plt.close(fig)


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def emissions_by_year(runs: list[dict], path: Path) -> None:
    plt = _pyplot()
    # headline runs only (when the release marks them): each training counted once
    rows = [r for r in runs if r["emissions_tco2e"] and r["year"] and r["stage"] != "inference"
            and r.get("is_headline", True)]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["organization"]] = counts.get(r["organization"], 0) + 1
    top = sorted(counts, key=lambda o: (-counts[o], o))[:_TOP_ORGANIZATIONS]
    colors = dict(zip(top, plt.get_cmap("tab10").colors, strict=False))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for origin, marker, fill in (("disclosed", "o", True), ("estimated", "D", False)):
        for org in [*top, None]:
            subset = [r for r in rows if r["emissions_origin"] == origin
                      and (r["organization"] == org if org else r["organization"] not in top)]
            if not subset:
                continue
            color = colors.get(org, "0.6")
            label = f"{_short(org or 'other')} ({origin})"
            xs = [r["year"] + (0.12 if origin == "estimated" else 0) for r in subset]
            ys = [r["emissions_tco2e"] for r in subset]
            ax.scatter(xs, ys, marker=marker, s=36, label=label, edgecolors=color,
                       facecolors=color if fill else "none", linewidths=1.2)
            if origin == "estimated":
                lows = [r["emissions_tco2e"] - (r["estimate_low_tco2e"] or r["emissions_tco2e"]) for r in subset]
                highs = [(r["estimate_high_tco2e"] or r["emissions_tco2e"]) - r["emissions_tco2e"] for r in subset]
                ax.errorbar(xs, ys, yerr=[lows, highs], fmt="none", ecolor=color, elinewidth=0.8, alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel("year of release")
    ax.set_ylabel("training emissions (tCO2e, log scale)")
    ax.set_title("Training emissions by year: disclosed (filled) and estimated (hollow, with bounds)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left", frameon=False)
    fig.tight_layout()
    _save(fig, path)


def scorecard(table: list[dict], path: Path) -> None:
    plt = _pyplot()
    rows = sorted((r for r in table if r["level"] == "organization"),
                  key=lambda r: (-r["disclosed_item_count"], r["organization"]))
    fig, ax = plt.subplots(figsize=(9, 0.45 * max(len(rows), 2) + 1.8))
    grid = [[1 if r[item] else 0 for item in SCORECARD_ITEMS] for r in rows] or [[0] * len(SCORECARD_ITEMS)]
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1.4, aspect="auto")
    ax.set_xticks(range(len(SCORECARD_ITEMS)),
                  [i.removeprefix("has_").replace("_", " ") for i in SCORECARD_ITEMS], rotation=35, ha="right")
    ax.set_yticks(range(len(rows)), [f"{_short(r['organization'])} ({r['model_count']} models)" for r in rows])
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            ax.text(x, y, "yes" if value else "-", ha="center", va="center", fontsize=7)
    ax.set_title("What each organization discloses about its own models", loc="left")
    fig.tight_layout()
    _save(fig, path)


def backtest(table: list[dict], path: Path) -> None:
    plt = _pyplot()
    rows = [r for r in table if r.get("disclosed_tco2e") and r.get("estimate_tco2e")]
    fig, ax = plt.subplots(figsize=(6, 6))
    if rows:
        xs = [r["disclosed_tco2e"] for r in rows]
        ys = [r["estimate_tco2e"] for r in rows]
        ax.scatter(xs, ys, s=20)
        lo, hi = min(xs + ys) / 1.5, max(xs + ys) * 1.5
        ax.plot([lo, hi], [lo, hi], color="0.3", linewidth=0.8, label="estimate = disclosed")
        ax.fill_between([lo, hi], [lo / 1.25, hi / 1.25], [lo * 1.25, hi * 1.25], color="0.85",
                        label="within 1.25x")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(frameon=False)
    ax.set_xlabel("disclosed emissions (tCO2e)")
    ax.set_ylabel("estimated from disclosed inputs (tCO2e)")
    ax.set_title("Backtest: estimator vs disclosures")
    fig.tight_layout()
    _save(fig, path)


_PLAN = [("emissions_by_year.png", emissions_by_year, "training_runs"),
         ("disclosure_scorecard.png", scorecard, "disclosure_scorecard"),
         ("backtest.png", backtest, "backtest")]
# the columns each plot reads
_COLUMNS = {
    "training_runs": ["organization", "year", "stage", "emissions_tco2e", "emissions_origin", "estimate_low_tco2e",
                      "estimate_high_tco2e", "is_headline"],
    "disclosure_scorecard": ["level", "organization", "model_count", "disclosed_item_count", *SCORECARD_ITEMS],
    "backtest": ["disclosed_tco2e", "estimate_tco2e"],
}


def _draw(folder: Path, rows: Mapping[str, list[dict]]) -> list[str]:
    written = []
    for name, draw, table in _PLAN:
        if table in rows:
            draw(rows[table], folder / name)
            written.append(name)
    return written


def _plotted_rows(tables: Mapping[str, pa.Table]) -> dict[str, list[dict]]:
    return {table: tables[table].select([c for c in _COLUMNS[table] if c in tables[table].column_names]).to_pylist()
            for _, _, table in _PLAN if table in tables}


def write_plots(folder: Path, tables: Mapping[str, pa.Table]) -> list[str]:
    """Draw every plot whose tables are in the release; returns the file names written."""
    return _draw(folder, _plotted_rows(tables))
