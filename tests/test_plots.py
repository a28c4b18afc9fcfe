"""Release plots drawn in a child process: the same bytes as drawn in place, and no process left behind."""

import multiprocessing
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.lib.plots import start_plots, write_plots

RELEASES = Path(__file__).resolve().parents[1] / "exports"


@pytest.fixture(scope="module")
def tables():
    version = (RELEASES / "LATEST").read_text().strip()
    folder = RELEASES / version
    return {name: pq.read_table(folder / f"{name}.parquet")
            for name in ("training_runs", "disclosure_scorecard", "backtest", "sources")}


def test_plots_drawn_in_a_child_process_match_those_drawn_in_place(tables, tmp_path):
    here, there = tmp_path / "in_place", tmp_path / "child"
    here.mkdir()
    there.mkdir()
    names = write_plots(here, tables)
    with start_plots(tables) as plotting:
        assert plotting.names == names
        assert plotting.finish(there) == names
    assert names == ["emissions_by_year.png", "disclosure_scorecard.png", "backtest.png"]
    for name in names:
        assert (there / name).read_bytes() == (here / name).read_bytes(), name


def test_plots_nobody_collects_are_stopped_and_cleaned_up(tables):
    with start_plots(tables) as plotting:
        children, scratch = multiprocessing.active_children(), plotting._scratch
        assert children and scratch.is_dir()
    assert not any(child.is_alive() for child in children)  # the drawing process is gone
    assert not scratch.exists()


def test_a_plot_that_cannot_be_drawn_is_reported_with_its_cause(tables, tmp_path):
    broken = {**tables, "training_runs": tables["training_runs"].drop_columns(["year"])}
    with start_plots(broken) as plotting, pytest.raises(RuntimeError, match="KeyError: 'year'"):
        plotting.finish(tmp_path)
