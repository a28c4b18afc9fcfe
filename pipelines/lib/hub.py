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

Throughput: fetched cards are stored in batches (objects synced together, their rows in one transaction:
``SnapshotStore.put_and_record``). When many cards wait to be fetched, a helper process (``workers``) fetches
alongside this one, taking a few cards at a time from the same queue with half of the request slots, so the
bound on requests in flight holds for both; per request the client is CPU-bound, and this uses a second core.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import stamina.instrumentation
import yaml

from pipelines.lib import workers
from pipelines.lib.http import AsyncFetcher, FetchError, FetchPolicy, same_origin
from pipelines.lib.snapshots import STATUS_ERROR, STATUS_MISSING, STATUS_OK, SnapshotStore

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
LISTING_FILTER = "co2_eq_emissions"
WATCHLIST_PATH = Path(__file__).resolve().parents[2] / "data" / "sources" / "hub_watchlist.yaml"

# Manifest kinds written by this module.
KIND_CARD = "card"
KIND_LISTING = "hub_listing"
KIND_INFO = "hub_model_info"
KIND_REJECTED = "hub_rejected"

# Request labels (keys of IngestReport.requests).
ENDPOINT_LIST = "list"
ENDPOINT_INFO = "info"
ENDPOINT_RESOLVE = "resolve"

# Same rules as the Hub: optional namespace, then a name; letters, digits, '-', '_', '.';
# no '--' or '..', no leading/trailing '-' or '.', at most 96 characters.
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
REPO_ID_RE = re.compile(rf"^(?:{_REPO_PART}/)?{_REPO_PART}$")
REVISION_RE = re.compile(r"^[0-9a-f]{40}$")
_MAX_LISTING_PAGES = 10_000

PARALLEL_MIN = 400  # cards waiting to be fetched before a helper process joins in (starting one costs ~0.2 s)
_STORE_BATCH = 32  # fetched cards stored together (two file-system syncs and one transaction a batch)...
_STORE_WAIT_S = 0.05  # ...or as many as came within this long
_STORE_BACKLOG_BYTES = 64 * 1024 * 1024  # fetched and not yet stored: past this, fetching waits for the disk
_QUIET_LOGGERS = ("pipelines", "httpx", "stamina")


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


@dataclass(frozen=True)
class FetchFailure:
    repo_id: str | None
    url: str
    reason: str


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
        if not self.listing_complete:
            parts.append("listing incomplete")
        if self.unreachable:
            parts.append(f"unreachable={self.unreachable}")
        return "hub refresh: " + ", ".join(parts)


