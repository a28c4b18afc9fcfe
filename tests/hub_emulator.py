"""A local, threaded HTTP server that emulates the parts of the Hugging Face Hub API we use.

Endpoints (same shapes as the real Hub):

- ``GET /api/models?filter=co2_eq_emissions&full=true&cardData=true&limit=N[&cursor=...]``: a JSON
  array of model entries (``id``, ``modelId``, ``sha``, ``cardData``, ...) for listed repos, with a
  ``Link: <...>; rel="next"`` header while more pages remain;
- ``GET /api/models/{repo_id}``: one model entry (404 for unknown repos);
- ``GET /{repo_id}/resolve/{revision}/README.md``: the README at that revision (any revision the
  repo ever had), 404 when the repo or revision is unknown or the repo has no README.

Fault injection (``Faults``): probabilities of 503, 429 with ``Retry-After``, bodies cut short
(the full ``Content-Length`` is announced, half the body is sent, then the connection closes)
and slow responses; repos whose README always answers 503; and scripted per-repo outcomes.
Every request is counted per endpoint (``list``, ``info``, ``resolve``).

Rate limits (``Quotas``), as the Hub announces and enforces them: fixed windows per bucket (``api`` for
``/api/...``, ``resolvers`` for ``/{repo}/resolve/...``), every answer carrying
``RateLimit: "<bucket>";r=<remaining>;t=<seconds to reset>`` and
``RateLimit-Policy: "fixed window";"<bucket>";q=<quota>;w=<window>``; a request over the quota gets 429 with
``Retry-After`` (counted in ``rate_limited``).

A few control endpoints under ``/_emulator/`` let another process (the benchmark) change cards
and read the counters. Usable from tests (``with HubEmulator() as hub: ...``) or standalone:
``python tests/hub_emulator.py --generated 5000 --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import yaml

CORPUS_CARDS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "model_cards"
LISTING_TAG = "co2_eq_emissions"


@dataclass
class Faults:
    """What goes wrong, and how often. Probabilities apply independently to each request."""

    p_503: float = 0.0
    p_429: float = 0.0
    retry_after: str = "1"  # value of the Retry-After header sent with 429 (and 503)
    p_cut: float = 0.0
    p_slow: float = 0.0
    slow_s: float = 0.2
    endpoints: frozenset[str] = frozenset({"list", "info", "resolve"})
    always_fail: set[str] = field(default_factory=set)  # repo ids whose README always answers 503
    seed: int = 0


@dataclass(frozen=True)
class Quotas:
    """Requests allowed per fixed window, per bucket. The public Hub's anonymous limits are 500 API and 3,000
    resolver requests per 5 minutes."""

    api: int = 500
    resolvers: int = 3000
    window_s: float = 300.0


def bucket_of(endpoint: str) -> str | None:
    return {"list": "api", "info": "api", "resolve": "resolvers"}.get(endpoint)


@dataclass
class _Repo:
    repo_id: str
    sha: str
    readme: bytes | None
    card_data: dict[str, Any] | None
    listed: bool
    history: dict[str, bytes | None] = field(default_factory=dict)


def make_sha(*parts: object) -> str:
    """A 40-hex revision id, like a git commit sha."""
    return hashlib.sha1("\x00".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def front_matter(text: bytes) -> dict[str, Any] | None:
    """The card's YAML front matter as a dict, or None when absent or malformed (as the Hub does)."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not decoded.startswith("---"):
        return None
    end = decoded.find("\n---", 3)
    if end < 0:
        return None
    try:
        data = yaml.safe_load(decoded[3:end])
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def generated_card(index: int, version: int = 0) -> bytes:
    """A synthetic model card with emissions metadata (text written for these tests)."""
    grams = 1000 + (index * 7919 + version * 104729) % 9_000_000
    lines = [
        "---",
        "license: apache-2.0",
        "tags:",
        "- emulated",
        "co2_eq_emissions:",
        f"  emissions: {grams}",
        "  source: emulator",
        "  training_type: fine-tuning",
        f"  geographical_location: Region {index % 17}",
        "  hardware_used: 1 x emulated accelerator",
        "---",
        "",
        f"# Emulated model {index:05d} (revision {version})",
        "",
        "## Environmental impact",
        "",
        f"Training this emulated model emitted {grams} grams of CO2 equivalent.",
        "",
        "## Notes",
        "",
    ]
    filler = f"Row {index} of a generated card used to exercise the ingestion pipeline. "
    lines.extend(filler * 4 for _ in range(8))
    return ("\n".join(lines) + "\n").encode("utf-8")


