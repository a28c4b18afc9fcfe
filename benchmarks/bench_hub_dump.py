"""Benchmark the daily Hub card dump path on a synthetic dump in the published shape (not part of the test suite).

    uv run python benchmarks/bench_hub_dump.py [--cards 700000] [--shards 5] [--no-write]

1. Writes a synthetic dump: ``--shards`` Parquet files with the published columns (``modelId, author,
   last_modified, downloads, likes, library_name, tags, pipeline_tag, createdAt, card``), zstd-compressed, in row
   groups of 10,000. Card sizes and kinds follow the real dump's mix roughly (``MIX``): most cards state nothing;
   about a third carry the model-card template's unfilled Environmental Impact section; a few percent hold a
   Hub ``co2_eq_emissions`` field, a prose or table statement, or a decoy (carbon, emissions or energy in another
   sense); lengths are log-normal (median ~2.5 KB, mean ~6 KB, a tail to a few hundred KB).
2. In a child process (so that its memory is measured alone): ``ingest_dump`` from the folder (DuckDB prefilter,
   each kept card stored as a snapshot) and ``build_card_tables`` (the card parser, 2 worker processes), then the
   same again with nothing changed (every card unchanged, the parse cache reused).

Peak memory is the proportional set size (PSS) of the child and all its descendants (DuckDB threads, parsing
workers), sampled every 20 ms. Results go to this benchmark's section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench_hub_refresh import RESULTS, write_section  # noqa: E402  (the section writer every benchmark shares)
from bench_pipeline_refresh import TreeMemory  # noqa: E402  (process-tree PSS, as the pipeline benchmark measures it)

SECTION = "## Hub card dump (`benchmarks/bench_hub_dump.py`)"
TARGET_SECONDS = 15 * 60
TARGET_PEAK_MB = 2048
ROW_GROUP = 10_000

# Share of each kind of card (the rest: plain cards that state nothing).
MIX = {"template": 0.33, "yaml": 0.015, "prose": 0.003, "table": 0.001, "decoy": 0.02, "energy_word": 0.01}
_WORDS = ("model trained dataset evaluation accuracy tokens layers attention transformer fine-tuned base language "
          "text classification benchmark results license usage inference pipeline tokenizer checkpoint parameters "
          "learning rate batch size epochs optimizer AdamW warmup validation split metrics precision recall f1 "
          "english multilingual downstream tasks limitations bias risks intended use out-of-scope citation").split()
TEMPLATE = (
    "## Environmental Impact\n\n<!-- Total emissions (in grams of CO2eq) and additional considerations, such as "
    "electricity usage, that are relevant to the computation of the model's carbon footprint should be documented "
    "here. -->\n\nCarbon emissions can be estimated using the [Machine Learning Impact calculator]"
    "(https://mlco2.github.io/impact#compute) presented in [Lacoste et al. (2019)](https://arxiv.org/abs/1910.09700)."
    "\n\n- **Hardware Type:** [More Information Needed]\n- **Hours used:** [More Information Needed]\n"
    "- **Cloud Provider:** [More Information Needed]\n- **Compute Region:** [More Information Needed]\n"
    "- **Carbon Emitted:** [More Information Needed]\n\n## Technical Specifications [optional]\n\n"
    "### Compute Infrastructure\n\n[More Information Needed]\n")
DECOYS = (
    "# Climate text classifier\n\nDetects sentences about carbon emissions and renewable energy in reports. Macro F1 "
    "0.{a} on {n} paragraphs.\n",
    "# Vehicle CO2 regressor\n\nPredicts the CO2 emissions of a car ({n} g/km on average in the test set). MAE {a} "
    "g/km.\n",
    "# Energy-based model\n\nAn energy-based model with {a} residual blocks; energy margin {n}.0; Langevin steps "
    "{n}.\n",
    "# CarbonBERT\n\nCarbonBERT-base, pretrained on {n}M tokens of chemistry text, {a} layers.\n",
)


def _filler(rng: random.Random, size: int) -> str:
    """Prose-like text of about `size` characters, in paragraphs and occasional headings and tables."""
    out, length = [], 0
    while length < size:
        if rng.random() < 0.1:
            part = f"\n## {rng.choice(_WORDS).title()} {rng.choice(_WORDS)}\n\n"
        elif rng.random() < 0.05:
            part = "| metric | value |\n|---|---|\n" + "".join(
                f"| {rng.choice(_WORDS)} | {rng.random():.3f} |\n" for _ in range(4)) + "\n"
        else:
            part = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 60))).capitalize() + ".\n\n"
        out.append(part)
        length += len(part)
    return "".join(out)


def synthetic_card(rng: random.Random, index: int) -> tuple[str, str]:
    """(kind, card text) of one generated card."""
    size = min(int(rng.lognormvariate(math.log(2500), 1.3)), 400_000)
    roll, kind = rng.random(), "plain"
    for name, share in MIX.items():
        if roll < share:
            kind = name
            break
        roll -= share
    front = f"---\nlicense: apache-2.0\nlibrary_name: transformers\ntags:\n- {rng.choice(_WORDS)}\n---\n"
    title = f"# Model {index}\n\n"
    body = _filler(rng, size)
    n, a = rng.randint(100, 9000), rng.randint(2, 99)
    if kind == "template":
        body = body + "\n" + TEMPLATE
    elif kind == "yaml":
        front = (f"---\nlicense: apache-2.0\ntags:\n- autotrain\nco2_eq_emissions:\n  emissions: {n / 100:.4f}\n"
                 "---\n")
    elif kind == "prose":
        body += f"\n## Training\n\nTraining the model on {a} A100 GPUs emitted an estimated {n / 10:.1f} kg CO2eq.\n"
    elif kind == "table":
        body += (f"\n## Environmental impact\n\n| Model | GPU hours | Carbon emitted (tCO2eq) |\n|---|---|---|\n"
                 f"| Model {index} | {n} | {a / 10:.1f} |\n")
    elif kind == "decoy":
        body = rng.choice(DECOYS).format(n=n, a=a) + body
    elif kind == "energy_word":
        body += f"\nThe energy of the embedding space is spread over {a} clusters.\n"
    return kind, front + title + body


def write_dump(folder: Path, cards: int, shards: int, seed: int = 0) -> dict[str, int]:
    """The synthetic dump; returns the count of each kind of card (and the text bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    counts: dict[str, int] = {"text_bytes": 0}
    schema = pa.schema([("modelId", pa.string()), ("author", pa.string()),
                        ("last_modified", pa.timestamp("us", tz="UTC")), ("downloads", pa.int64()),
                        ("likes", pa.int64()), ("library_name", pa.string()), ("tags", pa.list_(pa.string())),
                        ("pipeline_tag", pa.string()), ("createdAt", pa.timestamp("us", tz="UTC")),
                        ("card", pa.string())])
    start = datetime(2022, 1, 1, tzinfo=UTC)
    per_shard = -(-cards // shards)
    index = 0
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        path = folder / f"train-{shard:05d}-of-{shards:05d}.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            in_shard = min(per_shard, cards - index)
            for first in range(0, in_shard, ROW_GROUP):
                rows = []
                for _ in range(min(ROW_GROUP, in_shard - first)):
                    kind, text = synthetic_card(rng, index)
                    counts[kind] = counts.get(kind, 0) + 1
                    counts["text_bytes"] += len(text)
                    moment = start + timedelta(minutes=index)
                    rows.append((f"org-{index % 5000}/model-{index}", f"org-{index % 5000}", moment,
                                 rng.randint(0, 10**5), rng.randint(0, 100), "transformers",
                                 ["transformers", "license:apache-2.0"], "text-classification", moment, text))
                    index += 1
                writer.write_table(pa.table(list(zip(*rows, strict=True)), schema=schema))
    return counts


# --- the measured child --------------------------------------------------------------------------------------


def child(folder: str, home: str) -> None:
    """ingest_dump + build_card_tables twice (full, then nothing changed); prints one JSON line per round."""
    import duckdb

    from pipelines.lib import warehouse
    from pipelines.lib.card_figures import build_card_tables
    from pipelines.lib.hub_dump import TABLE_COLUMNS, ingest_dump, table_rows
    from pipelines.lib.snapshots import SnapshotStore

    store = SnapshotStore(Path(home) / "snapshots")
    con = duckdb.connect(str(Path(home) / "warehouse.duckdb"))
    # no cards from the Hub API: every card comes from the dump (the columns build_card_tables reads)
    con.execute("CREATE TABLE hub_cards (repo_id VARCHAR, revision VARCHAR, snapshot_sha256 VARCHAR, card_url VARCHAR, "
                "fetched_at VARCHAR, license VARCHAR)")
    for round_name in ("full", "no change"):
        started = time.monotonic()
        report, cards = ingest_dump(store, offline=True, environ={"AI_EMISSIONS_HUB_DUMP": folder}, threads=2)
        ingested = time.monotonic()
        warehouse.replace_table(con, "hub_dump_cards", table_rows(cards), TABLE_COLUMNS)
        tables = build_card_tables(con, store, workers=2)
        done = time.monotonic()
        figures = dict(con.execute("SELECT metric, count(*) FROM card_figures GROUP BY metric").fetchall())
        with_figures = con.execute("SELECT count(DISTINCT split_part(model_id, ':', 1)) FROM card_figures "
                                   "WHERE metric = 'emissions'").fetchall()[0][0]
        print(json.dumps({"round": round_name, "seconds": done - started, "prefilter_s": report.prefilter_s,
                          "store_s": report.store_s, "ingest_s": ingested - started, "parse_s": done - ingested,
                          "kept": report.cards_kept, "stored": report.cards_stored,
                          "unchanged": report.cards_unchanged, "parsed": tables.parsed, "reused": tables.reused,
                          "figures": figures, "models_with_emissions": with_figures,
                          "errors": report.errors[:3], "t": time.time()}), flush=True)


def measure(folder: Path, home: Path) -> tuple[list[dict], float, list[float], float]:
    """Run the child; returns its rounds, the tree's peak PSS (MB), each round's peak, and its CPU seconds."""
    command = [sys.executable, __file__, "--child", str(folder), str(home)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid)
    started = time.time()
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    peak = memory.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the measured process failed:\n{output}")
    rounds = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    round_peaks, since = [], started
    for entry in rounds:
        round_peaks.append(max((m for t, m in memory.samples if since <= t <= entry["t"]), default=0) / 2**20)
        since = entry["t"]
    return rounds, peak, round_peaks, usage.ru_utime + usage.ru_stime


def render(cards: int, shards: int, counts: dict[str, int], dump_mb: float, generate_s: float, rounds: list[dict],
           peak: float, round_peaks: list[float], cpu_s: float, load: tuple[float, ...], shared: str) -> str:
    full = rounds[0]
    share = {key: full[key] / full["seconds"] for key in ("prefilter_s", "store_s", "parse_s")}
    expected = counts.get("yaml", 0) + counts.get("prose", 0) + counts.get("table", 0)
    lines = [
        SECTION, "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: a synthetic dump of {cards:,} cards in {shards} Parquet shards "
        f"(the published columns, zstd, {dump_mb:,.0f} MB on disk, {counts['text_bytes'] / 2**30:.2f} GiB of card "
        f"text, mean {counts['text_bytes'] / cards / 1024:.1f} KB a card), read from a folder "
        f"(`AI_EMISSIONS_HUB_DUMP`), DuckDB on 2 threads, the card parser in 2 worker processes. Generating the "
        f"dump took {generate_s:.0f} s and is not counted.",
        "",
        "Card mix: " + ", ".join(f"{kind} {counts.get(kind, 0):,}" for kind in (*MIX, "plain")) +
        " (yaml, prose and table cards state emissions; template cards carry the unfilled template section; "
        "decoys and energy_word cards mention carbon, emissions or energy in another sense).",
        "",
        "| round | wall time | prefilter (DuckDB) | storing kept cards | parsing and card tables | cards kept | "
        "stored | parsed | peak memory (process tree, PSS) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry, round_peak in zip(rounds, round_peaks, strict=True):
        lines.append(f"| {entry['round']} | {entry['seconds']:.1f} s | {entry['prefilter_s']:.1f} s | "
                     f"{entry['store_s']:.1f} s | {entry['parse_s']:.1f} s | {entry['kept']:,} | {entry['stored']:,} "
                     f"| {entry['parsed']:,} | {round_peak:,.0f} MB |")
    lines += [
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| full run, wall time | {full['seconds'] / 60:.1f} min | < 15 min "
        f"({'met' if full['seconds'] < TARGET_SECONDS else 'NOT met'}) |",
        f"| peak memory, whole process tree | {peak:,.0f} MB | < 2,048 MB "
        f"({'met' if peak < TARGET_PEAK_MB else 'NOT met'}) |",
        f"| share of the full run: prefilter / storing / parser | {share['prefilter_s']:.0%} / "
        f"{share['store_s']:.0%} / {share['parse_s']:.0%} | |",
        f"| cards kept by the prefilter | {full['kept'] / cards:.2%} of all | |",
        f"| cards stating emissions with an emissions figure | {full['models_with_emissions']:,} of {expected:,} | "
        "all |",
        f"| CPU time of the process tree (both rounds) | {cpu_s:.0f} s | |",
        f"| load average (1/5/15 min) before the run | {' / '.join(f'{x:.2f}' for x in load)} | |",
        "",
        f"Machine: {len(os.sched_getaffinity(0))} CPUs usable, Python {sys.version.split()[0]}, "
        f"duckdb {metadata.version('duckdb')}, pyarrow {metadata.version('pyarrow')}.",
        "",
        shared or "The machine was not shared during the run.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=700_000)
    parser.add_argument("--shards", type=int, default=5)
    parser.add_argument("--shared", default="", help="a note on other work on the machine during the run")
    parser.add_argument("--no-write", action="store_true", help="print the results, leave RESULTS.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dump-") as work:
        folder, home = Path(work) / "dump", Path(work) / "home"
        started = time.monotonic()
        counts = write_dump(folder, args.cards, args.shards)
        generate_s = time.monotonic() - started
        dump_mb = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**20
        load = os.getloadavg()
        rounds, peak, round_peaks, cpu_s = measure(folder, home)
    text = render(args.cards, args.shards, counts, dump_mb, generate_s, rounds, peak, round_peaks, cpu_s, load,
                  args.shared)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written to {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
