"""The daily dump of all Hub model cards: the second ingest path, for cards that state emissions only in prose.

The dump (default: the dataset ``librarian-bots/model_cards_with_metadata``, about 670,000 cards) is a set of
Parquet shards with the columns ``modelId, author, last_modified, downloads, likes, library_name, tags,
pipeline_tag, createdAt, card`` (``card``: the full README). ``AI_EMISSIONS_HUB_DUMP`` chooses the shards:

- a folder: every ``*.parquet`` in it, read in place (no network: works with ``refresh --offline``);
- one or more http(s) URLs (separated by spaces, commas or newlines): each fetched unless its ``ETag`` (asked
  with a HEAD request) is the one of the copy already stored;
- unset: the dataset's shards on ``HF_ENDPOINT``, listed by ``GET /api/datasets/{dataset}/tree/main/data``; the
  listing gives each shard's LFS object id, which is the ETag the Hub serves it with, so an unchanged shard
  costs no download.

Downloaded shards are stored in the snapshot store like every other download (content-addressed, one
manifest row per fetch). DuckDB reads the shards (only ``modelId``, ``last_modified``, ``tags``, ``card``) and
keeps the cards that may state emissions or energy (``PREFILTER_SQL``); each kept card is stored as a snapshot
of its own, which the existing card parser reads in the extract stage (the parse cache keys on that snapshot).
Per card the work is incremental by ``last_modified``: a card stored earlier with the same ``last_modified`` is
not written again. Offline or without anything to read, the cards kept by earlier refreshes stand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from pipelines.lib.http import AsyncFetcher, FetchError, FetchPolicy
from pipelines.lib.snapshots import STATUS_ERROR, STATUS_OK, SnapshotStore, utc_now_iso

log = logging.getLogger(__name__)

ENV_VAR = "AI_EMISSIONS_HUB_DUMP"
DEFAULT_DATASET = "librarian-bots/model_cards_with_metadata"
DEFAULT_ENDPOINT = "https://huggingface.co"
KIND_SHARD = "hub_dump_shard"
KIND_LISTING = "hub_dump_listing"
KIND_CARD = "hub_dump_card"
DUMP_COLUMNS = ("modelId", "author", "last_modified", "downloads", "likes", "library_name", "tags", "pipeline_tag",
                "createdAt", "card")
MAX_SHARD_BYTES = 4 * 1024**3
_STORE_BATCH = 256  # kept cards stored together (one sync and one transaction a batch)
_READ_BATCH = 2048  # kept cards taken from DuckDB at a time
# A repo id as the Hub allows it (optional namespace, then a name); the same rule as the Hub API path applies.
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")

# --- the prefilter ---------------------------------------------------------------------------------------------
# Words that announce an emissions or energy statement, in their usual spellings (RE2 syntax, case-insensitive).
_WORDS = (r"co2|co₂|co<sub>2|co\$_\{?2|carbon|emission|ghg|greenhouse|kwh|mwh|gwh|kilowatt|megawatt|"
          r"watt[ -]?hours?|energy|gpu[ -]?hours?|gpu[ -]?days|tpu[ -]?hours?|chip[ -]?hours?|footprint")
# The model-card template's Environmental Impact boilerplate (a link to the ML CO2 calculator, its citation, the
# comment asking for the figure): on a large share of all cards, and never a statement. Removed before the test
# below, so that a card whose only emissions words are the template's is not a candidate.
_TEMPLATE = (r"(?i)carbon emissions can be estimated using[^\n]*|<!--[^>]*-->|mlco2\.github\.io[^\s)\]]*|"
             r"arxiv\.org/abs/1910\.09700|lacoste et al\.? *\(2019\)")
# A statement has a number near such a word: a digit at most 300 characters after the word (prose, a Markdown
# or HTML table whose header names the unit), or a number right before it ("12 tCO2eq", "3.5 kWh").
_STATEMENT = rf"(?is)(?:{_WORDS})[^0-9]{{0,300}}[0-9]|[0-9][^0-9\n]{{0,40}}(?:{_WORDS})"
PREFILTER_SQL = f"""
    SELECT modelId AS repo_id, CAST(last_modified AS VARCHAR) AS last_modified, tags, card, filename AS shard
    FROM read_parquet($files, filename = true, union_by_name = true)
    WHERE card IS NOT NULL
      AND regexp_matches(card, '(?i){_WORDS}')
      AND regexp_matches(regexp_replace(card, '{_TEMPLATE}', ' ', 'g'), '{_STATEMENT}')
