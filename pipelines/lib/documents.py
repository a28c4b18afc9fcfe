"""Fetch registry documents (papers, reports, cards, datasets) into the snapshot store.

A document is fetched once: an arXiv version or a card at a commit does not change, so a stored
snapshot of the same URL is reused. A dataset (kind "dataset", e.g. Epoch AI's tables) is fetched at
every refresh, so its snapshot moves forward; identical bytes are stored once. A failure is recorded in
the manifest and retried next refresh.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field

from pipelines.lib.curated import Source
from pipelines.lib.http import AsyncFetcher, FetchError, FetchPolicy
from pipelines.lib.snapshots import SnapshotStore

KIND_DOCUMENT = "document"


@dataclass(frozen=True)
class DocumentSnapshot:
    source_id: str
    url: str
    sha256: str
    content_type: str
    fetched_at: str


@dataclass
class DocumentReport:
    snapshots: list[DocumentSnapshot] = field(default_factory=list)
    fetched: int = 0
    reused: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (source_id, url, reason)
    unreachable: list[str] = field(default_factory=list)


def _stored(store: SnapshotStore) -> dict[str, DocumentSnapshot]:
    return {source_id: DocumentSnapshot(source_id, row.url, row.sha256, (row.metadata or {}).get("content_type", ""),
                                        row.fetched_at)
            for source_id, row in store.latest_ok(KIND_DOCUMENT).items()}


async def _fetch_all(store: SnapshotStore, wanted: list[Source], policy: FetchPolicy, report: DocumentReport):
    async with AsyncFetcher(policy) as fetcher:
        async def fetch(source: Source) -> None:
            try:
                got = await fetcher.get(source.fetch_url, label="document")
            except FetchError as error:
                store.record(kind=KIND_DOCUMENT, url=source.fetch_url, repo_id=source.source_id, status="error",
                             http_status=error.status, error=error.reason)
                report.errors.append((source.source_id, source.fetch_url, error.reason))
                return
            sha256 = store.put(got.body)
            content_type = got.headers.get("content-type", "")
            store.record(kind=KIND_DOCUMENT, url=source.fetch_url, repo_id=source.source_id, status="ok",
                         http_status=got.status, bytes=len(got.body), sha256=sha256,
                         metadata={"content_type": content_type})
            report.fetched += 1

        await asyncio.gather(*(fetch(s) for s in wanted))
        report.unreachable = fetcher.unreachable_origins


def fetch_documents(store: SnapshotStore, sources: list[Source], policy: FetchPolicy | None = None, *,
                    offline: bool = False, deadline_s: float | None = None) -> DocumentReport:
    """Fetch every source with a fetch_url that has no stored snapshot of that URL yet (none when offline);
    ``deadline_s`` bounds the whole fetch (default: the policy's)."""
    report = DocumentReport()
    stored = _stored(store)
    wanted = [s for s in sources if s.fetch_url and (s.kind == "dataset" or s.source_id not in stored
                                                     or stored[s.source_id].url != s.fetch_url)]
    report.reused = sum(1 for s in sources if s.fetch_url and s not in wanted)
    if wanted and not offline:
        policy = policy or FetchPolicy(attempts=3, retry_budget_s=30.0)
        if deadline_s is not None:
            policy = dataclasses.replace(policy, deadline_s=deadline_s)
        asyncio.run(_fetch_all(store, wanted, policy, report))
    current = _stored(store)
    report.snapshots = [current[s.source_id] for s in sources
                        if s.source_id in current and current[s.source_id].url == s.fetch_url]
    return report
