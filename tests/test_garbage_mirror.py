"""A mirror answering 200 with garbage for source documents changes nothing published."""

from __future__ import annotations

import random

import yaml

from pipelines.lib.documents import MIN_DOCUMENT_BYTES, document_problem
from tests.conftest import DocumentServer, fetch, refresh
from tests.test_paper_ingestion import SERVED, served  # noqa: F401 - the fixture serving the real documents


def test_document_problem_rejects_stubs_binary_and_pages_without_the_curated_values():
    rng = random.Random(1)
    page = ("<html><body><table><tr><td>GPU-hours</td><td>1,082,880</td><td>475</td></tr></table>"
            + "<p>Filler paragraph about something else entirely.</p>" * 20 + "</body></html>").encode()
    values = ["1082880", "475"]  # as curated: one printed with separators, one without
    assert document_problem(page, "text/html; charset=utf-8", values) is None
    assert document_problem(b"[]", "application/json", values).startswith("too small")
    assert "UTF-8" in document_problem(rng.randbytes(4000), "text/html", values)
    assert document_problem(page, "application/pdf", values).startswith("served as application/pdf")
    assert document_problem(b"%PDF-1.7\n" + rng.randbytes(4000), "application/pdf", values) is None
    other = ("<html>" + "<p>Nothing about emissions here.</p>" * 30 + "</html>").encode()
    assert document_problem(other, "text/html", values) == "prints 0 of the 2 curated values"
    assert document_problem(b"\x00" * MIN_DOCUMENT_BYTES, "text/plain", ()).startswith("not text")


def test_a_garbage_mirror_changes_no_published_table_and_cuts_no_release(served, isolated_env, data_copy):  # noqa: F811
    refresh()
    exports = isolated_env["exports"]
    version = (exports / "LATEST").read_text().strip()
    releases = sorted(p.name for p in exports.iterdir())
    tables = {table: fetch(isolated_env, f"select * from {table} order by all")
              for table in ("sources", "disclosures", "training_runs", "quarantine")}
    assert all(sha for _, sha in fetch(isolated_env, "select source_id, snapshot_sha256 from sources "
                                                     f"where source_id in ({', '.join(map(repr, SERVED))})"))

    # the same documents, now from a mirror that answers 200 with random bytes, `[]`, or a page of other text
    rng = random.Random(16)
    kinds = [rng.randbytes(6000), b"[]", ("<html>" + "<p>Unrelated text.</p>" * 400 + "</html>").encode()]
    garbage = {f"/mirror/{source_id}": kinds[i % 3] for i, source_id in enumerate(SERVED)}
    mirror = DocumentServer(garbage)
    try:
        registry = data_copy / "sources" / "registry.yaml"
        entries = yaml.safe_load(registry.read_text())
        for entry in entries:
            if entry["source_id"] in SERVED:
                entry["fetch_url"] = f"{mirror.url}/mirror/{entry['source_id']}"
        registry.write_text(yaml.safe_dump(entries, sort_keys=False, allow_unicode=True))
        result = refresh()
    finally:
        mirror.close()

    assert len(mirror.requests) == len(SERVED)  # every garbage document was fetched...
    assert "no change since release" in result.output, result.output  # ...and none was used
    assert (exports / "LATEST").read_text().strip() == version
    assert sorted(p.name for p in exports.iterdir()) == releases
    for table, rows in tables.items():
        assert fetch(isolated_env, f"select * from {table} order by all") == rows, table
    rejected = dict(fetch(isolated_env, "select source_id, reason from document_fetch_errors"))
    assert set(rejected) == set(SERVED)
    assert all(reason.startswith("document rejected, previous snapshot kept") for reason in rejected.values())