"""


@dataclass(frozen=True)
class Shard:
    url: str  # where it came from (a file URL for a local folder)
    path: Path | None  # the Parquet file to read (a local file or the stored snapshot); None: not available
    etag: str | None = None


@dataclass(frozen=True)
class DumpCard:
    """One kept card of the dump, stored as its own snapshot."""

    repo_id: str
    last_modified: str
    sha256: str
    card_url: str
    fetched_at: str
    license: str | None
    shard_url: str


# The hub_dump_cards table: one row per kept card (DumpCard), in this order.
TABLE_COLUMNS = {"repo_id": "VARCHAR", "last_modified": "VARCHAR", "snapshot_sha256": "VARCHAR", "card_url": "VARCHAR",
                 "fetched_at": "VARCHAR", "license": "VARCHAR", "shard_url": "VARCHAR"}


def table_rows(cards: Sequence[DumpCard]) -> list[dict[str, Any]]:
    """The rows of the hub_dump_cards table."""
    return [{"repo_id": c.repo_id, "last_modified": c.last_modified, "snapshot_sha256": c.sha256,
             "card_url": c.card_url, "fetched_at": c.fetched_at, "license": c.license, "shard_url": c.shard_url}
            for c in cards]


@dataclass
class DumpReport:
    source: str  # what AI_EMISSIONS_HUB_DUMP chose (or why nothing was read)
    shards: int = 0
    shards_fetched: int = 0
    shards_reused: int = 0  # ETag unchanged (or a local file): no download
    cards_kept: int = 0  # cards the prefilter kept (each repo once)
    cards_stored: int = 0  # new or changed since the copy stored earlier
    cards_unchanged: int = 0  # same last_modified as the stored copy: nothing written
    read: bool = False  # the shards were read this refresh
    errors: list[tuple[str, str | None, str]] = field(default_factory=list)  # (where, item, reason)
    prefilter_s: float = 0.0  # reading the shards in DuckDB and testing the cards
    store_s: float = 0.0
    fetch_s: float = 0.0

    def summary(self) -> str:
        if not self.read:
            return f"hub dump: nothing read ({self.source}); cards kept by earlier refreshes stand"
        return (f"hub dump ({self.source}): shards={self.shards} (fetched {self.shards_fetched}, reused "
                f"{self.shards_reused}), kept={self.cards_kept} (stored {self.cards_stored}, unchanged "
                f"{self.cards_unchanged}), errors={len(self.errors)}, prefilter {self.prefilter_s:.1f}s")


def dump_setting(environ: Mapping[str, str] | None = None) -> list[str] | Path | None:
    """What AI_EMISSIONS_HUB_DUMP names: a folder (Path), URLs (list), or None when unset.

    Raises ValueError for anything else: a mistyped setting must not pass for an empty dump."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not value:
        return None
    if Path(value).is_dir():
        return Path(value)
    urls = [u for u in re.split(r"[\s,]+", value) if u]
    if all(urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc for u in urls):
        return urls
    raise ValueError(f"{ENV_VAR} must name a folder of Parquet shards or http(s) URLs of shards, not {value!r}")


def ingest_dump(store: SnapshotStore, *, offline: bool, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None,
                environ: Mapping[str, str] | None = None, policy: FetchPolicy | None = None, transport: Any = None,
                threads: int | None = None) -> tuple[DumpReport, list[DumpCard]]:
    """Read the dump that AI_EMISSIONS_HUB_DUMP names (in `environ`) and store its candidate cards; returns the
    current cards. `endpoint` and `token`: the Hub that lists and serves the default dataset.

    Never raises for network faults or a bad shard: each becomes an entry in ``report.errors``."""
    setting = dump_setting(environ)
    endpoint = endpoint.rstrip("/")
    if isinstance(setting, Path):
        report = DumpReport(source=f"folder {setting}")
        shards = [Shard(p.resolve().as_uri(), p) for p in sorted(setting.glob("*.parquet"))]
        if not shards:
            report.errors.append((str(setting), None, "no *.parquet shards in the dump folder"))
    elif offline:
        what = "URLs given" if setting else "AI_EMISSIONS_HUB_DUMP unset"
        return DumpReport(source=f"offline, {what}"), stored_cards(store)
    else:
        report = DumpReport(source=f"{len(setting)} URLs" if setting else f"{endpoint} {DEFAULT_DATASET}")
        started = time.monotonic()
        shards = asyncio.run(_fetch_shards(store, report, setting, endpoint, token, policy, transport))
        report.fetch_s = time.monotonic() - started
    report.shards = len(shards)
    readable = [s for s in shards if s.path is not None]
    if not readable:
        return report, stored_cards(store)
    kept = _keep_candidates(store, readable, report, threads)
    report.read = True
    if len(readable) < len(shards):  # a shard could not be had: what earlier refreshes kept stands for its repos
        for card in stored_cards(store):
            kept.setdefault(card.repo_id, card)
    cards = sorted(kept.values(), key=lambda c: c.repo_id)
    report.cards_kept = len(cards)
    log.info(report.summary())
    return report, cards


