"""Parsed Hub model cards -> figure rows, source rows and quarantine rows in the shared shapes.

A card's own figures belong to its repo (`model_id` = repo id); figures a card gives for other models
it names (per-model tables) get `<owner>/<model name>`; a table's Total row gets `<repo id>:total`.

`build_card_tables` keeps each card's rows, as JSON, in a parse cache keyed by snapshot and parser version:
only new cards are parsed (in a process pool when many, whose workers also write the JSON), and DuckDB expands the
cache into the `card_figures` and `card_quarantine` tables, so cached cards never pass through Python objects.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import json
import multiprocessing
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.cards import CardResult, parse_card
from pipelines.lib.curated import disclosure_id
from pipelines.lib.normalize import FIGURE_COLUMNS, QUARANTINE_COLUMNS, quarantine_row

_LIB = Path(__file__).resolve().parent
# What a card's rows depend on besides its bytes: a change to any of these files re-parses every card.
PARSER_VERSION = hashlib.sha256(b"".join(
    p.read_bytes() for p in sorted([*(_LIB / "cards").glob("*.py"), _LIB / "card_figures.py", _LIB / "units.py",
                                    _LIB / "curated.py", _LIB / "normalize.py"]))).hexdigest()[:16]
PARALLEL_MIN = 400  # below this many cards, starting worker processes costs more than it saves
_CHUNK = 50  # cards per task of a worker
CACHE_COLUMNS = {"cache_key": "VARCHAR", "parser_version": "VARCHAR", "figures": "VARCHAR", "issues": "VARCHAR"}
CARD_SOURCE_COLUMNS = {
    "source_id": "VARCHAR", "title": "VARCHAR", "organization": "VARCHAR", "published_date": "VARCHAR",
    "kind": "VARCHAR", "url": "VARCHAR", "fetch_url": "VARCHAR", "license": "VARCHAR", "verified_in": "VARCHAR",
    "verification": "VARCHAR", "verification_note": "VARCHAR",
    "snapshot_sha256": "VARCHAR",
}

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
        "verified_in": card_url,
        "verification": "primary",
        "verification_note": f"Hub card at revision {revision}, read by the card parser",
        "snapshot_sha256": snapshot_sha256,
    }


def cache_key(repo_id: str, card_url: str, snapshot_sha256: str) -> str:
    return f"{repo_id}\x1f{card_url}\x1f{snapshot_sha256}"


def _parse_one(item: tuple[str, str, str, bytes]) -> tuple[list, list]:
    repo_id, card_url, snapshot_sha256, data = item
    result = parse_card(data, path=f"{repo_id}/README.md")
    return card_rows(result, repo_id=repo_id, card_url=card_url, snapshot_sha256=snapshot_sha256)


def parse_to_cache_rows(items: Iterable[tuple[str, str, str, bytes]], count: int, workers: int) -> list[dict]:
    """The parse cache row (``cache_row``) of each of `count` (repo_id, card_url, snapshot_sha256, bytes), in
    order; parsed in a process pool when there are many (parsing is pure CPU and the results are plain data)."""
    if workers > 1 and count >= PARALLEL_MIN:
        return _parse_in_workers(items, workers)
    return [_cache_row_of(item) for item in items]


def _cache_row_of(item: tuple[str, str, str, bytes]) -> dict:
    return cache_row(cache_key(*item[:3]), *_parse_one(item))


def _parse_in_workers(items: Iterable[tuple[str, str, str, bytes]], workers: int) -> list[dict]:
    """Chunks of cards parsed by a pool of `workers` processes, in order. The workers are forked: they start at
    once, with the parser already imported (a spawned worker would re-import the command that started it)."""
    remaining = iter(items)
    chunks = iter(lambda: list(itertools.islice(remaining, _CHUNK)), [])
    gc.freeze()  # the workers' garbage collections then leave the pages they share with this process alone
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return [row for rows in pool.map(_parse_chunk, chunks) for row in rows]
    finally:
        gc.unfreeze()


def _parse_chunk(chunk: list[tuple[str, str, str, bytes]]) -> list[dict]:
    return [_cache_row_of(item) for item in chunk]


def cache_row(key: str, figures: list, issues: list) -> dict:
    return {"cache_key": key, "parser_version": PARSER_VERSION, "figures": json.dumps(figures),
            "issues": json.dumps(issues)}


@dataclass(frozen=True)
class CardTables:
    figures: int  # rows of card_figures
    sources: int
    issues: int  # rows of card_quarantine
    cached: int  # rows of card_parse_cache
    parsed: int  # cards parsed now
    reused: int  # cards whose rows came from the cache (or that could not be read)


def _expand(column: str, columns: dict[str, str]) -> str:
    """SQL: the JSON array in `column` of _card_next as rows with `columns`, keeping card and array order."""
    shape = json.dumps([columns]).replace("'", "''")
    return (f"SELECT position, generate_subscripts(items, 1) AS i, unnest(items) AS item "
            f"FROM (SELECT position, from_json({column}, '{shape}') AS items FROM _card_next)")


def _card_inputs(tables: set[str]) -> str:
    """SQL: the cards to parse, one per repo: the Hub API's (hub_cards) and the daily dump's (hub_dump_cards).

    A repo found both ways is one model with one set of figures, so one card is read: the newest. The API card is
    pinned to the commit it was read at, fetched at `fetched_at`; the dump's copy is newer only when the repo
    changed after that fetch (its `last_modified` is later), and then it is read instead (both are ISO UTC text)."""
    api = "SELECT repo_id, card_url, snapshot_sha256, license, revision, fetched_at FROM hub_cards"
    if "hub_dump_cards" not in tables:
        return api
    return f"""WITH api AS ({api}),
        dump AS (SELECT repo_id, card_url, snapshot_sha256, license, last_modified,
                        'last modified ' || last_modified || ', from the daily card dump' AS revision
                 FROM hub_dump_cards),
        newer AS (SELECT d.* FROM dump d LEFT JOIN api a USING (repo_id)
                  WHERE a.repo_id IS NULL OR d.last_modified > a.fetched_at)
        SELECT repo_id, card_url, snapshot_sha256, license, revision FROM api
        WHERE repo_id NOT IN (SELECT repo_id FROM newer)
        UNION ALL SELECT repo_id, card_url, snapshot_sha256, license, revision FROM newer"""


def build_card_tables(con, store, *, workers: int) -> CardTables:
    """card_figures, card_sources, card_quarantine and card_parse_cache for the cards in hub_cards and
    hub_dump_cards (``_card_inputs``).

    Each card is parsed once per parser version: a card whose snapshot and parser version are in the cache keeps
    its rows; an unreadable stored card becomes a quarantine row. Rows come in card order (by repo id), each
    card's rows in the parser's order."""
    # imported here, not at the top: parsing a card (`parse-card`, the tests) needs neither
    import pyarrow as pa

    from pipelines.lib import warehouse

    tables = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    cards = con.execute(f"SELECT repo_id, card_url, snapshot_sha256, license, revision FROM ({_card_inputs(tables)}) "
                        "ORDER BY repo_id").fetchall()
    has_cache = "card_parse_cache" in tables
    cached = {key for (key,) in con.execute("SELECT cache_key FROM card_parse_cache WHERE parser_version = ?",
                                            [PARSER_VERSION]).fetchall()} if has_cache else set()
    keys, readable, todo, unreadable = [], [], [], []
    for position, (repo_id, card_url, snapshot_sha256, _, _) in enumerate(cards):
        key = cache_key(repo_id, card_url, snapshot_sha256)
        keys.append(key)
        readable.append(True)
        if key not in cached:
            todo.append(position)

    def stored(positions: list[int]) -> Iterator[tuple[str, str, str, bytes]]:
        for position in positions:
            repo_id, card_url, snapshot_sha256, _, _ = cards[position]
            try:
                yield repo_id, card_url, snapshot_sha256, store.get(snapshot_sha256)
            except Exception as exc:  # a missing or corrupt object: quarantine it, keep the other cards
                readable[position] = False
                unreadable.append({"position": position, **quarantine_row(
                    "extract", card_source_id(repo_id), card_url, None, f"stored card unreadable: {exc}")})

    fresh = warehouse.arrow_table(parse_to_cache_rows(stored(todo), len(todo), workers), CACHE_COLUMNS)
    current = pa.table({"position": pa.array(range(len(cards)), pa.int64()), "cache_key": pa.array(keys, pa.string()),
                        "readable": pa.array(readable, pa.bool_())})
    lost = warehouse.arrow_table(unreadable, {"position": "BIGINT", **QUARANTINE_COLUMNS})
    previous = ("(SELECT * FROM card_parse_cache WHERE parser_version = $version)" if has_cache
                else "(SELECT * FROM _card_fresh WHERE false)")
    figure_columns = ", ".join(f'item."{c}"' for c in FIGURE_COLUMNS)
    issue_columns = ", ".join(f'"{c}"' for c in QUARANTINE_COLUMNS)
    for name, table in (("_card_current", current), ("_card_fresh", fresh), ("_card_lost", lost)):
        con.register(name, table)
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _card_next AS
            SELECT k.position, k.cache_key, $version AS parser_version, coalesce(f.figures, p.figures) AS figures,
                   coalesce(f.issues, p.issues) AS issues
            FROM _card_current k LEFT JOIN _card_fresh f USING (cache_key) LEFT JOIN {previous} p USING (cache_key)
            WHERE k.readable""", {"version": PARSER_VERSION})
        with_rows = {position for (position,) in con.execute(
            "SELECT position FROM _card_next WHERE json_array_length(figures) > 0").fetchall()}
        sources = warehouse.arrow_table(
            [card_source_row(repo_id, card_url, license_, snapshot_sha256, revision)
             for position, (repo_id, card_url, snapshot_sha256, license_, revision) in enumerate(cards)
             if position in with_rows], CARD_SOURCE_COLUMNS)
        con.register("_card_sources", sources)
        with warehouse.transaction(con, "the card tables"):
            con.execute("CREATE OR REPLACE TABLE card_parse_cache AS "
                        "SELECT cache_key, parser_version, figures, issues FROM _card_next ORDER BY position")
            con.execute(f"CREATE OR REPLACE TABLE card_figures AS SELECT {figure_columns} "
                        f"FROM ({_expand('figures', FIGURE_COLUMNS)}) ORDER BY position, i")
            issue_fields = ", ".join(f'item."{c}" AS "{c}"' for c in QUARANTINE_COLUMNS)
            con.execute(f"""CREATE OR REPLACE TABLE card_quarantine AS SELECT {issue_columns} FROM (
                SELECT position, i, {issue_fields} FROM ({_expand('issues', QUARANTINE_COLUMNS)})
                UNION ALL SELECT position, 0 AS i, {issue_columns} FROM _card_lost) ORDER BY position, i""")
            con.execute("CREATE OR REPLACE TABLE card_sources AS SELECT * FROM _card_sources")
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                  for t in ("card_figures", "card_sources", "card_quarantine", "card_parse_cache")]
    finally:
        con.execute("DROP TABLE IF EXISTS _card_next")
        for name in ("_card_current", "_card_fresh", "_card_lost", "_card_sources"):
            con.unregister(name)
    return CardTables(*counts, parsed=len(fresh), reused=len(cards) - len(fresh))
