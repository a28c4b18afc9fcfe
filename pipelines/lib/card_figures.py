"""Parsed Hub model cards -> figure rows, source rows and quarantine rows in the shared shapes.

A card's own figures belong to its repo (`model_id` = repo id); figures a card gives for other models
it names (per-model tables) get `<owner>/<model name>`; a table's Total row gets `<repo id>:total`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pipelines.lib.cards import CardResult, parse_card
from pipelines.lib.curated import disclosure_id
from pipelines.lib.normalize import FIGURE_COLUMNS, quarantine_row

_LIB = Path(__file__).resolve().parent
# What a card's rows depend on besides its bytes: a change to any of these files re-parses every card.
PARSER_VERSION = hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted([*(_LIB / "cards").glob("*.py"), _LIB / "card_figures.py", _LIB / "units.py",
                                    _LIB / "curated.py", _LIB / "normalize.py"]))).hexdigest()[:16]
PARALLEL_MIN = 400  # below this many cards, starting worker processes costs more than it saves
CACHE_COLUMNS = {"cache_key": "VARCHAR", "parser_version": "VARCHAR", "figures": "VARCHAR", "issues": "VARCHAR"}

# Locators name where a figure is; they never carry the card's own sentences (third-party prose).
_QUOTED = re.compile(r"""(prose)\s*:\s*["\u201c].*?(?:["\u201d]|$)""")


def clean_locator(locator: str, order: int | None = None) -> str:
    """'Section > prose: "Estimated total emissions were..."' -> 'Section > prose, figure 3 of the card'."""
    where = f", figure {order + 1} of the card" if order is not None else ""
    return _QUOTED.sub(lambda m: f"{m.group(1)}{where}", locator)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", text.strip()).strip("-") or "unnamed"


def _key(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def card_source_id(repo_id: str) -> str:
    return f"hub:{repo_id}"


def card_rows(result: CardResult, *, repo_id: str, card_url: str, snapshot_sha256: str) -> tuple[list, list]:
    """(figure rows, quarantine rows) for one parsed card."""
    source_id = card_source_id(repo_id)
    owner, name = repo_id.split("/", 1)
    figures = []
    for order, fig in enumerate(result.figures):
        if fig.is_total:
            model_id, model_name = f"{repo_id}:total", f"{result.model_name or name} (table total)"
        elif fig.model_name and _key(fig.model_name) not in (_key(name), _key(result.model_name)):
            model_id, model_name = f"{owner}/{_slug(fig.model_name)}", fig.model_name
        else:
            model_id, model_name = repo_id, result.model_name or name
        if fig.variant:
            model_id, model_name = f"{model_id}:{_slug(fig.variant)}", f"{model_name} ({fig.variant})"
        locator = clean_locator(fig.locator, order if fig.origin == "prose" else None)
        basis = fig.basis if fig.metric in ("emissions", "carbon_intensity") else None
        functional_unit = fig.per
        own = model_id == repo_id
        note = None
        if fig.origin == "front_matter" and fig.metric == "emissions":
            note = "unit implied by the Hub's co2_eq_emissions metadata convention (grams)"
        row = {c: None for c in FIGURE_COLUMNS} | {
            "disclosure_id": disclosure_id(source_id, model_id, fig.stage, fig.metric, basis, functional_unit,
                                           locator),
            "source_id": source_id,
            "model_id": model_id,
            "model_name": model_name,
            "organization": owner,
            "stage": fig.stage,
            "hardware": result.hardware if own else None,
            "location": result.location if own else None,
            "is_restatement": False,
            "metric": fig.metric,
            "basis": basis,
            "functional_unit": functional_unit,
            "value_as_printed": fig.value_as_printed,
            "unit_as_printed": fig.unit_as_printed,
            "locator": locator,
            "is_superseded": False,
            "note": note,
            "extraction_method": f"card parser ({fig.origin})",
            "source_url": card_url,
            "snapshot_sha256": snapshot_sha256,
        }
        figures.append(row)
    seen, unique = set(), []
    for row in figures:  # the same figure read twice at one place (e.g. YAML and a mirrored field) counts once
        if row["disclosure_id"] not in seen:
            seen.add(row["disclosure_id"])
            unique.append(row)
    issues = [quarantine_row("extract", source_id, clean_locator(q.locator), q.item, q.reason)
              for q in result.quarantine]
    issues += [quarantine_row("extract", source_id, None, c, "the card states conflicting values; all are kept")
               for c in result.conflicts]
    return unique, issues


def card_source_row(repo_id: str, card_url: str, license_: str | None, snapshot_sha256: str,
                    revision: str) -> dict:
    return {
        "source_id": card_source_id(repo_id),
        "title": f"{repo_id} model card (Hugging Face Hub)",
        "organization": repo_id.split("/", 1)[0],
        "published_date": None,
        "kind": "hub_card",
        "url": card_url,
        "fetch_url": None,
        "license": license_,
        "verified_in": f"Hub card at revision {revision}, read by the card parser",
        "snapshot_sha256": snapshot_sha256,
    }


def cache_key(repo_id: str, card_url: str, snapshot_sha256: str) -> str:
    return f"{repo_id}\x1f{card_url}\x1f{snapshot_sha256}"


def _parse_one(item: tuple[str, str, str, bytes]) -> tuple[list, list]:
    repo_id, card_url, snapshot_sha256, data = item
    result = parse_card(data, path=f"{repo_id}/README.md")
    return card_rows(result, repo_id=repo_id, card_url=card_url, snapshot_sha256=snapshot_sha256)


def parse_cards(items: list[tuple[str, str, str, bytes]], workers: int) -> list[tuple[list, list]]:
    """(figure rows, quarantine rows) per (repo_id, card_url, snapshot_sha256, bytes), in order; parsed in
    worker processes when there are many (parsing is pure CPU and the results are plain data)."""
    if workers > 1 and len(items) >= PARALLEL_MIN:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(_parse_one, items, chunksize=64))
    return [_parse_one(item) for item in items]


def cache_row(key: str, figures: list, issues: list) -> dict:
    return {"cache_key": key, "parser_version": PARSER_VERSION, "figures": json.dumps(figures),
            "issues": json.dumps(issues)}


def from_cache_row(row: dict) -> tuple[list, list]:
    return json.loads(row["figures"]), json.loads(row["issues"])