def stored_cards(store: SnapshotStore) -> list[DumpCard]:
    """The dump cards kept by earlier refreshes (the newest stored copy of each repo)."""
    return [_card_of(row) for _, row in sorted(store.latest(KIND_CARD).items())]


def _card_of(row) -> DumpCard:
    meta = row.metadata or {}
    return DumpCard(row.repo_id, row.revision or "", row.sha256 or "", row.url, row.fetched_at, meta.get("license"),
                    meta.get("shard_url", ""))


# --- reading ---------------------------------------------------------------------------------------------------


def prefilter(files: Sequence[Path], *, threads: int | None = None, batch_rows: int = _READ_BATCH
              ) -> Iterator[list[dict[str, Any]]]:
    """The dump's candidate cards, a batch of dicts at a time (repo_id, last_modified, tags, card, shard)."""
    import duckdb

    con = duckdb.connect(config={"threads": threads or os.cpu_count() or 1})
    try:
        con.execute("SET preserve_insertion_order = false")  # no ordering needed: streams with less memory
        reader = con.sql(PREFILTER_SQL, params={"files": [str(f) for f in files]}).to_arrow_reader(batch_rows)
        for batch in reader:
            yield batch.to_pylist()
    finally:
        con.close()


def _keep_candidates(store: SnapshotStore, shards: Sequence[Shard], report: DumpReport, threads: int | None
                     ) -> dict[str, DumpCard]:
    """Store each candidate whose last_modified changed; the newest copy of each repo (a repo twice in the dump:
    the later last_modified wins)."""
    shard_urls = {str(s.path): s.url for s in shards}
    earlier = store.latest(KIND_CARD)
    kept: dict[str, DumpCard] = {}
    pending: list[tuple[bytes, dict[str, Any]]] = []

    def flush() -> None:
        started = time.monotonic()
        for sha, (_, row) in zip(store.put_and_record(pending), pending, strict=True):
            _keep(kept, DumpCard(row["repo_id"], row["revision"], sha, row["url"], row["fetched_at"],
                                 row["metadata"]["license"], row["metadata"]["shard_url"]))
        report.cards_stored += len(pending)
        pending.clear()
        report.store_s += time.monotonic() - started

    started = time.monotonic()
    try:
        for batch in prefilter([s.path for s in shards], threads=threads):
            for item in batch:
                repo_id, last_modified = item["repo_id"], _iso(item["last_modified"])
                shard_url = shard_urls.get(item["shard"], item["shard"])
                if not (isinstance(repo_id, str) and len(repo_id) <= 96 and _REPO_ID.fullmatch(repo_id)
                        and ".." not in repo_id and "--" not in repo_id):
                    report.errors.append((shard_url, str(repo_id)[:200], "dump row with an invalid modelId"))
                    continue
                if repo_id in kept and kept[repo_id].last_modified >= last_modified:
                    continue
                previous = earlier.get(repo_id)
                if previous is not None and previous.revision == last_modified and store.has(previous.sha256):
                    report.cards_unchanged += 1
                    _keep(kept, _card_of(previous))
                    continue
                card_url = f"{DEFAULT_ENDPOINT}/{quote(repo_id, safe='/')}/blob/main/README.md"
                pending.append((item["card"].encode("utf-8", errors="surrogatepass"), {
                    "kind": KIND_CARD, "url": card_url, "repo_id": repo_id, "revision": last_modified,
                    "status": STATUS_OK, "fetched_at": utc_now_iso(),
                    "metadata": {"license": _license(item["tags"]), "shard_url": shard_url}}))
                if len(pending) >= _STORE_BATCH:
                    flush()
        flush()
    except Exception as exc:  # a corrupt or foreign Parquet file: say which, keep what earlier refreshes kept
        report.errors.append((", ".join(s.url for s in shards)[:500], None, f"dump not readable: {exc}"[:500]))
        log.warning("hub dump not readable: %s", exc)
        return {c.repo_id: c for c in stored_cards(store)}
    report.prefilter_s = time.monotonic() - started - report.store_s
    return kept


def _keep(kept: dict[str, DumpCard], card: DumpCard) -> None:
    current = kept.get(card.repo_id)
    if current is None or card.last_modified > current.last_modified:
        kept[card.repo_id] = card


def _iso(value: object) -> str:
    """A last_modified as ISO 8601 UTC with milliseconds, the format of the snapshots' fetched_at (so the two
    compare as text); unparseable values are kept as printed."""
    text = "" if value is None else str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _license(tags: object) -> str | None:
    """The Hub's ``license:...`` tag (the dump has no license column)."""
    for tag in tags or ():
        if isinstance(tag, str) and tag.startswith("license:"):
            return tag.removeprefix("license:")[:100]
    return None