@dataclass(frozen=True)
class _Candidate:
    repo_id: str
    revision: str
    card_data: dict[str, Any] | None
    discovered_by: str


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
        processes: int | None = None,
        parallel_min: int = PARALLEL_MIN,
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
        self.processes = processes if processes is not None else (os.cpu_count() or 1)
        self.parallel_min = parallel_min

    def __repr__(self) -> str:  # the token stays out of reprs
        return f"HubIngestor(endpoint={self.endpoint!r}, watchlist={len(self.watchlist)} repos)"

    @classmethod
    def from_env(
        cls,
        store: SnapshotStore,
        *,
        watchlist: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> HubIngestor:
        """Endpoint from ``HF_ENDPOINT``, token from ``HF_TOKEN``, watchlist from the data file."""
        env = os.environ if environ is None else environ
        return cls(
            store,
            endpoint=env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT,
            token=env.get("HF_TOKEN") or None,
            watchlist=load_watchlist() if watchlist is None else watchlist,
            **kwargs,
        )

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

        async with AsyncFetcher(
            self.policy, token=self._token, token_origin=self.endpoint, transport=self._transport
        ) as fetcher, _Downloads(self, fetcher, settle) as downloads:
            scheduled: set[str] = set()

            def consider(candidate: _Candidate) -> None:
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
            info_tasks = [
                asyncio.create_task(self._model_info(fetcher, repo_id, found_by, report, consider, outcomes))
                for repo_id, found_by in info_needed.items()
            ]
            await asyncio.gather(*info_tasks)
            helper = await downloads.finish()
            report.requests = dict(fetcher.stats.requests + helper.requests)
            report.retries = dict(fetcher.stats.retries + helper.retries)
            report.unreachable = sorted(set(fetcher.unreachable_origins) | set(helper.unreachable))
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

    async def _fetch_card(self, fetcher: AsyncFetcher, candidate: _Candidate, batch: _StoreBatch,
                          settle: Callable[[str, FetchFailure | None], None]) -> None:
        """Fetch one card; ``settle(outcome, failure)`` is called once its manifest row is written."""
        repo_id, revision = candidate.repo_id, candidate.revision
        url = f"{self.endpoint}/{quote(repo_id, safe='/')}/resolve/{revision}/README.md"
        metadata = {"card_data": candidate.card_data, "discovered_by": candidate.discovered_by}
        try:
            fetched = await fetcher.get(url, label=ENDPOINT_RESOLVE)
        except FetchError as error:
            if error.reason == "not_found":
                self.store.record(kind=KIND_CARD, url=url, repo_id=repo_id, revision=revision,
                                  status=STATUS_MISSING, http_status=error.status, error="not_found",
                                  metadata=metadata)
                settle("no_card", None)
                return
            settle("failed", self._record_failure(KIND_CARD, repo_id, url, error.reason, revision=revision,
                                                  http_status=error.status, metadata=metadata))
            return
        row = {"kind": KIND_CARD, "url": url, "repo_id": repo_id, "revision": revision, "status": STATUS_OK,
               "http_status": fetched.status, "bytes": len(fetched.body), "metadata": metadata}
        await batch.add(fetched.body, row, lambda: settle("fetched", None))

    # -- helpers ---------------------------------------------------------------------------

    def _candidate(self, entry: object, discovered_by: str, report: IngestReport, source_url: str
                   ) -> _Candidate | None:
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
        return _Candidate(repo_id, revision, card_data, discovered_by)

    def _fail(self, report: IngestReport, kind: str, repo_id: str | None, url: str, reason: str,
              **details: Any) -> None:
        report.errors.append(self._record_failure(kind, repo_id, url, reason, **details))

    def _record_failure(self, kind: str, repo_id: str | None, url: str, reason: str, *,
                        revision: str | None = None, http_status: int | None = None,
                        metadata: Mapping[str, Any] | None = None) -> FetchFailure:
        """Record a failed fetch in the manifest (retried next refresh) and return it for the report."""
        self.store.record(kind=kind, url=url, repo_id=repo_id, revision=revision, status=STATUS_ERROR,
                          http_status=http_status, error=reason, metadata=metadata)
        return FetchFailure(repo_id, url, reason)


class _StoreBatch:
    """Fetched cards stored in batches (``SnapshotStore.put_and_record``): a batch is stored once it holds
    ``_STORE_BATCH`` cards or its first card has waited ``_STORE_WAIT_S``, one batch at a time while the next one
    gathers. Each card is settled once its row is written."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self.items: list[tuple[bytes, dict[str, Any], Callable[[], None]]] = []
        self.pending_bytes = 0
        self.storing: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.error: BaseException | None = None

    async def add(self, body: bytes, row: dict[str, Any], on_stored: Callable[[], None]) -> None:
        self.items.append((body, row, on_stored))
        self.pending_bytes += len(body)
        if self.storing is None:
            self._schedule()
        elif self.pending_bytes > _STORE_BACKLOG_BYTES:  # the disk is slower than the network: wait for it
            await asyncio.shield(self.storing)

    def _schedule(self) -> None:
        if len(self.items) >= _STORE_BATCH:
            self._start()
        elif self.items and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(_STORE_WAIT_S, self._start)

    def _start(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.storing is None and self.items and self.error is None:
            self.storing = asyncio.create_task(self._store())

    async def _store(self) -> None:
        items, self.items, self.pending_bytes = self.items, [], 0
        try:
            await asyncio.to_thread(self.store.put_and_record, [(body, row) for body, row, _ in items])
        except BaseException as error:  # raised by flush(); no later batch is stored
            self.error = error
            return
        finally:
            self.storing = None
        for _, _, on_stored in items:
            on_stored()
        self._schedule()  # what gathered meanwhile

    async def flush(self) -> None:
        """Store every card added so far; raises what storing raised."""
        while self.error is None and (self.items or self.storing is not None):
            self._start()
            await asyncio.shield(self.storing)
        if self.error is not None:
            raise self.error


@dataclass
class _HelperStats:
    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    unreachable: list[str] = field(default_factory=list)


class _Downloads:
    """The cards to fetch in one refresh, in a queue: taken by local tasks (as many as request slots) and, once
    ``parallel_min`` cards wait, by a helper process as well."""

    def __init__(self, ingestor: HubIngestor, fetcher: AsyncFetcher,
                 settle: Callable[[str, FetchFailure | None], None]) -> None:
        self.ingestor, self.fetcher, self.settle = ingestor, fetcher, settle
        self.queue: asyncio.Queue[_Candidate | None] = asyncio.Queue()
        self.batch = _StoreBatch(ingestor.store)
        self.closed = False
        self.helper: _Helper | None = None
        self.helper_failed = False
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> _Downloads:
        self.tasks = [asyncio.create_task(self._work()) for _ in range(max(1, self.fetcher.policy.concurrency))]
        return self

    async def __aexit__(self, *exc: object) -> None:  # on an error: stop the tasks and the helper
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.helper is not None:
            self.helper.end()
            await asyncio.to_thread(self.helper.worker.close)

    def add(self, candidate: _Candidate) -> None:
        self.queue.put_nowait(candidate)
        if self.helper is not None:
            self.helper.serve()
        elif self.queue.qsize() >= self.ingestor.parallel_min and self._may_start_helper():
            try:
                self.helper = _Helper(self)
            except OSError as error:  # no second process: this one fetches everything
                log.warning("hub helper process not started: %s", error)
                self.helper_failed = True

    def take(self, count: int) -> list[_Candidate]:
        """Up to ``count`` waiting cards (for the helper)."""
        taken: list[_Candidate] = []
        while len(taken) < count and not self.queue.empty():
            candidate = self.queue.get_nowait()
            if candidate is None:  # only stop marks are left: put this one back for its task
                self.queue.put_nowait(None)
                break
            taken.append(candidate)
        return taken

    def _may_start_helper(self) -> bool:
        ingestor = self.ingestor
        return (not self.helper_failed and ingestor.processes > 1 and ingestor._transport is None
                and self.fetcher.policy.concurrency > 1 and workers.supported())

    async def _work(self) -> None:
        while (candidate := await self.queue.get()) is not None:
            await self.ingestor._fetch_card(self.fetcher, candidate, self.batch, self.settle)

    async def finish(self) -> _HelperStats:
        """Wait until every card is fetched and stored; returns what the helper process counted."""
        self.closed = True
        for _ in self.tasks:
            self.queue.put_nowait(None)
        if self.helper is not None:
            self.helper.serve()
        await asyncio.gather(*self.tasks)
        stats = _HelperStats()
        if self.helper is not None:
            leftovers = await self.helper.done
            await asyncio.to_thread(self.helper.worker.close)
            stats = self.helper.stats
            # the helper ended before settling these (it failed or was killed): fetch them here
            await asyncio.gather(*(self.ingestor._fetch_card(self.fetcher, c, self.batch, self.settle)
                                   for c in leftovers))
        await self.batch.flush()
        return stats


class _Helper:
    """The parent's side of a helper process: lends it request slots and hands it cards as it asks for them."""

    def __init__(self, downloads: _Downloads) -> None:
        self.downloads = downloads
        fetcher, ingestor = downloads.fetcher, downloads.ingestor
        self.slots = fetcher.policy.concurrency // 2
        policy = dataclasses.replace(fetcher.policy, concurrency=self.slots, deadline_s=fetcher.seconds_left)
        levels = {name: logging.getLogger(name).getEffectiveLevel() for name in _QUIET_LOGGERS}
        retry_hooks = bool(stamina.instrumentation.get_on_retry_hooks())
        self.worker = workers.Worker("pipelines.lib.hub:_serve_helper", ingestor.endpoint, ingestor._token, policy,
                                     str(ingestor.store.root), ingestor.store.durable, levels, retry_hooks)
        self.assigned: dict[str, _Candidate] = {}  # handed to the helper, not settled yet
        self.asking = 0  # cards the helper asked for, not answered yet
        self.ready = False  # the parent has withheld the slots it lent
        self.ended = False
        self.stats = _HelperStats()
        self.done: asyncio.Future[list[_Candidate]] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(self.worker.connection.fileno(), self._receive)
        self._lending = asyncio.create_task(self._lend_slots())

    async def _lend_slots(self) -> None:
        await self.downloads.fetcher.withhold(self.slots)
        self.ready = True
        self.serve()

    def serve(self) -> None:
        """Answer the helper's request for cards, if it has one and there are cards (or none will come)."""
        if not (self.ready and self.asking) or self.ended:
            return
        cards = self.downloads.take(self.asking)
        if cards:
            self.assigned.update((c.repo_id, c) for c in cards)
            self._send(("cards", cards))
            self.asking = 0
        elif self.downloads.closed:
            self._send(("end",))
            self.asking = 0

    def _send(self, message: tuple) -> None:
        try:
            self.worker.connection.send(message)
        except OSError:  # the helper is gone; what it held is fetched here
            self.end()

    def _receive(self) -> None:
        connection = self.worker.connection
        try:
            while not self.ended and connection.poll():
                kind, *content = connection.recv()
                if kind == "error":  # the helper failed and exits
                    log.warning("hub helper process failed; fetching its cards here:\n%s", content[0])
                    self.end()
                    break
                for repo_id, outcome, failure in content[0]:
                    self.assigned.pop(repo_id, None)
                    self.downloads.settle(outcome, failure)
                if kind == "ask":
                    self.asking = content[1]
                    self.serve()
                else:  # "finished"
                    self.stats = _HelperStats(Counter(content[1]), Counter(content[2]), list(content[3]))
                    self.end()
        except (EOFError, OSError):
            self.end()

    def end(self) -> None:
        if self.ended:
            return
        self.ended = True
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.worker.connection.fileno())
        self._lending.cancel()
        if not self.done.done():
            self.done.set_result(list(self.assigned.values()))


