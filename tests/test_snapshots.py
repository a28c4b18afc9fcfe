"""The snapshot store keeps bytes exactly, names them by content only, and survives SIGKILL."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipelines.lib.snapshots import (
    CorruptSnapshotError,
    SnapshotError,
    SnapshotNotFoundError,
    SnapshotStore,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_put_stores_exact_bytes_under_their_sha256(tmp_path):
    store = SnapshotStore(tmp_path / "snap")
    data = b"\x00binary\xff and text\r\n" * 100
    digest = store.put(data)

    assert digest == hashlib.sha256(data).hexdigest()
    path = tmp_path / "snap" / "objects" / digest[:2] / digest[2:]
    assert path.read_bytes() == data
    assert store.get(digest) == data
    assert store.put(data) == digest  # idempotent
    assert list(store.iter_objects()) == [digest]
    assert list((tmp_path / "snap" / "tmp").iterdir()) == []


def test_empty_document_is_a_valid_object(tmp_path):
    store = SnapshotStore(tmp_path)
    digest = store.put(b"")
    assert store.get(digest) == b""


def test_unknown_and_malformed_names(tmp_path):
    store = SnapshotStore(tmp_path / "snap")
    with pytest.raises(SnapshotNotFoundError):
        store.get("0" * 64)
    for hostile in ("../../etc/passwd", "AB" * 32, "ab/" + "c" * 61, "", "0" * 63):
        with pytest.raises(ValueError):
            store.get(hostile)
        with pytest.raises(ValueError):
            store.path_for(hostile)


def test_get_detects_a_tampered_object(tmp_path):
    store = SnapshotStore(tmp_path)
    digest = store.put(b"original")
    store.path_for(digest).write_bytes(b"tampered")
    with pytest.raises(CorruptSnapshotError):
        store.get(digest)


def test_manifest_latest_per_repo_and_persistence(tmp_path):
    root = tmp_path / "snap"
    store = SnapshotStore(root)
    first = store.put(b"v1")
    second = store.put(b"v2")
    store.record(kind="card", url="u1", repo_id="org/a", revision="1" * 40, status="ok", sha256=first)
    store.record(kind="card", url="u2", repo_id="org/a", revision="2" * 40, status="ok", sha256=second)
    store.record(kind="card", url="u3", repo_id="org/a", revision="3" * 40, status="error", error="http_503")
    store.record(kind="card", url="u4", repo_id="org/b", revision="4" * 40, status="error", error="timeout")
    store.record(kind="hub_listing", url="page", status="ok", bytes=10)
    store.close()

    reopened = SnapshotStore(root)
    latest = reopened.latest_ok("card")
    assert set(latest) == {"org/a"}
    assert latest["org/a"].revision == "2" * 40
    assert latest["org/a"].sha256 == second
    failures = reopened.latest("card", ("error",))
    assert {k: v.error for k, v in failures.items()} == {"org/a": "http_503", "org/b": "timeout"}
    assert [row.url for row in reopened.rows()] == ["u1", "u2", "u3", "u4", "page"]
    assert [row.url for row in reopened.rows(kind="hub_listing")] == ["page"]


def test_record_refuses_rows_naming_missing_objects(tmp_path):
    store = SnapshotStore(tmp_path)
    with pytest.raises(SnapshotError):
        store.record(kind="card", url="u", repo_id="o/r", status="ok", sha256="a" * 64)
    with pytest.raises(ValueError):
        store.record(kind="card", url="u", repo_id="o/r", status="ok")
    with pytest.raises(ValueError):
        store.record(kind="card", url="u", repo_id="o/r", status="fine")
    assert store.rows() == []


_WRITER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from pipelines.lib.snapshots import SnapshotStore
    store = SnapshotStore(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        data = os.urandom(64) * (1 + i % 2000)  # up to ~128 kB, so some writes are mid-flight
        digest = store.put(data)
        store.record(kind="card", url=f"u{i}", repo_id=f"org/r{i % 50}", revision=f"{i:040x}",
                     status="ok", bytes=len(data), sha256=digest)
        i += 1
    """
)


