"""Incremental ingestion of model cards from the Hugging Face Hub (or any mirror) into snapshots.

Speaks the Hub's public HTTP API, so the same code runs against https://huggingface.co or any
endpoint given by ``HF_ENDPOINT``:

- discovery: ``GET /api/models?filter=co2_eq_emissions&full=true&cardData=true&limit=N``, following
  ``Link: <...>; rel="next"`` pages (``full`` makes each entry carry the repo's ``sha``);
- a watchlist of notable repos whose cards state emissions in prose or tables (not tagged, so
  absent from that listing): ``GET /api/models/{repo_id}`` gives their ``sha``;
- cards: ``GET /{repo_id}/resolve/{sha}/README.md`` pinned to that revision.

Incremental: a card is downloaded only when its repo's ``sha`` differs from the revision of the
last successful snapshot in the manifest (or no snapshot exists yet). Request cost of a refresh
where nothing changed: one request per listing page, plus one model-info request per watchlist
repo that the listing did not already cover (a watchlist repo found in the listing costs nothing
extra), plus one per listed repo whose entry lacks a ``sha`` (a mirror may omit it). A README
that the Hub reports missing at a revision is remembered and not asked for again until the
repo's ``sha`` moves.

Failures never abort a refresh: every failed fetch becomes a manifest row and an entry in the
report, earlier snapshots stay current, and the next refresh retries whatever did not land.
Remote data never chooses a file path: repo ids and revisions are validated before they are put
in a URL, and stored bytes are named by their sha256 only.

Politeness: requests stay within the quota the Hub announces (``RateLimit`` headers, see ``rate_limits``);
when it is used up the refresh waits for the window to reset and says so (``progress`` logger). This module
discovers; ``hub_download`` fetches and stores the cards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from pipelines.lib.http import AsyncFetcher, FetchError, FetchPolicy, same_origin
from pipelines.lib.hub_download import (
    KIND_CARD,
    Candidate,
    CardDownloads,
    FetchFailure,
    record_failure,
)
from pipelines.lib.snapshots import STATUS_ERROR, STATUS_MISSING, STATUS_OK, SnapshotStore

log = logging.getLogger(__name__)
progress = logging.getLogger("pipelines.progress")  # shown on the terminal during `ai-emissions refresh`

DEFAULT_ENDPOINT = "https://huggingface.co"
LISTING_FILTER = "co2_eq_emissions"
WATCHLIST_PATH = Path(__file__).resolve().parents[2] / "data" / "sources" / "hub_watchlist.yaml"

# Manifest kinds written by this module (and KIND_CARD, by hub_download).
KIND_LISTING = "hub_listing"
KIND_INFO = "hub_model_info"
KIND_REJECTED = "hub_rejected"

# Request labels (keys of IngestReport.requests).
ENDPOINT_LIST = "list"
ENDPOINT_INFO = "info"

# Same rules as the Hub: optional namespace, then a name; letters, digits, '-', '_', '.';
# no '--' or '..', no leading/trailing '-' or '.', at most 96 characters.
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
REPO_ID_RE = re.compile(rf"^(?:{_REPO_PART}/)?{_REPO_PART}$")
REVISION_RE = re.compile(r"^[0-9a-f]{40}$")
_MAX_LISTING_PAGES = 10_000



def is_valid_repo_id(repo_id: object) -> bool:
    return (
        isinstance(repo_id, str)
        and len(repo_id) <= 96
        and REPO_ID_RE.fullmatch(repo_id) is not None
        and ".." not in repo_id
        and "--" not in repo_id
    )


def is_valid_revision(revision: object) -> bool:
    return isinstance(revision, str) and REVISION_RE.fullmatch(revision) is not None


@dataclass(frozen=True)
class CardSnapshot:
    """The latest stored card of one repo."""

    repo_id: str
    revision: str  # the repo's commit sha the card was read at
    sha256: str  # snapshot object holding the card's bytes exactly as served
    card_url: str  # {endpoint}/{repo_id}/blob/{revision}/README.md
    source_url: str  # the resolve URL the bytes came from
    fetched_at: str
    card_data: dict[str, Any] | None  # the Hub's parsed card metadata (listing or model info)
    discovered_by: str  # "listing" or "watchlist"


@dataclass
class IngestReport:
    endpoint: str
    listed: int = 0  # repos named by the listing
    watchlist: int = 0  # watchlist repos (whether or not the listing also named them)
    fetched: int = 0  # cards downloaded and stored this refresh
    unchanged: int = 0  # repos whose sha matched the stored snapshot: nothing downloaded
    no_card: int = 0  # repos without a README at their revision
    failed: int = 0  # repos whose card (or model info) could not be fetched
    listing_complete: bool = False
    errors: list[FetchFailure] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # HTTP attempts per endpoint
    retries: dict[str, int] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)  # origins given up on
    quota_wait_s: float = 0.0  # time spent waiting for the Hub's quota window to reset
    duration_s: float = 0.0

    def summary(self) -> str:
        parts = [
            f"listed={self.listed}",
            f"watchlist={self.watchlist}",
            f"fetched={self.fetched}",
            f"unchanged={self.unchanged}",
            f"no_card={self.no_card}",
            f"failed={self.failed}",
            f"requests={dict(sorted(self.requests.items()))}",
            f"in {self.duration_s:.1f}s",
        ]
        if self.quota_wait_s:
            parts.append(f"waited {self.quota_wait_s:.0f}s for the Hub's quota")
        if not self.listing_complete:
            parts.append("listing incomplete")
        if self.unreachable:
            parts.append(f"unreachable={self.unreachable}")
        return "hub refresh: " + ", ".join(parts)


class HubIngestor:
    """Discovers model cards on a Hub endpoint and snapshots the ones that changed."""

    def __init__(
        self,
        store: SnapshotStore,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        token: str | None = None,
        watchlist: Sequence[str] = (),
        policy: FetchPolicy | None = None,
        listing_filter: str = LISTING_FILTER,
        page_size: int = 1000,
        listing_max_bytes: int = 256 * 1024 * 1024,
        transport: Any = None,
    ) -> None:
        endpoint = endpoint.rstrip("/")
        if urlsplit(endpoint).scheme not in ("http", "https"):
            raise ValueError(f"endpoint must be an http(s) URL, not {endpoint!r}")
        self.store = store
        self.endpoint = endpoint
        self._token = token or None
        self.watchlist = list(dict.fromkeys(watchlist))
        self.policy = policy or FetchPolicy()
        self.listing_filter = listing_filter
        self.page_size = page_size
        self.listing_max_bytes = listing_max_bytes  # API pages, unlike cards, may be large
        self._transport = transport

    def __repr__(self) -> str:  # the token stays out of reprs
        return f"HubIngestor(endpoint={self.endpoint!r}, watchlist={len(self.watchlist)} repos)"

    # -- public API ------------------------------------------------------------------------

    def refresh(self) -> IngestReport:
        """Run one incremental refresh (blocking). Never raises for network or server faults."""
        return asyncio.run(self.arefresh())

    async def arefresh(self) -> IngestReport:
        started = time.monotonic()
        report = IngestReport(endpoint=self.endpoint, watchlist=len(self.watchlist))
        known = self.store.latest(KIND_CARD, (STATUS_OK, STATUS_MISSING))
        outcomes: Counter[str] = Counter()

        def settle(outcome: str, failure: FetchFailure | None) -> None:
            outcomes[outcome] += 1
            if failure is not None:
                report.errors.append(failure)

        async with AsyncFetcher(self.policy, token=self._token, token_origin=self.endpoint,
                                transport=self._transport, on_quota_wait=_say_quota_wait) as fetcher, \
                CardDownloads(fetcher, self.store, self.endpoint, settle) as downloads:
            scheduled: set[str] = set()

            def consider(candidate: Candidate) -> None:
                if candidate.repo_id in scheduled:
                    return
                scheduled.add(candidate.repo_id)
                previous = known.get(candidate.repo_id)
                if previous is not None and previous.revision == candidate.revision:
                    outcomes["unchanged"] += 1
                    return
                downloads.add(candidate)

            listed, without_sha = await self._list(fetcher, report, consider)
            report.listed = len(listed)
            info_needed = {repo_id: "listing" for repo_id in without_sha}
            info_needed.update({r: "watchlist" for r in self.watchlist if r not in listed})
            await asyncio.gather(*(self._model_info(fetcher, repo_id, found_by, report, consider, outcomes)
                                   for repo_id, found_by in info_needed.items()))
            await downloads.finish()
            report.requests = dict(fetcher.stats.requests)
            report.retries = dict(fetcher.stats.retries)
            report.unreachable = fetcher.unreachable_origins
            report.quota_wait_s = fetcher.rate_limits.waited_s
        report.fetched = outcomes["fetched"]
        report.unchanged = outcomes["unchanged"]
        report.no_card = outcomes["no_card"]
        report.failed = outcomes["failed"]
        report.duration_s = time.monotonic() - started
        log.info(report.summary())
        for failure in report.errors:
            log.warning("hub fetch failed (%s): %s", failure.reason, failure.url)
        return report

    def current_cards(self) -> list[CardSnapshot]:
        """The latest successfully stored card of every repo ingested now or before."""
        cards = []
        for repo_id, row in self.store.latest_ok(KIND_CARD).items():
            meta = row.metadata or {}
            cards.append(
                CardSnapshot(
                    repo_id=repo_id,
                    revision=row.revision or "",
                    sha256=row.sha256 or "",
                    card_url=_blob_url(row.url, repo_id, row.revision or ""),
                    source_url=row.url,
                    fetched_at=row.fetched_at,
                    card_data=meta.get("card_data"),
                    discovered_by=meta.get("discovered_by", "listing"),
                )
            )
        return cards

    def pending_failures(self) -> list[FetchFailure]:
        """Repos whose latest card fetch failed and has not succeeded since (retried next refresh)."""
        settled = self.store.latest(KIND_CARD, (STATUS_OK, STATUS_MISSING))
        failures = []
        for repo_id, row in self.store.latest(KIND_CARD, (STATUS_ERROR,)).items():
            done = settled.get(repo_id)
            if done is None or done.id < row.id:
                failures.append(FetchFailure(repo_id, row.url, row.error or "unknown"))
        return failures

    # -- steps -----------------------------------------------------------------------------

    async def _list(self, fetcher: AsyncFetcher, report: IngestReport, consider) -> tuple[set[str], set[str]]:
        """Walk the listing pages; returns the repo ids named and those named without a sha."""
        listed: set[str] = set()
        without_sha: set[str] = set()
        url: str | None = f"{self.endpoint}/api/models"
        params: dict[str, Any] | None = {
            "filter": self.listing_filter,
            "full": "true",
            "cardData": "true",
            "limit": self.page_size,
        }
        seen_pages: set[str] = set()
        while url is not None:
            if len(seen_pages) >= _MAX_LISTING_PAGES or url in seen_pages:
                self._fail(report, KIND_LISTING, None, url, "pagination_loop")
                return listed, without_sha
            seen_pages.add(url)
            try:
                page = await fetcher.get(url, label=ENDPOINT_LIST, params=params,
                                         max_bytes=self.listing_max_bytes)
            except FetchError as error:
                self._fail(report, KIND_LISTING, None, error.url, error.reason, http_status=error.status)
                return listed, without_sha
            page_url = page.url
            try:
                entries = json.loads(page.body)
                if not isinstance(entries, list):
                    raise ValueError("listing page is not a JSON array")
            except ValueError:
                self._fail(report, KIND_LISTING, None, page_url, "bad_listing_json", http_status=page.status)
                return listed, without_sha
            self.store.record(kind=KIND_LISTING, url=page_url, status=STATUS_OK, http_status=page.status,
                              bytes=len(page.body), metadata={"entries": len(entries)})
            for entry in entries:
                if isinstance(entry, dict) and entry.get("sha") is None and is_valid_repo_id(entry.get("id")):
                    # A mirror may omit the sha: one model-info request will give it.
                    listed.add(entry["id"])
                    without_sha.add(entry["id"])
                    continue
                candidate = self._candidate(entry, "listing", report, page_url)
                if candidate is not None:
                    listed.add(candidate.repo_id)
                    consider(candidate)
            params = None  # the next link carries the query
            url = self._next_page(page.next_url, report) if page.next_url else None
            if page.next_url and url is None:
                return listed, without_sha
        report.listing_complete = True
        return listed, without_sha

    def _next_page(self, next_url: str, report: IngestReport) -> str | None:
        """The next listing page, always on our endpoint (a mirror may echo the upstream's links).

        Only the query (the cursor) is taken from the link, so remote data never sends the
        request, or the token, to another host.
        """
        parts = urlsplit(next_url)
        if not parts.path.endswith("/api/models"):
            self._fail(report, KIND_LISTING, None, next_url, "bad_next_link")
            return None
        if not same_origin(next_url, self.endpoint):
            log.info("listing link points to %s; following its cursor on %s", parts.netloc, self.endpoint)
        return f"{self.endpoint}/api/models" + (f"?{parts.query}" if parts.query else "")

    async def _model_info(self, fetcher: AsyncFetcher, repo_id: str, discovered_by: str, report: IngestReport,
                          consider, outcomes: Counter[str]) -> None:
        if not is_valid_repo_id(repo_id):
            self._fail(report, KIND_REJECTED, repo_id, "", "invalid_repo_id")
            outcomes["failed"] += 1
            return
        url = f"{self.endpoint}/api/models/{quote(repo_id, safe='/')}"
        try:
            info = await fetcher.get(url, label=ENDPOINT_INFO, max_bytes=self.listing_max_bytes)
            entry = json.loads(info.body)
        except FetchError as error:
            self._fail(report, KIND_INFO, repo_id, error.url, error.reason, http_status=error.status)
            outcomes["failed"] += 1
            return
        except ValueError:
            self._fail(report, KIND_INFO, repo_id, url, "bad_model_info_json")
            outcomes["failed"] += 1
            return
        self.store.record(kind=KIND_INFO, url=info.url, repo_id=repo_id, status=STATUS_OK,
                          http_status=info.status, bytes=len(info.body))
        if isinstance(entry, dict) and entry.get("id") not in (None, repo_id):
            # The Hub answers for renamed repos under their new id; follow the name it gives.
            log.info("watchlist repo %s is now %s", repo_id, entry.get("id"))
        candidate = self._candidate(entry, discovered_by, report, info.url)
        if candidate is None:
            outcomes["failed"] += 1
        else:
            consider(candidate)

    # -- helpers ---------------------------------------------------------------------------

    def _candidate(self, entry: object, discovered_by: str, report: IngestReport, source_url: str
                   ) -> Candidate | None:
        if not isinstance(entry, dict):
            self._fail(report, KIND_REJECTED, None, source_url, "bad_entry")
            return None
        repo_id = entry.get("id") or entry.get("modelId")
        if not is_valid_repo_id(repo_id):
            self._fail(report, KIND_REJECTED, _printable(repo_id), source_url, "invalid_repo_id")
            return None
        revision = entry.get("sha")
        if not is_valid_revision(revision):
            reason = "missing_sha" if revision is None else "invalid_sha"
            self._fail(report, KIND_REJECTED, repo_id, source_url, reason)
            return None
        card_data = entry.get("cardData")
        if not isinstance(card_data, dict):
            card_data = None
        return Candidate(repo_id, revision, card_data, discovered_by)

    def _fail(self, report: IngestReport, kind: str, repo_id: str | None, url: str, reason: str,
              **details: Any) -> None:
        report.errors.append(record_failure(self.store, kind, repo_id, url, reason, **details))


def _say_quota_wait(bucket: str, seconds: float) -> None:
    progress.info("waiting %.0f s for the Hub's %r quota window to reset", seconds, bucket)


def load_watchlist(path: str | os.PathLike[str] = WATCHLIST_PATH) -> list[str]:
    """Repo ids from the watchlist data file; raises ValueError naming any bad entry."""
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of entries")
    repo_ids: list[str] = []
    for position, entry in enumerate(entries):
        repo_id = entry.get("repo_id") if isinstance(entry, dict) else None
        if not is_valid_repo_id(repo_id):
            raise ValueError(f"{path}: entry {position} has no valid repo_id: {entry!r}")
        if repo_id in repo_ids:
            raise ValueError(f"{path}: {repo_id} is listed twice")
        repo_ids.append(repo_id)
    return repo_ids


def _blob_url(resolve_url: str, repo_id: str, revision: str) -> str:
    """The human-readable page of the card at its revision, on the endpoint it was fetched from."""
    suffix = f"/{repo_id}/resolve/{revision}/README.md"
    if resolve_url.endswith(suffix):
        base = resolve_url[: -len(suffix)]
    else:
        parts = urlsplit(resolve_url)
        base = f"{parts.scheme}://{parts.netloc}"
    return f"{base}/{repo_id}/blob/{revision}/README.md"


def _printable(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:200]


__all__ = [
    "DEFAULT_ENDPOINT",
    "CardSnapshot",
    "FetchFailure",
    "HubIngestor",
    "IngestReport",
    "is_valid_repo_id",
    "load_watchlist",
]