def corpus_cards() -> dict[str, bytes]:
    """Repo id -> bytes for every card in the shared corpus (empty when the corpus is absent)."""
    if not CORPUS_CARDS.is_dir():
        return {}
    return {f"corpus/card-{path.stem}": path.read_bytes() for path in sorted(CORPUS_CARDS.glob("*.md"))}


class HubEmulator:
    """The emulated Hub. Thread-safe; start with ``start()`` or use as a context manager."""

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_page_size: int = 1000,
        expected_token: str | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.quotas = quotas
        self._window_start = time.monotonic()
        self._window_counts: Counter[tuple[int, str]] = Counter()  # (window index, bucket) -> requests
        self.rate_limited: Counter[str] = Counter()  # 429s sent because a bucket's quota was used up
        self.max_page_size = max_page_size
        self.expected_token = expected_token
        self._repos: dict[str, _Repo] = {}
        self._extra_entries: list[dict[str, Any]] = []
        self._scripts: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._versions: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.authorization_seen: Counter[str] = Counter()
        self.request_log: list[tuple[float, str, str]] = []  # (time, endpoint, path)
        self.next_link_base: str | None = None  # set to test a Link pointing elsewhere
        self.next_link_path = "/api/models"
        self._server = _Server((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="hub-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------

    def add_repo(self, repo_id: str, readme: bytes | None, *, listed: bool = True,
                 card_data: dict[str, Any] | None = None) -> str:
        """Add a repo; returns its revision sha. ``card_data`` defaults to the README's front matter."""
        with self._lock:
            sha = make_sha(repo_id, self._versions[repo_id], readme)
            data = card_data if card_data is not None else (front_matter(readme) if readme else None)
            self._repos[repo_id] = _Repo(repo_id, sha, readme, data, listed, {sha: readme})
            return sha

    def add_repos(self, cards: dict[str, bytes], *, listed: bool = True) -> None:
        for repo_id, readme in cards.items():
            self.add_repo(repo_id, readme, listed=listed)

    def update_readme(self, repo_id: str, readme: bytes) -> str:
        """Commit a new README to ``repo_id``; returns the new revision sha."""
        with self._lock:
            repo = self._repos[repo_id]
            self._versions[repo_id] += 1
            repo.sha = make_sha(repo_id, self._versions[repo_id], readme)
            repo.readme = readme
            repo.card_data = front_matter(readme)
            repo.history[repo.sha] = readme
            return repo.sha

    def add_listing_entry(self, entry: dict[str, Any]) -> None:
        """Append a raw entry to the listing (e.g. a hostile repo id)."""
        with self._lock:
            self._extra_entries.append(entry)

    def script(self, repo_id: str, outcomes: Iterable[str]) -> None:
        """Outcomes for the next README requests of ``repo_id``: "503", "429", "cut", "slow", "ok"."""
        with self._lock:
            self._scripts.setdefault(repo_id, []).extend(outcomes)

    def readme(self, repo_id: str) -> bytes | None:
        return self._repos[repo_id].readme

    def sha(self, repo_id: str) -> str:
        return self._repos[repo_id].sha

    @property
    def repo_ids(self) -> list[str]:
        return sorted(self._repos)

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.rate_limited.clear()
            self.authorization_seen.clear()
            self.request_log.clear()

    # -- request handling (called from server threads) --------------------------------------

    def _entry(self, repo: _Repo) -> dict[str, Any]:
        return {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "sha": repo.sha,
            "private": False,
            "tags": [LISTING_TAG] if repo.listed else [],
            "cardData": repo.card_data,
            "siblings": [{"rfilename": "README.md"}] if repo.readme is not None else [],
        }

    def _roll(self, endpoint: str, repo_id: str | None) -> str:
        """Decide this request's fate: ok, 503, 429, cut, or slow (+ok)."""
        with self._lock:
            if endpoint == "resolve" and repo_id is not None:
                queued = self._scripts.get(repo_id)
                if queued:
                    return queued.pop(0)
                if repo_id in self.faults.always_fail:
                    return "503"
            faults = self.faults
            if endpoint not in faults.endpoints:
                return "ok"
            roll = self._rng.random()
            if roll < faults.p_503:
                return "503"
            if roll < faults.p_503 + faults.p_429:
                return "429"
            if self._rng.random() < faults.p_cut:
                return "cut"
            if self._rng.random() < faults.p_slow:
                return "slow"
            return "ok"

    def handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        if handler.command == "POST" and path.startswith("/_emulator/"):
            return self._control(handler, path)
        if handler.command != "GET":
            return handler.reply(405, b"method not allowed")
        endpoint, repo_id = _route(path)
        if endpoint == "control":
            return self._control(handler, path)
        with self._lock:
            self.counts[endpoint] += 1
            self.request_log.append((time.monotonic(), endpoint, path))
            self.authorization_seen[handler.headers.get("Authorization", "")] += 1
        if self.quotas is not None and bucket_of(endpoint) is not None and not self._within_quota(
                handler, bucket_of(endpoint)):
            return handler.reply(429, b"rate limited", {"Retry-After": handler.rate_limit_reset})
        if self.expected_token is not None and handler.headers.get("Authorization") != (
            f"Bearer {self.expected_token}"
        ):
            return handler.reply(401, b'{"error": "Invalid credentials"}')
        fate = self._roll(endpoint, repo_id)
        if fate == "503":
            return handler.reply(503, b"service unavailable", {"Retry-After": self.faults.retry_after})
        if fate == "429":
            return handler.reply(429, b"too many requests", {"Retry-After": self.faults.retry_after})
        if fate == "slow":
            time.sleep(self.faults.slow_s)
        cut = fate == "cut"
        if endpoint == "list":
            return self._list(handler, query, cut)
        if endpoint == "info":
            repo = self._repos.get(repo_id or "")
            if repo is None:
                return handler.reply(404, b'{"error": "Repository not found"}')
            return handler.reply_json(self._entry(repo), cut=cut)
        if endpoint == "resolve":
            repo = self._repos.get(repo_id or "")
            revision = path.split("/resolve/", 1)[1].split("/", 1)[0]
            body = repo.history.get(revision) if repo is not None else None
            if body is None or not path.endswith("/README.md"):
                return handler.reply(404, b"Entry not found")
            return handler.reply(200, body, {"Content-Type": "text/plain; charset=utf-8",
                                             "X-Repo-Commit": revision}, cut=cut)
        return handler.reply(404, b"not found")

    def _within_quota(self, handler: _Handler, bucket: str) -> bool:
        """Count the request in its bucket's fixed window and set the rate-limit headers of the answer."""
        quota = getattr(self.quotas, bucket)
        window = self.quotas.window_s
        with self._lock:
            elapsed = time.monotonic() - self._window_start
            index = int(elapsed // window)
            self._window_counts[(index, bucket)] += 1
            used = self._window_counts[(index, bucket)]
            if used > quota:
                self.rate_limited[bucket] += 1
        reset = str(max(1, math.ceil((index + 1) * window - elapsed)))  # never announce a reset too early
        handler.extra_headers = {
            "RateLimit": f'"{bucket}";r={max(0, quota - used)};t={reset}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};w={window:g}',
        }
        handler.rate_limit_reset = reset
        return used <= quota

    def _list(self, handler: _Handler, query: dict[str, list[str]], cut: bool) -> None:
        wanted_tag = (query.get("filter") or [""])[0]
        limit = min(int((query.get("limit") or ["1000"])[0]), self.max_page_size)
        offset = _decode_cursor((query.get("cursor") or [""])[0])
        with self._lock:
            entries = [self._entry(r) for r in sorted(self._repos.values(), key=lambda r: r.repo_id)
                       if r.listed and wanted_tag == LISTING_TAG]
            entries.extend(self._extra_entries)
        page = entries[offset: offset + limit]
        headers = {}
        if offset + limit < len(entries):
            next_query = {key: values[0] for key, values in query.items() if key != "cursor"}
            next_query["cursor"] = _encode_cursor(offset + limit)
            base = self.next_link_base or self.url
            headers["Link"] = f'<{base}{self.next_link_path}?{urlencode(next_query)}>; rel="next"'
        handler.reply_json(page, headers, cut=cut)

    def _control(self, handler: _Handler, path: str) -> None:
        if path == "/_emulator/counts":
            with self._lock:
                return handler.reply_json({**self.counts, **{f"rate_limited_{bucket}": n for bucket, n
                                                             in self.rate_limited.items()}})
        if path == "/_emulator/reset":
            self.reset_counts()
            return handler.reply_json({"ok": True})
        if path == "/_emulator/touch":
            length = int(handler.headers.get("Content-Length") or 0)
            repo_ids = json.loads(handler.rfile.read(length) or b"[]")
            for repo_id in repo_ids:
                old = self._repos[repo_id].readme or b""
                self.update_readme(repo_id, old + b"\nEdited.\n")
            return handler.reply_json({"touched": len(repo_ids)})
        return handler.reply(404, b"unknown control endpoint")


def _route(path: str) -> tuple[str, str | None]:
    if path.startswith("/_emulator/"):
        return "control", None
    if path == "/api/models":
        return "list", None
    if path.startswith("/api/models/"):
        return "info", path[len("/api/models/"):]
    if "/resolve/" in path:
        return "resolve", path[1:].split("/resolve/", 1)[0]
    return "other", None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[_Handler], hub: HubEmulator) -> None:
        self.hub = hub
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls
    server: _Server
    extra_headers: dict[str, str] = {}  # noqa: RUF012 - replaced per request, never mutated
    rate_limit_reset = "1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.extra_headers = {}
        self.server.hub.handle(self)

    def do_POST(self) -> None:  # noqa: N802
        self.extra_headers = {}
        self.server.hub.handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return

    def reply_json(self, value: Any, headers: dict[str, str] | None = None, *, cut: bool = False) -> None:
        self.reply(200, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})},
                   cut=cut)

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None, *, cut: bool = False
              ) -> None:
        self.send_response(status)
        for name, value in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if not cut:
            self.wfile.write(body)
            return
        # Announce the full length, send half, hang up: the client must notice and retry.
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--generated", type=int, default=1000, help="number of generated cards")
    parser.add_argument("--corpus", action="store_true", help="also serve the shared corpus cards")
    parser.add_argument("--quotas", metavar="API,RESOLVERS,WINDOW_S",
                        help="enforce rate limits, e.g. 500,3000,300 (the public Hub's anonymous quotas)")
    args = parser.parse_args()
    quotas = None
    if args.quotas:
        api, resolvers, window = args.quotas.split(",")
        quotas = Quotas(int(api), int(resolvers), float(window))
    hub = HubEmulator(host=args.host, port=args.port, quotas=quotas)
    hub.add_repos({f"emulated/model-{i:05d}": generated_card(i) for i in range(args.generated)})
    if args.corpus:
        hub.add_repos(corpus_cards())
    print(hub.url, flush=True)  # with --port 0 this names the port chosen
    hub._server.serve_forever()


if __name__ == "__main__":
    main()