def _serve_helper(connection: Connection, endpoint: str, token: str | None, policy: FetchPolicy, store_root: str,
                  durable: bool, levels: dict[str, int], retry_hooks: bool) -> None:
    """The helper process: fetches and stores the cards the parent hands it, reporting each one settled."""
    for name, level in levels.items():  # as quiet (or verbose) as the refresh that started it
        logging.getLogger(name).setLevel(level)
    if not retry_hooks:
        stamina.instrumentation.set_on_retry_hooks([])
    try:
        with SnapshotStore(store_root, durable=durable) as store:
            asyncio.run(_help(connection, HubIngestor(store, endpoint=endpoint, token=token, policy=policy,
                                                      processes=1)))
    except Exception:
        connection.send(("error", traceback.format_exc()))


async def _help(connection: Connection, ingestor: HubIngestor) -> None:
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[tuple] = asyncio.Queue()

    def receive() -> None:
        try:
            while connection.poll():
                replies.put_nowait(connection.recv())
        except (EOFError, OSError):
            os._exit(1)  # the parent is gone: stop at once (what was stored stays consistent)

    loop.add_reader(connection.fileno(), receive)
    slots = max(1, ingestor.policy.concurrency)
    queue: asyncio.Queue[_Candidate | None] = asyncio.Queue()
    taken = asyncio.Event()
    batch = _StoreBatch(ingestor.store)
    settled: list[tuple[str, str, FetchFailure | None]] = []  # told to the parent with the next message

    def settle_for(repo_id: str) -> Callable[[str, FetchFailure | None], None]:
        return lambda outcome, failure: settled.append((repo_id, outcome, failure))

    def tell(kind: str, *content: object) -> None:
        connection.send((kind, settled[:], *content))
        settled.clear()

    async with AsyncFetcher(ingestor.policy, token=ingestor._token, token_origin=ingestor.endpoint) as fetcher:
        async def work() -> None:
            while (candidate := await queue.get()) is not None:
                taken.set()
                await ingestor._fetch_card(fetcher, candidate, batch, settle_for(candidate.repo_id))

        tasks = [asyncio.create_task(work()) for _ in range(slots)]
        while True:  # hold a few cards per slot: what the helper holds, the parent cannot give to others
            tell("ask", 4 * slots - queue.qsize())
            kind, *content = await replies.get()
            if kind == "end":
                break
            for candidate in content[0]:
                queue.put_nowait(candidate)
            while queue.qsize() >= 2 * slots:
                taken.clear()
                await taken.wait()
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
        await batch.flush()
        loop.remove_reader(connection.fileno())
        tell("finished", dict(fetcher.stats.requests), dict(fetcher.stats.retries), fetcher.unreachable_origins)


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
