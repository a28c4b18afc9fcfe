"""Downloading the Hub cards that discovery (``hub``) found new or changed, into the snapshot store.

``CardDownloads`` takes candidates as discovery finds them: ``concurrency`` tasks fetch each card pinned to its
revision (``GET /{repo_id}/resolve/{sha}/README.md``) and store it in batches (objects synced together, their
rows in one transaction: ``SnapshotStore.put_and_record``). Each card is settled once its manifest row is
written: fetched, no card at that revision (remembered until the repo's sha moves), or failed (recorded,
retried next refresh).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipelines.lib.http import AsyncFetcher, FetchError
from pipelines.lib.snapshots import STATUS_ERROR, STATUS_MISSING, STATUS_OK, SnapshotStore

KIND_CARD = "card"  # manifest kind of a card
ENDPOINT_RESOLVE = "resolve"  # request label

_STORE_BATCH = 32  # fetched cards stored together (two file-system syncs and one transaction a batch)...
_STORE_WAIT_S = 0.05  # ...or as many as came within this long
_STORE_BACKLOG_BYTES = 64 * 1024 * 1024  # fetched and not yet stored: past this, fetching waits for the disk


@dataclass(frozen=True)
class Candidate:
    """A repo whose card is to be read at ``revision``."""

    repo_id: str
    revision: str
    card_data: dict[str, Any] | None
    discovered_by: str


@dataclass(frozen=True)
class FetchFailure:
    repo_id: str | None
    url: str
    reason: str


Settle = Callable[[str, "FetchFailure | None"], None]  # (outcome, failure) of one card, once recorded


def record_failure(store: SnapshotStore, kind: str, repo_id: str | None, url: str, reason: str, *,
                   revision: str | None = None, http_status: int | None = None,
                   metadata: Mapping[str, Any] | None = None) -> FetchFailure:
    """Record a failed fetch in the manifest (retried next refresh) and return it for the report."""
    store.record(kind=kind, url=url, repo_id=repo_id, revision=revision, status=STATUS_ERROR,
                 http_status=http_status, error=reason, metadata=metadata)
    return FetchFailure(repo_id, url, reason)


class CardDownloads:
    """Cards queued with ``add`` are fetched and stored as they come; ``finish`` waits for all of them. Leaving
    the ``async with`` block early (an error) stops the fetching."""

    def __init__(self, fetcher: AsyncFetcher, store: SnapshotStore, endpoint: str, settle: Settle) -> None:
        self.fetcher, self.store, self.endpoint, self.settle = fetcher, store, endpoint, settle
        self.queue: asyncio.Queue[Candidate | None] = asyncio.Queue()
        self.batch = StoreBatch(store)
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> CardDownloads:
        self.tasks = [asyncio.create_task(self._work()) for _ in range(max(1, self.fetcher.policy.concurrency))]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def add(self, candidate: Candidate) -> None:
        self.queue.put_nowait(candidate)

    async def finish(self) -> None:
        """Wait until every queued card is fetched and stored; raises what storing raised."""
        for _ in self.tasks:
            self.queue.put_nowait(None)
        await asyncio.gather(*self.tasks)
        await self.batch.flush()

    async def _work(self) -> None:
        while (candidate := await self.queue.get()) is not None:
            await self._fetch_card(candidate)

    async def _fetch_card(self, candidate: Candidate) -> None:
        repo_id, revision = candidate.repo_id, candidate.revision
        url = f"{self.endpoint}/{quote(repo_id, safe='/')}/resolve/{revision}/README.md"
        metadata = {"card_data": candidate.card_data, "discovered_by": candidate.discovered_by}
        try:
            fetched = await self.fetcher.get(url, label=ENDPOINT_RESOLVE)
        except FetchError as error:
            if error.reason == "not_found":
                self.store.record(kind=KIND_CARD, url=url, repo_id=repo_id, revision=revision,
                                  status=STATUS_MISSING, http_status=error.status, error="not_found",
                                  metadata=metadata)
                self.settle("no_card", None)
                return
            self.settle("failed", record_failure(self.store, KIND_CARD, repo_id, url, error.reason,
                                                 revision=revision, http_status=error.status, metadata=metadata))
            return
        row = {"kind": KIND_CARD, "url": url, "repo_id": repo_id, "revision": revision, "status": STATUS_OK,
               "http_status": fetched.status, "bytes": len(fetched.body), "metadata": metadata}
        await self.batch.add(fetched.body, row, lambda: self.settle("fetched", None))


class StoreBatch:
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