# --- fetching --------------------------------------------------------------------------------------------------


async def _fetch_shards(store: SnapshotStore, report: DumpReport, urls: list[str] | None, endpoint: str,
                        token: str | None, policy: FetchPolicy | None, transport: Any) -> list[Shard]:
    policy = dataclasses.replace(policy or FetchPolicy(), concurrency=1)
    stored = store.latest(KIND_SHARD)
    shards: list[Shard] = []
    async with AsyncFetcher(policy, token=token, token_origin=endpoint, transport=transport) as fetcher:
        if urls is None:
            listed = await _list_shards(fetcher, store, report, endpoint)
        else:
            listed = [(url, await _head_etag(url, policy, transport)) for url in urls]
        for url, etag in listed:  # one at a time: a shard is held in memory while it is stored
            previous = stored.get(url)
            if etag and previous is not None and previous.revision == etag and store.has(previous.sha256):
                report.shards_reused += 1
                shards.append(Shard(url, store.path_for(previous.sha256), etag))
                continue
            try:
                fetched = await fetcher.get(url, label="dump_shard", max_bytes=MAX_SHARD_BYTES)
            except FetchError as error:
                store.record(kind=KIND_SHARD, url=url, repo_id=url, revision=etag, status=STATUS_ERROR,
                             http_status=error.status, error=error.reason)
                fallback = store.path_for(previous.sha256) if previous and store.has(previous.sha256) else None
                note = "; the copy stored earlier is read" if fallback else ""
                report.errors.append((url, None, f"dump shard not fetched: {error.reason}{note}"))
                shards.append(Shard(url, fallback, etag))
                continue
            etag = etag or _etag(fetched.headers)
            body = fetched.body
            del fetched
            (sha,) = await asyncio.to_thread(store.put_and_record, [(body, {
                "kind": KIND_SHARD, "url": url, "repo_id": url, "revision": etag, "status": STATUS_OK,
                "http_status": 200, "bytes": len(body)})])
            del body
            report.shards_fetched += 1
            shards.append(Shard(url, store.path_for(sha), etag))
    return shards


async def _list_shards(fetcher: AsyncFetcher, store: SnapshotStore, report: DumpReport, endpoint: str
                       ) -> list[tuple[str, str | None]]:
    """(URL, ETag) of each Parquet shard of the default dataset, from the Hub's tree listing (paginated)."""
    url: str | None = f"{endpoint}/api/datasets/{DEFAULT_DATASET}/tree/main/data"
    shards: list[tuple[str, str | None]] = []
    for _ in range(100):
        if url is None:
            break
        try:
            page = await fetcher.get(url, label="dump_listing")
            entries = json.loads(page.body)
        except FetchError as error:
            store.record(kind=KIND_LISTING, url=url, status=STATUS_ERROR, http_status=error.status,
                         error=error.reason)
            report.errors.append((url, None, f"dump shards not listed: {error.reason}"))
            return shards
        except ValueError:
            report.errors.append((url, None, "dump listing is not JSON"))
            return shards
        for entry in entries if isinstance(entries, list) else []:
            path = entry.get("path") if isinstance(entry, dict) else None
            if entry.get("type") == "file" and isinstance(path, str) and path.endswith(".parquet") \
                    and ".." not in path:
                lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
                etag = lfs.get("oid") or entry.get("oid")  # the Hub serves an LFS file with its oid as ETag
                shards.append((f"{endpoint}/datasets/{DEFAULT_DATASET}/resolve/main/{quote(path)}",
                               str(etag) if etag else None))
        url = page.next_url
    return sorted(shards)


async def _head_etag(url: str, policy: FetchPolicy, transport: Any) -> str | None:
    """The shard's current ETag (None when the server gives none or the HEAD request fails: then it is fetched)."""
    timeout = httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s)
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, transport=transport,
                                     headers={"User-Agent": policy.user_agent}, trust_env=False) as client:
            response = await client.head(url)
    except httpx.HTTPError:
        return None
    return _etag(response.headers) if response.status_code < 400 else None


def _etag(headers: Mapping[str, str]) -> str | None:
    value = headers.get("x-linked-etag") or headers.get("etag")
    return value.removeprefix("W/").strip('"') if value else None


__all__ = ["DEFAULT_DATASET", "ENV_VAR", "PREFILTER_SQL", "TABLE_COLUMNS", "DumpCard", "DumpReport", "dump_setting",
           "ingest_dump", "prefilter", "stored_cards", "table_rows"]
