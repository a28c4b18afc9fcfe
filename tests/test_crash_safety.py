"""Crash safety of `ai-emissions refresh`: the real command in a subprocess, killed with SIGKILL at several
points of a run, leaves the warehouse readable, the snapshot store consistent and every published release
untouched, and the next refresh completes with the same published content as a run never interrupted.
A query or a second refresh started while a refresh writes gets a clear answer, never a traceback.

The refresh's stderr is a pseudo-terminal, so it prints one progress line per materialized table
("[n/N] group: table"); a kill point is "the first table of a stage group is done", or "the release's
staging folder holds a file" for the release write.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from hub_emulator import HubEmulator, generated_card

from pipelines.cli import main
from pipelines.lib.release import LATEST, STAGING_PREFIX
from tests.conftest import REPO, copy_data, pipeline_env

RUN_TIMEOUT_S = 180
BUSY_MESSAGE = "a refresh is writing the warehouse right now"
LOCK_MESSAGE = "another refresh is running"


# -- a refresh in a subprocess ---------------------------------------------------------------------------


def child_env(root: Path, **overrides: str | Path) -> dict[str, str]:
    """pipeline_env's private folders (offline unless overridden) as a subprocess environment."""
    with pipeline_env(root, **overrides):
        env = dict(os.environ)
    env.pop("CI", None)  # progress lines mark the kill points; CI=1 would turn them off
    return env


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


class RunningRefresh:
    """`ai-emissions refresh` in its own process group, its stderr a terminal so it prints progress lines."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "refresh", *args], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal, text=True, start_new_session=True)
        os.close(terminal)
        self._controller = controller
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._controller, 65536)
            except OSError:  # the terminal's other end closed: the process is gone
                break
            if not chunk:
                break
            self._stderr.append(chunk.decode(errors="replace"))
        os.close(self._controller)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr).replace("\r\n", "\n")

    def reached(self, group: str) -> Callable[[], bool]:
        """True once a table of stage `group` has been materialized."""
        return lambda: f"] {group}: " in self.stderr

    def wait_for(self, condition: Callable[[], bool], timeout: float = RUN_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                self._reader.join(timeout=5)
                raise AssertionError(f"the refresh ended (exit {self.process.returncode}) before the kill point:\n"
                                     f"{self.stderr}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"kill point not reached in {timeout} s:\n{self.stderr}")
            time.sleep(0.002)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # the refresh and anything it started
        self.process.communicate(timeout=30)
        self._reader.join(timeout=5)
        assert self.process.returncode == -signal.SIGKILL

    def finish(self, timeout: float = RUN_TIMEOUT_S) -> Finished:
        stdout, _ = self.process.communicate(timeout=timeout)
        self._reader.join(timeout=5)
        return Finished(self.process.returncode, stdout, self.stderr)


def refresh_to_the_end(env: dict[str, str], *args: str) -> Finished:
    finished = RunningRefresh(env, *args).finish()
    assert finished.returncode == 0, finished.output
    assert "Traceback" not in finished.output
    return finished


# -- what must hold after a kill ---------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_files(exports: Path) -> dict[str, str]:
    """Every published file (version folders and LATEST, not staging folders) -> its sha256."""
    if not exports.is_dir():
        return {}
    return {str(path.relative_to(exports)): sha256_file(path) for path in sorted(exports.rglob("*"))
            if path.is_file() and not path.relative_to(exports).parts[0].startswith(".")}


def assert_release_complete(folder: Path) -> None:
    """Every file a release lists in SHA256SUMS is there with that hash; the data package names the version."""
    sums = dict(reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert {p.name for p in folder.iterdir()} == set(sums) | {"SHA256SUMS"}
    for name, digest in sums.items():
        assert sha256_file(folder / name) == digest, f"{folder.name}/{name}"
    assert json.loads((folder / "datapackage.json").read_text())["version"] == folder.name


def published_digest(exports: Path) -> str:
    version = (exports / LATEST).read_text().strip()
    return json.loads((exports / version / "datapackage.json").read_text())["content_sha256"]


def assert_releases_intact(exports: Path, before: dict[str, str]) -> None:
    """Files published before are byte-identical; a version that appeared is complete; LATEST names one."""
    after = published_files(exports)
    assert {name: after.get(name) for name in before if name != LATEST} == \
        {name: digest for name, digest in before.items() if name != LATEST}
    for version in {Path(name).parts[0] for name in after} - {Path(name).parts[0] for name in before} - {LATEST}:
        assert_release_complete(exports / version)
    if (exports / LATEST).exists():
        assert_release_complete(exports / (exports / LATEST).read_text().strip())


def assert_warehouse_answers(home: Path) -> None:
    """The warehouse (if a refresh got as far as creating it) opens read-only and every table can be read."""
    path = home / "warehouse.duckdb"
    if not path.exists():
        return
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()]
        for name in tables:
            con.execute(f'select count(*) from "{name}"').fetchone()
    finally:
        con.close()


def query_answer(env: dict[str, str], sql: str = "select count(*) as n from training_runs") -> int | str:
    """`ai-emissions query` in this process: the row count it printed, or the message it gave instead."""
    result = CliRunner().invoke(main, ["query", "--format", "json", sql], env=env)
    if result.exit_code == 0:
        return json.loads(result.output)[0]["n"]
    assert isinstance(result.exception, SystemExit), f"query raised {result.exception!r}:\n{result.output}"
    assert result.output.startswith("Error: ") and "Traceback" not in result.output, result.output
    return result.output


def assert_snapshot_store_consistent(snapshots: Path) -> int:
    """Every manifest row naming an object has it, and every object's bytes hash to its name; returns #objects."""
    if not (snapshots / "manifest.sqlite").exists():
        return 0
    db = sqlite3.connect(snapshots / "manifest.sqlite")
    try:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        named = {sha for (sha,) in db.execute("select distinct sha256 from fetches where sha256 is not null")}
    finally:
        db.close()
    stored = {path.parent.name + path.name: path for path in (snapshots / "objects").glob("??/*")}
    assert named <= set(stored), f"manifest rows without their object: {sorted(named - set(stored))[:5]}"
    for name, path in stored.items():
        assert sha256_file(path) == name, f"object {name} does not hash to its name"
    return len(stored)


