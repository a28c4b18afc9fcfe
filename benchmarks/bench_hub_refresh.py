"""Benchmark the Hub ingestion against a local emulator (not part of the test suite).

    uv run python benchmarks/bench_hub_refresh.py [--cards 5000] [--changes 25] [--no-write]

The emulator (tests/hub_emulator.py) runs in its own process and serves ``--cards`` generated
cards; this process runs the ingestion into a fresh snapshot store and measures:

1. a full ingest (cards per second, requests, peak RSS of this process);
2. a refresh where nothing changed (requests made: should be the listing pages only);
3. a refresh after ``--changes`` cards were edited (requests made: listing pages + those cards).

Results, with a description of the machine, are written to benchmarks/RESULTS.md.

Each measured step is a function returning a ``Step``; ``run()`` collects them and ``render()``
writes this benchmark's section of RESULTS.md. The whole pipeline (`ai-emissions refresh` end to
end) is measured by bench_pipeline_refresh.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pipelines.lib.http import FetchPolicy  # noqa: E402
from pipelines.lib.hub import HubIngestor, IngestReport  # noqa: E402
from pipelines.lib.snapshots import SnapshotStore  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Hub refresh (`benchmarks/bench_hub_refresh.py`)"
TARGET_CARDS_PER_S = 100
TARGET_PEAK_RSS_MB = 500


@dataclass
class Step:
    name: str
    seconds: float
    cpu_seconds: float  # of this (the ingesting) process
    fetched: int
    unchanged: int
    failed: int
    server_requests: dict[str, int]
    expected_requests: dict[str, int]
    notes: list[str] = field(default_factory=list)

    @property
    def requests_as_expected(self) -> bool:
        return self.server_requests == self.expected_requests


class Emulator:
    """The Hub emulator in a child process, so server and client do not share one interpreter."""

    def __init__(self, cards: int, quotas: str | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "tests" / "hub_emulator.py"), "--port", "0",
             "--generated", str(cards), *(["--quotas", quotas] if quotas else [])],
            stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError("the emulator did not start")

    def _post(self, path: str, payload: object = None) -> object:
        data = json.dumps(payload).encode() if payload is not None else b""
        request = urllib.request.Request(self.url + path, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self._post("/_emulator/counts").items() if v}

    def reset(self) -> None:
        self._post("/_emulator/reset")

    def touch(self, repo_ids: list[str]) -> None:
        self._post("/_emulator/touch", repo_ids)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def peak_rss_mb() -> float:
    """High-water RSS of this process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def cpu_time() -> float:
    """CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(name: str, ingestor: HubIngestor, emulator: Emulator, expected: dict[str, int]) -> Step:
    emulator.reset()
    started, cpu_started = time.perf_counter(), cpu_time()
    report: IngestReport = ingestor.refresh()
    seconds, cpu_seconds = time.perf_counter() - started, cpu_time() - cpu_started
    step = Step(name, seconds, cpu_seconds, report.fetched, report.unchanged, report.failed,
                emulator.counts(), expected)
    if report.errors:
        step.notes.append(f"{len(report.errors)} errors, first: {report.errors[0]}")
    return step


def run(cards: int, changes: int, concurrency: int, page_size: int) -> tuple[list[Step], dict[str, str]]:
    figures: dict[str, str] = {"load average before the run": " / ".join(f"{x:.2f}" for x in os.getloadavg())}
    emulator = Emulator(cards)
    pages = math.ceil(cards / page_size)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-hub-") as work:
            policy = FetchPolicy(concurrency=concurrency)
            ingestor = HubIngestor(SnapshotStore(Path(work) / "snapshots"), endpoint=emulator.url,
                                   page_size=page_size, policy=policy)
            rss_before = peak_rss_mb()
            full = measured("full ingest", ingestor, emulator, {"list": pages, "resolve": cards})
            per_cpu_second = full.fetched / full.cpu_seconds
            figures["cards per CPU-second of the ingesting process"] = f"{per_cpu_second:.0f}"
            figures["peak RSS of the ingesting process"] = f"{peak_rss_mb():.0f} MB"
            figures["RSS before the ingest"] = f"{rss_before:.0f} MB"
            steps = [full, measured("no-change refresh", ingestor, emulator, {"list": pages})]
            touched = [f"emulated/model-{i:05d}" for i in range(0, cards, max(1, cards // changes))][:changes]
            emulator.touch(touched)
            steps.append(measured(f"{len(touched)}-change refresh", ingestor, emulator,
                                  {"list": pages, "resolve": len(touched)}))
            # A whole-pipeline step would be added here (see the module docstring).
    finally:
        emulator.close()
    return steps, figures


def machine() -> dict[str, str]:
    cpu_model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return {
        "CPUs usable": str(len(os.sched_getaffinity(0))),
        "CPU model": cpu_model,
        "RAM": f"{total_kb / 1024 / 1024:.1f} GiB",
        "Python": platform.python_version(),
        "OS": platform.platform(),
        "httpx": metadata.version("httpx"),
        "stamina": metadata.version("stamina"),
    }


def render(cards: int, concurrency: int, page_size: int, steps: list[Step], figures: dict[str, str]) -> str:
    full = steps[0]
    rate = full.fetched / full.seconds
    peak = float(figures["peak RSS of the ingesting process"].split()[0])
    lines = [
        SECTION,
        "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}: {cards} generated cards served by the",
        "local Hub emulator (its own process, HTTP/1.1 keep-alive on loopback), ingested into a fresh",
        f"snapshot store (objects and manifest rows made durable a batch at a time) with concurrency "
        f"{concurrency} and listing pages of {page_size}; the emulator enforces no rate limit.",
        "",
        "| step | wall time | client CPU | cards fetched | unchanged | failed | requests seen by the server "
        "| as expected |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for step in steps:
        requests = ", ".join(f"{k} {v}" for k, v in sorted(step.server_requests.items()))
        lines.append(f"| {step.name} | {step.seconds:.2f} s | {step.cpu_seconds:.2f} s | {step.fetched} "
                     f"| {step.unchanged} | {step.failed} "
                     f"| {requests} | {'yes' if step.requests_as_expected else 'NO'} |")
    lines += ["", "| figure | value | target |", "|---|---|---|"]
    lines.append(f"| cards per second (full ingest) | {rate:.0f} | >= {TARGET_CARDS_PER_S} "
                 f"({'met' if rate >= TARGET_CARDS_PER_S else 'MISSED'}) |")
    lines.append(f"| peak RSS of the ingesting process | {figures['peak RSS of the ingesting process']} "
                 f"| < {TARGET_PEAK_RSS_MB} MB "
                 f"({'met' if peak < TARGET_PEAK_RSS_MB else 'MISSED'}) |")
    lines.append(f"| RSS before the ingest (interpreter + imports) | {figures['RSS before the ingest']} | |")
    lines.append(f"| cards per CPU-second "
                 f"| {figures['cards per CPU-second of the ingesting process']} | |")
    lines.append(f"| load average (1/5/15 min) before the run | {figures['load average before the run']} "
                 "| other work on the machine slows the wall-clock figures |")
    notes = [note for step in steps for note in step.notes]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes)]
    lines += ["", "Machine:", ""]
    lines += [f"- {key}: {value}" for key, value in machine().items()]
    lines += [
        "",
        "The no-change refresh costs one request per listing page; with a watchlist it also costs",
        "one model-info request per watchlist repo the listing does not name (none here).",
        "The emulator and the ingestion share the machine's cores, so the rate varies between runs;",
        "the client's CPU time goes mostly to httpx/h11 per-request work. Until one",
        "client per request slot replaced the shared connection pool, httpcore's scan of the pool on",
        "every request (a poll() and a getpeername() per connection) took a third of it: 17.7 s here then.",
        "",
    ]
    return "\n".join(lines)


def write_section(title: str, section: str) -> None:
    """Replace the section headed `title` in RESULTS.md (or append it); the other sections stay as they are."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    start = text.find(title)
    if start >= 0:
        end = text.find("\n## ", start + len(title))
        text = text[:start] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=FetchPolicy().concurrency)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true", help="print the results, leave RESULTS.md alone")
    args = parser.parse_args()
    steps, figures = run(args.cards, args.changes, args.concurrency, args.page_size)
    text = render(args.cards, args.concurrency, args.page_size, steps, figures)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written to {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
