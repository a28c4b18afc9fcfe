"""Provenance any reader can follow: no reference to the team's private tools or folders in what we publish.

`verified_in` and every note must point at something public (a repository file at a pinned commit, a
versioned arXiv URL, a DOI, a page URL), never at a search tool's ids or at the local folder of test
documents. This checks the data files, the documentation and the newest release named in exports/LATEST.
"""

from __future__ import annotations

import base64
import csv
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.lib.datacard import ATTRIBUTION, EPOCH_HARDWARE_COLUMNS, EPOCH_NOTABLE_COLUMNS, with_attribution
from pipelines.lib.epoch import SNAPSHOT_DATE
from tests.conftest import REPO

# Phrases that only make sense inside the team's tooling (search-tool ids and verbs, the local folder of
# third-party test documents): a reader cannot resolve any of them.
INTERNAL_REFERENCE = re.compile(
    r"search[- ]index|read_file|find_string|file id \d|text id \d|read_file id|shared[- ]corpus"
    r"|\b(?:pages|code|docs) (?:index|corpus)\b|\.\./shared|shared/corpus|corpus/(?:documents|model_cards|epoch)",
    re.IGNORECASE)
PUBLIC_REFERENCE = re.compile(r"^(https?://\S+|doi:10\.\d{4,9}/\S+)$")
TEXT_SUFFIXES = {".md", ".yaml", ".yml", ".csv", ".json", ".txt", ".html", ""}


def _internal_references(text: str) -> list[str]:
    return [text[max(0, m.start() - 60):m.end() + 60].replace("\n", " ") for m in INTERNAL_REFERENCE.finditer(text)]


def _text_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            yield path


def _release_texts(folder: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every text a release publishes: its text files, the explorer's packed data block
    and the string columns of its Parquet tables."""
    for path in _text_files(folder):
        text = path.read_text(encoding="utf-8")
        yield path.name, text
        for packed in re.findall(r'"gzip_base64":\s*"([A-Za-z0-9+/=]+)"', text):
            yield f"{path.name} (packed data)", gzip.decompress(base64.b64decode(packed)).decode("utf-8")
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        for name in table.column_names:
            if table.schema.field(name).type in ("string", "large_string"):
                yield f"{path.name}:{name}", "\n".join(v for v in table[name].to_pylist() if v)


def test_the_pattern_catches_what_it_is_for():
    for bad in ("search index read_file meta-llama/x (file id 15298998242)", "stored text id 68834056647",
                "shared corpus model_cards/0011.md", "pages index", "code index, READMEs", "../shared/corpus",
                "documents/arxiv-2302.13971.md in corpus/documents"):
        assert _internal_references(bad), bad
    for good in ("https://github.com/meta-llama/llama-models/blob/a9c89c47/models/llama3/MODEL_CARD.md",
                 "https://arxiv.org/abs/2302.13971v1, Table 15", "a pinned index of sources", "the corpus"):
        assert not _internal_references(good), good


def test_the_explorer_data_block_is_read_when_packed(tmp_path):
    """A large release packs the explorer's data (gzip + base64): the check reads inside it."""
    packed = base64.b64encode(gzip.compress(b'{"verified_in": "shared corpus model_cards/0011.md"}')).decode()
    (tmp_path / "explorer.html").write_text(f"<script>{json.dumps({'gzip_base64': packed})}</script>")
    hits = {where: _internal_references(text) for where, text in _release_texts(tmp_path)}
    assert hits["explorer.html (packed data)"] and not hits["explorer.html"]


@pytest.mark.parametrize("where", ["data", "docs", "README.md", "METHODOLOGY.md"])
def test_no_internal_reference_in_data_and_documentation(where):
    root = REPO / where
    if not root.exists():
        pytest.skip(f"{where} does not exist in this checkout")
    paths = [root] if root.is_file() else _text_files(root)
    found = {str(p.relative_to(REPO)): hits for p in paths
             if (hits := _internal_references(p.read_text(encoding="utf-8", errors="replace")))}
    assert not found, found


def test_no_internal_reference_in_the_newest_release():
    latest = REPO / "exports" / "LATEST"
    if not latest.is_file():
        pytest.skip("no release in exports/ yet")
    folder = REPO / "exports" / latest.read_text().strip()
    assert folder.is_dir(), f"exports/LATEST names {folder.name}, which is not a folder"
    found = {where: hits[:3] for where, text in _release_texts(folder) if (hits := _internal_references(text))}
    assert not found, found


def test_every_registry_source_names_a_public_reference_and_how_it_was_verified():
    registry = yaml.safe_load((REPO / "data" / "sources" / "registry.yaml").read_text(encoding="utf-8"))
    for source in registry:
        sid = source["source_id"]
        assert PUBLIC_REFERENCE.match(source["verified_in"]), (sid, source["verified_in"])
        assert source["verification"] in ("primary", "secondary copy"), sid
        assert source["verification_note"].strip(), sid
    secondary = {s["source_id"] for s in registry if s["verification"] == "secondary copy"}
    # reading notes, news articles and blog posts are never taken for the document itself
    assert {"ai2_olmo3_discord_2025", "altman2025_gentle_singularity", "brown2020_gpt3"} <= secondary


def test_every_watchlist_entry_names_public_pages():
    watchlist = yaml.safe_load((REPO / "data" / "sources" / "hub_watchlist.yaml").read_text(encoding="utf-8"))
    for entry in watchlist:
        assert entry["verified_in"].startswith("https://"), entry["repo_id"]


def test_epoch_attribution_matches_the_pinned_snapshots():
    """The credit a release gives Epoch AI names the snapshot and exactly the columns the repository holds."""
    by_file = {a["file"]: a for a in ATTRIBUTION}
    for file, columns in (("data/reference/epoch_notable_ai_models.csv", EPOCH_NOTABLE_COLUMNS),
                          ("data/reference/epoch_ml_hardware.csv", EPOCH_HARDWARE_COLUMNS)):
        with (REPO / file).open(encoding="utf-8", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == columns, file
        credit = by_file[file]
        assert credit["authors"] == "Epoch AI" and credit["license"]["name"] == "CC-BY-4.0"
        assert all(c in credit["changes"] for c in columns)
    assert by_file["data/reference/epoch_notable_ai_models.csv"]["snapshot"] == SNAPSHOT_DATE
    readme = (REPO / "data" / "reference" / "README.md").read_text(encoding="utf-8")
    for credit in by_file.values():
        if credit["authors"] == "Epoch AI":
            assert credit["path"] in readme and credit["snapshot"] in readme


def test_data_package_sources_credit_third_party_data_once():
    documents = [{"title": "Epoch AI, Notable AI Models (registry entry)",
                  "path": "https://epoch.ai/data/notable_ai_models.csv"},
                 {"title": "A paper", "path": "https://arxiv.org/abs/2302.13971v1"}]
    sources = with_attribution(documents)
    paths = [s["path"] for s in sources]
    # the registry's Epoch entry is completed, not repeated
    assert len(paths) == len(set(paths)) == len(documents) + len(ATTRIBUTION) - 1
    epoch = next(s for s in sources if s["path"] == "https://epoch.ai/data/notable_ai_models.csv")
    assert epoch["licenses"][0]["name"] == "CC-BY-4.0" and epoch["snapshot"] == SNAPSHOT_DATE
    assert json.dumps(sources)  # serializable as written into datapackage.json