def stored_cards(snapshots: Path) -> int:
    """Repos whose card the manifest records as stored."""
    db = sqlite3.connect(snapshots / "manifest.sqlite")
    try:
        (count,) = db.execute("select count(distinct repo_id) from fetches where kind = 'card' and status = 'ok'"
                              ).fetchone()
    finally:
        db.close()
    return count


def assert_usable_after_kill(env: dict[str, str], root: Path, releases_before: dict[str, str]) -> None:
    assert_warehouse_answers(root / "home")
    query_answer(env)
    assert_snapshot_store_consistent(root / "home" / "snapshots")
    assert_releases_intact(root / "exports", releases_before)


def torn_warehouse(home: Path, written: int) -> None:
    """What a kill during DuckDB's creation of the warehouse leaves: it creates the file, then writes three
    4 KiB header blocks and syncs them (seen with strace). A real kill there is too brief to hit by timing."""
    fresh = home.parent / "fresh.duckdb"
    duckdb.connect(str(fresh)).close()
    home.mkdir(parents=True, exist_ok=True)
    (home / "warehouse.duckdb").write_bytes(fresh.read_bytes()[:written])
    fresh.unlink()


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return copy_data(tmp_path_factory.mktemp("crash") / "data")


@dataclass
class Baseline:
    root: Path
    digest: str  # content_sha256 of the release an uninterrupted refresh cut
    training_runs: int


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, data) -> Baseline:
    """One uninterrupted offline refresh: the result every interrupted one must reach."""
    root = tmp_path_factory.mktemp("baseline")
    env = child_env(root, AI_EMISSIONS_DATA=data)
    refresh_to_the_end(env)
    runs = query_answer(env)
    assert isinstance(runs, int) and runs > 0
    return Baseline(root, published_digest(root / "exports"), runs)


def copy_state(baseline: Baseline, root: Path) -> None:
    """Start from the baseline's warehouse, snapshots and releases (not its Dagster run history)."""
    for name in ("home", "exports"):
        shutil.copytree(baseline.root / name, root / name)


# -- tests ---------------------------------------------------------------------------------------------


def test_refresh_killed_at_each_stage_leaves_usable_state_and_the_next_one_completes(baseline, data, tmp_path):
    """Killed while creating the warehouse, then during transform, then during estimate: after each kill the
    warehouse reads, queries answer, no release appears; the next refresh cuts the uninterrupted run's release."""
    env = child_env(tmp_path, AI_EMISSIONS_DATA=data)
    torn_warehouse(tmp_path / "home", 4096)  # the first kill point: while the warehouse file was being created
    # (a kill during the Hub ingest and one during the release write are tested below)
    for stage in ("transform", "estimate"):  # the state each killed run leaves is the next one's start
        run = RunningRefresh(env)
        run.wait_for(run.reached(stage))
        run.kill()
        assert_usable_after_kill(env, tmp_path, releases_before={})
        assert not (tmp_path / "exports" / LATEST).exists()
    refresh_to_the_end(env)
    exports = tmp_path / "exports"
    assert not list(exports.glob(f"{STAGING_PREFIX}*"))
    assert published_digest(exports) == baseline.digest
    assert_release_complete(exports / (exports / LATEST).read_text().strip())
    assert query_answer(env) == baseline.training_runs


