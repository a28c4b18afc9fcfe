"""The daily Hub card dump as the second ingest path: a local dump in the published shape (Parquet shards with
the dump's ten columns), prefiltered in DuckDB and read by the card parser.

Real cards come from the shared corpus (never committed; those tests skip without it) and are written into a
Parquet file in a temporary folder; the decoys (tests/dump_decoys.py) and the filler cards are our own text.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dump_decoys import decoy_cards

from pipelines.defs.ingest import HUB_CARD_COLUMNS
from pipelines.lib import units, warehouse
from pipelines.lib.card_figures import build_card_tables
from pipelines.lib.hub_dump import DEFAULT_DATASET, TABLE_COLUMNS, dump_setting, ingest_dump, table_rows
from pipelines.lib.snapshots import SnapshotStore
from tests.conftest import CORPUS, fetch, refresh

CARDS = CORPUS / "model_cards"
needs_corpus = pytest.mark.skipif(not (CARDS / "labels.csv").is_file(),
                                  reason=f"real model cards not found at {CARDS} (not part of the repository)")
LAST_MODIFIED = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
TEMPLATE = (  # the model-card template's Environmental Impact section, left unfilled, as on many Hub cards
    "## Environmental Impact\n\nCarbon emissions can be estimated using the [Machine Learning Impact calculator]"
    "(https://mlco2.github.io/impact#compute) presented in [Lacoste et al. (2019)](https://arxiv.org/abs/1910.09700)."
    "\n\n- **Hardware Type:** [More Information Needed]\n- **Carbon Emitted:** [More Information Needed]\n")


def filler_cards(count: int) -> dict[str, str]:
    """Cards with no emissions words, and cards with only the unfilled template (every third one)."""
    cards = {}
    for i in range(count):
        text = f"---\nlicense: mit\n---\n# Model {i}\n\nA text classifier fine-tuned for {i % 7 + 1} epochs.\n"
        cards[f"filler-org/model-{i:04d}"] = text + (TEMPLATE if i % 3 == 0 else "")
    return cards


def write_shard(path: Path, cards: dict[str, str], last_modified: dt.datetime = LAST_MODIFIED) -> Path:
    """A Parquet shard with the published dump's columns."""
    ids = list(cards)
    n = len(ids)
    table = pa.table({
        "modelId": ids, "author": [i.split("/")[0] for i in ids],
        "last_modified": pa.array([last_modified] * n, pa.timestamp("us", tz="UTC")),
        "downloads": pa.array([10] * n, pa.int64()), "likes": pa.array([1] * n, pa.int64()),
        "library_name": ["transformers"] * n, "tags": [["transformers", "license:mit"]] * n,
        "pipeline_tag": ["text-classification"] * n,
        "createdAt": pa.array([last_modified] * n, pa.timestamp("us", tz="UTC")), "card": list(cards.values()),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def corpus_cards() -> dict[str, tuple[str, dict]]:
    """Repo id -> (card text, index row) for every corpus card."""
    with (CARDS / "index.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {f"corpus/card-{row['file'][:4]}": ((CARDS / row["file"]).read_bytes().decode("utf-8", "replace"), row)
            for row in rows}


def dump_tables(store: SnapshotStore, cards, con=None, api_cards=()) -> duckdb.DuckDBPyConnection:
    """hub_cards (API cards given) and hub_dump_cards in a warehouse, and the card tables built from them."""
    con = con or duckdb.connect()
    warehouse.replace_table(con, "hub_cards", list(api_cards), HUB_CARD_COLUMNS)
    warehouse.replace_table(con, "hub_dump_cards", table_rows(cards), TABLE_COLUMNS)
    build_card_tables(con, store, workers=1)
    return con


def emissions_kg_by_model(con) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    rows = con.execute("SELECT model_id, value_as_printed, unit_as_printed FROM card_figures "
                       "WHERE metric = 'emissions'").fetchall()
    for model_id, value, unit in rows:
        found.setdefault(model_id.split(":")[0], []).append(units.normalize("emissions", value, unit).value * 1000)
    return found


@pytest.fixture
def store(tmp_path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "snapshots", durable=False)


def folder(path: Path) -> dict[str, str]:
    return {"AI_EMISSIONS_HUB_DUMP": str(path)}


@needs_corpus
def test_real_cards_in_the_dump_land_with_their_labelled_values_and_decoys_give_none(tmp_path, store):
    real = corpus_cards()
    decoys = decoy_cards()
    filler = filler_cards(300)
    dump = tmp_path / "dump"
    texts = {repo: text for repo, (text, _) in real.items()}
    write_shard(dump / "train-00000-of-00002.parquet", {**texts, **dict(list(decoys.items())[:40])})
    write_shard(dump / "train-00001-of-00002.parquet", {**dict(list(decoys.items())[40:]), **filler})
    report, cards = ingest_dump(store, offline=True, environ=folder(dump))
    assert report.read and report.shards == 2 and report.errors == []
    kept = {c.repo_id for c in cards}
    # the prefilter keeps every real card that states emissions and no unfilled template
    stating = {repo for repo, (_, row) in real.items() if row["has_emissions"] == "true"}
    assert stating <= kept
    assert not any(repo.startswith("filler-org/") for repo in kept)

    found = emissions_kg_by_model(dump_tables(store, cards))
    with (CARDS / "labels.csv").open(newline="", encoding="utf-8") as handle:
        labels = {f"corpus/card-{r['file'][:4]}": float(r["emissions_kg"]) for r in csv.DictReader(handle)
                  if r["emissions_kg"].strip()}
    hits = [repo for repo, kg in labels.items()
            if any(abs(got - kg) <= 0.01 * abs(kg) + 1e-9 for got in found.get(repo, []))]
    assert len(hits) / len(labels) >= 0.95, sorted(set(labels) - set(hits))
    negatives = {repo for repo, (_, row) in real.items() if row["has_emissions"] == "false"}
    assert not negatives & set(found)
    assert not [repo for repo in found if repo.startswith(("decoy-org/", "filler-org/"))]


def test_decoy_cards_give_no_figure(tmp_path, store):
    decoys = decoy_cards(copies=6)
    write_shard(tmp_path / "dump" / "train.parquet", decoys)
    report, cards = ingest_dump(store, offline=True, environ=folder(tmp_path / "dump"))
    assert report.cards_kept > 0.8 * len(decoys)  # they do mention emissions or energy: the parser decides
    con = dump_tables(store, cards)
    figures = con.execute("SELECT model_id, metric, value_as_printed, unit_as_printed FROM card_figures").fetchall()
    assert figures == []


def test_prose_and_table_statements_pass_the_prefilter_and_the_parser(tmp_path, store):
    cards = {
        "acme/prose-model": "# Prose model\n\n## Training\n\nWe trained for 3 days on 8 A100 GPUs; training "
                            "emitted an estimated 42.5 kg CO2eq.\n",
        "acme/table-model": "# Table model\n\n## Environmental impact\n\n| Model | GPU hours | Carbon emitted "
                            "(tCO2eq) |\n|---|---|---|\n| Table model | 1200 | 0.35 |\n",
        "acme/energy-model": "# Energy model\n\n## Training\n\nTraining the model consumed 310 kWh of "
                             "electricity.\n",
        "acme/plain": "# Plain\n\nNothing about the run.\n" + TEMPLATE,
    }
    write_shard(tmp_path / "dump" / "train.parquet", cards)
    report, kept = ingest_dump(store, offline=True, environ=folder(tmp_path / "dump"))
    assert {c.repo_id for c in kept} == {"acme/prose-model", "acme/table-model", "acme/energy-model"}
    con = dump_tables(store, kept)
    rows = set(con.execute("SELECT model_id, metric, value_as_printed, unit_as_printed FROM card_figures "
                           "WHERE metric IN ('emissions', 'energy')").fetchall())
    assert {("acme/prose-model", "emissions", "42.5", "kg CO2eq"), ("acme/energy-model", "energy", "310", "kWh")
            } <= rows
    assert ("acme/table-model", "emissions", "0.35", "tCO2eq") in rows
    cursor = con.execute("SELECT * FROM card_sources WHERE source_id = 'hub:acme/prose-model'")
    source = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    assert source["url"] == "https://huggingface.co/acme/prose-model/blob/main/README.md"
    assert any("2025-03-01T12:00:00.000Z" in str(value) for value in source.values())  # the copy's date


def test_cards_are_stored_again_only_when_last_modified_moves(tmp_path, store):
    cards = {"acme/a": "# A\n\nTraining emitted 12 kg CO2eq.\n", "acme/b": "# B\n\nTraining used 5 kWh.\n"}
    shard = write_shard(tmp_path / "dump" / "train.parquet", cards)
    first, _ = ingest_dump(store, offline=True, environ=folder(shard.parent))
    assert (first.cards_stored, first.cards_unchanged) == (2, 0)
    again, _ = ingest_dump(store, offline=True, environ=folder(shard.parent))
    assert (again.cards_stored, again.cards_unchanged) == (0, 2)
    later = LAST_MODIFIED + dt.timedelta(days=1)
    write_shard(shard, {**cards, "acme/a": "# A\n\nTraining emitted 13 kg CO2eq.\n"}, later)
    changed, current = ingest_dump(store, offline=True, environ=folder(shard.parent))
    assert (changed.cards_stored, changed.cards_unchanged) == (2, 0)  # both rows carry the new date
    by_repo = {c.repo_id: c for c in current}
    assert store.get(by_repo["acme/a"].sha256) == b"# A\n\nTraining emitted 13 kg CO2eq.\n"
    assert by_repo["acme/a"].last_modified == "2025-03-02T12:00:00.000Z"


def test_a_repo_in_both_paths_is_one_model_with_the_newest_card(tmp_path, store):
    api_text = b"---\nco2_eq_emissions: 1000\n---\n# Both\n"
    api_sha = store.put(api_text)
    api_card = {"repo_id": "acme/both", "revision": "a" * 40, "snapshot_sha256": api_sha,
                "card_url": f"https://huggingface.co/acme/both/blob/{'a' * 40}/README.md",
                "fetched_at": "2025-03-05T00:00:00.000Z", "discovered_by": "listing", "license": None}
    dump_text = {"acme/both": "---\nco2_eq_emissions: 2000\n---\n# Both\n"}
    write_shard(tmp_path / "old" / "train.parquet", dump_text)  # modified 2025-03-01: before the API fetch
    _, cards = ingest_dump(store, offline=True, environ=folder(tmp_path / "old"))
    con = dump_tables(store, cards, api_cards=[api_card])
    assert emissions_kg_by_model(con) == {"acme/both": [1.0]}
    assert con.execute("SELECT count(*) FROM card_sources").fetchall() == [(1,)]

    write_shard(tmp_path / "new" / "train.parquet", dump_text, dt.datetime(2025, 4, 1, tzinfo=dt.UTC))
    _, cards = ingest_dump(store, offline=True, environ=folder(tmp_path / "new"))
    con = dump_tables(store, cards, api_cards=[api_card])
    assert emissions_kg_by_model(con) == {"acme/both": [2.0]}  # the repo changed after the API fetch
    assert con.execute("SELECT count(*) FROM card_sources").fetchall() == [(1,)]


def test_offline_without_a_folder_reads_nothing_and_keeps_earlier_cards(tmp_path, store):
    write_shard(tmp_path / "dump" / "train.parquet", {"acme/a": "# A\n\nTraining emitted 12 kg CO2eq.\n"})
    ingest_dump(store, offline=True, environ=folder(tmp_path / "dump"))
    report, cards = ingest_dump(store, offline=True, environ={})
    assert not report.read and "nothing read" in report.summary() and "unset" in report.summary()
    assert [c.repo_id for c in cards] == ["acme/a"]
    report, cards = ingest_dump(SnapshotStore(tmp_path / "fresh", durable=False), offline=True, environ={})
    assert cards == []


def test_bad_settings_and_shards_are_reported(tmp_path, store):
    with pytest.raises(ValueError, match="AI_EMISSIONS_HUB_DUMP"):
        dump_setting({"AI_EMISSIONS_HUB_DUMP": str(tmp_path / "no-such-folder")})
    assert dump_setting({"AI_EMISSIONS_HUB_DUMP": "https://a.example/1.parquet, https://a.example/2.parquet"}) == [
        "https://a.example/1.parquet", "https://a.example/2.parquet"]
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "broken.parquet").write_bytes(b"not parquet at all")
    report, cards = ingest_dump(store, offline=True, environ=folder(tmp_path / "dump"))
    assert cards == [] and "dump not readable" in report.errors[0][2]
    write_shard(tmp_path / "ids" / "train.parquet", {"../etc/passwd": "Training emitted 1 kg CO2eq.",
                                                     "acme/ok": "Training emitted 1 kg CO2eq."})
    report, cards = ingest_dump(store, offline=True, environ=folder(tmp_path / "ids"))
    assert [c.repo_id for c in cards] == ["acme/ok"]
    assert [e[1:] for e in report.errors] == [("../etc/passwd", "dump row with an invalid modelId")]


def test_shards_by_url_are_fetched_again_only_when_their_etag_changes(tmp_path, store, httpserver):
    shard = write_shard(tmp_path / "train.parquet", {"acme/a": "# A\n\nTraining emitted 12 kg CO2eq.\n"})
    body = shard.read_bytes()
    etag = {"ETag": '"v1"'}
    httpserver.expect_request("/dump/train.parquet", method="HEAD").respond_with_data(b"", headers=etag)
    httpserver.expect_request("/dump/train.parquet", method="GET").respond_with_data(body, headers=etag)
    env = {"AI_EMISSIONS_HUB_DUMP": httpserver.url_for("/dump/train.parquet")}
    report, cards = ingest_dump(store, offline=False, environ=env)
    assert (report.shards_fetched, report.shards_reused, [c.repo_id for c in cards]) == (1, 0, ["acme/a"])
    report, _ = ingest_dump(store, offline=False, environ=env)
    assert (report.shards_fetched, report.shards_reused) == (0, 1)
    assert [r.method for r, _ in httpserver.log].count("GET") == 1
    httpserver.clear()
    httpserver.expect_request("/dump/train.parquet", method="HEAD").respond_with_data(b"", headers={"ETag": '"v2"'})
    httpserver.expect_request("/dump/train.parquet", method="GET").respond_with_data(body, headers={"ETag": '"v2"'})
    report, _ = ingest_dump(store, offline=False, environ=env)
    assert report.shards_fetched == 1
    report, cards = ingest_dump(store, offline=True, environ=env)  # offline: the URLs are not asked for
    assert not report.read and [c.repo_id for c in cards] == ["acme/a"]


def test_the_published_dataset_is_listed_on_the_hub_and_fetched_by_lfs_oid(tmp_path, store, httpserver):
    shard = write_shard(tmp_path / "train.parquet", {"acme/a": "# A\n\nTraining emitted 12 kg CO2eq.\n"})
    body = shard.read_bytes()
    oid = hashlib.sha256(body).hexdigest()
    path = "data/train-00000-of-00001.parquet"
    listing = [{"type": "file", "path": path, "size": len(body), "oid": "b" * 40, "lfs": {"oid": oid}},
               {"type": "file", "path": "data/README.md", "size": 10, "oid": "c" * 40}]
    httpserver.expect_request(f"/api/datasets/{DEFAULT_DATASET}/tree/main/data").respond_with_json(listing)
    httpserver.expect_request(f"/datasets/{DEFAULT_DATASET}/resolve/main/{path}").respond_with_data(body)
    endpoint = httpserver.url_for("/").rstrip("/")
    report, cards = ingest_dump(store, offline=False, endpoint=endpoint, environ={})
    assert (report.shards_fetched, [c.repo_id for c in cards]) == (1, ["acme/a"])
    report, cards = ingest_dump(store, offline=False, endpoint=endpoint, environ={})
    assert (report.shards_fetched, report.shards_reused, [c.repo_id for c in cards]) == (0, 1, ["acme/a"])
    assert [r.path for r, _ in httpserver.log].count(f"/datasets/{DEFAULT_DATASET}/resolve/main/{path}") == 1


def test_refresh_offline_reads_a_local_dump_into_the_published_disclosures(tmp_path, isolated_env, monkeypatch):
    cards = {"acme/prose-model": "# Prose model\n\n## Training\n\nTraining emitted an estimated 42.5 kg CO2eq.\n",
             **decoy_cards(copies=1)}
    write_shard(tmp_path / "dump" / "train.parquet", cards)
    monkeypatch.setenv("AI_EMISSIONS_HUB_DUMP", str(tmp_path / "dump"))
    result = refresh("--offline")
    assert "hub dump (folder" in result.output and "errors=0" in result.output
    rows = fetch(isolated_env, "SELECT model_id, value_as_printed, unit_as_printed, source_url, snapshot_sha256 "
                               "FROM disclosures WHERE source_id LIKE 'hub:%'")
    assert [r[:4] for r in rows] == [("acme/prose-model", "42.5", "kg CO2eq",
                                      "https://huggingface.co/acme/prose-model/blob/main/README.md")]
    assert len(rows[0][4]) == 64
    assert fetch(isolated_env, "SELECT count(*) FROM hub_dump_cards")[0][0] > 1  # decoys kept, no figure
