"""Release plots: deterministic bytes from the release's own tables."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.lib.plots import write_plots

RELEASES = Path(__file__).resolve().parents[1] / "exports"


@pytest.fixture(scope="module")
def tables():
    version = (RELEASES / "LATEST").read_text().strip()
    folder = RELEASES / version
    return {name: pq.read_table(folder / f"{name}.parquet")
            for name in ("training_runs", "disclosure_scorecard", "backtest", "sources")}


def test_plots_are_deterministic_bytes(tables, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    names = write_plots(first, tables)
    assert names == ["emissions_by_year.png", "disclosure_scorecard.png", "backtest.png"]
    assert write_plots(second, tables) == names
    for name in names:
        assert (first / name).read_bytes().startswith(b"\x89PNG"), name
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_a_plot_that_cannot_be_drawn_raises_its_cause(tables, tmp_path):
    broken = {**tables, "training_runs": tables["training_runs"].drop_columns(["year"])}
    with pytest.raises(KeyError, match="'year'"):
        write_plots(tmp_path, broken)
