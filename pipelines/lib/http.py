"""Polite, bounded, retrying HTTP fetching on httpx (shared by every ingestion source).

``AsyncFetcher.get`` returns the complete body of one document or raises ``FetchError`` with a
short machine-readable ``reason``. What it guarantees:

- at most ``FetchPolicy.concurrency`` requests in flight;
- within the quota a server announces with ``RateLimit`` headers (``rate_limits``): no request
  is sent that the remaining quota cannot take, and none while the quota waits for its reset;
- every attempt has an overall deadline (connecting, waiting and reading every byte), besides
  the connect/read timeouts; retries with exponential backoff and jitter (stamina) on transport
  errors, timeouts, 5xx and 429, honouring ``Retry-After`` (capped);
- a body shorter than its ``Content-Length`` is a failed attempt and is retried;
- bodies larger than ``FetchPolicy.max_bytes`` are abandoned as soon as that is known;
- an origin that refuses connections or times out ``unreachable_after`` times in a row is
  marked down and every later request to it fails at once (no retry storm, no waiting on a
  server that does not answer);
- ``deadline_s`` bounds the fetcher's whole life: no attempt starts after it and attempts in
  flight are cut at it;
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import stamina

from pipelines.lib.rate_limits import QuotaExhausted, RateLimits, bucket_of

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchPolicy:
    """Knobs for politeness and robustness; tests shrink the delays."""

    concurrency: int = 8
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    request_deadline_s: float = 30.0  # one attempt, start to last byte, whatever the server's pace
    attempts: int = 5
    retry_budget_s: float = 120.0  # total time one document may spend on retries
    wait_initial_s: float = 0.5
    wait_max_s: float = 30.0
    wait_jitter_s: float = 1.0
    max_retry_after_s: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    unreachable_after: int = 3  # connection failures or timeouts in a row before an origin is given up on
    deadline_s: float | None = 1800.0  # the fetcher's whole life: nothing is fetched after this
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
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = redact_url(url)
        self.headers = headers  # of the answer, when there was one
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
    """Async context manager around a few ``httpx.AsyncClient`` (one per request slot); see the module docstring."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        token: str | None = None,
        token_origin: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_quota_wait: Callable[[str, float], None] | None = None,
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
        # the Hub (the token's origin) announces its limits: its first request waits for them
        self.rate_limits = RateLimits({origin_of(token_origin)} if token_origin else set(), on_quota_wait)
        self._failures: Counter[str] = Counter()  # connection failures or timeouts in a row, per origin
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

    async def __aexit__(self, *exc: object) -> None:
        clients, self._clients = self._clients, []
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
                        return await self._paced_attempt(client, url, label, params, max_bytes or policy.max_bytes)
            except FetchError:
                raise
            except httpx.HTTPError as error:
                raise _as_fetch_error(url, error) from None
        finally:
            self._free.put_nowait(client)
        raise FetchError(url, "no_attempt")  # only reachable with attempts=0

    def _backoff_hook(self, error: Exception) -> bool | float:
        if isinstance(error, FetchError):
            if not error.retryable or origin_of(error.url) in self._down:
                return False
            return error.retry_after_s if error.retry_after_s is not None else True
        if not isinstance(error, httpx.TransportError):
            return False
        try:
            origin = origin_of(str(error.request.url))
        except RuntimeError:  # an exception raised without a request attached
            return True
        return origin not in self._down  # stop at once when the origin was just given up on

    async def _paced_attempt(self, client: httpx.AsyncClient, url: str, label: str,
                             params: Mapping[str, Any] | None, max_bytes: int) -> Fetched:
        """One attempt, within the server's announced quota and under an overall deadline."""
        origin = origin_of(url)
        if origin in self._down:
            raise FetchError(url, "unreachable", detail="earlier requests failed or timed out")
        limit = self.policy.request_deadline_s
        if self._deadline is not None:
            limit = min(limit, self._deadline - time.monotonic())
            if limit <= 0:
                raise FetchError(url, "deadline_exceeded")
        key = (origin, bucket_of(url))
        try:
            await self.rate_limits.acquire(key, latest=self._deadline)
        except QuotaExhausted as exhausted:
            raise FetchError(url, "deadline_exceeded", detail=str(exhausted)) from None
        status: int | None = None
        headers: httpx.Headers | None = None
        retry_after: float | None = None
        try:
            # the overall deadline covers connecting, waiting and every byte: a server that answers a byte at a
            # time resets the read timeout with each one
            async with asyncio.timeout(limit):
                fetched = await self._attempt(client, url, label, params, max_bytes)
            status, headers = fetched.status, fetched.headers
            self._failures[origin] = 0
            return fetched
        except FetchError as error:
            status, headers, retry_after = error.status, error.headers, error.retry_after_s
            if error.status is not None:
                self._failures[origin] = 0  # the server answers
            raise
        except TimeoutError:
            self._failed(origin)
            raise FetchError(url, "timeout", retryable=True, detail=f"no complete answer in {limit:.3g} s") from None
        except (httpx.ConnectError, httpx.TimeoutException):
            self._failed(origin)
            raise
        finally:
            self.rate_limits.release(key, status, headers, retry_after)

    def _failed(self, origin: str) -> None:
        """A connection failure or timeout: a host that keeps failing is given up on for this fetcher's life."""
        self._failures[origin] += 1
        if self._failures[origin] >= self.policy.unreachable_after and origin not in self._down:
            self._down.add(origin)
            log.warning("giving up on %s: %d connection failures or timeouts in a row",
                        origin, self._failures[origin])

    async def _attempt(self, client: httpx.AsyncClient, url: str, label: str, params: Mapping[str, Any] | None,
                       max_bytes: int) -> Fetched:
        self.stats.requests[label] += 1
        async with client.stream("GET", url, params=params) as response:
            status = response.status_code
            if status in RETRYABLE_STATUS:
                retry_after = None
                if status in (429, 503):
                    retry_after = parse_retry_after(
                        response.headers.get("retry-after"), cap_s=self.policy.max_retry_after_s
                    )
                raise FetchError(url, f"http_{status}", status=status, retryable=True,
                                 retry_after_s=retry_after, headers=response.headers)
            if status >= 400:
                reason = "not_found" if status in (404, 410) else f"http_{status}"
                raise FetchError(url, reason, status=status, headers=response.headers)
            declared = _content_length(response)
            if declared is not None and declared > max_bytes:
                raise FetchError(url, "too_large", status=status, detail=f"{declared} bytes declared",
                                 headers=response.headers)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, "too_large", status=status, detail=f"over {max_bytes} bytes",
                                     headers=response.headers)
                chunks.append(chunk)
            if declared is not None and response.num_bytes_downloaded < declared:
                raise FetchError(url, "incomplete_body", status=status, retryable=True,
                                 detail=f"{response.num_bytes_downloaded} of {declared} bytes",
                                 headers=response.headers)
            next_link = response.links.get("next", {}).get("url")
            return Fetched(
                url=str(response.url),
                status=status,
                headers=response.headers,
                body=b"".join(chunks),
                next_url=str(response.url.join(next_link)) if next_link else None,
            )


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