def test_release_write_killed_leaves_published_versions_untouched(baseline, data, tmp_path):
    copy_state(baseline, tmp_path)
    exports = tmp_path / "exports"
    env = child_env(tmp_path, AI_EMISSIONS_DATA=data)
    before = published_files(exports)
    previous = (exports / LATEST).read_text().strip()
    new = "2099.12.31"  # a named version is written even though the content did not change

    def staging_started() -> bool:
        try:
            return any(any(folder.iterdir()) for folder in exports.glob(f"{STAGING_PREFIX}*"))
        except FileNotFoundError:  # renamed into place between the glob and the look inside
            return False

    run = RunningRefresh(env, "--release-version", new)
    run.wait_for(staging_started)
    run.kill()
    assert list(exports.glob(f"{STAGING_PREFIX}*")), "the kill came after the staging folder was renamed"
    assert not (exports / new).exists() and (exports / LATEST).read_text().strip() == previous
    assert_usable_after_kill(env, tmp_path, before)
    assert query_answer(env) == baseline.training_runs

    refresh_to_the_end(env, "--release-version", new)
    assert not list(exports.glob(f"{STAGING_PREFIX}*")), "the half-written release was not cleared"
    assert_releases_intact(exports, before)
    assert (exports / LATEST).read_text().strip() == new
    assert_release_complete(exports / new)
    assert published_digest(exports) == baseline.digest


def test_second_refresh_is_refused_and_queries_answer_while_a_refresh_writes(baseline, data, tmp_path):
    """While a refresh runs: another refresh is refused with the lock message; queries, polled throughout, give
    the previous state's rows or the busy message; the refresh still completes, its content unchanged."""
    copy_state(baseline, tmp_path)
    env = child_env(tmp_path, AI_EMISSIONS_DATA=data)
    before = published_files(tmp_path / "exports")
    run = RunningRefresh(env)
    run.wait_for(run.reached("ingest"))

    second = subprocess.run([sys.executable, "-m", "pipelines.cli", "refresh"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert second.returncode != 0 and LOCK_MESSAGE in second.stderr, second.stderr
    assert "Traceback" not in second.stderr + second.stdout

    real = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", "select count(*) as n from disclosures"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in real.stderr + real.stdout
    assert real.returncode == 0 or BUSY_MESSAGE in real.stderr, real.stderr

    answers: Counter[str] = Counter()
    while run.process.poll() is None:
        answer = query_answer(env)
        if isinstance(answer, int):
            assert answer == baseline.training_runs  # the previous state (the same content is rebuilt)
            answers["rows"] += 1
        else:
            assert BUSY_MESSAGE in answer
            answers["busy"] += 1
        time.sleep(0.1)
    finished = run.finish()
    assert finished.returncode == 0, finished.output
    assert "no change since release" in finished.stdout
    assert answers["rows"] > 0, answers
    assert_releases_intact(tmp_path / "exports", before)
    print(f"answers while the refresh ran: {dict(answers)}")


def test_busy_warehouse_gives_the_try_again_message(baseline, tmp_path):
    """A writer holding the warehouse (as a refresh step does) makes a query say so, not fail with a traceback."""
    copy_state(baseline, tmp_path)
    env = child_env(tmp_path)
    writer = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('open', flush=True); "
                               "sys.stdin.read()", str(tmp_path / "home" / "warehouse.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        answer = query_answer(env)
        assert isinstance(answer, str) and BUSY_MESSAGE in answer
    finally:
        writer.communicate("", timeout=30)
    assert query_answer(env) == baseline.training_runs


@pytest.mark.parametrize("written", [0, 4096, 8192])
def test_query_on_a_warehouse_torn_at_creation_says_to_refresh(tmp_path, written):
    torn_warehouse(tmp_path / "home", written)
    answer = query_answer(child_env(tmp_path))
    assert isinstance(answer, str) and "run `ai-emissions refresh`" in answer, answer


GENERATED = 300


def test_hub_ingest_killed_leaves_a_consistent_snapshot_store(data, tmp_path):
    """Against the local Hub emulation: killed halfway through the card downloads, the store holds only complete
    objects named in the manifest; the next refresh fetches only the cards still missing and lands them all."""
    hub_data = copy_data(tmp_path / "data")
    (hub_data / "sources" / "hub_watchlist.yaml").write_text("[]\n")
    cards = {f"emulated/model-{i:04d}": generated_card(i) for i in range(GENERATED)}
    with HubEmulator() as hub:
        hub._server.handle_error = lambda request, address: None  # resets by the killed client are expected
        hub.add_repos(cards)
        env = child_env(tmp_path, AI_EMISSIONS_DATA=hub_data, AI_EMISSIONS_OFFLINE="", HF_ENDPOINT=hub.url)
        run = RunningRefresh(env)
        snapshots = tmp_path / "home" / "snapshots"
        # cards are stored in batches: kill once half are served and at least one batch has landed
        run.wait_for(lambda: hub.counts["resolve"] >= GENERATED // 2 and (snapshots / "manifest.sqlite").exists()
                     and stored_cards(snapshots) > 0)
        run.kill()
        assert_usable_after_kill(env, tmp_path, releases_before={})
        stored = stored_cards(snapshots)
        assert 0 < stored < GENERATED, stored

        hub.reset_counts()
        refresh_to_the_end(env)
        assert hub.counts["resolve"] == GENERATED - stored  # cards stored before the kill are not fetched again
    assert assert_snapshot_store_consistent(tmp_path / "home" / "snapshots") == GENERATED
    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True)
    try:
        landed = {repo for (repo,) in con.execute("select repo_id from hub_cards").fetchall()}
    finally:
        con.close()
    assert landed == set(cards)
