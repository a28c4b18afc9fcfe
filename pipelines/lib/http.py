"""Polite, bounded, retrying HTTP fetching on httpx (shared by every ingestion source).

``AsyncFetcher.get`` returns the complete body of one document or raises ``FetchError`` with a
short machine-readable ``reason``. What it guarantees:

- at most ``FetchPolicy.concurrency`` requests in flight;
- connect/read timeouts, and retries with exponential backoff and jitter (stamina) on
  transport errors, 5xx and 429, honouring ``Retry-After`` (capped);
- a body shorter than its ``Content-Length`` is a failed attempt and is retried;
- bodies larger than ``FetchPolicy.max_bytes`` are abandoned as soon as that is known;
- an origin that refuses connections ``unreachable_after`` times in a row is marked down and
  every later request to it fails at once (no retry storm when the site is unreachable);
- after ``deadline_s`` no new attempt starts;
- a bearer token is attached only to requests for its own origin, and never appears in
  errors or logs (messages carry the URL and the reason only).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import stamina

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchPolicy:
    """Knobs for politeness and robustness; tests shrink the delays."""

    concurrency: int = 8
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    attempts: int = 5
    retry_budget_s: float = 120.0  # total time one document may spend on retries
    wait_initial_s: float = 0.5
    wait_max_s: float = 30.0
    wait_jitter_s: float = 1.0
    max_retry_after_s: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    unreachable_after: int = 3
    deadline_s: float | None = 1800.0  # no attempt starts later than this after the fetcher opens
    user_agent: str = "ai-emissions-dataset/0.1 (open dataset of AI emissions disclosures)"


class FetchError(Exception):
    """A document could not be fetched. ``reason`` is short and stable (e.g. ``http_503``)."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        detail: str | None = None,
    ) -> None:
        self.url = redact_url(url)
        self.reason = reason
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.detail = detail
        super().__init__(f"{reason}: {self.url}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    next_url: str | None = None  # from a ``Link: <...>; rel="next"`` header


@dataclass
class FetchStats:
    requests: Counter[str] = field(default_factory=Counter)  # every attempt, per label
    retries: Counter[str] = field(default_factory=Counter)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or _default_port(parts.scheme)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def same_origin(a: str, b: str) -> bool:
    return origin_of(a) == origin_of(b)


def redact_url(url: str) -> str:
    """Drop user:password from a URL so it can be logged."""
    parts = urlsplit(str(url))
    if parts.username is None and parts.password is None:
        return str(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_retry_after(value: str | None, *, cap_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap_s)


class _OriginBearerAuth(httpx.Auth):
    """Bearer token for one origin only, so following links elsewhere never leaks it."""

    def __init__(self, token: str, origin_url: str) -> None:
        self._header = f"Bearer {token}"
        self._origin = origin_of(origin_url)

    def __repr__(self) -> str:  # never show the token
        return f"_OriginBearerAuth(origin={self._origin!r})"

    def auth_flow(self, request: httpx.Request):
        if origin_of(str(request.url)) == self._origin:
            request.headers["Authorization"] = self._header
        yield request


class AsyncFetcher:
    """Async context manager around one ``httpx.AsyncClient``; see the module docstring."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        token: str | None = None,
        token_origin: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        if token and not token_origin:
            raise ValueError("a token needs the origin it belongs to")
        self._auth = _OriginBearerAuth(token, token_origin) if token and token_origin else None
        self._transport = transport
        # One client (one keep-alive connection) per request slot: a free client is a free slot. httpcore scans
        # every connection of a pool, with a poll() and a getpeername() each, whenever a request starts or
        # ends; one pool of `concurrency` connections made that scan most of the client's CPU time.
        self._clients: list[httpx.AsyncClient] = []
        self._free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        self._withheld: list[httpx.AsyncClient] = []
        self._withholding = 0  # slots to withhold as their requests end
        self._all_withheld = asyncio.Event()
        self._connect_failures: Counter[str] = Counter()
        self._down: set[str] = set()
        self._deadline: float | None = None
        self.stats = FetchStats()

    @property
    def unreachable_origins(self) -> list[str]:
        return sorted(self._down)

    async def __aenter__(self) -> AsyncFetcher:
        policy = self.policy
        timeout = httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        tls = httpx.create_ssl_context(trust_env=False)  # loading the CA bundle once, not once per client
        self._clients = [
            httpx.AsyncClient(
                timeout=timeout,
                limits=limits,
                verify=tls,
                follow_redirects=True,
                headers={"User-Agent": policy.user_agent},
                auth=self._auth,
                transport=self._transport,
                trust_env=False,
            )
            for _ in range(max(1, policy.concurrency))
        ]
        for client in self._clients:
            self._free.put_nowait(client)
        if policy.deadline_s is not None:
            self._deadline = time.monotonic() + policy.deadline_s
        return self

    @property
    def seconds_left(self) -> float | None:
        """Time left before the deadline (None: no deadline)."""
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    async def withhold(self, slots: int) -> int:
        """Take up to ``slots`` request slots out of use (at least one stays), waiting for them to be free.

        For another process fetching for the same job: with the slots it was lent, the bound on requests in
        flight holds for both together. Returns the number withheld; they come back when the fetcher closes (or
        at once if the wait is cancelled). A slot is withheld as soon as its request ends, before any waiting
        request can take it."""
        count = max(0, min(slots, len(self._clients) - len(self._withheld) - self._withholding - 1))
        before = len(self._withheld)
        self._withholding += count
        try:
            while self._withholding and not self._free.empty():
                self._release(self._free.get_nowait())
            while self._withholding:
                self._all_withheld.clear()
                await self._all_withheld.wait()
        except asyncio.CancelledError:
            self._withholding = 0
            while len(self._withheld) > before:
                self._free.put_nowait(self._withheld.pop())
            raise
        return count

    def _release(self, client: httpx.AsyncClient) -> None:
        if self._withholding:
            self._withheld.append(client)
            self._withholding -= 1
            if not self._withholding:
                self._all_withheld.set()
        else:
            self._free.put_nowait(client)

    async def __aexit__(self, *exc: object) -> None:
        clients, self._clients, self._withheld = self._clients, [], []
        for client in clients:
            await client.aclose()

    async def get(self, url: str, *, label: str, params: Mapping[str, Any] | None = None,
                  max_bytes: int | None = None) -> Fetched:
        """Fetch one document completely, retrying transient failures; raises FetchError.

        ``max_bytes`` overrides the policy's size cap for this request (e.g. for API listings).
        """
        policy = self.policy
        assert self._clients, "use AsyncFetcher as an async context manager"
        client = await self._free.get()  # at most `concurrency` requests (and their retries) at once
        try:
            try:
                async for attempt in stamina.retry_context(
                    on=self._backoff_hook,
                    attempts=policy.attempts,
                    timeout=policy.retry_budget_s,
                    wait_initial=policy.wait_initial_s,
                    wait_max=policy.wait_max_s,
                    wait_jitter=policy.wait_jitter_s,
                ):
                    with attempt:
                        if attempt.num > 1:
                            self.stats.retries[label] += 1
                        return await self._attempt(client, url, label, params, max_bytes or policy.max_bytes)
            except FetchError:
                raise
            except httpx.HTTPError as error:
                raise _as_fetch_error(url, error) from None
        finally:
            self._release(client)
        raise FetchError(url, "no_attempt")  # only reachable with attempts=0

    def _backoff_hook(self, error: Exception) -> bool | float:
        if isinstance(error, FetchError):
            if not error.retryable:
                return False
            return error.retry_after_s if error.retry_after_s is not None else True
        if not isinstance(error, httpx.TransportError):
            return False
        try:
            origin = origin_of(str(error.request.url))
        except RuntimeError:  # an exception raised without a request attached
            return True
        return origin not in self._down  # stop at once when the origin was just given up on

    async def _attempt(self, client: httpx.AsyncClient, url: str, label: str, params: Mapping[str, Any] | None,
                       max_bytes: int) -> Fetched:
        origin = origin_of(url)
        if origin in self._down:
            raise FetchError(url, "unreachable", detail="earlier connection attempts failed")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FetchError(url, "deadline_exceeded")
        self.stats.requests[label] += 1
        try:
            async with client.stream("GET", url, params=params) as response:
                self._connect_failures[origin] = 0
                status = response.status_code
                if status in RETRYABLE_STATUS:
                    retry_after = None
                    if status in (429, 503):
                        retry_after = parse_retry_after(
                            response.headers.get("retry-after"), cap_s=self.policy.max_retry_after_s
                        )
                    raise FetchError(url, f"http_{status}", status=status, retryable=True,
                                     retry_after_s=retry_after)
                if status >= 400:
                    reason = "not_found" if status in (404, 410) else f"http_{status}"
                    raise FetchError(url, reason, status=status)
                declared = _content_length(response)
                if declared is not None and declared > max_bytes:
                    raise FetchError(url, "too_large", status=status, detail=f"{declared} bytes declared")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(url, "too_large", status=status, detail=f"over {max_bytes} bytes")
                    chunks.append(chunk)
                if declared is not None and response.num_bytes_downloaded < declared:
                    raise FetchError(url, "incomplete_body", status=status, retryable=True,
                                     detail=f"{response.num_bytes_downloaded} of {declared} bytes")
                next_link = response.links.get("next", {}).get("url")
                return Fetched(
                    url=str(response.url),
                    status=status,
                    headers=response.headers,
                    body=b"".join(chunks),
                    next_url=str(response.url.join(next_link)) if next_link else None,
                )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            self._connect_failures[origin] += 1
            if self._connect_failures[origin] >= self.policy.unreachable_after and origin not in self._down:
                self._down.add(origin)
                log.warning("giving up on %s: %d connection failures in a row",
                            origin, self._connect_failures[origin])
            raise


def _as_fetch_error(url: str, error: httpx.HTTPError) -> FetchError:
    if isinstance(error, httpx.ConnectTimeout | httpx.ConnectError):
        reason = "connect_error"
    elif isinstance(error, httpx.TimeoutException):
        reason = "timeout"
    elif isinstance(error, httpx.RemoteProtocolError):
        reason = "incomplete_body"
    elif isinstance(error, httpx.TooManyRedirects):
        reason = "too_many_redirects"
    else:
        reason = "transport_error"
    return FetchError(url, reason, detail=type(error).__name__)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _default_port(scheme: str) -> int:
    return {"http": 80, "https": 443}.get(scheme.lower(), 0)


def stable_reason(reason: str) -> str:
    """A failure reason that does not depend on request timing: which concurrent request met the dead host
    first ('connect_error') and which were refused without trying ('unreachable') is a race, not a fact."""
    return "unreachable" if reason in ("connect_error", "unreachable") else reason