def _killed_while_writing(script: str, root: Path) -> SnapshotStore:
    """Run a writer script on the store at `root` for a second, SIGKILL it, and reopen the store."""
    writer = subprocess.Popen([sys.executable, "-c", script, str(root), str(REPO_ROOT)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(1.0)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    return SnapshotStore(root)


def test_sigkill_never_leaves_a_corrupt_object_or_a_dangling_row(tmp_path):
    store = _killed_while_writing(_WRITER, tmp_path / "snap")
    rows = store.rows()
    assert len(rows) > 10, "the writer should have recorded some rows before it was killed"
    for row in rows:
        assert store.get(row.sha256) is not None  # verifies the hash too
        assert len(store.get(row.sha256)) == row.bytes
    objects = list(store.iter_objects())
    for digest in objects:
        assert hashlib.sha256(store.path_for(digest).read_bytes()).hexdigest() == digest
    # Every stored object is either named by a row or was the one write in flight at the kill.
    assert len(set(objects) - {row.sha256 for row in rows}) <= 1
    assert set(store.latest_ok()) <= {f"org/r{i}" for i in range(50)}


def test_a_batch_stores_every_body_and_records_its_rows_in_one_go(tmp_path):
    store = SnapshotStore(tmp_path / "snap")
    earlier = store.put(b"stored before")
    bodies = [b"first card", b"second card", b"first card", b"stored before", b""]
    documents = [(body, {"kind": "card", "url": f"u{i}", "repo_id": f"org/r{i}", "status": "ok",
                         "bytes": len(body)}) for i, body in enumerate(bodies)]

    digests = store.put_and_record(documents)

    assert digests == [hashlib.sha256(b).hexdigest() for b in bodies] and digests[3] == earlier
    assert [store.get(d) for d in digests] == bodies
    assert [(r.repo_id, r.sha256) for r in store.rows()] == [(f"org/r{i}", d) for i, d in enumerate(digests)]
    assert list((tmp_path / "snap" / "tmp").iterdir()) == []
    assert store.put_and_record([]) == []


def test_a_batch_with_an_invalid_row_records_none_of_its_rows(tmp_path):
    store = SnapshotStore(tmp_path / "snap")
    documents = [(b"good", {"kind": "card", "url": "u1", "repo_id": "org/a", "status": "ok"}),
                 (b"bad", {"kind": "card", "url": "u2", "repo_id": "org/b", "status": "fine"})]
    with pytest.raises(ValueError):
        store.put_and_record(documents)
    assert store.rows() == []  # the stored objects are harmless: content-addressed, named by no row


_BATCH_WRITER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from pipelines.lib.snapshots import SnapshotStore
    store = SnapshotStore(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        batch = []
        for _ in range(16):
            data = os.urandom(64) * (1 + i % 2000)
            batch.append((data, dict(kind="card", url=f"u{i}", repo_id=f"org/r{i % 50}", revision=f"{i:040x}",
                                     status="ok", bytes=len(data))))
            i += 1
        store.put_and_record(batch)
    """
)


def test_sigkill_during_batches_leaves_only_complete_objects_and_rows_naming_them(tmp_path):
    store = _killed_while_writing(_BATCH_WRITER, tmp_path / "snap")
    rows = store.rows()
    assert len(rows) > 16, "the writer should have recorded some batches before it was killed"
    assert len(rows) % 16 == 0  # a batch's rows land together or not at all
    for row in rows:
        assert len(store.get(row.sha256)) == row.bytes  # present, complete, and its hash verified
    objects = list(store.iter_objects())
    for digest in objects:
        assert hashlib.sha256(store.path_for(digest).read_bytes()).hexdigest() == digest
    assert len(set(objects) - {row.sha256 for row in rows}) <= 16  # at most the batch in flight
