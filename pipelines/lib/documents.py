"""Fetch registry documents (papers, reports, cards, datasets) into the snapshot store.

A document is fetched once: an arXiv version or a card at a commit does not change, so a stored
snapshot of the same URL is reused. A dataset (kind "dataset", e.g. Epoch AI's tables) is fetched at
every refresh, so its snapshot moves forward; identical bytes are stored once. A failure is recorded in
the manifest and retried next refresh.

A fetched document replaces nothing until it passes ``document_problem``: a mirror answering 200 with random
bytes, an empty list or a page that no longer prints the curated figures is rejected with the reason (a
manifest row and a fetch-error row), and the source keeps its previous snapshot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from pipelines.lib.curated import Source
from pipelines.lib.http import AsyncFetcher, FetchError, FetchPolicy
from pipelines.lib.snapshots import SnapshotStore

KIND_DOCUMENT = "document"
MIN_DOCUMENT_BYTES = 256  # the shortest registry document is a few kilobytes; `[]` or an error stub is not one
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


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
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # fetched, failed document_problem
    unreachable: list[str] = field(default_factory=list)


def _comparable(text: str) -> str:
    """Text as figures are compared: tags and entities gone, spaces collapsed, no thousands separators."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).replace(",", "")


def document_problem(body: bytes, content_type: str, printed_values: Collection[str] = ()) -> str | None:
    """Why a fetched document must not replace the stored snapshot (None: it may).

    It must be a document at all (not a stub), a PDF when it says or looks like one, otherwise text; and the
    text must still print at least half of the values curated from it (``printed_values``, as printed; a
    figure may be read in a table the converter reformatted, hence not all)."""
    if len(body) < MIN_DOCUMENT_BYTES:
        return f"too small to be the document ({len(body)} bytes)"
    if body.startswith(b"%PDF-"):
        return None  # compressed page streams: the figures are checked when its tables are read
    if "pdf" in content_type.lower():
        return f"served as {content_type.split(';')[0]} but not a PDF"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text (binary or garbled bytes)"
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
    if controls > len(text) // 1000:
        return f"not text ({controls} control characters)"
    wanted = set(printed_values)
    if wanted:
        comparable = _comparable(text)
        found = sum(1 for value in wanted if _comparable(value) in comparable)
        if found * 2 < len(wanted):
            return f"prints {found} of the {len(wanted)} curated values"
    return None


def _stored(store: SnapshotStore) -> dict[str, DocumentSnapshot]:
    return {source_id: DocumentSnapshot(source_id, row.url, row.sha256, (row.metadata or {}).get("content_type", ""),
                                        row.fetched_at)
            for source_id, row in store.latest_ok(KIND_DOCUMENT).items()}


async def _fetch_all(store: SnapshotStore, wanted: list[Source], policy: FetchPolicy, report: DocumentReport,
                     printed_values: Mapping[str, Collection[str]]):
    async with AsyncFetcher(policy) as fetcher:
        async def fetch(source: Source) -> None:
            try:
                got = await fetcher.get(source.fetch_url, label="document")
            except FetchError as error:
                store.record(kind=KIND_DOCUMENT, url=source.fetch_url, repo_id=source.source_id, status="error",
                             http_status=error.status, error=error.reason)
                report.errors.append((source.source_id, source.fetch_url, error.reason))
                return
            content_type = got.headers.get("content-type", "")
            problem = document_problem(got.body, content_type, printed_values.get(source.source_id, ()))
            if problem is not None:
                store.record(kind=KIND_DOCUMENT, url=source.fetch_url, repo_id=source.source_id, status="error",
                             http_status=got.status, bytes=len(got.body), error=f"rejected: {problem}",
                             metadata={"content_type": content_type})
                report.rejected.append((source.source_id, source.fetch_url, problem))
                return
            sha256 = store.put(got.body)
            store.record(kind=KIND_DOCUMENT, url=source.fetch_url, repo_id=source.source_id, status="ok",
                         http_status=got.status, bytes=len(got.body), sha256=sha256,
                         metadata={"content_type": content_type})
            report.fetched += 1

        await asyncio.gather(*(fetch(s) for s in wanted))
        report.unreachable = fetcher.unreachable_origins


def fetch_documents(store: SnapshotStore, sources: list[Source], policy: FetchPolicy | None = None, *,
                    offline: bool = False, deadline_s: float | None = None,
                    printed_values: Mapping[str, Collection[str]] | None = None) -> DocumentReport:
    """Fetch every source with a fetch_url that has no stored snapshot of that URL yet (none when offline);
    ``deadline_s`` bounds the whole fetch (default: the policy's). ``printed_values``: per source, the values
    curated from it, as printed (``document_problem``). A source whose document was not fetched or was
    rejected keeps its latest snapshot, even of an earlier URL."""
    report = DocumentReport()
    stored = _stored(store)
    wanted = [s for s in sources if s.fetch_url and (s.kind == "dataset" or s.source_id not in stored
                                                     or stored[s.source_id].url != s.fetch_url)]
    report.reused = sum(1 for s in sources if s.fetch_url and s not in wanted)
    if wanted and not offline:
        policy = policy or FetchPolicy(attempts=3, retry_budget_s=30.0)
        if deadline_s is not None:
            policy = dataclasses.replace(policy, deadline_s=deadline_s)
        asyncio.run(_fetch_all(store, wanted, policy, report, printed_values or {}))
    current = _stored(store)
    report.snapshots = [current[s.source_id] for s in sources if s.fetch_url and s.source_id in current]
    return report
