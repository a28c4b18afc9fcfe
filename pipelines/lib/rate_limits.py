"""Pacing requests by the rate limits a server announces (IETF draft ``RateLimit`` headers, as the Hub sends).

Every Hub response says how much of its quota window is left, per bucket (``api`` for ``/api/...``,
``resolvers`` for ``/{repo}/resolve/...``)::

    RateLimit: "resolvers";r=2987;t=241
    RateLimit-Policy: "fixed window";"resolvers";q=3000;w=300

``RateLimits`` keeps, per (origin, bucket), the remaining quota and when the window resets, and lets a request
start only while the requests in flight are fewer than what remains: an answer may count requests sent before
it, never fewer, so the quota is not overrun. With nothing left it waits for the reset. When a window has
passed, or before the first answer, one request goes alone and its answer says what the new window holds.
A server that sends no such header is not paced.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_REMAINING = re.compile(r";\s*r=(\d+)")
_RESET = re.compile(r";\s*t=(\d+(?:\.\d+)?)")

# how far a bucket's state is known
_FREE = "free"  # the server announces no limits: no pacing
_PROBE = "probe"  # limits expected, current window unknown: one request at a time until an answer says
_PACED = "paced"
_RESET_MARGIN_S = 0.2  # `t` is whole seconds: do not start the next window early


def bucket_of(url: str) -> str:
    """The Hub's bucket for a request: ``api`` for its API, ``resolvers`` for file downloads."""
    return "api" if urlsplit(url).path.startswith("/api/") else "resolvers"


def parse_rate_limit(headers: Mapping[str, str]) -> tuple[int, float] | None:
    """(remaining, seconds to reset) from a ``RateLimit`` header, or None when absent or unreadable."""
    value = headers.get("ratelimit")
    if not value:
        return None
    remaining, reset = _REMAINING.search(value), _RESET.search(value)
    if remaining is None or reset is None:
        return None
    return int(remaining.group(1)), float(reset.group(1))


@dataclass
class _Bucket:
    state: str
    remaining: int = 0
    resets_at: float = 0.0
    in_flight: int = 0
    announced_until: float = 0.0  # the reset time of the last wait announced
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def may_send(self, now: float) -> bool:
        if self.state == _PACED and now >= self.resets_at:
            self.state = _PROBE  # a new window: learn it from the next answer
        if self.state == _FREE:
            return True
        if self.state == _PROBE:
            return self.in_flight == 0
        return self.in_flight < self.remaining

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class QuotaExhausted(Exception):
    """The quota resets later than the caller may wait."""

    def __init__(self, bucket: str, wait_s: float) -> None:
        self.bucket, self.wait_s = bucket, wait_s
        super().__init__(f"the {bucket!r} quota resets in {wait_s:.0f} s")


class RateLimits:
    """Per-(origin, bucket) pacing; see the module docstring. ``on_wait(bucket, seconds)`` is called once per
    window in which requests wait for the quota to reset."""

    def __init__(self, paced_origins: set[str] = frozenset(),
                 on_wait: Callable[[str, float], None] | None = None) -> None:
        self._paced_origins = set(paced_origins)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._on_wait = on_wait
        self.waited_s = 0.0  # wall time during which some request waited for a window to reset

    def _bucket(self, key: tuple[str, str]) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(_PROBE if key[0] in self._paced_origins else _FREE)
        return bucket

    async def acquire(self, key: tuple[str, str], *, latest: float | None = None) -> None:
        """Wait until a request may be sent in ``key``'s bucket and count it in flight. ``latest`` (a
        ``time.monotonic()`` value): raise QuotaExhausted instead of waiting for a reset later than that."""
        bucket = self._bucket(key)
        while not bucket.may_send(now := time.monotonic()):
            timeout = None
            if bucket.state == _PACED and bucket.in_flight == 0:  # nothing will answer: wait for the reset
                if latest is not None and bucket.resets_at > latest:
                    raise QuotaExhausted(key[1], bucket.resets_at - now)
                timeout = bucket.resets_at - now
                if bucket.announced_until != bucket.resets_at:
                    bucket.announced_until = bucket.resets_at
                    self.waited_s += timeout
                    if self._on_wait is not None:
                        self._on_wait(key[1], timeout)
            try:
                await asyncio.wait_for(bucket.changed.wait(), timeout)
            except TimeoutError:
                pass
        bucket.in_flight += 1

    def release(self, key: tuple[str, str], status: int | None, headers: Mapping[str, str] | None,
                retry_after_s: float | None = None) -> None:
        """The request ended; ``headers`` (None: no answer) say what is left of the window."""
        bucket = self._bucket(key)
        bucket.in_flight -= 1
        now = time.monotonic()
        announced = parse_rate_limit(headers) if headers is not None else None
        if announced is not None:
            remaining, reset_s = announced
            resets_at = now + reset_s + _RESET_MARGIN_S
            if bucket.state == _PACED and now < bucket.resets_at:
                # same window: answers arrive out of order, so keep the lowest count and the latest reset
                bucket.remaining = min(bucket.remaining, remaining)
                bucket.resets_at = max(bucket.resets_at, resets_at)
            else:
                bucket.state, bucket.remaining, bucket.resets_at = _PACED, remaining, resets_at
            if status == 429:
                bucket.remaining = 0
        elif status == 429:
            bucket.state, bucket.remaining = _PACED, 0
            bucket.resets_at = max(bucket.resets_at, now + (retry_after_s or 1.0))
        elif headers is not None and bucket.state == _PROBE:
            bucket.state = _FREE  # an answer without limits: this server does not announce any
        bucket.notify()
